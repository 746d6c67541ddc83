"""`llmbench.evaluate`: the library's one entry point for an eval with tracking, what `llmbench eval` calls. A
notebook runs the same eval, store and MLflow record as the command line, without copying CLI code."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

import llmbench


@pytest.mark.slow
def test_evaluate_runs_resumes_and_tracks_like_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = {
        "name": "api",
        "datasets": ["arithmetic"],
        "models": ["sim:gpt-4o", "sim:gpt-4.1-nano"],
        "limit": 3,
    }
    result = llmbench.evaluate(config, store=tmp_path / "r.duckdb", wait_for_tracking=True)
    assert result.report.complete and result.report.finished == 6 and result.tracking_error is None
    assert set(result.summary["model"]) == {"sim:gpt-4o", "sim:gpt-4.1-nano"}
    run = mlflow.MlflowClient(uri).get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED" and run.data.params
    again = llmbench.evaluate(config, store=tmp_path / "r.duckdb", wait_for_tracking=True)
    assert again.report.skipped == 6 and again.report.finished == 0 and again.mlflow_run_id is None


def test_a_bad_config_is_refused_before_the_store_is_touched(tmp_path: Path) -> None:
    with pytest.raises(llmbench.LLMBenchError, match="models"):
        llmbench.evaluate(
            {"name": "x", "datasets": ["arithmetic"], "models": []}, store=tmp_path / "r.duckdb"
        )
    assert not (tmp_path / "r.duckdb").exists()
