"""Eval and router experiments in MLflow, laid out for comparison: a parent run per experiment with the config,
tables (`log_table`, readable in the UI), figures and the dataset; one nested run per model (eval) or per
router/baseline (router) carrying the same metric keys; traces of every call from the run store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from llmbench.errors import ConfigError
from llmbench.providers.registry import provider_label
from llmbench.tracking.mlflow_runs import (
    DEFAULT_TRACKING_URI,
    EXPERIMENT_TAG,
    Parent,
    config_hash,
    find_run,
    log_metrics,
    metric_safe,
    sanitize_config,
    tracking_uri,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "EVAL_METRICS",
    "EXPERIMENT_TAG",
    "config_hash",
    "find_run",
    "log_eval_run",
    "log_router_run",
    "log_tool_run",
    "sanitize_config",
    "tracking_uri",
]

# The summary's columns as metric keys (units in the name), the same in every model's run.
EVAL_METRICS = {
    "runs": "runs",
    "scored": "scored",
    "score_mean": "score_mean",
    "score_se": "score_se",
    "correct": "correct",
    "cost_usd": "cost_usd",
    "cost_per_item": "cost_per_item_usd",
    "cost_per_correct": "cost_per_correct_usd",
    "latency_p50": "latency_p50_s",
    "latency_p95": "latency_p95_s",
    "errors": "errors",
    "error_rate": "error_rate",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "attempts": "attempts",
    "failed_attempts": "failed_attempts",
}


def _fingerprint(*parts: Any) -> str:
    from llmbench.store.provenance import stable_hash

    return stable_hash([p.round(12).to_dict("split") if isinstance(p, pd.DataFrame) else p for p in parts])


def _log_dir(client: Any, run_id: str, out: Path) -> None:
    for path in sorted(out.rglob("*")):
        if path.is_file():
            parent = path.parent.relative_to(out)
            client.log_artifact(run_id, str(path), None if str(parent) == "." else str(parent))


def log_eval_run(
    experiment_id: str,
    name: str,
    config: dict[str, Any],
    summary: pd.DataFrame | None,
    runs: pd.DataFrame | None = None,
    *,
    calls: pd.DataFrame | None = None,
    dataset: str | None = None,
    uri: str | None = None,
    mlflow_experiment: str | None = None,
    n_bootstrap: int = 100,
    started: float | None = None,
    trace_limit: int | None = None,
) -> str:
    """Log (or update) an evaluation: a parent run with config, tables, figures and dataset, a nested run per
    model with the same metric keys, and (given the store's `calls`) a trace per call. Returns the parent run id;
    a re-run that changed nothing logs nothing."""
    from llmbench.stats.curves import cost_quality_points
    from llmbench.stats.judge import calibration_note
    from llmbench.stats.paired import versus_best
    from llmbench.stats.ratings import arena_ratings
    from llmbench.stats.summary import summarize_runs
    from llmbench.stats.winrate import pairs_from_runs, pairwise_win_rates
    from llmbench.tracking.plots import save_cost_quality
    from llmbench.tracking.traces import DEFAULT_TRACE_LIMIT, log_call_traces

    if summary is None:
        if runs is None:
            raise ConfigError("log_eval_run needs a summary frame or a runs frame")
        summary = summarize_runs(runs)
    table = summary.reset_index() if "model" not in summary.columns else summary
    models = [str(m) for m in table["model"]]
    if dataset is None:
        tasks: list[Any] = (
            list(runs["task"].dropna().unique()) if runs is not None and "task" in runs.columns else []
        )
        dataset = ",".join(sorted(map(str, tasks)))
    params = {"models": ",".join(sorted(models))[:6000], "dataset": dataset[:6000]}
    n_calls = 0 if calls is None else len(calls)
    with Parent(
        experiment_id,
        "eval",
        name,
        config,
        params=params,
        uri=uri,
        mlflow_experiment=mlflow_experiment or name,  # the MLflow experiment named as the llmbench one
        fingerprint=_fingerprint(config_hash(config), table, n_calls),
        started=started,
    ) as parent:
        if parent.unchanged:
            return parent.run_id
        client = parent.client
        judged = calibration_note(config.get("judge_model"), config.get("judge_calibration"))
        if judged:  # how far the judge's scores can be trusted travels with them
            client.set_tag(parent.run_id, "llmbench.judge_calibration", judged[:5000])
        bt, versus = pd.DataFrame(), {}
        if runs is not None and len(models) > 1 and runs["score"].notna().any():
            paired = versus_best(runs, n_boot=1000, n_perm=2999)
            client.log_table(parent.run_id, paired, "tables/paired_vs_best.json")
            versus = {row["b"]: row for row in paired.to_dict("records")}
            best = str(paired["a"].iloc[0])  # compared with itself: no difference, by definition
            versus[best] = {"score_diff": 0.0, "score_low": 0.0, "score_high": 0.0, "p_holm": 1.0}
        if runs is not None and len(models) > 1:
            pairs = pairs_from_runs(runs)
            if len(pairs):
                bt = arena_ratings(pairs, n_bootstrap=n_bootstrap)[0]
                wins = pairwise_win_rates(pairs).round(4)
                client.log_table(parent.run_id, wins, "tables/win_rates.json")
                client.log_table(parent.run_id, bt.reset_index().round(2), "tables/bradley_terry.json")
        # every model's figures go on the parent too (as `<model>/<metric>`): one run compares them in MLflow's view
        per_model: dict[str, Any] = {}
        for row in table.to_dict("records"):
            model = str(row["model"])
            child = parent.child(
                model, {"model": model, "provider": provider_label(model), "dataset": dataset[:6000]}
            )
            values = {key: row.get(col) for col, key in EVAL_METRICS.items()}
            per_model |= {f"{model}/{key}": value for key, value in values.items()}
            if model in bt.index:
                values |= {
                    f"bt_{col}": bt.at[model, col]
                    for col in ("rating", "lower", "upper")
                    if col in bt.columns
                }
            if model in versus:  # the top model's lead over this one, paired over shared items
                values |= {
                    f"vs_best_{k}": versus[model][k]
                    for k in ("score_diff", "score_low", "score_high", "p_holm")
                }
            log_metrics(client, child, values)
        totals = {
            "models": len(models),
            "cost_usd": table["cost_usd"].sum(min_count=1),
            "runs": table["runs"].sum(),
        }
        log_metrics(client, parent.run_id, {**totals, **per_model})
        client.log_table(parent.run_id, table.round(6), "tables/summary.json")
        if runs is not None and len(runs):
            if "task" in runs.columns:
                per_task = summarize_runs(runs, by=["task", "model"]).reset_index().round(6)
                client.log_table(parent.run_id, per_task, "tables/per_task.json")
            _log_dataset(client, parent.run_id, runs, name)
            with tempfile.TemporaryDirectory() as tmp:
                points = cost_quality_points(runs, by_task=True)
                save_cost_quality(points, None, Path(tmp) / "curves", task="all", stem="cost_quality")
                _log_dir(client, parent.run_id, Path(tmp))
        if calls is not None and len(calls):
            mlflow_exp = client.get_run(parent.run_id).info.experiment_id
            tags = client.get_run(parent.run_id).data.tags
            done = int(tags.get("llmbench.traced_calls", "0"))
            prompts = (
                {}
                if runs is None
                else dict(zip(runs["item_id"].astype(str), runs["prompt"].astype(str), strict=False))
            )
            traced = log_call_traces(
                client,
                mlflow_exp,
                parent.run_id,
                calls,
                prompts,
                skip=done,
                limit=trace_limit or DEFAULT_TRACE_LIMIT,
            )
            client.set_tag(parent.run_id, "llmbench.traced_calls", str(traced))
        return parent.run_id


def _log_dataset(client: Any, run_id: str, runs: pd.DataFrame, name: str) -> None:
    """The evaluated items (id, task, prompt) as the run's input dataset."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    items = runs.drop_duplicates("item_id")[[c for c in ("item_id", "task", "prompt") if c in runs.columns]]
    dataset = from_pandas(items.reset_index(drop=True), name=name)
    client.log_inputs(
        run_id, [DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "eval")])]
    )


