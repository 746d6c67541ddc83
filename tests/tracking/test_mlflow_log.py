"""MLflow logging against a real SQLite tracking store, curves, summaries, the HTML report and `llmbench report`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.imports import import_frame
from llmbench.stats.curves import cost_quality_points, pareto_frontier, zero_router_hull
from llmbench.stats.summary import summarize_runs
from llmbench.tracking.mlflow_log import (
    DEFAULT_TRACKING_URI,
    EXPERIMENT_TAG,
    config_hash,
    find_run,
    log_eval_run,
    log_router_run,
    tracking_uri,
)
from llmbench.tracking.plots import plot_cost_quality, plotly_cost_quality, save_cost_quality
from llmbench.tracking.report import build_report, write_report

SECRET = "sk-test-SECRETKEY-0123456789abcdef"


def _runs() -> pd.DataFrame:
    """Two tasks, three models, hand-chosen values (so the expected summary is known without the code)."""
    rows = []
    scores = {"p:big": [1, 1, 1, 0], "p:small": [1, 0, 0, 0], "q:mid": [1, 1, 0, None]}
    costs = {"p:big": 0.01, "p:small": 0.001, "q:mid": 0.004}
    latency = {"p:big": [1.0, 2.0, 3.0, 4.0], "p:small": [0.5, 0.5, 0.5, 0.5], "q:mid": [1.0, 1.0, 1.0, 9.0]}
    for model, values in scores.items():
        for i, score in enumerate(values):
            rows.append(
                {"experiment": "exp1", "item_id": f"i{i}", "prompt": f"question {i}",
                 "task": "arith" if i < 2 else "mmlu", "model": model, "epoch": 0, "score": score,
                 "cost_usd": costs[model], "input_tokens": 10, "output_tokens": 5, "latency_s": latency[model][i],
                 "response": "answer", "error": "RateLimitError" if score is None else None}
            )  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["score"] = frame["score"].astype(float)
    return frame


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One SQLite store for the module: creating MLflow's tables takes seconds.
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def client(store_uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store_uri)


# --- summary and curves ----------------------------------------------------------------------------------


def test_summary_values() -> None:
    summary = summarize_runs(_runs())
    big, mid = summary.loc["p:big"], summary.loc["q:mid"]
    assert big["provider"] == "p" and big["runs"] == 4 and big["scored"] == 4 and big["correct"] == 3
    assert big["score_mean"] == pytest.approx(0.75)
    assert big["cost_usd"] == pytest.approx(0.04)
    assert big["cost_per_correct"] == pytest.approx(0.04 / 3)
    assert big["latency_p50"] == pytest.approx(2.5)
    assert big["latency_p95"] == pytest.approx(3.85)  # linear interpolation between 3 and 4 at 0.95*3 = 2.85
    assert mid["score_mean"] == pytest.approx(2 / 3) and mid["error_rate"] == pytest.approx(0.25)
    assert mid["errors"] == 1 and mid["scored"] == 3
    assert summary.loc["p:small", "error_rate"] == 0.0


def test_pareto_and_zero_router_hull() -> None:
    points = pd.DataFrame(
        {
            "model": ["a", "b", "c", "d", "e"],
            "cost": [1.0, 2.0, 3.0, 4.0, 2.5],
            "quality": [0.2, 0.3, 0.8, 0.9, 0.25],
        }
    )
    # e (cost 2.5, 0.25) is beaten by b (cheaper, better); the rest each add quality for more cost.
    assert pareto_frontier(points)["model"].tolist() == ["a", "b", "c", "d"]
    # b lies below the chord a-c (at cost 2 the chord gives 0.5 > 0.3): mixing a and c beats it.
    assert zero_router_hull(points)["model"].tolist() == ["a", "c", "d"]


def test_interactive_plot_keeps_scores_on_their_scale_and_labels_inside() -> None:
    points = pd.DataFrame(
        {"model": ["cheap", "mid", "dear"], "cost": [1e-5, 2e-5, 9e-5], "quality": [0.0, 0.0, 0.0]}
    )
    fig = plotly_cost_quality(points)
    models = next(t for t in fig.data if t.name == "models")
    assert list(fig.layout.yaxis.range) == [-0.05, 1.05]  # an all-zero run is not drawn on -1..1
    assert models.textposition[0].endswith("right") and models.textposition[-1].endswith("left")
    other_scale = plotly_cost_quality(points.assign(quality=[2.0, 5.0, 9.0]))  # e.g. raw 1-10 judge scores
    assert other_scale.layout.yaxis.range is None


def test_cost_quality_points_per_task() -> None:
    points = cost_quality_points(_runs(), by_task=True).set_index(["task", "model"])
    assert points.loc[("all", "p:big"), "quality"] == pytest.approx(0.75)
    assert points.loc[("arith", "p:small"), "quality"] == pytest.approx(0.5)
    assert points.loc[("mmlu", "p:big"), "quality"] == pytest.approx(0.5)
    assert points.loc[("all", "p:small"), "cost"] == pytest.approx(0.001)


def test_curve_files(tmp_path: Path) -> None:
    points = cost_quality_points(_runs())
    router = pd.DataFrame({"cost": [0.001, 0.005, 0.01], "quality": [0.25, 0.6, 0.75], "lambda": [10, 1, 0]})
    png, html = save_cost_quality(points, router, tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = html.read_text()
    # here the frontier is convex, so it is the zero-router hull: drawn once, named as both
    assert "Pareto frontier = zero-router hull" in text and "p:small" in text
    labels = [t.get_text() for t in plot_cost_quality(points, router).axes[0].get_legend().get_texts()]
    assert labels == ["models", "Pareto frontier = zero-router hull", "router"]  # as in the interactive one


def test_every_task_plot_shares_the_cost_axis_and_shows_dollars() -> None:
    """Costs span 1000x over all tasks but 2x within one: every per-task plot takes the whole set's axis kind."""
    points = pd.DataFrame({"model": ["a", "b", "a", "b"], "task": ["t1", "t1", "t2", "t2"],
                           "cost": [1e-6, 2e-6, 1e-3, 2e-3], "quality": [0.2, 0.4, 0.5, 0.9]})  # fmt: skip
    for task in ("t1", "t2"):
        layout = plotly_cost_quality(points, task=task).layout
        assert layout.xaxis.type == "log" and layout.xaxis.tickformat.startswith("$")
        axis = plot_cost_quality(points, task=task).axes[0]
        assert axis.get_xscale() == "log"
        assert axis.xaxis.get_major_formatter()(1e-4, 0) == "$0.0001"


