"""`llmbench eval`: batch evaluation into the run store (listing and summaries: `llmbench runs`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, TrackOpt, console, quoted, store_path
from llmbench.cli.runs import print_comparisons, summary_table
from llmbench.errors import ConfigError, redact
from llmbench.mlflow_uri import browse_hint

EXIT_UNFINISHED = 3  # the run ended but some planned items did not finish
EXIT_PENDING = 4  # answers are still in provider batches: run the same command again later
DEFAULT_EXPERIMENT = Path("experiments/default.yaml")  # in the working directory, else the shipped copy
SHIPPED_EXPERIMENT = Path(__file__).parents[1] / "shipped" / "experiments" / "default.yaml"


def adhoc_name(datasets: list[str], models: list[str]) -> str:
    """The experiment name of an eval given by flags alone: its datasets and models, so two different ad hoc
    runs never share (and mix in) one experiment; the same flags resume the same experiment."""
    from llmbench.store import stable_hash

    stems = [Path(d.split("?")[0]).stem for d in datasets]
    name = f"{'+'.join(stems)}__{'+'.join(models)}"
    return name if len(name) <= 80 else f"{name[:64]}...{stable_hash([datasets, models])[:8]}"


@app.command("eval")
def eval_command(
    experiment: Annotated[
        Path | None, typer.Argument(help="Experiment file (YAML/TOML); default experiments/default.yaml")
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", help="Dataset file (repeatable); overrides the file"),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Model id (repeatable); overrides the file")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Experiment name (resume key)")] = None,
    scorer: Annotated[
        str | None, typer.Option(help="Scorer for every item (default: each item's own)")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Repeats of each item")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Calls in flight")] = None,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="Stop cleanly when this many USD are spent")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N items of each dataset")] = None,
    unsafe_code: Annotated[
        bool, typer.Option("--unsafe-code", help="Run model-written code WITHOUT a sandbox (no bubblewrap)")
    ] = False,
    allow_unpriced: Annotated[
        bool, typer.Option("--allow-unpriced", help="Let --max-cost run models without a price (as $0)")
    ] = False,
    store: StoreOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a live progress bar")] = True,
    track: TrackOpt = True,
    traces: Annotated[
        int,
        typer.Option(
            min=0, help="Calls logged as MLflow traces at most: failed or retried first, then a sample"
        ),
    ] = 300,
    wait_for_mlflow: Annotated[
        bool,
        typer.Option("--wait-for-mlflow", help="Log to MLflow before returning (default: in the background)"),
    ] = False,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch", help="Send calls through the providers' batch APIs (half price, within 24 h)"
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="With --batch: poll until every batch is collected")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.0, help="With --wait: seconds between polls")
    ] = 30.0,
    batch_fallback: Annotated[
        str | None,
        typer.Option("--batch-fallback", help="Batch requests that failed once: resubmit (default) or live"),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run attempts and scoring on a Ray cluster: local, auto, HOST:6379 or ray://HOST:10001",
        ),
    ] = None,
) -> None:
    """Run an experiment: every call, score, token, cost, latency and error goes to the run store. Resumable.

    With --batch, requests go to OpenAI's Batch API / Anthropic's Message Batches; run the same command again
    later (or pass --wait) to collect, score and store the answers; nothing is submitted twice.

    Exit code 0 when every planned item finished; 3 when some did not (failed calls, the budget, or an error
    no retry can heal, such as a bad API key); 4 when answers are still in provider batches; 2 for bad input,
    before anything is sent; 130 on Ctrl-C.
    """
    from llmbench.evaluation import load_experiment, validate_config

    overrides = {
        "name": name,
        "scorer": scorer,
        "epochs": epochs,
        "concurrency": concurrency,
        "max_cost": max_cost,
        "limit": limit,
        "datasets": dataset or None,
        "models": model or None,
        "unsafe_code": unsafe_code or None,
        "allow_unpriced": allow_unpriced or None,
        "batch": batch or None,
        "batch_fallback": batch_fallback,
        "ray": ray,
    }
    if experiment is None and dataset:
        if not model:
            raise ConfigError("without an experiment file, give both --dataset and --model")
        cfg = validate_config(
            {
                "name": name or adhoc_name(dataset, model),
                **{k: v for k, v in overrides.items() if v is not None},
            }
        )
    else:
        path = experiment or (DEFAULT_EXPERIMENT if DEFAULT_EXPERIMENT.is_file() else SHIPPED_EXPERIMENT)
        if not path.is_file():
            raise ConfigError(
                f"experiment file {path} not found; pass a YAML or TOML file (see experiments/)"
            )
        cfg = load_experiment(path, **overrides)
        # the default datasets with other models: its own experiment
        if experiment is None and model and not name:
            cfg = cfg.model_copy(update={"name": adhoc_name(cfg.datasets, cfg.models)})
    result = _run(
        cfg,
        store,
        progress,
        track=track,
        traces=traces,
        wait_for_tracking=wait_for_mlflow,
        wait=wait,
        poll_interval=poll_interval,
    )
    report, summary = result.report, result.summary
    if len(summary):
        console.print(summary_table(summary, f"Experiment {cfg.name}", cfg.simulated))
        from llmbench.stats.judge import calibration_note

        note = calibration_note(cfg.judge_model, cfg.judge_calibration)
        if note:
            console.print(note)
        if (
            len(summary) > 1
        ):  # never the table alone: is the top model really better, on the items both answered
            _comparisons(result.store, cfg.name)
    from llmbench.store.connection import store_label

    note = f"{report.finished} finished, {report.failed} failed, {report.skipped} already done (skipped)"
    # what was paid, apart from the estimate of requests still in provider batches (their cost is not known yet)
    settled = report.spent_usd - report.pending_usd
    spent = f"spent ${settled - report.spent_before_usd:.4f} in this run (${settled:.4f} in all)"
    if report.pending:
        spent += f", plus about ${report.pending_usd:.4f} for {report.pending} request(s) still in provider batches"
    console.print(f"{note}; {spent} in {report.elapsed_s:.1f} s. Store: {store_label(store_path(store))}")
    if report.unknown_outcome:
        console.print(
            f"[yellow]{report.unknown_outcome} call(s) of earlier runs were sent but never answered (that run was interrupted or crashed); "
            "their estimated cost is counted in the spend.[/]"
        )
    if report.stopped_by_budget:
        console.print(
            f"[yellow]Stopped at the budget (${cfg.max_cost}); rerun with a higher --max-cost to finish.[/]"
        )
    if report.stopped_by:
        console.print(f"[red]Stopped: {quoted(report.stopped_by)}[/]")
    if report.unrecorded:
        console.print(
            f"[red]{len(report.unrecorded)} result(s) could not be written to the run store and will run again "
            f"on a rerun; the first: {quoted(report.unrecorded[0])}[/]"
        )
    if report.submitted or report.pending or report.gave_up or report.results_gone:
        _batch_note(report)
    _tracking_note(result)
    # SystemExit, not typer.Exit: main() runs click with standalone_mode=False, which turns typer.Exit into
    # a return value.
    if report.interrupted:
        console.print(
            "[yellow]Interrupted; the results above are saved. Run the same command again to resume.[/]"
        )
        raise SystemExit(130)
    if report.pending and not (report.stopped_by or report.stopped_by_budget):
        raise SystemExit(EXIT_PENDING)
    if not report.complete:
        unfinished = report.planned - report.finished - report.skipped
        console.print(
            f"[yellow]{unfinished} of {report.planned} planned runs did not finish; rerun to retry them.[/]"
        )
        raise SystemExit(EXIT_UNFINISHED)


def _comparisons(store: Path, experiment: str) -> None:
    """The paired comparisons under the table; the run is stored already, so a problem here is a line, not a failure."""
    from llmbench.store import Store

    try:
        with Store.open(store, read_only=True) as st:
            runs = st.runs_frame([experiment])
        print_comparisons(runs)
    except Exception as exc:  # the table above stands
        console.print(f"[yellow]paired comparisons not shown: {type(exc).__name__}: {quoted(redact(exc))}[/]")


def _batch_note(report: Any) -> None:
    console.print(
        f"{report.submitted} request(s) submitted to provider batches in this run; {report.pending} "
        f"waiting in batches (estimated ${report.pending_usd:.4f}, counted in the spend until collected). "
        "`llmbench batches` lists them."
    )
    if report.pending:
        console.print(
            "Run the same command again later (or with --wait) to collect, score and store the answers."
        )
    if report.results_gone:
        console.print(
            f"[yellow]{report.results_gone} request(s) ran in batches whose results the provider no longer "
            "has (charged at their estimate); `llmbench batches` lists them, `llmbench batches --resubmit "
            "BATCH` submits them again (billed again).[/]"
        )
    if report.gave_up:
        console.print(
            f"[yellow]{report.gave_up} request(s) got no answer from batches (failed twice, or "
            "their batch was cancelled); run them live with --batch-fallback live (or without --batch).[/]"
        )


def _run(cfg: Any, path: Path | None, progress: bool, **options: Any) -> Any:
    """`llmbench.evaluate` with a progress bar; its warnings of models without a price are shown in yellow."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from llmbench.api import evaluate
    from llmbench.providers import UnknownPriceWarning

    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, UnknownPriceWarning):  # said before any call (Runner.preflight)
            console.print(f"[yellow]{quoted(message)}[/]")
        else:
            shown(message, category, *args, **kwargs)

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TextColumn("spent ${task.fields[spent]:.4f}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
        transient=False,
    )
    with bar:
        name = cfg.name + (" (simulated)" if cfg.simulated else "")
        task_id = bar.add_task(name, total=None, spent=0.0, failed=0)
        per_model: dict[str, Any] = {}  # a row per model under the run's, added when its first run ends

        def on_progress(report: Any, n: int) -> None:
            total = report.planned - report.skipped
            bar.update(task_id, total=total, advance=n, spent=report.spent_usd, failed=report.failed)
            for model, done in report.models.items():
                if model not in per_model:
                    per_model[model] = bar.add_task(
                        f"  {quoted(model)}", total=done.total, spent=0.0, failed=0
                    )
                finished = done.finished + done.failed
                bar.update(per_model[model], completed=finished, failed=done.failed, spent=done.spent_usd)

        with warnings.catch_warnings():
            warnings.showwarning = show
            result = evaluate(cfg, store=path, on_progress=on_progress, **options)
    if result.live_models:
        console.print(f"live (no batch API): {', '.join(result.live_models)}")
    return result


def _tracking_note(result: Any) -> None:
    if result.tracking_error:
        console.print(
            f"[yellow]MLflow logging failed ({quoted(result.tracking_error)}); the run is safe in the store.[/]"
        )
    elif result.mlflow_job:
        pid, log = result.mlflow_job
        console.print(
            f"Logging to MLflow in the background (pid {pid}, log {log}); `llmbench ui` shows it when done"
        )
    elif result.mlflow_run_id:
        console.print(f"MLflow run {result.mlflow_run_id} logged; {browse_hint()}")
