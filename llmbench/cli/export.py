"""`llmbench export`: an experiment's tables as Parquet, to share runs beyond one DuckDB file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, console

__all__ = ["export_command"]


@app.command("export")
def export_command(
    experiment: Annotated[list[str], typer.Argument(help="Experiment name(s) in the run store")],
    parquet: Annotated[
        Path, typer.Option("--parquet", help="Folder to write (one folder per table, by experiment)")
    ],
    store: StoreOpt = None,
) -> None:
    """Write experiments as Parquet (calls, scores, items, ... partitioned by experiment); `llmbench import parquet`
    reads them into any store, `llmbench.store.parquet.attach` queries them in place."""
    from llmbench.store import Store
    from llmbench.store.parquet import export

    with Store.open(store, read_only=True) as st:
        out = export(st, parquet, experiment)
    console.print(f"wrote {', '.join(experiment)} to {out} (import with `llmbench import parquet {out}`)")