# --- MLflow ----------------------------------------------------------------------------------------------


def test_tracking_uri_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == DEFAULT_TRACKING_URI == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert tracking_uri() == "sqlite:///elsewhere.db"
    assert tracking_uri("sqlite:///explicit.db") == "sqlite:///explicit.db"


def children(client, parent_id: str) -> dict:
    """The nested runs of a parent run, by run name."""
    exp = client.get_run(parent_id).info.experiment_id
    found = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")
    return {r.info.run_name: r for r in found}


def table(client, run_id: str, name: str, tmp_path: Path) -> pd.DataFrame:
    """A table logged with log_table, read back from its artifact."""
    local = Path(client.download_artifacts(run_id, f"tables/{name}.json", str(tmp_path)))
    data = json.loads(local.read_text())
    return pd.DataFrame(data["data"], columns=data["columns"])


def test_eval_run_logged_and_read_back(store_uri: str, client, tmp_path: Path) -> None:
    config = {"models": ["p:big", "p:small", "q:mid"], "dataset": "demo.jsonl", "openai_api_key": SECRET,
              "headers": {"Authorization": f"Bearer {SECRET}"}, "max_tokens": 256, "note": f"key {SECRET}"}  # fmt: skip
    runs = _runs()
    run_id = log_eval_run(
        "42", "exp1", config, None, runs, uri=store_uri, n_bootstrap=20, started=1_700_000_000.0
    )
    run = client.get_run(run_id)
    params, tags = run.data.params, run.data.tags
    assert params["models"] == "p:big,p:small,q:mid"
    assert params["config.max_tokens"] == "256"
    assert params["config_hash"] == config_hash(config) == tags["llmbench.config_hash"]
    assert run.info.start_time == 1_700_000_000_000 and run.info.status == "FINISHED"
    everything = json.dumps([params, tags])
    assert SECRET not in everything and "SECRETKEY" not in everything
    assert tags[EXPERIMENT_TAG] == "42" and tags["mlflow.runName"] == "exp1"
    # one nested run per model, all with the same metric keys: MLflow's compare view lines them up
    models = children(client, run_id)
    assert set(models) == {"p:big", "p:small", "q:mid"}
    keys = {name: set(r.data.metrics) for name, r in models.items()}
    assert keys["p:big"] == keys["p:small"] == keys["q:mid"]
    assert {
        "score_mean",
        "cost_per_correct_usd",
        "latency_p95_s",
        "vs_best_score_diff",
        "vs_best_p_holm",
    } <= keys["p:big"]
    big = models["p:big"].data
    assert big.metrics["score_mean"] == pytest.approx(0.75)
    assert big.metrics["cost_per_correct_usd"] == pytest.approx(0.04 / 3)
    assert big.metrics["latency_p95_s"] == pytest.approx(3.85)
    assert models["q:mid"].data.metrics["error_rate"] == pytest.approx(0.25)
    assert big.metrics["bt_rating"] > models["p:small"].data.metrics["bt_rating"]
    assert big.params["provider"] == "p" and all(r.info.status == "FINISHED" for r in models.values())
    artifacts = {a.path for a in client.list_artifacts(run_id)} | {
        a.path for a in client.list_artifacts(run_id, "curves")
    }
    assert {"config.json", "curves/cost_quality.png", "curves/cost_quality.html"} <= artifacts
    assert {a.path for a in client.list_artifacts(run_id, "tables")} >= {
        "tables/summary.json", "tables/per_task.json", "tables/win_rates.json", "tables/bradley_terry.json",
        "tables/paired_vs_best.json"}  # fmt: skip
    paired = table(client, run_id, "paired_vs_best", tmp_path)
    assert paired["summary"].str.contains("shared items").all() and (paired["a"] == "p:big").all()
    # the top model's lead over each other one, with its interval, on each model's own run
    small = models["p:small"].data.metrics
    assert small["vs_best_score_low"] <= small["vs_best_score_diff"] <= small["vs_best_score_high"]
    assert big.metrics["vs_best_score_diff"] == 0.0
    wins = table(client, run_id, "win_rates", tmp_path).set_index(["model", "opponent"])
    # Item by item: big beats small on i1, i2; ties on i0, i3 -> 3/4 with ties counted half.
    assert wins.loc[("p:big", "p:small"), "win_rate"] == pytest.approx(0.75)
    assert {"lower", "upper"} <= set(wins.columns)  # win rates with their intervals
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["exp1"]
    local = Path(client.download_artifacts(run_id, "", str(tmp_path)))
    assert SECRET not in (local / "config.json").read_text()
    # Artifacts sit beside the SQLite file, not in the working directory.
    database = Path(store_uri.removeprefix("sqlite:///"))
    assert run.info.artifact_uri.startswith((database.parent / "mlruns").as_uri())


