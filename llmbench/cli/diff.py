"""`llmbench diff A B`: what changed per item between two models of one experiment, or two experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, console, fmt
from llmbench.errors import ConfigError

__all__ = ["diff_command"]


@app.command("diff")
def diff_command(
    a: Annotated[str, typer.Argument(help="side A: a model id (with -e) or an experiment")],
    b: Annotated[str, typer.Argument(help="side B: a model id (with -e) or an experiment")],
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="diff two models inside this experiment")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="show only these changes (repeatable), e.g. 'right to wrong'"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="items shown (all go to --json)")] = 50,
    json_out: Annotated[Path | None, typer.Option("--json", help="write every item's row here")] = None,
    store: StoreOpt = None,
) -> None:
    """Per item: flips from right to wrong and back, score, cost and latency deltas, new failures; with the paired
    comparison of the two sides on top."""
    from llmbench.stats.diff import CHANGES, diff
    from llmbench.stats.paired import paired_comparison
    from llmbench.store import Store

    bad = [c for c in only or [] if c not in CHANGES]
    if bad:
        raise ConfigError(f"--only takes {', '.join(CHANGES)}; got {bad}")
    with Store.open(store, read_only=True) as st:
        runs = st.runs_frame([experiment] if experiment else [a, b])
    if runs.empty:
        raise ConfigError(
            f"no runs for {experiment or f'{a} and {b}'}; `llmbench runs` lists the experiments"
        )
    by = "model" if experiment else "experiment"
    table = diff(runs, a, b, by=by)
    if by == "model":
        console.print(paired_comparison(runs, a, b).sentence())
    elif "model" not in table.columns:  # one model a side: the two runs compared as two contenders
        console.print(paired_comparison(runs.assign(model=runs["experiment"]), a, b).sentence())
    counts = table["change"].value_counts()
    console.print(", ".join(f"{c}: {int(counts.get(c, 0))}" for c in CHANGES if counts.get(c, 0)))
    shown = table[table["change"].isin(only)] if only else table[table["change"] != "same"]
    out = Table(title=f"{a} -> {b}: {len(shown)} items" + (f" (first {limit})" if len(shown) > limit else ""))
    cols = [
        "item_id",
        *(["model"] if "model" in table else []),
        "change",
        "score_a",
        "score_b",
        "cost_usd_delta",
    ]
    for c in cols:
        out.add_column(c, justify="left" if c in ("item_id", "model", "change") else "right")
    for rec in shown.head(limit).to_dict("records"):
        out.add_row(
            *[str(rec[c]) if c in ("item_id", "model", "change") else fmt(rec.get(c), ".4f") for c in cols]
        )
    console.print(out)
    if json_out is not None:
        from llmbench.json_safe import dumps

        json_out.write_text(dumps({"a": a, "b": b, "by": by, "items": table}, indent=2))
