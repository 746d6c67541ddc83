"""`llmbench ui` (the MLflow UI over the local tracking store) and `llmbench report` (one HTML dashboard)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from llmbench.cli.app import app


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 5000,
    backend_store_uri: Annotated[
        str | None,
        typer.Option(help="Tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)"),
    ] = None,
) -> None:
    """Start the MLflow UI on 127.0.0.1 over the tracking store, print its URL, and serve until Ctrl-C."""
    from llmbench.tracking.mlflow_log import tracking_uri
    from llmbench.tracking.ui import start_ui, stop_ui

    uri = tracking_uri(backend_store_uri)
    typer.echo(f"starting the MLflow UI over {uri} ...")
    process, url = start_ui(port, uri)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A plain `kill` must stop the server too, not leave it running without us.
    signal.signal(signal.SIGTERM, on_term)
    typer.echo(f"MLflow UI: {url}  (Ctrl-C stops it)", color=False)
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_ui(process)


def _judge_note(exp: Any) -> str | None:
    """How well an experiment's LLM judge agrees with people, or that nobody checked (None without a judge)."""
    from llmbench.stats.judge import calibration_note

    config = exp.config if exp is not None and isinstance(exp.config, dict) else {}
    note = calibration_note(config.get("judge_model"), config.get("judge_calibration"))
    return None if note is None else f"{exp.name}: {note}"


@app.command()
def report(
    experiment: Annotated[list[str], typer.Argument(help="Experiment name(s) in the run store")],
    store: Annotated[
        Path | None, typer.Option(help="Run store file (default: $LLMBENCH_STORE or ./llmbench.duckdb)")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path("report.html"),
    score: Annotated[str | None, typer.Option(help="Scorer to use (default: the primary one)")] = None,
    title: Annotated[str | None, typer.Option(help="Title of the page")] = None,
) -> None:
    """Write one self-contained HTML dashboard: model table, win rates, cost/quality curves, latency, errors."""
    from llmbench.errors import DataError
    from llmbench.store import Store
    from llmbench.tracking.report import write_report

    with Store.open(store, read_only=True) as db:
        runs = db.runs_frame(experiment, score)
        summary = db.summary_frame(experiment, score)
        calls = db.calls_frame(experiment)
        items = db.items_frame(experiment)
        scores = db.scores_frame(experiment)
        judged = [_judge_note(db.get_experiment(name)) for name in experiment]
        if runs.empty:
            known = ", ".join(db.experiments_frame()["name"].astype(str)) or "none"
            raise DataError(
                f"no runs for experiment(s) {', '.join(experiment)} in {db.path}; experiments: {known}"
            )
    path = write_report(
        output,
        runs,
        summary,
        title=title or f"llmbench report — {', '.join(experiment)}",
        calls=calls,
        items=items,
        scores=scores,
        notes=[n for n in judged if n],
    )
    typer.echo(f"wrote {path}")


@app.command()
def view(
    experiment: Annotated[list[str], typer.Argument(help="Experiment name(s) in the run store")],
    store: Annotated[
        Path | None, typer.Option(help="Run store file (default: $LLMBENCH_STORE or ./llmbench.duckdb)")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path("samples.html"),
    score: Annotated[str | None, typer.Option(help="Scorer to use (default: the primary one)")] = None,
    limit: Annotated[int, typer.Option(help="Samples at most (the first ones)")] = 50_000,
) -> None:
    """Write the per-sample viewer: every item's prompt, each model's answer, score, cost, latency, attempts and
    error, filterable, with two models side by side (one self-contained HTML file; open it in a browser)."""
    from llmbench.errors import DataError
    from llmbench.store import Store
    from llmbench.tracking.viewer import sample_records, write_viewer

    with Store.open(store, read_only=True) as db:
        runs = db.runs_frame(experiment, score)
        if runs.empty:
            known = ", ".join(db.experiments_frame()["name"].astype(str)) or "none"
            raise DataError(
                f"no runs for experiment(s) {', '.join(experiment)} in {db.path}; experiments: {known}"
            )
        records = sample_records(
            runs,
            db.calls_frame(experiment),
            db.items_frame(experiment),
            scores=db.scores_frame(experiment),
            limit=limit,
        )
    path = write_viewer(output, records, title=f"llmbench samples — {', '.join(experiment)}")
    typer.echo(f"wrote {path} ({len(records)} samples)")