def test_resumed_experiment_updates_its_runs_and_an_unchanged_rerun_logs_nothing(
    store_uri: str, client
) -> None:
    runs = _runs()
    config = {"dataset": "demo.jsonl", "limit": 4}
    first = log_eval_run("resume-1", "exp-resume", config, None, runs[runs["item_id"].isin(["i0", "i1"])],
                         uri=store_uri, n_bootstrap=0)  # fmt: skip
    second = log_eval_run(
        "resume-1", "exp-resume", {**config, "limit": 12}, None, runs, uri=store_uri, n_bootstrap=0
    )
    assert first == second
    found = client.search_runs([client.get_run(first).info.experiment_id],
                               filter_string=f"tags.`{EXPERIMENT_TAG}` = 'resume-1' and tags.`llmbench.child` = 'false'")  # fmt: skip
    assert len(found) == 1
    big = children(client, first)["p:big"]
    assert client.get_run(big.info.run_id).data.metrics["runs"] == 4.0
    history = client.get_metric_history(big.info.run_id, "runs")
    assert sorted(m.value for m in history) == [2.0, 4.0] and {m.step for m in history} == {0}
    run = client.get_run(first)
    assert run.data.params["config.limit"] == "4"  # MLflow params are write-once: the first value stays
    assert run.data.tags["llmbench.param_changed.config.limit"] == "12"
    assert run.info.status == "FINISHED"
    third = log_eval_run(
        "resume-1", "exp-resume", {**config, "limit": 12}, None, runs, uri=store_uri, n_bootstrap=0
    )
    assert (
        third == first and len(client.get_metric_history(big.info.run_id, "runs")) == 2
    )  # nothing new logged
    assert find_run("resume-1", "eval", uri=store_uri) == first
    assert find_run("other-id", "eval", uri=store_uri) is None


