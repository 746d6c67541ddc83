"""`llmbench eval` with a `router:` model: the policy measured live on the same items as the single models, offline on
the simulator, its decisions in the store and its point on the report's cost/quality curve."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbench.store import Store


@pytest.mark.slow
def test_a_policy_evaluated_live_beside_single_models_and_shown_on_the_report(cli, tmp_path: Path) -> None:
    store = tmp_path / "runs.duckdb"
    assert cli("eval", "--store", store, "--no-track", "--no-progress", "--limit", "12").returncode == 0
    exported = cli("router", "export", "--store", store, "-e", "default-sim", "--lambda", "300", "-o",
                   tmp_path / "policy.json", "--no-track")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    live = cli("eval", "-m", f"router:{tmp_path / 'policy.json'}", "-m", "sim:gpt-4o-mini", "-m", "sim:gpt-4o",
               "-d", "arithmetic", "-d", "factual", "--name", "live", "--store", store, "--no-track", "--no-progress")  # fmt: skip
    assert live.returncode == 0, live.stderr
    with Store.open(store, read_only=True) as st:
        calls = st.calls_frame("live")
        runs = st.runs_frame("live")
    routed = calls[calls["model_id"].str.startswith("router:") & calls["final"]]
    assert len(routed) == len(runs) // 3 and routed["route_policy"].nunique() == 1
    assert set(routed["attempt_model"]) <= {"sim:gpt-4.1-nano", "sim:gpt-4o-mini", "sim:gpt-4o", "sim:claude-3-5-haiku",
                                            "sim:claude-sonnet-4"}  # fmt: skip
    assert routed["attempt_model"].nunique() >= 2  # it routes: not every prompt to one model
    assert (routed["attempt_model"] == routed["route_chosen"]).all()  # no failures, so no fallbacks
    assert routed["cost_usd"].gt(0).all()  # billed at the chosen model's price
    report = cli("report", "live", "--store", store, "-o", tmp_path / "r.html")
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "r.html").read_text()
    assert "router (live)" in html
    # the route mix: which model the router sent how many prompts to, per task, and their cost shares
    from llmbench.tracking.report_tables import route_mix

    mix = route_mix(runs, calls)
    overall = mix[mix["task"] == "all"].set_index("answered by")
    counted = routed["attempt_model"].value_counts()
    assert overall["answers"].to_dict() == counted.to_dict() and abs(overall["share"].sum() - 1) < 1e-9
    assert abs(overall["cost share"].sum() - 1) < 1e-9
    assert set(mix["task"]) == {"all", *runs["task"].unique()}
    assert "id='route-mix'" in html and "cost share" in html
