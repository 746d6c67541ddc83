"""`llmbench eval` on a real local Ray cluster (a head and two worker nodes, each a raylet with its own worker
processes): a worker node killed mid-run, and a budget held across the cluster. The upstream (the fake API in its
own process) counts every request it gets: the independent witness."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmbench.api import evaluate
from llmbench.store import Store
from llmbench.testing.fake_process import FakeServerProcess

pytestmark = pytest.mark.slow  # a Ray cluster
ray_cluster_utils = pytest.importorskip(
    "ray.cluster_utils", reason="Ray is an extra: pip install 'llmbench[ray]'"
)

N_ITEMS = 60
MODEL = "up:gpt-4o-mini"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import ray

    cluster = ray_cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    for node in cluster.list_all_nodes():
        if node is not cluster.head_node:
            cluster.remove_node(node)
    cluster.head_node.kill_all_processes(check_alive=False, allow_graceful=False)


def _project(tmp: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    prices = tmp / "prices.yaml"
    prices.write_text(f"models:\n  '{MODEL}': {{input: 1000, output: 1000}}\n")  # about $0.01 a call
    (tmp / "llmbench.toml").write_text(f'price_file = "{prices}"\n[endpoints.up]\nbase_url = "{url}/v1"\n')
    rows = [
        json.dumps({"id": f"it-{i:03d}", "input": f"question {i} please", "reference": "x"})
        for i in range(N_ITEMS)
    ]
    (tmp / "ds.jsonl").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("LLMBENCH_CONFIG", str(tmp / "llmbench.toml"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-FAKE-ray-0000")
    monkeypatch.chdir(tmp)
    return {"name": "on-ray", "datasets": ["ds.jsonl"], "models": [MODEL], "scorer": "exact_match",
            "concurrency": 6, "params": {"max_tokens": 16}}  # fmt: skip


def test_a_worker_node_lost_mid_run_costs_at_most_a_retry(cluster, tmp_path, monkeypatch) -> None:
    with FakeServerProcess(latency_s=0.3) as upstream:
        exp = _project(tmp_path, upstream.url, monkeypatch)
        victim = cluster.list_all_nodes()[1]  # a worker node, not the head the driver joined

        def kill_when_busy() -> None:
            while upstream.stats()["requests"] < 15:
                time.sleep(0.02)
            cluster.remove_node(victim, allow_graceful=False)

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        result = evaluate({**exp, "ray": cluster.address}, store=tmp_path / "runs.duckdb", track=False)
        killer.join(5)
        requests = upstream.stats()["requests"]
        cluster.add_node(num_cpus=1)  # back to two worker nodes for the next test
    assert not killer.is_alive() and result.report.finished == N_ITEMS and result.report.failed == 0
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        calls = st.calls_frame("on-ray")
        assert len(st.finished_keys("on-ray")) == N_ITEMS and st.spent("on-ray")[1] == 0  # no outcome unknown
    answered = calls[calls["error_class"].isna()]
    assert len(answered) == N_ITEMS and answered["run_key"].is_unique  # every item answered once
    lost = calls[calls["error_class"].notna()]
    assert set(lost["error_class"]) <= {"ProviderConnectionError"}
    # Each upstream request has its row; a lost worker's attempt is an error row, retried once more at most.
    assert N_ITEMS <= requests <= len(calls) and len(lost) <= 6


def test_the_budget_holds_across_the_cluster(cluster, tmp_path, monkeypatch) -> None:
    with FakeServerProcess(latency_s=0.1) as upstream:
        exp = _project(tmp_path, upstream.url, monkeypatch)
        budget = 0.15
        result = evaluate({**exp, "ray": cluster.address, "max_cost": budget}, store=tmp_path / "runs.duckdb",
                          track=False)  # fmt: skip
        requests = upstream.stats()["requests"]
    report = result.report
    assert report.stopped_by_budget and 0 < report.finished < N_ITEMS
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        spent, unknown, _ = st.spent("on-ray")
        calls = st.calls_frame("on-ray")
    per_call = calls["cost_usd"].max()
    assert requests == len(calls) and unknown == 0
    assert budget <= spent <= budget + per_call  # past the budget by one call's cost at most, cluster-wide