def test_router_run(store_uri: str, client) -> None:
    runs = _runs()
    points = cost_quality_points(runs, by_task=True)
    curve = pd.DataFrame(
        {"cost": [0.001, 0.006, 0.01], "quality": [0.25, 0.6, 0.75], "lambda": [5.0, 1.0, 0.0]}
    )
    results = pd.DataFrame({"router": ["router", "task prior", "kNN (k=25)"], "aiq": [0.61, 0.6, 0.55],
                            "cost_saving": [0.45, 0.1, float("nan")]})  # fmt: skip
    run_id = log_router_run("42", "router eval · demo · target=budget=1", {"router": "task", "api_key": SECRET}, results,
                            params={"target": "budget=1"}, points=points, curve=curve, uri=store_uri)  # fmt: skip
    run = client.get_run(run_id)
    assert run.data.tags["llmbench.kind"] == "router" and run.data.params["target"] == "budget=1"
    nested = children(client, run_id)
    assert set(nested) == {"router", "task prior", "kNN (k=25)"}
    assert nested["router"].data.metrics == pytest.approx({"aiq": 0.61, "cost_saving": 0.45})
    assert nested["kNN (k=25)"].data.metrics == pytest.approx({"aiq": 0.55})  # a missing figure is not a zero
    assert SECRET not in json.dumps(run.data.params)
    curves = {a.path for a in client.list_artifacts(run_id, "curves")}
    assert {
        "curves/cost_quality.png",
        "curves/cost_quality_arith.png",
        "curves/cost_quality_mmlu.html",
    } <= curves
    # The eval run of the same llmbench experiment is a different run.
    assert find_run("42", "eval", uri=store_uri) not in (None, run_id)


