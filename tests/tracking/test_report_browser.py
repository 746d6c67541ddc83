"""The real MLflow UI started by `llmbench ui`, and the HTML report, opened in headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from llmbench.errors import ConfigError
from llmbench.store import CallRecord, ScoreRecord, Store
from llmbench.tracking.mlflow_log import log_eval_run, log_router_run
from llmbench.tracking.report import write_report
from llmbench.tracking.ui import free_port, wait_until_ready
from llmbench.tracking.viewer import sample_records, write_viewer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

if not CHROMIUM.exists():
    pytest.skip(
        "Chromium is not installed at /usr/bin/chromium (Debian: apt-get install -y chromium)",
        allow_module_level=True,
    )


def _store(path: Path) -> Store:
    """A run store with one experiment: two models on four items, one attempt retried, one run failed."""
    store = Store.open(path)
    store.create_experiment("browser-exp", config={"models": ["p:big", "p:small"], "dataset": "demo"})
    store.add_items("browser-exp", [{"id": f"i{i}", "input": f"question {i}?", "reference": "yes", "task": "t"}
                                    for i in range(4)])  # fmt: skip
    t0 = time.time() - 120
    calls, scores = [], []
    for model, right, cost in (("p:big", [1, 1, 0, 1], 0.01), ("p:small", [1, 0, 0, 0], 0.001)):
        for i, score in enumerate(right):
            key = f"{model}-{i}"
            if model == "p:small" and i == 3:  # failed for good: a 503, then a 500
                calls.append(CallRecord(key, f"i{i}", model, attempt=1, started_at=t0 + i, latency_s=0.3,
                                        error_class="ServerError", error_message="HTTP 503: upstream overloaded",
                                        status_code=503))  # fmt: skip
                calls.append(CallRecord(key, f"i{i}", model, attempt=2, started_at=t0 + i + 1, latency_s=0.3,
                                        error_class="ServerError", error_message="HTTP 500: internal error",
                                        status_code=500, final=True))  # fmt: skip
                continue
            calls.append(CallRecord(key, f"i{i}", model, started_at=t0 + i, latency_s=0.5 + i, input_tokens=3,
                                    output_tokens=4, cost_usd=cost, response="yes" if score else "no", final=True))  # fmt: skip
            scores.append(ScoreRecord(key, f"i{i}", model, 0, "exact", float(score),
                                      "matches the reference" if score else "differs from the reference"))  # fmt: skip
    store.write_results("browser-exp", calls, scores)
    return store


def _runs() -> pd.DataFrame:
    with _store(Path(tempfile.mkdtemp()) / "runs.duckdb") as store:
        return store.runs_frame("browser-exp")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One `llmbench ui` process over a store holding one logged eval (MLflow starts slowly: start it once)."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with _store(root / "runs.duckdb") as store:
        run_id = log_eval_run("77", "browser-exp", {"dataset": "demo", "models": ["p:big", "p:small"]}, None,
                              store.runs_frame("browser-exp"), calls=store.calls_frame("browser-exp"), uri=uri,
                              n_bootstrap=0)  # fmt: skip
    # a second llmbench experiment, and a router run trained on the first: MLflow lays them out per experiment
    with _store(root / "other.duckdb") as other:
        log_eval_run("78", "browser-exp-b", {"dataset": "demo"}, None, other.runs_frame("browser-exp"), uri=uri,
                     mlflow_experiment="browser-exp-b", n_bootstrap=0)  # fmt: skip
    router_id = log_router_run("77", "router-on-browser-exp", {"experiment": "browser-exp"},
                               {"aiq": 0.5, "oracle_gap": 0.1}, uri=uri, mlflow_experiment="browser-exp")  # fmt: skip
    client = MlflowClient(uri)
    experiment_id = client.get_run(run_id).info.experiment_id
    nested = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'")
    children = {r.info.run_name: r.info.run_id for r in nested}
    traces = client.search_traces(experiment_ids=[experiment_id], run_id=run_id, max_results=50)
    failed = next(t.info.trace_id for t in traces if t.info.tags.get("llmbench.run_key") == "p:small-3")
    port = free_port()
    command = [sys.executable, "-m", "llmbench", "ui", "--port", str(port),
               "--backend-store-uri", uri]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, timeout=180)
        deadline = time.monotonic() + 10
        while not any("MLflow UI:" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield {
            "url": url,
            "uri": uri,
            "run_id": run_id,
            "experiment_id": experiment_id,
            "output": "".join(lines),
            "children": children,
            "failed_trace": failed,
            "traces": len(traces),
            "router_id": router_id,
        }
    finally:
        process.send_signal(signal.SIGTERM)  # `llmbench ui` stops its server on SIGTERM
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)
    # The server (a separate process group) must be gone too.
    with pytest.raises(ConfigError, match="did not answer"):
        wait_until_ready(url, timeout=2)


def test_mlflow_has_an_experiment_per_llmbench_experiment_with_scores_on_the_parent(
    ui_server: dict[str, Any], browser
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(ui_server["uri"])
    assert client.get_run(ui_server["router_id"]).info.experiment_id == ui_server["experiment_id"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{ui_server['url']}/#/experiments", wait_until="domcontentloaded")
        page.get_by_text("browser-exp-b").first.wait_for(timeout=60_000)
        listed = page.inner_text("body")
        assert "browser-exp" in listed.replace("browser-exp-b", "") and "browser-exp-b" in listed
        _shot(page, "mlflow_experiments.png")  # one MLflow experiment per llmbench experiment
        page.goto(f"{ui_server['url']}/#/experiments/{ui_server['experiment_id']}/runs",
                  wait_until="domcontentloaded")  # fmt: skip
        page.get_by_text("router-on-browser-exp").first.wait_for(timeout=60_000)
        runs = page.inner_text("body")
        assert "browser-exp" in runs  # the eval's parent run, beside the router run trained on it
        _shot(page, "mlflow_experiment_runs.png")
        page.goto(f"{ui_server['url']}/#/experiments/{ui_server['experiment_id']}/runs/{ui_server['run_id']}",
                  wait_until="domcontentloaded")  # fmt: skip
        page.get_by_text("p_big/score_mean").first.wait_for(timeout=60_000)
        assert "p_small/score_mean" in page.inner_text("body")  # every model's score on the parent run
        page.get_by_text("p_big/score_mean").first.scroll_into_view_if_needed()
        _shot(page, "mlflow_parent_run.png")
    finally:
        page.close()


def test_mlflow_compares_two_models_side_by_side_with_the_same_metric_keys(
    ui_server: dict[str, Any], browser
) -> None:
    assert f"MLflow UI: {ui_server['url']}" in ui_server["output"]
    big, small = ui_server["children"]["p:big"], ui_server["children"]["p:small"]
    runs = quote(json.dumps([big, small]))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{ui_server['url']}/#/compare-runs?runs={runs}&experiments={quote(json.dumps([ui_server['experiment_id']]))}",
                  wait_until="domcontentloaded")  # fmt: skip
        page.get_by_text("score_mean").first.wait_for(timeout=60_000)
        page.get_by_text("p:small").first.wait_for(timeout=60_000)
        text = page.inner_text("body")
        for key in ("score_mean", "cost_per_correct_usd", "latency_p95_s"):
            assert text.count(key) >= 1, key  # one row per metric key, a column per model
        assert "p:big" in text and "p:small" in text
        page.get_by_text("cost_per_correct_usd").first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / "mlflow_compare_models.png")
        )  # the metrics rows, a column per model
    finally:
        page.close()


def test_mlflow_shows_a_call_as_a_trace_with_its_attempts(ui_server: dict[str, Any], browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(
            f"{ui_server['url']}/#/experiments/{ui_server['experiment_id']}/traces",
            wait_until="domcontentloaded",
        )
        page.get_by_text('{"prompt": "question 3?"}').first.wait_for(timeout=60_000)
        assert ui_server["traces"] == 8 and "8 of 8" in page.inner_text("body")  # a trace per call
        _shot(page, "mlflow_traces.png")
        page.goto(f"{ui_server['url']}/#/experiments/{ui_server['experiment_id']}/traces"
                  f"?selectedEvaluationId={ui_server['failed_trace']}", wait_until="domcontentloaded")  # fmt: skip
        page.get_by_text("attempt 2").first.wait_for(timeout=60_000)  # the failed call: a span per attempt
        text = page.inner_text("body")
        assert "attempt 1" in text and "p:small" in text and "question 3?" in text
        _shot(page, "mlflow_trace_detail.png")
    finally:
        page.close()


def test_viewer_lists_samples_and_explains_a_failed_item(tmp_path: Path, browser) -> None:
    with _store(tmp_path / "runs.duckdb") as store:
        records = sample_records(store.runs_frame("browser-exp"), store.calls_frame("browser-exp"),
                                 store.items_frame("browser-exp"), scores=store.scores_frame("browser-exp"))  # fmt: skip
    path = write_viewer(tmp_path / "samples.html", records, "browser samples")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(path.as_uri(), wait_until="load")
        assert page.locator("tr.sample").count() == 8
        page.locator(".f-errors").check()
        assert page.locator("tr.sample").count() == 1 and page.locator("tr.failed").count() == 1
        page.locator("tr.failed").click()
        detail = page.inner_text(".detail")
        assert "HTTP 503: upstream overloaded" in detail and "HTTP 500: internal error" in detail
        assert (
            "question 3?" in detail and "p:big (score 1.00)" in detail
        )  # the other model's answer beside it
        _shot(page, "viewer_failed_item.png")
        page.locator(".f-errors").uncheck()
        page.locator(".cmp-a").select_option("p:big")
        page.locator(".cmp-b").select_option("p:small")
        # the regression view agrees with `llmbench diff` on the same runs
        from llmbench.stats.diff import diff

        expected = diff(_runs(), "p:big", "p:small")["change"].value_counts()
        assert "1 right to wrong" in page.inner_text(".diff-count") and expected["right to wrong"] == 1
        page.locator(".f-diff").select_option("right to wrong")
        assert page.locator("tr.sample").count() == 1 and "i1" in page.inner_text("tbody")
        page.locator(".f-diff").select_option("new failure")
        assert page.locator("tr.sample").count() == expected["new failure"] == 1
        page.locator(".f-diff").select_option("any change")
        assert page.locator("tr.sample").count() == int(expected.drop("same", errors="ignore").sum())
        page.locator("tr.sample").first.click()
        _shot(page, "viewer_regression_diff.png")
        # the new columns: epoch and the scorer's reason in the list, the reason in the detail, sortable headers
        page.locator(".f-diff").select_option("")
        headers = [h.strip() for h in page.locator("th").all_inner_texts()]
        assert headers[:6] == ["item", "model", "epoch", "task", "score", "why"]
        assert "matches the reference" in page.inner_text("tbody")
        assert "why this score" in page.inner_text(".detail") and "matches the reference" in page.inner_text(
            ".detail"
        )
        page.locator("th", has_text="score").first.click()  # ascending: the wrong answers first
        assert page.locator("tbody tr").first.locator("td").nth(4).inner_text() == "0.00"
        page.locator("th", has_text="score").first.click()  # and back
        assert page.locator("tbody tr").first.locator("td").nth(4).inner_text() == "1.00"
        assert page.locator("tbody tr").first.locator("td").first.get_attribute("title")  # full text on hover
        _shot(page, "viewer_columns_sorted.png")
    finally:
        page.close()
    assert errors == []


def test_diff_and_viewer_agree_on_two_runs_of_the_default_experiment_with_a_changed_model(
    tmp_path: Path, browser, cli
) -> None:
    """The default sim experiment run twice (one epoch), the second with another model: `llmbench diff`
    names the flipped items, and the viewer of both experiments shows the same ones."""
    from llmbench import evaluate
    from llmbench.evaluation import load_experiment
    from llmbench.stats.diff import diff

    default = load_experiment(Path(__file__).resolve().parents[2] / "llmbench/shipped/experiments/default.yaml")
    store = tmp_path / "runs.duckdb"
    for name, model in (("before", "sim:gpt-4o"), ("after", "sim:gpt-4o-mini")):
        cfg = default.model_copy(update={"name": name, "models": [model], "epochs": 1})
        evaluate(cfg, store=store, track=False)
    said = cli("diff", "before", "after", "--store", store)
    assert said.returncode == 0, said.stderr
    with Store.open(store, read_only=True) as st:
        runs = st.runs_frame(["before", "after"])
        records = sample_records(runs, st.calls_frame(["before", "after"]), st.items_frame(["before", "after"]))
    table = diff(runs, "before", "after", by="experiment")
    flipped = sorted(table.loc[table["change"] == "right to wrong", "item_id"])
    assert flipped and all(item in said.stdout for item in flipped)
    path = write_viewer(tmp_path / "samples.html", records, title="before vs after")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.locator(".cmp-a").select_option("before \u00b7 sim:gpt-4o")
        page.locator(".cmp-b").select_option("after \u00b7 sim:gpt-4o-mini")
        page.locator(".f-diff").select_option("right to wrong")
        shown = sorted(page.locator("tr.sample td:first-child").all_inner_texts())
        assert shown == flipped
        assert f"{len(flipped)} right to wrong" in page.inner_text(".diff-count")
        _shot(page, "viewer_diff_two_experiments.png")
    finally:
        page.close()


def test_report_shows_the_route_mix_of_a_live_router(tmp_path: Path, browser) -> None:
    """A `router:` model answered four items: three by p:small (two on task t), one by p:big. The report's route
    mix says so per task and overall, with each model's share of the router's cost."""
    with _store(tmp_path / "runs.duckdb") as store:
        answered = {"i0": "p:small", "i1": "p:small", "i2": "p:big", "i3": "p:small"}
        store.add_items("browser-exp", [{"id": "i0", "input": "q", "reference": "yes", "task": "u"}])
        calls = [CallRecord(f"router-{i}", i, "router:p", latency_s=0.2, input_tokens=3, output_tokens=4,
                            cost_usd=0.01 if m == "p:big" else 0.001, response="yes", final=True, attempt_model=m,
                            route_policy="sha-p", route_chosen=m, route_fallback=0) for i, m in answered.items()]  # fmt: skip
        scores = [ScoreRecord(f"router-{i}", i, "router:p", 0, "exact", 1.0, "matches") for i in answered]
        store.write_results("browser-exp", calls, scores)
        runs, calls_frame = store.runs_frame("browser-exp"), store.calls_frame("browser-exp")
    path = write_report(tmp_path / "report.html", runs, title="route mix", n_bootstrap=0, calls=calls_frame)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(path.as_uri(), wait_until="load")
        section = page.locator("#route-mix")
        section.scroll_into_view_if_needed()
        table = page.locator("#route-mix + *").inner_text()
        rows = [line.split("\t") for line in table.splitlines()]
        overall = {r[2]: r[3:6] for r in rows if len(r) >= 6 and r[1] == "all"}
        assert overall["p:small"][:2] == ["3", "75.0%"] and overall["p:big"][:2] == ["1", "25.0%"]
        assert overall["p:big"][2] == f"{0.01 / 0.013:.1%}"  # its share of what the router spent
        _shot(page, "report_route_mix.png")
    finally:
        page.close()


def test_report_reads_well_at_1280_px(tmp_path: Path, browser) -> None:
    with _store(tmp_path / "runs.duckdb") as store:
        runs, calls, items = (
            store.runs_frame("browser-exp"),
            store.calls_frame("browser-exp"),
            store.items_frame("browser-exp"),
        )
    path = write_report(
        tmp_path / "report.html", runs, title="browser report", n_bootstrap=10, calls=calls, items=items
    )
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert page.locator(".js-plotly-plot").count() >= 5  # heatmap, ratings, curve, latency, errors
        heights = page.locator(".js-plotly-plot").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert min(heights) > 250, heights  # no collapsed plot
        text = page.inner_text("body")
        assert (
            "cost / correct" in text
            and "latency p95 (s)" in text
            and "<NA>" not in text
            and "e-0" not in text
        )
        assert (
            "2 failed attempt(s), 0 of them followed by a successful retry; 1 run(s) failed for good" in text
        )
        assert page.locator("tr.group").count() == 1  # models grouped under their provider
        assert page.locator("#samples ~ .viewer tr.sample").count() == 8
        _shot(page, "report_1280.png")
    finally:
        page.close()
    assert errors == []
