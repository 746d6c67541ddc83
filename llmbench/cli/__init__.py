"""Command-line interface: `llmbench ...`. Each area registers its commands in its own module."""

from __future__ import annotations

import sys

from llmbench.cli import complete, evaluate, router, tools, tracking  # noqa: F401  (registers commands)
from llmbench.cli.app import app
from llmbench.errors import LLMBenchError, redact


def main() -> None:
    """Entry point of the `llmbench` console script: typed errors become one clear line and exit code 2."""
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) comes back as the return value here
    except LLMBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        print(f"error: {type(exc).__name__}: {redact(exc)}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code or 0)
