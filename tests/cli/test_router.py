"""`llmbench router train|export|eval` and `llmbench route` through the real console entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import CliResult, synthetic_frame

from llmbench.imports import import_frame
from llmbench.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def llmbench(cli: Callable[..., CliResult]) -> Callable[..., CliResult]:
    """Run the CLI in this process; router commands log to MLflow only when a (temporary) tracking URI is given."""

    def invoke(*args: str, mlflow_uri: str = "") -> CliResult:
        if args and args[0] == "router" and not mlflow_uri and "--no-track" not in args:
            args = (*args, "--no-track")
        return cli(*args, cwd=ROOT, env={"MLFLOW_TRACKING_URI": mlflow_uri} if mlflow_uri else None)

    return invoke


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "runs.duckdb"
    frame = synthetic_frame(40)
    with Store.open(path) as st:
        import_frame(st, frame.drop(columns=["experiment"]), "synthetic", "imported")
    return path


def test_train_route_and_reexport_from_the_run_store(store: Path, tmp_path: Path, llmbench) -> None:
    policy = tmp_path / "router.json"
    out = llmbench(
        "router", "train", "--store", str(store), "--experiment", "synthetic", "--out", str(policy)
    )
    assert out.returncode == 0, out.stderr
    assert policy.is_file() and "wrote" in out.stdout
    routed = llmbench("route", str(policy), "write a python function that returns a list", "--json")
    assert routed.returncode == 0, routed.stderr
    decision = json.loads(routed.stdout)
    # lambda 0: the best expected quality; fallbacks rank the two other models
    assert decision["model"] in {"big", "coder"} and len(decision["fallbacks"]) == 2
    assert decision["task"] == "code"
    cheap = tmp_path / "cheap.json"
    out = llmbench("router", "export", "--model", str(policy), "--lambda", "1000", "-o", str(cheap))
    assert out.returncode == 0, out.stderr
    decision = json.loads(llmbench("route", str(cheap), "capital river country king", "--json").stdout)
    assert decision["model"] == "cheap"  # trivia at a steep cost weight: the cheap model knows it well enough


@pytest.mark.slow
def test_add_model_grows_a_policy_from_probe_runs_in_the_store(tmp_path: Path, llmbench) -> None:
    frame = synthetic_frame(60).drop(columns=["experiment"])
    first = frame["item_id"].str.split("-").str[1].astype(int) < 20  # 20 probe prompts per task
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as st:
        import_frame(st, frame[frame["model"] != "coder"], "logs", "imported")
        import_frame(st, frame[first], "probe", "imported")
    policy, grown = tmp_path / "router.json", tmp_path / "grown.json"
    train = ("router", "train", "--store", str(path), "-e", "logs", "--lambda", "30", "--out", str(policy))
    assert llmbench(*train).returncode == 0
    out = llmbench("router", "add-model", str(policy), "--model", "coder", "--store", str(path), "-e", "probe",
                   "-o", str(grown))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "added coder from 60 probe prompts" in out.stdout
    code = "write a python function that returns a list"
    before = json.loads(llmbench("route", str(policy), code, "--json").stdout)
    after = json.loads(llmbench("route", str(grown), code, "--json").stdout)
    assert before["model"] == "big" and after["model"] == "coder"  # as good on code, a tenth of the price
    again = llmbench("router", "add-model", str(grown), "--model", "coder", "--store", str(path), "-e", "probe",
                     "-o", str(tmp_path / "twice.json"))  # fmt: skip
    assert again.returncode != 0 and "already routed" in again.stderr


@pytest.mark.slow  # seconds: a real server, MLflow or a whole CLI pipeline
def test_eval_prints_the_baseline_table_and_logs_an_mlflow_run(store: Path, tmp_path: Path, llmbench) -> None:
    report = tmp_path / "eval.json"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = llmbench(
        "router",
        "eval",
        "--store",
        str(store),
        "-e",
        "synthetic",
        "--json",
        str(report),
        "--target",
        "budget=3",
        "--robustness",
        mlflow_uri=uri,
    )
    assert out.returncode == 0, out.stderr
    assert "Decisions kept when the test prompts are perturbed" in out.stdout and "typo" in out.stdout
    for name in ("zero router", "task prior", "kNN", "oracle", "AIQ", "cost saving"):
        assert name in out.stdout
    saved = json.loads(report.read_text())
    singles = [row["router"] for row in saved["table"] if row["kind"] == "single model"]
    rows = [line.split("│") for line in out.stdout.splitlines() if line.startswith("│")]
    shown = [r for r in rows if r[1].strip() in singles and len(r) > 6]  # the held-out table's rows
    assert len(shown) == len(singles) >= 2
    for r in shown:  # one point has no curve: its AIQ columns say so instead of 0.0000
        assert [c.strip() for c in r[2:4]] == ["-", "-"], r
    assert {row["router"] for row in saved["table"]} >= {"router", "task prior", "random"}
    assert saved["calibration"]["test"]["cost_per_1k"] >= 0
    kept = {row["perturbation"]: row["decision kept"] for row in saved["robustness"]}
    assert set(kept) == {"whitespace", "case", "paraphrase template", "typo"}
    assert all(0 <= share <= 1 for share in kept.values())
    assert {row["models used"] for row in saved["robustness"]} <= {1, 2, 3} and "models used" in out.stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    [parent] = [r for r in runs if r.data.tags["llmbench.child"] == "false"]
    nested = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert parent.data.tags["llmbench.kind"] == "router" and parent.data.params["target"] == "budget=3"
    assert (
        parent.info.run_name.startswith("router eval · store synthetic")
        and "target=budget=3" in parent.info.run_name
    )
    assert float(parent.data.params["chosen_lambda"]) >= 0  # the calibration's choice is recorded
    assert {"router", "task prior", "random", "oracle"} <= set(nested)  # one nested run per router/baseline
    aiq = {row["router"]: row["AIQ"] for row in saved["table"]}
    assert nested["router"].data.metrics["aiq"] == pytest.approx(aiq["router"])
    assert set(nested["router"].data.metrics) >= {"aiq", "cost_saving", "aiq_low", "aiq_high"}
    # bootstrap intervals: printed, saved, and logged; they bracket the point estimate
    assert "90% intervals" in out.stdout
    ci = {row["router"]: row for row in saved["intervals"]}
    assert ci["router"]["AIQ low"] <= aiq["router"] <= ci["router"]["AIQ high"]
    assert nested["router"].data.metrics["aiq_low"] == pytest.approx(ci["router"]["AIQ low"])
    assert "aiq_minus_task_prior_high" in nested["router"].data.metrics


def test_cli_errors_are_one_clear_line(tmp_path: Path, llmbench) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    out = llmbench("route", str(bad), "hello")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    out = llmbench("router", "train", "--out", str(tmp_path / "x.json"))
    assert out.returncode == 2 and "give a data source" in out.stderr
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"a": [1]}).to_csv(csv)
    out = llmbench("router", "eval", "--routerbench", str(csv))
    assert out.returncode == 2 and "not a RouterBench file" in out.stderr