def _routing_frame(n_per_task: int = 40) -> pd.DataFrame:
    """Math prompts go best to "big", trivia is answered as well by "cheap": a policy with real decisions."""
    rng = np.random.default_rng(5)
    words = {
        "math": ["sum", "add", "integer", "divide", "fraction", "equation"],
        "trivia": ["capital", "river", "king", "war"],
    }
    accuracy = {"big": {"math": 0.9, "trivia": 0.9}, "cheap": {"math": 0.2, "trivia": 0.85}}
    price = {"big": 0.01, "cheap": 0.0001}
    rows = []
    for task, vocabulary in words.items():
        for i in range(n_per_task):
            prompt = " ".join(rng.choice(vocabulary, size=6)) + f" item {i}?"
            for model, acc in accuracy.items():
                rows.append(
                    {"experiment": "routing", "item_id": f"{task}-{i}", "prompt": prompt, "task": task,
                     "model": model, "epoch": 0, "score": float(rng.random() < acc[task]), "cost_usd": price[model]}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_router_policy_as_pyfunc(
    store_uri: str, client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from llmbench.router import RouterEstimator, RouterPolicy, routing_data

    policy = tmp_path / "router.policy.json"
    RouterEstimator(lambda_=10.0).fit(routing_data(_routing_frame())).export(policy)
    run_id = log_router_run("43", "router-policy", {"router": "task"}, {"aiq": 0.5}, policy_path=policy,
                            register_as="llmbench-test-router", uri=store_uri)  # fmt: skip
    model_uri = client.get_run(run_id).data.tags["llmbench.policy_model_uri"]
    assert len(client.search_model_versions("name='llmbench-test-router'")) == 1
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)
    from mlflow.tracking._tracking_service import utils

    monkeypatch.setattr(
        utils, "_tracking_uri", store_uri
    )  # MLflow's process-wide URI, put back after the test
    model = mlflow.pyfunc.load_model(model_uri)
    prompts = [
        "add the fraction and divide the integer",
        "which king ruled the river capital",
        "sum equation",
    ]
    served = RouterPolicy.load(policy)
    expected = [served.route(p).model for p in prompts]
    assert set(expected) == {"big", "cheap"}  # the policy really routes, so equality below means something
    assert list(model.predict(pd.DataFrame({"prompt": prompts}))) == expected
    assert list(mlflow.pyfunc.load_model("models:/llmbench-test-router/1").predict(prompts)) == expected


# --- report ----------------------------------------------------------------------------------------------


def test_report_sections_and_single_plotly_bundle(tmp_path: Path) -> None:
    from plotly.offline import get_plotlyjs

    runs = _runs()
    router = pd.DataFrame({"cost": [0.001, 0.01], "quality": [0.25, 0.75]})
    path = write_report(tmp_path / "r.html", runs, title="demo <report>", router_curve=router, n_bootstrap=10)
    text = path.read_text()
    assert text.count(get_plotlyjs()[:2000]) == 1  # the library is inlined exactly once
    assert "<script src=" not in text  # nothing loaded from the network
    assert "demo &lt;report&gt;" in text  # titles are escaped
    for anchor in ("id='models'", "id='tasks'", "id='winrates'", "id='curves'", "id='latency'", "id='errors'",
                   "id='samples'"):  # fmt: skip
        assert anchor in text
    for div in ("winrate-heatmap-0", "bt-ratings-0", "curve-0-0", "latency", "errors"):
        assert f'id="{div}"' in text
    assert "RateLimitError" in text and "q:mid" in text
    assert "Is the top model really better?" in text and "p:big beats p:small by" in text  # paired, not bare


def test_the_error_chart_tells_retried_attempts_from_failed_runs() -> None:
    """A 429 healed by a retry is a failed attempt, not a failed run: the report says which each one was, so its
    chart does not count retried 429s while the summary's failed column says 0."""
    runs = _runs()
    calls = pd.DataFrame([
        {"experiment": "exp1", "model_id": "p:big", "run_key": "k1", "attempt": 1, "final": False, "error_class": "RateLimitError",
         "error_message": "HTTP 429: slow down"},
        {"experiment": "exp1", "model_id": "p:big", "run_key": "k1", "attempt": 2, "final": True, "error_class": None, "error_message": None},
        {"experiment": "exp1", "model_id": "q:mid", "run_key": "k2", "attempt": 1, "final": True, "error_class": "RateLimitError",
         "error_message": "HTTP 429: slow down"},
    ]).assign(item_id=["i0", "i0", "i3"], epoch=0, latency_s=0.1, cost_usd=0.0, response=None)  # fmt: skip
    text = build_report(runs, n_bootstrap=0, calls=calls)
    assert "failed attempts by error class: retried, or the run failed" in text
    table = text[text.index("HTTP 429") - 600 : text.rindex("HTTP 429")]
    assert "retried" in table and "the run failed" in table


def test_report_without_costs_or_errors() -> None:
    runs = _runs().assign(cost_usd=np.nan, error=None)
    runs["score"] = runs["score"].fillna(0.0)
    text = build_report(runs, n_bootstrap=0)
    assert "No costs recorded" in text and "No failed calls" in text
    with pytest.raises(DataError, match="empty"):
        build_report(runs.iloc[0:0])


def test_report_command_reads_the_run_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from llmbench.cli.tracking import app
    from llmbench.store import Store

    store = tmp_path / "runs.duckdb"
    with Store.open(store) as db:
        import_frame(db, _runs(), "exp1", "simulated")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "exp1", "--store", str(store), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "llmbench report — exp1" in text and "p:small" in text
    missing = CliRunner().invoke(app, ["report", "nope", "--store", str(store), "-o", str(out)])
    assert missing.exit_code != 0 and "exp1" in str(missing.exception)


def test_summary_rejects_frames_without_scores() -> None:
    with pytest.raises(DataError, match="score"):
        summarize_runs(pd.DataFrame({"model": ["a"]}))
    assert math.isnan(summarize_runs(_runs().assign(cost_usd=np.nan)).loc["p:big", "cost_per_correct"])


def test_two_experiments_are_shown_side_by_side_never_pooled() -> None:
    first = _runs()
    second = _runs().assign(experiment="exp2", score=lambda f: 1.0 - f["score"].fillna(0))
    text = build_report(pd.concat([first, second]), n_bootstrap=0)
    assert "2 experiment(s)" in text
    assert (
        text.count("<h3>exp1</h3>") >= 3 and text.count("<h3>exp2</h3>") >= 3
    )  # models, tasks, win rates, curves
    assert (
        'id="winrate-heatmap-0"' in text and 'id="winrate-heatmap-1"' in text
    )  # one comparison per experiment


def test_a_cost_quality_figure_draws_itself_in_a_notebook() -> None:
    from llmbench.stats import cost_quality_points
    from llmbench.tracking import plot_cost_quality

    fig = plot_cost_quality(cost_quality_points(_runs()))
    png = fig._repr_png_()  # what Jupyter calls to show it inline, with or without %matplotlib inline
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_a_judged_run_says_how_far_its_judge_is_trusted(store_uri: str, client) -> None:
    from llmbench.tracking.report import build_report

    unchecked = log_eval_run("7", "judged", {"judge_model": "openai:gpt-4o-mini"}, None, _runs(), uri=store_uri,
                             n_bootstrap=0)  # fmt: skip
    tag = client.get_run(unchecked).data.tags["llmbench.judge_calibration"]
    assert tag.startswith("judge openai:gpt-4o-mini is not calibrated against human labels")
    calibration = {
        "items": 50,
        "correct_first": 45,
        "kappa_first": 0.8,
        "kappa_first_low": 0.6,
        "kappa_first_high": 0.9,
    }
    checked = log_eval_run("8", "judged-2", {"judge_model": "openai:gpt-4o-mini", "judge_calibration": calibration},
                           None, _runs(), uri=store_uri, n_bootstrap=0)  # fmt: skip
    assert (
        "agrees with human labels on 90.0% of 50 items"
        in client.get_run(checked).data.tags["llmbench.judge_calibration"]
    )
    plain = log_eval_run("9", "unjudged", {}, None, _runs(), uri=store_uri, n_bootstrap=0)
    assert "llmbench.judge_calibration" not in client.get_run(plain).data.tags  # no judge, nothing to say
    page = build_report(
        _runs(), notes=["judged: judge openai:gpt-4o-mini is not calibrated <yet>"], n_bootstrap=0
    )
    assert "judge openai:gpt-4o-mini is not calibrated &lt;yet&gt;" in page


def test_one_mlflow_experiment_per_llmbench_experiment_with_scores_on_the_parent(
    store_uri: str, client, tmp_path: Path
) -> None:
    from llmbench.api import track_router
    from llmbench.tracking.mlflow_log import log_tool_run

    runs = _runs()
    eval_id = log_eval_run("7", "layout-exp", {"models": ["p:big"]}, None, runs, uri=store_uri, n_bootstrap=0)
    home = client.get_experiment_by_name("layout-exp")
    assert home is not None and client.get_run(eval_id).info.experiment_id == home.experiment_id
    metrics = client.get_run(eval_id).data.metrics
    assert metrics["p_big/score_mean"] == pytest.approx(0.75) and metrics[
        "p_small/score_mean"
    ] == pytest.approx(0.25)
    # a router trained on that experiment's runs lands beside its eval; one on imported data in its own
    import os

    os.environ["MLFLOW_TRACKING_URI"] = store_uri
    try:
        store_id, _, failed = track_router(
            "router eval", {"source": "store", "experiments": ["layout-exp"]}, {"aiq": 0.5}
        )
        file_id, _, failed_too = track_router(
            "router eval", {"source": "routellm", "benchmark": "mmlu"}, {"aiq": 0.5}
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert failed is None and failed_too is None
    assert client.get_run(store_id).info.experiment_id == home.experiment_id  # type: ignore[arg-type]
    assert client.get_experiment(client.get_run(file_id).info.experiment_id).name == "routellm mmlu"  # type: ignore[arg-type]
    from llmbench.store import Store

    with Store.open(tmp_path / "s.duckdb") as st:
        columns = list(st.tool_steps_frame().columns)
    row = {c: None for c in columns} | {"experiment": "layout-tools", "conversation_id": "c1", "turn": 1}
    steps = pd.DataFrame([row | {"step": 1, "kind": "model_turn", "cost_usd": 0.001, "is_error": False}])
    tools_id = log_tool_run("layout-tools", steps, uri=store_uri)
    assert client.get_experiment(client.get_run(tools_id).info.experiment_id).name == "layout-tools"
