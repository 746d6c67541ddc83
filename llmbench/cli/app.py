"""The typer application every command module registers on."""

import typer

app = typer.Typer(
    name="llmbench",
    help="Which model should answer this request, at what cost? Evaluate, log, route and track LLM calls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
