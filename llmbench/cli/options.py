"""Options and output helpers shared by every command group."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape
from rich.text import Text

from llmbench.text_safe import printable

__all__ = ["StoreOpt", "TrackOpt", "console", "fmt", "quoted", "store_path"]

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="run store: a DuckDB file or a postgresql:// URL (default $LLMBENCH_STORE or ./llmbench.duckdb)",
    ),
]
TrackOpt = Annotated[bool, typer.Option("--track/--no-track", help="log the run to MLflow")]


class _SafeConsole(Console):
    """Every string it shows (table cells too) loses its control characters, so text from a model or an upstream
    error cannot drive the terminal; text that is not valid markup is shown as it is instead of raising."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        text = printable(text)
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            return super().render_str(text, **{**kwargs, "markup": False})


def quoted(text: object) -> str:
    """Untrusted text (an answer, an upstream error) to put inside a markup string: shown as it is."""
    return escape(printable(str(text)))


# Piped output (CI, notebooks) gets a fixed width so model names are not cut.
console = _SafeConsole(width=None if sys.stdout.isatty() else 160)


def fmt(value: Any, spec: str) -> str:
    """A number formatted with `spec`, or "-" when it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def store_path(store: Path | None) -> Path | str:
    """The store a command uses: a DuckDB file, or a PostgreSQL URL (which a Path option cannot hold as given)."""
    from llmbench.store.connection import store_location

    return store_location(store)