def log_router_run(
    experiment_id: str,
    name: str,
    config: dict[str, Any],
    results: pd.DataFrame | dict[str, float],
    *,
    params: dict[str, str] | None = None,
    points: pd.DataFrame | None = None,
    curve: pd.DataFrame | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    policy_path: str | Path | None = None,
    register_as: str | None = None,
    uri: str | None = None,
    mlflow_experiment: str | None = None,
) -> str:
    """Log (or update) a router experiment: a parent run (params such as the calibration target, tables, curves,
    the policy as a pyfunc model, registered under `register_as`) and one nested run per router/baseline of
    `results` (a frame with a `router` column and one column per metric, the same keys in every nested run; a
    plain dict logs on the parent alone). Returns the parent run id."""
    from llmbench.stats.curves import ALL_TASKS
    from llmbench.tracking.plots import save_cost_quality

    extra = dict(params or {})
    if points is not None and "model" in points.columns:
        extra["models"] = ",".join(sorted(map(str, points["model"].unique())))[:6000]
    frame = results if isinstance(results, pd.DataFrame) else None
    fingerprint = _fingerprint(
        config_hash(config),
        extra,
        frame if frame is not None else sorted(results.items()),
        str(policy_path and Path(policy_path).stat().st_mtime_ns),
    )
    with Parent(
        experiment_id,
        "router",
        name,
        config,
        params=extra,
        uri=uri,
        mlflow_experiment=mlflow_experiment,
        fingerprint=fingerprint,
    ) as parent:
        if parent.unchanged:
            return parent.run_id
        client = parent.client
        if frame is None:
            log_metrics(client, parent.run_id, dict(results))
        else:
            for row in frame.to_dict("records"):
                router = str(row.pop("router"))
                child = parent.child(router, {"router": router, **{k: str(v) for k, v in extra.items()}})
                log_metrics(client, child, {metric_safe(str(k)): v for k, v in row.items()})
            client.log_table(parent.run_id, frame.round(6), "tables/routers.json")
        for table_name, table in (tables or {}).items():
            client.log_table(parent.run_id, table.round(6), f"tables/{metric_safe(table_name)}.json")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            if points is not None and len(points):
                tasks = sorted(points["task"].unique()) if "task" in points.columns else [None]
                for task in tasks:
                    stem = (
                        "cost_quality"
                        if task in (None, ALL_TASKS)
                        else f"cost_quality_{metric_safe(str(task))}"
                    )
                    save_cost_quality(points, curve, out / "curves", task=task, stem=stem)
            if curve is not None and len(curve):
                curve.to_csv(out / "router_curve.csv", index=False)
            _log_dir(client, parent.run_id, out)
        if policy_path is not None:
            from llmbench.tracking.pyfunc import log_policy_model

            model_uri = log_policy_model(
                parent.run_id, policy_path, register_as=register_as, uri=tracking_uri(uri)
            )
            client.set_tag(parent.run_id, "llmbench.policy_model_uri", model_uri)
        return parent.run_id


