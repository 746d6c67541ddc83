"""Log evaluation and router runs to MLflow, one run per llmbench experiment, updated in place on resume.

Callers pass plain data (summary frame, runs frame, metric dicts, curve points); MLflow is imported only
inside these functions because importing it takes seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from llmbench.errors import ConfigError, redact

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = [
    "DEFAULT_TRACKING_URI",
    "EXPERIMENT_TAG",
    "config_hash",
    "find_run",
    "log_eval_run",
    "log_router_run",
    "sanitize_config",
    "tracking_uri",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_MLFLOW_EXPERIMENT = "llmbench"
EXPERIMENT_TAG = "llmbench.experiment_id"
KIND_TAG = "llmbench.kind"
_METRIC_UNSAFE = re.compile(r"[^\w.\- ]")
_PARAM_LIMIT = 6000  # MLflow's limit on a param value


def tracking_uri(uri: str | None = None) -> str:
    """The tracking store: `uri` if given, else $MLFLOW_TRACKING_URI, else a local SQLite file mlflow.db."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sanitize_config(config: dict[str, Any]) -> dict[str, Any]:
    """Copy of `config` safe to log: the run store's sanitiser (secret-named values redacted, keys masked)."""
    from llmbench.store.provenance import sanitize_config as store_sanitize

    return store_sanitize(dict(config))


def config_hash(config: dict[str, Any]) -> str:
    """Hash of the sanitised config, computed as the run store computes `experiments.config_hash`."""
    from llmbench.store.provenance import stable_hash

    return stable_hash(sanitize_config(config))


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[name] = text[:_PARAM_LIMIT]
    return out


def _metric_key(*parts: str) -> str:
    return "/".join(_METRIC_UNSAFE.sub("_", str(p)) for p in parts)


def _client(uri: str | None) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(uri))


def _experiment(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_root(client.tracking_uri))


def _artifact_root(uri: str) -> str | None:
    # Keep a SQLite store's artifacts beside the database file, not in ./mlruns of whatever directory the
    # first run happened to start from.
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///")).expanduser().resolve()
        return (database.parent / "mlruns").as_uri()
    return None


def find_run(
    experiment_id: str,
    kind: str,
    name: str | None = None,
    *,
    uri: str | None = None,
    mlflow_experiment: str = DEFAULT_MLFLOW_EXPERIMENT,
) -> str | None:
    """Id of the MLflow run already logged for this llmbench experiment id, kind and run name (or None)."""
    client = _client(uri)
    found = client.get_experiment_by_name(mlflow_experiment)
    if found is None:
        return None
    query = f"tags.`{EXPERIMENT_TAG}` = '{_quote(experiment_id)}' and tags.`{KIND_TAG}` = '{_quote(kind)}'"
    if name is not None:
        query += f" and tags.`mlflow.runName` = '{_quote(name)}'"
    runs = client.search_runs(
        [found.experiment_id], filter_string=query, max_results=1, order_by=["start_time DESC"]
    )
    return runs[0].info.run_id if runs else None


