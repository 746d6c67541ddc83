"""`llmbench judge calibrate`: an LLM judge's verdicts against human labels on the same items."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from llmbench.cli.app import app
from llmbench.cli.options import console
from llmbench.errors import ConfigError

judge_app = typer.Typer(help="LLM judges: how far their verdicts agree with human labels.")
app.add_typer(judge_app, name="judge")

__all__ = ["calibrate_command"]


def _read_verdicts(path: Path) -> Any:
    import pandas as pd

    if path.suffix in (".jsonl", ".gz") or path.name.endswith(".jsonl.gz"):
        return pd.read_json(path, lines=True, dtype=False)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    raise ConfigError(f"--verdicts takes a .csv or .jsonl file (columns gold, first, swapped), got {path}")


@judge_app.command("calibrate")
def calibrate_command(
    verdicts: Annotated[
        Path | None, typer.Option("--verdicts", help="CSV/JSONL: gold, first[, swapped][, judge, strategy]")
    ] = None,
    llmbar: Annotated[
        Path | None, typer.Option("--llmbar", help="an LLMBar Dataset folder (judges' results)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write every calibration here")] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save", help="write the one calibration here, for judge_calibration: in an experiment"
        ),
    ] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", help="the judge's model id, recorded with --save")
    ] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="resamples for the kappa interval")] = 1000,
) -> None:
    """Accuracy per presentation order and in both, positional agreement and Cohen's kappa with a 95% interval;
    on LLMBar also whether each judge's figures equal the authors' own (statistics.json)."""
    import pandas as pd

    from llmbench.stats.judge import calibrate_pairwise

    if (verdicts is None) == (llmbar is None):
        raise ConfigError("give one source: --verdicts FILE or --llmbar FOLDER")
    published = None
    if llmbar is not None:
        from llmbench.imports.llmbar import published_statistics, read_llmbar

        frame, published = read_llmbar(llmbar), published_statistics(llmbar)
    else:
        assert verdicts is not None
        frame = _read_verdicts(verdicts)
    keys = [k for k in ("subset", "judge", "strategy") if k in frame.columns]
    groups = frame.groupby(keys, sort=True) if keys else [((), frame)]
    table = Table(title="Judge calibration against gold labels")
    for col in (
        *keys,
        "items",
        "first",
        "swapped",
        "both",
        "same when swapped",
        "kappa [95%]",
        "= published",
    ):
        table.add_column(col, justify="left" if col in keys else "right")
    out, mismatched = [], 0
    for key, part in groups:
        names = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        cal = calibrate_pairwise(part, n_boot=bootstrap)
        same = "n/a"
        if published is not None and not published.empty:
            row = published.loc[(published[keys] == pd.Series(names)).all(axis=1)]
            if len(row):
                r = row.iloc[0]
                ours = (
                    cal.correct_first,
                    cal.correct_swapped,
                    cal.correct_both,
                    cal.positional_agreement,
                    cal.items,
                )
                same = (
                    "yes"
                    if ours == (r.correct_False, r.correct_True, r.correct_both, r.equal, r["items"])
                    else "NO"
                )
                mismatched += same == "NO"
        n = cal.items
        table.add_row(
            *map(str, names.values()),
            str(n),
            f"{cal.correct_first / n:.1%}",
            f"{cal.correct_swapped / n:.1%}",
            f"{cal.correct_both / n:.1%}",
            f"{cal.positional_agreement / n:.1%}",
            f"{cal.kappa_first:.3f} [{cal.kappa_first_low:.3f}, {cal.kappa_first_high:.3f}]",
            same,
        )
        out.append({**names, **cal.to_dict(), "equals_published": same})
    console.print(table)
    from llmbench.json_safe import dumps

    if json_out is not None:
        json_out.write_text(dumps(out, indent=2))
    if save is not None:
        if len(out) != 1:
            raise ConfigError(
                f"--save keeps one judge's calibration; these verdicts hold {len(out)} (use --json)"
            )
        save.write_text(dumps({**out[0], "judge": judge or out[0].get("judge")}, indent=2))
        console.print(f"wrote {save}; name it as judge_calibration: in the experiment that uses this judge")
    if mismatched:
        console.print(f"[red]{mismatched} calibrations differ from the published figures[/]")
        raise typer.Exit(1)
