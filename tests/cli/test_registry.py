"""Policies in MLflow's model registry: exported with --register, promoted to an alias, served as router:models:/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import synthetic_frame

from llmbench.imports import import_frame
from llmbench.providers import get_provider
from llmbench.router import RouterPolicy
from llmbench.store import Store

SIM = {"big": "sim:gpt-4o", "coder": "sim:claude-sonnet-4", "cheap": "sim:gpt-4o-mini"}


@pytest.mark.slow
def test_register_promote_and_serve_a_policy_from_the_registry(cli, tmp_path: Path) -> None:
    frame = synthetic_frame(20)
    frame["model"] = frame["model"].map(SIM)
    with Store.open(tmp_path / "runs.duckdb") as store:
        import_frame(store, frame, "synthetic")
    exported = cli("router", "export", "--store", tmp_path / "runs.duckdb", "-e", "synthetic", "-o",
                   tmp_path / "p.json", "--lambda", "50", "--register", "llmbench-router")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    missing = cli("router", "promote", "llmbench-router", "7")
    assert missing.returncode == 2 and "no version 7" in missing.stderr
    promoted = cli("router", "promote", "llmbench-router", "1", "--alias", "champion")
    assert promoted.returncode == 0 and "router:models:/llmbench-router@champion" in promoted.stdout
    router = get_provider("router:models:/llmbench-router@champion")
    answer = router.complete("write a python function that returns a list")
    assert answer.route is not None and answer.route.policy == RouterPolicy.load(tmp_path / "p.json").sha256
    assert answer.route.answered_by in SIM.values()
    # `llmbench route` takes the registry URI as every other consumer of a policy does
    prompt = "write a python function that returns a list"
    by_uri = cli("route", "models:/llmbench-router@champion", prompt, "--json")
    by_file = cli("route", str(tmp_path / "p.json"), prompt, "--json")
    assert by_uri.returncode == 0, by_uri.stderr
    assert json.loads(by_uri.stdout) == json.loads(by_file.stdout)
    refused = cli("router", "export", "--store", tmp_path / "runs.duckdb", "-e", "synthetic", "-o", tmp_path / "q.json",
                  "--register", "x", "--no-track")  # fmt: skip
    assert refused.returncode == 2 and "--no-track" in refused.stderr
