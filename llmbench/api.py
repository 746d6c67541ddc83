"""The library's entry points above every layer: `evaluate` runs an experiment into a store and tracks it in
MLflow, as `llmbench eval` does; `track_router` logs a router experiment as `llmbench router ...` does (the CLI
parses flags, calls these and prints). A notebook gets the same runs:

    import llmbench
    result = llmbench.evaluate("experiments/default.yaml", store="runs.duckdb")
    result.report.complete, result.summary, result.mlflow_run_id
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from llmbench.evaluation import ExperimentConfig, RunReport
    from llmbench.providers import Provider

__all__ = ["Evaluation", "data_label", "evaluate", "router_results", "track_router"]


@dataclass
class Evaluation:
    """What `evaluate` did: the run's report, the per-model summary, and where its MLflow record went."""

    config: ExperimentConfig
    report: RunReport
    summary: pd.DataFrame
    store: Path | str  # a DuckDB file, or a PostgreSQL URL
    live_models: list[str]  # models of a batch run that have no batch API (they ran live)
    mlflow_run_id: str | None = None  # logged in this process
    mlflow_job: tuple[int, Path] | None = None  # (pid, log file) of a background logger
    tracking_error: str | None = None  # why tracking did not happen (the run is safe in the store)


def evaluate(
    config: ExperimentConfig | str | Path | Mapping[str, Any],
    *,
    store: str | Path | None = None,
    track: bool = True,
    wait_for_tracking: bool = True,
    traces: int = 300,
    providers: dict[str, Provider] | None = None,
    on_progress: Callable[[RunReport, int], None] | None = None,
    wait: bool = False,
    poll_interval: float = 30.0,
) -> Evaluation:
    """Run an experiment (a config, an experiment file, or a mapping of its fields) into the run store (`store`,
    default $LLMBENCH_STORE or ./llmbench.duckdb), resumably; then, with `track`, log it to MLflow (in this
    process with `wait_for_tracking`, else in a detached one). Models with a provider batch API go through it
    when the config says `batch`; `wait` polls until their batches are collected. Ctrl-C ends the run with
    `report.interrupted` set; everything answered so far is stored."""
    from llmbench.aio import run_sync
    from llmbench.evaluation import Runner, build_providers, load_experiment, load_items, validate_config
    from llmbench.evaluation.batch import BatchRunner
    from llmbench.evaluation.plan import plan_fingerprint
    from llmbench.store import Store
    from llmbench.store.connection import is_postgres_url, store_location

    if isinstance(config, str | Path):
        cfg = load_experiment(config)
    elif isinstance(config, Mapping):
        cfg = validate_config(dict(config), source="mapping")
    else:
        cfg = config
    path = store_location(store)
    # Bad datasets or model ids fail before the store is created or touched; a store that exists may hold this
    # very plan finished, which the runner then sees without reading a dataset.
    resumable = plan_fingerprint(cfg) is not None and (is_postgres_url(path) or Path(path).exists())
    items = None if resumable else load_items(cfg)
    providers = providers if providers is not None else build_providers(cfg)
    started = time.time()
    with Store.open(path) as st:
        live = Runner(cfg, st, providers=providers, items=items, on_progress=on_progress)
        runner: Runner | BatchRunner = live
        if any(cfg.batched(m) for m in cfg.models):  # the models without a batch API run through `live`
            runner = BatchRunner(cfg, st, live=live, wait=wait, poll_interval=poll_interval)
        elif cfg.ray is not None:
            from llmbench.evaluation.ray_runner import RayRunner

            runner = RayRunner(
                cfg, st, providers=providers, items=items, on_progress=on_progress, address=cfg.ray
            )
        live_models = runner.live_models if isinstance(runner, BatchRunner) else []
        try:
            report = run_sync(runner.run())
        except KeyboardInterrupt:
            report = runner.report
            report.interrupted = True
        summary = st.summary_frame(cfg.name)
        result = Evaluation(cfg, report, summary, path, live_models)
        if track and (report.finished or report.failed):  # a run that did nothing has nothing new to log
            exp = st.get_experiment(cfg.name)
            runs, calls = st.runs_frame(cfg.name), st.calls_frame(cfg.name) if traces > 0 else None
            _track(result, exp.id if exp is not None else -1, runs, calls, started, traces, wait_for_tracking)
    return result


