"""`llmbench tools ...`: list tools, run a tool-using conversation, show its logged steps, check the BFCL scorer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, TrackOpt, console, quoted
from llmbench.errors import ConfigError
from llmbench.mlflow_uri import browse_hint

tools_app = typer.Typer(help="Tools for tool-calling models: list, run, inspect logs, BFCL scorer check.")
app.add_typer(tools_app, name="tools")


def _load(source: str | None) -> Any:
    from llmbench.tools import load_entry_point_tools, load_module_tools

    return load_module_tools(source) if source else load_entry_point_tools()


@tools_app.command("list")
def list_command(
    source: Annotated[
        str | None,
        typer.Argument(
            help="Module (pkg.mod) or .py file with @tool functions; default: installed entry points"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tool specs as JSON")] = False,
) -> None:
    """List the tools a module, file or the installed `llmbench.tools` entry points provide."""
    tool_set = _load(source)
    if as_json:
        typer.echo(json.dumps([t.spec.model_dump() for t in tool_set.all_tools()], indent=2))
        return
    table = Table(title=f"Tools in {tool_set.name} ({len(tool_set.all_tools())})")
    for col in ("name", "parameters", "side effects", "description"):
        table.add_column(col)
    for t in tool_set.all_tools():
        props = t.parameters.get("properties", {})
        required = set(t.parameters.get("required", []))
        params = ", ".join(f"{p}{'' if p in required else '?'}" for p in props)
        first_line = (t.description or "").strip().splitlines()[0] if t.description else ""
        table.add_row(t.name, params, "yes" if t.side_effects else "", first_line)
    console.print(table)


@tools_app.command("run")
def run_command(
    model: Annotated[str, typer.Argument(help="Model id, e.g. openai:gpt-4o-mini")],
    prompt: Annotated[str, typer.Argument(help="The user prompt")],
    tools: Annotated[
        str | None, typer.Option("--tools", "-t", help="Module or .py file with the tools")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Send to this OpenAI/Anthropic-compatible server")
    ] = None,
    max_turns: Annotated[int, typer.Option(help="Model turns at most")] = 10,
    max_tool_calls: Annotated[int, typer.Option(help="Tool calls at most, all turns together")] = 50,
    yes: Annotated[
        bool, typer.Option("--yes", help="Run tools marked side_effects=True without asking")
    ] = False,
    experiment: Annotated[str, typer.Option(help="Experiment the steps are logged under")] = "tools-cli",
    item_id: Annotated[str, typer.Option(help="Item id the steps are logged under")] = "cli",
    store: StoreOpt = None,
    track: TrackOpt = True,
) -> None:
    """Run a tool-using conversation, print each step as it happens, and log every step to the run store (and, as
    a trace, to MLflow)."""
    from llmbench.providers import get_provider
    from llmbench.store import Store
    from llmbench.store.rows import ToolStep
    from llmbench.tools import ToolLimits
    from llmbench.tools.log import StepLogger
    from llmbench.tools.loop import ToolRun, run_tools

    tool_set = _load(tools)
    limits = ToolLimits(max_turns=max_turns, max_tool_calls=max_tool_calls, auto_confirm=yes)
    provider = get_provider(model, **({"base_url": base_url} if base_url else {}))

    def confirm(call: Any, tool: Any) -> bool:
        return typer.confirm(f"Run {tool.name}({json.dumps(call.arguments)})?", default=False)

    with Store.open(store) as st:
        log = StepLogger(st, experiment, item_id)

        def on_step(step: ToolStep) -> None:
            log(step)
            if step.kind != "error":  # a failed model call is raised next, and said once, on stderr
                console.print(_step_line(step))

        async def go() -> ToolRun:
            try:
                return await run_tools(
                    provider,
                    prompt,
                    tool_set,
                    limits=limits,
                    on_step=on_step,
                    confirm=None if yes else confirm,
                )
            finally:
                await provider.aclose()

        run = asyncio.run(go())
        log.flush()
        steps = st.tool_steps_frame(experiment)
    cost = "unknown" if run.cost_usd is None else f"${run.cost_usd:.6f}"
    console.print(
        f"stopped: {run.stopped}; {run.turns} turn(s), {run.tool_calls} tool call(s), cost {cost}; "
        f"conversation {run.conversation_id} in experiment {experiment!r}"
    )
    if track:
        _track_tools(experiment, steps)
    if run.final is not None:
        typer.echo(run.text)


def _track_tools(experiment: str, steps: Any) -> None:
    """Log the experiment's conversations to MLflow as traces; trouble there never fails the command."""
    from llmbench.tracking.mlflow_log import log_tool_run

    try:
        run_id = log_tool_run(experiment, steps)
    except Exception as exc:
        console.print(
            f"[yellow]MLflow logging failed ({type(exc).__name__}: {quoted(exc)}); the steps are in the store.[/]"
        )
        return
    console.print(f"MLflow run {run_id} (traces per conversation) logged; {browse_hint()}")