def _quote(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def _start(
    client: MlflowClient,
    experiment_id: str,
    kind: str,
    name: str,
    config: dict[str, Any],
    params: dict[str, str],
    uri: str | None,
    mlflow_experiment: str,
) -> str:
    """Create the run, or reopen the existing one; log params that are new (MLflow params are write-once)."""
    from mlflow.entities import Param, RunTag

    import llmbench

    clean = sanitize_config(config)
    params = {
        **_flatten({"config": clean}),
        **params,
        "config_hash": config_hash(config),
        "llmbench_version": llmbench.__version__,
    }
    tags = {EXPERIMENT_TAG: str(experiment_id), KIND_TAG: kind, "llmbench.config_hash": config_hash(config)}
    if any(str(m).startswith("sim:") for m in config.get("models") or []):
        tags["llmbench.simulated"] = "true — offline simulator (sim:), not real model quality"
    run_id = find_run(experiment_id, kind, name, uri=uri, mlflow_experiment=mlflow_experiment)
    if run_id is None:
        run = client.create_run(_experiment(client, mlflow_experiment), run_name=name, tags=tags)
        run_id = run.info.run_id
        existing: dict[str, str] = {}
    else:
        client.update_run(run_id, status="RUNNING")
        existing = client.get_run(run_id).data.params
    new = [Param(k, redact(v)) for k, v in params.items() if k not in existing]
    changed = {k: v for k, v in params.items() if k in existing and existing[k] != redact(v)}
    # A resumed experiment whose settings moved keeps its first params; the new values go to tags.
    tag_list = [RunTag(k, v) for k, v in tags.items()]
    tag_list += [RunTag(f"llmbench.param_changed.{k}", redact(v)[:_PARAM_LIMIT]) for k, v in changed.items()]
    for start in range(0, len(new), 100):  # MLflow caps a batch at 100 params
        client.log_batch(run_id, params=new[start : start + 100])
    client.log_batch(run_id, tags=tag_list)
    client.log_dict(run_id, json.loads(json.dumps(clean, default=str)), "config.json")
    return run_id


def _log_metrics(client: MlflowClient, run_id: str, values: dict[str, float], step: int = 0) -> None:
    import math
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = []
    for k, v in values.items():
        try:
            number = float(v)  # pandas' NA (a model with no successful call) and None are not numbers
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            metrics.append(Metric(k, number, now, step))
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])


def _summary_metrics(summary: pd.DataFrame) -> dict[str, float]:
    frame = summary.reset_index() if "model" not in summary.columns else summary
    if "model" not in frame.columns:
        raise ConfigError("summary frame needs a `model` column or index (one row per model)")
    values: dict[str, float] = {}
    numeric = frame.select_dtypes("number").columns
    for _, row in frame.iterrows():
        for col in numeric:
            values[_metric_key(col, row["model"])] = row[col]
    return values


def _next_step(client: MlflowClient, run_id: str) -> int:
    # Each (re)logging of a resumed run is one more step, so metric histories show the progress.
    history = client.get_run(run_id).data.tags.get("llmbench.log_count", "0")
    return int(history)


def log_eval_run(
    experiment_id: str,
    name: str,
    config: dict[str, Any],
    summary: pd.DataFrame | None,
    runs: pd.DataFrame | None = None,
    *,
    dataset: str | None = None,
    uri: str | None = None,
    mlflow_experiment: str = DEFAULT_MLFLOW_EXPERIMENT,
    n_bootstrap: int = 100,
) -> str:
    """Log (or update) the MLflow run of an evaluation: params, per-model metrics, curves, win rates, tables.

    `summary` is one row per model (computed from `runs` when None); `runs` is the runs frame.
    Returns the MLflow run id.
    """
    from llmbench.stats.curves import cost_quality_points
    from llmbench.stats.summary import summarize_runs
    from llmbench.stats.winrate import bradley_terry, pairs_from_runs, win_rate_matrix
    from llmbench.tracking.plots import save_cost_quality

    if summary is None:
        if runs is None:
            raise ConfigError("log_eval_run needs a summary frame or a runs frame")
        summary = summarize_runs(runs)
    table = summary.reset_index() if "model" not in summary.columns else summary
    models = sorted(str(m) for m in table["model"])
    if dataset is None:
        dataset = str(config.get("dataset", "")) if isinstance(config.get("dataset", ""), str) else ""
        if not dataset and runs is not None and "task" in runs.columns:
            dataset = ",".join(sorted(map(str, runs["task"].dropna().unique())))[:_PARAM_LIMIT]
    client = _client(uri)
    params = {"models": ",".join(models)[:_PARAM_LIMIT], "dataset": dataset or ""}
    run_id = _start(client, experiment_id, "eval", name, config, params, uri, mlflow_experiment)
    with _failed_on_error(client, run_id):
        step = _next_step(client, run_id)
        _log_metrics(client, run_id, _summary_metrics(table), step)

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            table.to_csv(out / "summary.csv", index=False)
            if runs is not None and len(runs):
                points = cost_quality_points(runs, by_task=True)
                points.to_csv(out / "cost_quality_points.csv", index=False)
                save_cost_quality(points, None, out / "curves", task="all", stem="cost_quality")
                if "task" in runs.columns:
                    summarize_runs(runs, by=["task", "model"]).reset_index().to_csv(
                        out / "per_task.csv", index=False
                    )
                pairs = pairs_from_runs(runs) if len(models) > 1 else None
                if pairs is not None and len(pairs):
                    win_rate_matrix(pairs).to_csv(out / "win_rate_matrix.csv")
                    bt = bradley_terry(pairs, n_bootstrap=n_bootstrap)
                    bt.to_csv(out / "bradley_terry.csv")
                    _log_metrics(
                        client,
                        run_id,
                        {_metric_key("bt_rating", str(m)): r for m, r in bt["rating"].items()},
                        step,
                    )
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    parent = path.parent.relative_to(out)
                    client.log_artifact(run_id, str(path), None if str(parent) == "." else str(parent))
        _finish(client, run_id, step)
    return run_id


