"""`llmbench leaderboard alpacaeval PATH`: win rates, standard errors and length-controlled win rates from
per-prompt preferences, next to the published leaderboard when the folder holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llmbench.cli.app import app
from llmbench.cli.options import console, fmt

leaderboard_app = typer.Typer(help="Leaderboards from per-prompt preferences.", no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")

_HEADERS = {
    "win_rate": "win rate %",
    "standard_error": "SE",
    "discrete_win_rate": "discrete %",
    "lc_win_rate": "LC win rate %",
    "lc_standard_error": "LC SE",
    "n_total": "n",
    "avg_length": "avg length",
    "rating": "BT",
    "style_rating": "BT at equal length",
    "published_win_rate": "published %",
    "published_standard_error": "published SE",
    "published_lc_win_rate": "published LC %",
}


@leaderboard_app.command("alpacaeval")
def alpacaeval(
    path: Annotated[Path, typer.Argument(help="AlpacaEval folder, compact table or annotations.json")],
    annotator: Annotated[
        str | None, typer.Option("--annotator", help="Which annotator's judgments (when several)")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Baseline model (default: detected)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON")] = False,
) -> None:
    """Per model: win rate, standard error, discrete win rate, length-controlled win rate and its SE (%)."""
    from llmbench.json_safe import dumps
    from llmbench.stats.leaderboard import alpacaeval_leaderboard

    board, figures = alpacaeval_leaderboard(path, annotator, baseline)
    if as_json:
        rows = board.reset_index().to_dict("records")
        typer.echo(
            dumps(
                {
                    "baseline": board.attrs.get("baseline"),
                    "models": rows,
                    "agreement": figures,
                    "lc_note": board.attrs.get("lc_note"),
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"AlpacaEval leaderboard from {path} (baseline {board.attrs.get('baseline')})")
    table.add_column("model", no_wrap=True)
    for col in board.columns:
        table.add_column(_HEADERS.get(col, col), justify="right")
    for model, row in board.iterrows():
        table.add_row(
            str(model),
            *[
                fmt(row[c], ".0f" if c in ("n_total", "avg_length", "rating", "style_rating") else ".2f")
                for c in board.columns
            ],
        )
    console.print(table)
    if board.attrs.get("lc_note"):
        console.print(f"[yellow]{board.attrs['lc_note']}[/]")
    for name, value in figures.items():
        console.print(f"{name}: {value:.3g}")
