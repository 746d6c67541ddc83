"""Command-line interface: `llmbench ...`. Each area registers its commands in its own module."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from llmbench.cli import (  # noqa: F401  (registers commands)
    batches,
    complete,
    diff,
    evaluate,
    export,
    imports,
    judge,
    leaderboard,
    router,
    router_policy,
    runs,
    serve,
    tools,
    tracking,
)
from llmbench.cli.app import app
from llmbench.errors import LLMBenchError, redact
from llmbench.text_safe import printable

__all__ = ["app", "main", "run"]


def run(args: Sequence[str] | None = None) -> int:
    """Run one command line in this process and return its exit code: typed errors become one clear line
    on stderr and code 2, Ctrl-C 130, usage errors click's code (what `llmbench` does, callable from tests)."""
    try:
        code = app(args=list(args) if args is not None else None, prog_name="llmbench", standalone_mode=False)
    except LLMBenchError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # usage errors arrive here in non-standalone mode (typer vendors its own click)
        import typer

        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):  # a usage error: usage line, what is wrong, exit 2
            show()
            return code
        if isinstance(exc, typer.Abort):
            return 130
        print(f"error: {type(exc).__name__}: {printable(redact(exc))}", file=sys.stderr)
        return 1
    return code or 0


def main() -> None:
    """Entry point of the `llmbench` console script."""
    sys.exit(run())