def _track(
    result: Evaluation,
    exp_id: int,
    runs: pd.DataFrame,
    calls: pd.DataFrame | None,
    started: float,
    traces: int,
    wait: bool,
) -> None:
    """Log the run to MLflow; a tracking problem never loses the run (it is in the store already), it is
    reported on the result instead."""
    from llmbench.tracking import log_eval_run
    from llmbench.tracking.mlflow_runs import sanitize_config

    cfg = result.config
    dataset = ",".join(Path(d).name for d in cfg.datasets)
    try:
        if wait:
            result.mlflow_run_id = log_eval_run(
                str(exp_id),
                cfg.name,
                cfg.model_dump(),
                result.summary,
                runs,
                calls=calls,
                started=started,
                dataset=dataset,
                trace_limit=traces,
            )
            return
        from llmbench.tracking.background import spawn

        job = {
            "experiment_id": str(exp_id),
            "name": cfg.name,
            "config": sanitize_config(cfg.model_dump()),
            "started": started,
            "dataset": dataset,
            "traces": traces,
        }
        result.mlflow_job = spawn(
            # the logger's files go beside a store file; a PostgreSQL store's beside the working directory
            (result.store.resolve().parent if isinstance(result.store, Path) else Path.cwd())
            / ".llmbench"
            / "mlflow",
            job,
            {"summary": result.summary, "runs": runs, "calls": calls},
        )
    except Exception as exc:
        result.tracking_error = f"{type(exc).__name__}: {exc}"


_METRIC_KEYS = {
    "AIQ": "aiq",
    "AIQ (bet)": "aiq_bet",
    "peak quality": "peak_quality",
    "cost saving": "cost_saving",
    "APGR": "apgr",
    "CPT(50%)": "cpt_50",
    "CPT(80%)": "cpt_80",
}


def router_results(ev: Any, intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per router/baseline of a held-out evaluation (`llmbench.router.evaluate.evaluate_router`) with
    the same metric columns (AIQ, cost saving, peak quality, APGR/CPT where two models allow them, and the
    bootstrap interval ends where computed): what MLflow records."""
    table: pd.DataFrame = ev.table.rename(columns=_METRIC_KEYS)
    table = table[["router", *(c for c in _METRIC_KEYS.values() if c in table.columns)]]
    if intervals is not None:
        named = intervals.rename(
            columns={c: c.replace(" - ", " minus ").replace(" ", "_").lower() for c in intervals.columns[1:]}
        )
        table = table.merge(named, on="router", how="left")
    return table


def track_router(
    command: str,
    source: dict[str, Any],
    results: Any,
    *,
    params: dict[str, str] | None = None,
    curve: Any = None,
    tables: dict[str, Any] | None = None,
    policy: Path | None = None,
    register: str | None = None,
) -> tuple[str | None, str, str | None]:
    """Log a router experiment to MLflow: one parent run per command, data and settings (named after them),
    nested runs per router/baseline. Returns (run id, run name, why it failed): tracking trouble never raises."""
    from llmbench.store import stable_hash
    from llmbench.tracking import log_router_run

    settings = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    name = " · ".join([command, data_label(source), *(f"{k}={v}" for k, v in settings.items())])
    try:
        run_id = log_router_run(
            f"router-{stable_hash([command, source, settings])[:12]}",
            name,
            source,
            results,
            params=settings,
            curve=curve,
            tables=tables,
            policy_path=policy,
            register_as=register,
            mlflow_experiment=router_home(source),
        )
    except Exception as exc:
        return None, name, f"{type(exc).__name__}: {exc}"
    return run_id, name, None


def router_home(source: dict[str, Any]) -> str:
    """The MLflow experiment a router command logs to: that of the llmbench experiment(s) it trained on, beside
    their evals; else one per imported data set (e.g. `routellm mmlu`)."""
    from llmbench.tracking.mlflow_runs import DEFAULT_MLFLOW_EXPERIMENT

    if source.get("source") == "store" and source.get("experiments"):
        return " + ".join(map(str, source["experiments"]))
    return DEFAULT_MLFLOW_EXPERIMENT if source.get("source") in (None, "policy") else data_label(source)


def data_label(source: dict[str, Any]) -> str:
    """A short name of the data a router command used."""
    if source.get("source") == "routerbench":
        return f"routerbench {Path(str(source['path'])).name}"
    if source.get("source") == "routellm":
        return f"routellm {source.get('benchmark')}"
    if source.get("source") == "store":
        return f"store {','.join(source.get('experiments') or [])}"
    return str(source.get("source", "policy"))