@contextlib.contextmanager
def _failed_on_error(client: MlflowClient, run_id: str) -> Iterator[None]:
    """A run whose logging fails ends FAILED, never RUNNING forever."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, status="FAILED")
        raise


def _finish(client: MlflowClient, run_id: str, step: int) -> None:
    client.set_tag(run_id, "llmbench.log_count", str(step + 1))
    client.set_terminated(run_id, status="FINISHED")


def log_router_run(
    experiment_id: str,
    name: str,
    config: dict[str, Any],
    metrics: dict[str, float],
    *,
    points: pd.DataFrame | None = None,
    curve: pd.DataFrame | None = None,
    policy_path: str | Path | None = None,
    register_as: str | None = None,
    uri: str | None = None,
    mlflow_experiment: str = DEFAULT_MLFLOW_EXPERIMENT,
) -> str:
    """Log (or update) a router run: metrics (AIQ, APGR, CPT, cost saving, lambda), curves, and the policy.

    `points` are the models' cost/quality points (model, cost, quality[, task]); `curve` the router's deferral
    curve (cost, quality[, lambda|threshold][, task]). The policy file, when given, is logged as an MLflow
    pyfunc model (and registered under `register_as`). Returns the MLflow run id.
    """
    from llmbench.stats.curves import ALL_TASKS
    from llmbench.tracking.plots import save_cost_quality

    client = _client(uri)
    params = {}
    if points is not None and "model" in points.columns:
        params["models"] = ",".join(sorted(map(str, points["model"].unique())))[:_PARAM_LIMIT]
    if "dataset" in config and isinstance(config["dataset"], str):
        params["dataset"] = config["dataset"]
    run_id = _start(client, experiment_id, "router", name, config, params, uri, mlflow_experiment)
    with _failed_on_error(client, run_id):
        step = _next_step(client, run_id)
        _log_metrics(client, run_id, {_metric_key(*k.split("/")): v for k, v in metrics.items()}, step)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            if points is not None and len(points):
                points.to_csv(out / "cost_quality_points.csv", index=False)
                tasks = sorted(points["task"].unique()) if "task" in points.columns else [None]
                for task in tasks:
                    stem = (
                        "cost_quality" if task in (None, ALL_TASKS) else f"cost_quality_{_metric_key(task)}"
                    )
                    save_cost_quality(points, curve, out / "curves", task=task, stem=stem)
            if curve is not None and len(curve):
                curve.to_csv(out / "router_curve.csv", index=False)
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    parent = path.parent.relative_to(out)
                    client.log_artifact(run_id, str(path), None if str(parent) == "." else str(parent))
        if policy_path is not None:
            from llmbench.tracking.pyfunc import log_policy_model

            model_uri = log_policy_model(run_id, policy_path, register_as=register_as, uri=tracking_uri(uri))
            client.set_tag(run_id, "llmbench.policy_model_uri", model_uri)
        _finish(client, run_id, step)
    return run_id
