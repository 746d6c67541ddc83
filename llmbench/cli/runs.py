"""`llmbench runs`: the experiments in the run store, or one experiment's per-model summary."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, console, fmt, store_path
from llmbench.errors import ConfigError

__all__ = ["print_comparisons", "runs_command", "summary_table"]


def summary_table(summary: Any, title: str, simulated: bool) -> Table:
    """The per-model summary as a rich table."""
    label = (
        " [bold yellow](SIMULATED models: offline demo data, not real model quality)[/]" if simulated else ""
    )
    table = Table(title=f"{title}{label}")
    for col in ("model", "runs", "score", "cost $", "$ per correct", "p50 s", "p95 s", "errors"):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=col == "model")
    for row in summary.to_dict("records"):
        table.add_row(
            str(row["model"]),
            str(row.get("runs", "")),
            fmt(row.get("score_mean"), ".3f"),
            fmt(row.get("cost_usd"), ".5f"),
            fmt(row.get("cost_per_correct"), ".6f"),
            fmt(row.get("latency_p50"), ".3f"),
            fmt(row.get("latency_p95"), ".3f"),
            str(row.get("errors", 0)),
        )
    return table


def print_comparisons(runs: Any) -> None:
    """Under a per-model table: is the top model really better (paired, Holm-adjusted), and what epochs say."""
    from llmbench.stats import repeats, versus_best

    if runs["model"].nunique() >= 2 and runs["score"].notna().any():
        table = Table(title="Is the top model really better? (paired over shared items, 95% intervals, Holm)")
        for col in ("vs", "score diff", "interval", "p (Holm)", "test", "items", "cost diff $"):
            table.add_column(col, justify="left" if col in ("vs", "test") else "right", no_wrap=col == "vs")
        for row in versus_best(runs, n_boot=1000, n_perm=2999).to_dict("records"):
            table.add_row(
                f"{row['a']} vs {row['b']}",
                fmt(row["score_diff"], "+.3f"),
                f"[{row['score_low']:+.3f}, {row['score_high']:+.3f}]",
                fmt(row["p_holm"], ".3g"),
                row["test"],
                str(row["items"]),
                fmt(row["cost_diff"], "+.5f"),
            )
        console.print(table)
    epochs = repeats(runs)
    if (epochs["answers per item"] > 1).any():
        cols = [c for c in epochs.columns if c.startswith("pass@")] + ["score variance", "verdict changes"]
        table = Table(
            title="Across epochs: pass@k, per-item score variance, share of items whose verdict changes"
        )
        table.add_column("model", no_wrap=True)
        for c in cols:
            table.add_column(c, justify="right")
        for row in epochs.to_dict("records"):
            table.add_row(str(row["model"]), *[fmt(row.get(c), ".3f") for c in cols])
        console.print(table)


def _print_json(experiment: str, summary: Any, runs: Any) -> None:
    """One experiment's summary, the top model's paired comparisons and the epochs' figures, as JSON."""
    from llmbench.json_safe import dumps
    from llmbench.stats import repeats, versus_best

    scored = runs["model"].nunique() >= 2 and runs["score"].notna().any()
    out = {
        "experiment": experiment,
        "summary": summary.reset_index() if "model" not in summary.columns else summary,
        "versus_best": versus_best(runs, n_boot=1000, n_perm=2999) if scored else [],
        "repeats": repeats(runs) if runs["score"].notna().any() else [],
    }
    typer.echo(dumps(out, indent=2))


@app.command("runs")
def runs_command(
    experiment: Annotated[str | None, typer.Argument(help="Show this experiment's per-model summary")] = None,
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the same as JSON")] = False,
) -> None:
    """List the experiments in the run store, or summarise one."""
    from llmbench.store import Store

    with Store.open(store, read_only=True) as st:
        if experiment:
            exp = st.get_experiment(experiment)
            if exp is None:
                raise ConfigError(f"no experiment {experiment!r} in {st.path}; `llmbench runs` lists them")
            if as_json:
                _print_json(experiment, st.summary_frame(experiment), st.runs_frame([experiment]))
                return
            console.print(
                summary_table(
                    st.summary_frame(experiment), f"Experiment {experiment}", exp.source == "simulated"
                )
            )
            from llmbench.stats.judge import calibration_note

            config = exp.config if isinstance(exp.config, dict) else {}
            note = calibration_note(config.get("judge_model"), config.get("judge_calibration"))
            if note:
                console.print(note)
            print_comparisons(st.runs_frame([experiment]))
            return
        frame = st.experiments_frame()
    if as_json:
        from llmbench.json_safe import dumps

        typer.echo(dumps({"experiments": frame}, indent=2))
        return
    from llmbench.store.connection import store_label

    table = Table(title=f"Experiments in {store_label(store_path(store))}")
    for col in ("id", "name", "source", "created", "items", "models", "calls", "cost $"):
        table.add_column(col)
    for r in frame.to_dict("records"):
        table.add_row(
            str(r["id"]),
            r["name"],
            r["source"],
            str(r["created_at"])[:19],
            str(r["items"]),
            str(r["models"]),
            str(r["calls"]),
            fmt(r["cost_usd"], ".4f"),
        )
    console.print(table)
