"""The real MLflow UI started by `llmbench ui`, and the HTML report, opened in headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from llmbench.errors import ConfigError
from llmbench.tracking.mlflow_log import log_eval_run
from llmbench.tracking.report import write_report
from llmbench.tracking.ui import free_port, wait_until_ready

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


def _runs() -> pd.DataFrame:
    rows = []
    for model, scores, cost in (("p:big", [1, 1, 0, 1], 0.01), ("p:small", [1, 0, 0, 0], 0.001)):
        for i, score in enumerate(scores):
            rows.append(
                {"experiment": "browser-exp", "item_id": f"i{i}", "prompt": "q", "task": "t", "model": model,
                 "epoch": 0, "score": float(score), "cost_usd": cost, "input_tokens": 3, "output_tokens": 4,
                 "latency_s": 0.5 + i, "response": "a", "error": "ServerError" if i == 3 else None}
            )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One `llmbench ui` process over a store holding one logged eval run (MLflow starts slowly: start once)."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    run_id = log_eval_run("77", "browser-exp", {"dataset": "demo"}, None, _runs(), uri=uri, n_bootstrap=0)
    experiment_id = MlflowClient(uri).get_run(run_id).info.experiment_id
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
        yield {"url": url, "run_id": run_id, "experiment_id": experiment_id, "output": "".join(lines)}
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


def test_mlflow_ui_shows_the_experiment_and_run_metrics(ui_server: dict[str, str], browser) -> None:
    assert f"MLflow UI: {ui_server['url']}" in ui_server["output"]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{ui_server['url']}/#/experiments", wait_until="domcontentloaded")
        page.get_by_text("llmbench", exact=True).first.wait_for(timeout=60_000)
        page.goto(
            f"{ui_server['url']}/#/experiments/{ui_server['experiment_id']}/runs/{ui_server['run_id']}",
            wait_until="domcontentloaded",
        )
        page.get_by_text("browser-exp").first.wait_for(timeout=60_000)
        page.get_by_text("score_mean/p_big").first.wait_for(timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "mlflow_ui_run.png"), full_page=True)
    finally:
        page.close()


def test_report_opens_without_console_errors(tmp_path: Path, browser) -> None:
    path = write_report(tmp_path / "report.html", _runs(), title="browser report", n_bootstrap=10)
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
        plots = page.locator(".js-plotly-plot").count()
        assert plots >= 5  # heatmap, ratings, curve, latency, errors
        assert page.locator("#winrate-heatmap .heatmaplayer").count() == 1
        heights = page.locator(".js-plotly-plot").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert min(heights) > 250, heights  # no collapsed plot
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
