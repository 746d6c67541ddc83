"""The typer application every command module registers on."""

from typing import Any

import typer
import typer.core

__all__ = ["app"]

app = typer.Typer(
    name="llmbench",
    help="Which model should answer this request, at what cost? Evaluate, log, route and track LLM calls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # every command's contexts inherit it
)


def _no_type_tag(self: Any, ctx: Any) -> str | None:
    return getattr(self, "metavar", None)


# typer prints a type tag (<str>, <list[str]>, <bool>) beside every option; our help texts say what an option
# takes, so --help shows only an explicit metavar.
for _param in (typer.core.TyperOption, typer.core.TyperArgument):
    if hasattr(_param, "display_type_rich"):
        _param.display_type_rich = _no_type_tag  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"llmbench {version('llmbench')}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Which model should answer this request, at what cost? Evaluate, log, route and track LLM calls."""