def _step_line(step: Any) -> str:
    if step.kind == "model_turn":
        return f"[bold]turn {step.turn}[/] model: {step.stop_reason} {(step.text or '')[:80]!r}"
    if step.kind == "tool_call":
        status = f"[red]{step.error_kind}[/]" if step.is_error else "ok"
        args = step.raw_arguments if step.raw_arguments is not None else json.dumps(step.arguments)
        return (
            f"  {step.tool_name}({args}) -> {status} {(step.result or '')[:80]!r} ({step.duration_s:.3f} s)"
        )
    return f"[yellow]{step.kind}[/]: {step.detail}"


@tools_app.command("steps")
def steps_command(
    experiment: Annotated[str | None, typer.Argument(help="Only this experiment")] = None,
    conversation: Annotated[str | None, typer.Option(help="Only this conversation id")] = None,
    store: StoreOpt = None,
) -> None:
    """Show the logged steps of tool conversations (model turns, tool calls, limits, errors)."""
    from llmbench.store import Store

    with Store.open(store, read_only=True) as st:
        frame = st.tool_steps_frame(experiment)
    if conversation:
        frame = frame[frame["conversation_id"] == conversation]
    if frame.empty:
        raise ConfigError("no tool steps stored for that selection; run `llmbench tools run ...` first")
    table = Table(title=f"{len(frame)} tool steps")
    for col in (
        "experiment",
        "item",
        "conversation",
        "step",
        "turn",
        "kind",
        "tool",
        "error",
        "duration s",
        "cost $",
    ):
        table.add_column(col)
    for r in frame.to_dict("records"):
        cost = r["cost_usd"]
        table.add_row(
            r["experiment"],
            str(r["item_id"]),
            r["conversation_id"],
            str(r["step"]),
            str(r["turn"]),
            r["kind"],
            _cell(r["tool_name"]),
            _cell(r["error_kind"]),
            f"{r['duration_s']:.3f}",
            "" if cost is None or cost != cost else f"{cost:.6f}",
        )
    console.print(table)


def _cell(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


@tools_app.command("bfcl-check")
def bfcl_check_command(
    root: Annotated[
        Path | None, typer.Option(help="Folder with BFCL_v*_*.json(.gz) (default ../shared/data/bfcl)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases of each category")] = None,
) -> None:
    """Check the BFCL scorer on every category the folder holds: ground-truth answers must score right, corrupted
    ones wrong."""
    from llmbench.tools.bfcl import bfcl_categories, default_bfcl_dir
    from llmbench.tools.bfcl_selfcheck import ALL_CORRUPTIONS, check_folder

    base = root or default_bfcl_dir()
    rows = check_folder(base, limit)
    if not rows:
        raise ConfigError(f"no BFCL categories llmbench can score in {base} (BFCL_v*_<category>.json files)")
    table = Table(title=f"BFCL scorer self-check ({base})")
    for col in ("category", "cases", "gt answers", "gt ok %", "contradicting rejected", *ALL_CORRUPTIONS):
        table.add_column(col, justify="left" if col == "category" else "right")
    failed = False
    for row in rows:
        cells = []
        for kind in ALL_CORRUPTIONS:
            counts = row["corruptions"][kind]
            built = counts[True] + counts[False]
            cells.append(f"{100 * counts[True] / built:.1f}%" if built else "n/a")
            failed |= counts[False] > 0
        failed |= row["answers_ok"] < row["answers"]
        table.add_row(
            row["category"],
            str(row["cases"]),
            str(row["answers"]),
            f"{100 * row['answers_ok'] / max(row['answers'], 1):.1f}%",
            f"{row['contradicting_rejected']}/{row['contradicting']}",
            *cells,
        )
    console.print(table)
    for row in rows:
        if row["uncheckable"]:
            shown = "; ".join(f"{case}: {why}" for case, why in row["uncheckable"][:3])
            console.print(f"{row['category']}: {len(row['uncheckable'])} cases uncheckable ({shown})")
    for row in rows:
        for case, failure in row["failures"][:3]:
            console.print(f"[red]{row['category']} {case}: {quoted(failure)}[/]")
    skipped = sorted(set(bfcl_categories(base, scorable=False)) - {r["category"] for r in rows})
    if skipped:
        console.print(f"not scorable here (need an executable backend or free text): {', '.join(skipped)}")
    if failed:
        console.print(
            "[red]the scorer disagrees with the ground truth somewhere; see benchmarks/bfcl_scorer_check.py[/]"
        )
        raise typer.Exit(1)
