"""Options and output helpers shared by every command group."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["StoreOpt", "TrackOpt", "console", "fmt", "store_path"]

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="DuckDB run store (default $LLMBENCH_STORE or ./llmbench.duckdb)"),
]
TrackOpt = Annotated[bool, typer.Option("--track/--no-track", help="log the run to MLflow")]
# Piped output (CI, notebooks) gets a fixed width so model names are not cut.
console = Console(width=None if sys.stdout.isatty() else 160)


def fmt(value: Any, spec: str) -> str:
    """A number formatted with `spec`, or "-" when it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def store_path(store: Path | None) -> Path:
    """The store file a command uses."""
    from llmbench.store import default_store_path

    return store or default_store_path()
