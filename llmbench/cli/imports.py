"""`llmbench import runs|routerbench|routellm`: public logged runs into the run store, validated on the way in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, console, store_path
from llmbench.errors import ConfigError

if TYPE_CHECKING:
    from llmbench.imports import ImportOptions

import_app = typer.Typer(
    help="Import logged runs into the run store (validated; costs priced where missing).",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

NameOpt = Annotated[str | None, typer.Option("--name", help="Experiment name (default: from the file)")]
RangeOpt = Annotated[
    str | None,
    typer.Option("--score-range", help="Rescale scores from LO,HI to 0..1, e.g. 1,10 for judge scores"),
]
ClipOpt = Annotated[
    bool, typer.Option("--clip", help="Clamp scores slightly outside 0..1 (by up to 0.1) into it")
]
PriceOpt = Annotated[
    Path | None,
    typer.Option("--price-file", help="YAML/JSON prices (USD per 1M tokens) for models the snapshot lacks"),
]
ReplaceOpt = Annotated[bool, typer.Option("--replace", help="Replace an experiment of the same name")]
AssumeOpt = Annotated[
    int | None,
    typer.Option("--assume-output-tokens", help="Output tokens per call when the file has no counts or text"),
]


def _options(
    score_range: str | None, clip: bool, price_file: Path | None, assume_output: int | None = None
) -> ImportOptions:
    from llmbench.imports import ImportOptions
    from llmbench.providers.pricing import PriceTable

    bounds = None
    if score_range is not None:
        parts = score_range.replace(" ", "").split(",")
        try:
            bounds = (float(parts[0]), float(parts[1])) if len(parts) == 2 else None
        except ValueError:
            bounds = None
        if bounds is None or not bounds[1] > bounds[0]:
            raise ConfigError(f"--score-range must be LO,HI with LO < HI, e.g. 1,10; got {score_range!r}")
    if assume_output is not None and assume_output < 0:
        raise ConfigError(f"--assume-output-tokens must be >= 0, got {assume_output}")
    prices = PriceTable.from_file(price_file) if price_file is not None else None
    return ImportOptions(score_range=bounds, clip=clip, prices=prices, assume_output_tokens=assume_output)


def _run(kind: str, paths: list[Path], store: Path | None, **kw: Any) -> None:
    from llmbench.imports import import_file
    from llmbench.store import Store

    with Store.open(store) as st:
        report = import_file(st, kind, paths, **kw)  # type: ignore[arg-type]
    for line in report.lines():
        console.print(line)
    console.print(f"imported into experiment(s) {', '.join(report.experiments)} in {store_path(store)}")


@import_app.command("runs")
def import_runs(
    files: Annotated[list[Path], typer.Argument(help="CSV/TSV, Parquet or JSON Lines file(s), .gz allowed")],
    name: NameOpt = None,
    score_range: RangeOpt = None,
    clip: ClipOpt = False,
    price_file: PriceOpt = None,
    assume_output_tokens: AssumeOpt = None,
    task: Annotated[str | None, typer.Option("--task", help="One task label for every row")] = None,
    item_col: Annotated[str | None, typer.Option("--item-col", help="Column of item ids")] = None,
    prompt_col: Annotated[str | None, typer.Option("--prompt-col", help="Column of prompt text")] = None,
    model_col: Annotated[str | None, typer.Option("--model-col", help="Column of model names")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="One model name for every row (a file of one model's runs)")
    ] = None,
    score_col: Annotated[str | None, typer.Option("--score-col", help="Column of scores")] = None,
    cost_col: Annotated[str | None, typer.Option("--cost-col", help="Column of USD costs")] = None,
    input_tokens_col: Annotated[
        str | None, typer.Option("--input-tokens-col", help="Column of input tokens")
    ] = None,
    output_tokens_col: Annotated[
        str | None, typer.Option("--output-tokens-col", help="Column of output tokens")
    ] = None,
    task_col: Annotated[str | None, typer.Option("--task-col", help="Column of task labels")] = None,
    response_col: Annotated[
        str | None, typer.Option("--response-col", help="Column of response text")
    ] = None,
    latency_col: Annotated[str | None, typer.Option("--latency-col", help="Column of latencies (s)")] = None,
    epoch_col: Annotated[str | None, typer.Option("--epoch-col", help="Column of repeat numbers")] = None,
    scores_col: Annotated[
        str | None, typer.Option("--scores-col", help="Column of {model: score} objects (one row per prompt)")
    ] = None,
    costs_col: Annotated[
        str | None, typer.Option("--costs-col", help="With --scores-col: column of {model: cost} objects")
    ] = None,
    replace: ReplaceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Import logs in long form (one row per prompt x model; columns guessed by name or named by flags)."""
    from llmbench.imports import Columns

    given = {
        "item_id": item_col,
        "prompt": prompt_col,
        "model": model_col,
        "score": score_col,
        "cost_usd": cost_col,
        "input_tokens": input_tokens_col,
        "output_tokens": output_tokens_col,
        "task": task_col,
        "response": response_col,
        "latency_s": latency_col,
        "epoch": epoch_col,
    }
    columns = Columns(
        {k: v for k, v in given.items() if v}, scores=scores_col, costs=costs_col, task=task, model=model
    )
    options = _options(score_range, clip, price_file, assume_output_tokens)
    _run("runs", files, store, name=name, options=options, columns=columns, replace=replace)


@import_app.command("routerbench")
def import_routerbench(
    path: Annotated[Path, typer.Argument(help="RouterBench wide file or folder (CSV, Parquet, .pkl)")],
    name: Annotated[str, typer.Option("--name", help="Experiment name")] = "routerbench",
    trust_pickle: Annotated[
        bool, typer.Option("--trust-pickle", help="Allow the official pickle (runs code!)")
    ] = False,
    score_range: RangeOpt = None,
    clip: ClipOpt = False,
    price_file: PriceOpt = None,
    assume_output_tokens: AssumeOpt = None,
    replace: ReplaceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Import RouterBench rows (one score, cost and response column per model) as an experiment."""
    options = _options(score_range, clip, price_file, assume_output_tokens)
    _run("routerbench", [path], store, name=name, options=options, trust_pickle=trust_pickle, replace=replace)


@import_app.command("routellm")
def import_routellm(
    path: Annotated[Path, typer.Argument(help="RouteLLM data folder (with evals/)")],
    benchmark: Annotated[
        list[str] | None,
        typer.Option("--benchmark", help="mmlu, gsm8k or mt_bench (repeatable; default mmlu and gsm8k)"),
    ] = None,
    clip: ClipOpt = False,
    price_file: PriceOpt = None,
    replace: ReplaceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Import RouteLLM outcomes as experiments routellm-<benchmark> (costs from list prices, tokens estimated)."""
    options = _options(None, clip, price_file)
    _run("routellm", [path], store, options=options, benchmarks=benchmark, replace=replace)


@import_app.command("parquet")
def import_parquet_command(
    folder: Annotated[Path, typer.Argument(help="A folder written by `llmbench export --parquet`")],
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Only these experiments (repeatable)")
    ] = None,
    replace: ReplaceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Read experiments exported as Parquet into the run store (each with a fresh id, in one transaction), after
    the checks every importer makes (scores in [0, 1], finite costs >= 0, whole token counts >= 0, one primary
    score per run)."""
    from llmbench.imports.parquet import import_parquet
    from llmbench.store import Store

    with Store.open(store) as st:
        names = import_parquet(st, folder, experiment, replace=replace)
    console.print(f"imported {', '.join(names)} into {store_path(store)}")