def log_tool_run(
    experiment: str,
    steps: pd.DataFrame,
    *,
    uri: str | None = None,
    mlflow_experiment: str | None = None,
) -> str:
    """Log tool conversations (the store's `tool_steps` rows of one experiment): a parent run with step counts
    and cost, and a trace per conversation with a span per model turn, tool call, limit hit or error."""
    from llmbench.tracking.traces import log_tool_traces

    fingerprint = _fingerprint(experiment, len(steps), sorted(map(str, steps["conversation_id"].unique())))
    with Parent(
        f"tools-{experiment}",
        "tools",
        f"tools · {experiment}",
        {"experiment": experiment},
        params={},
        fingerprint=fingerprint,
        uri=uri,
        mlflow_experiment=mlflow_experiment or experiment,  # beside the experiment's evals, if any
    ) as parent:
        if parent.unchanged:
            return parent.run_id
        client = parent.client
        log_metrics(
            client,
            parent.run_id,
            {
                "conversations": steps["conversation_id"].nunique(),
                "steps": len(steps),
                "tool_calls": int((steps["kind"] == "tool_call").sum()),
                "tool_errors": int(steps["is_error"].sum()),
                "cost_usd": pd.to_numeric(steps["cost_usd"], errors="coerce").sum(min_count=1),
            },
        )
        tags = client.get_run(parent.run_id).data.tags
        done = set(filter(None, tags.get("llmbench.traced_conversations", "").split(",")))
        fresh = steps[~steps["conversation_id"].astype(str).isin(done)]
        if len(fresh):
            log_tool_traces(client, client.get_run(parent.run_id).info.experiment_id, parent.run_id, fresh)
        traced = sorted(done | set(map(str, steps["conversation_id"].unique())))
        client.set_tag(parent.run_id, "llmbench.traced_conversations", ",".join(traced)[:5000])
        return parent.run_id
