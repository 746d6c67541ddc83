"""`llmbench diff` through the real console entry point, on a run store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import synthetic_frame

from llmbench.imports import import_frame
from llmbench.store import Store


def test_diff_of_two_models_shows_the_paired_summary_and_the_flipped_items(cli, tmp_path: Path) -> None:
    frame = synthetic_frame(30).drop(columns=["experiment"])
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as st:
        import_frame(st, frame, "synthetic", "imported")
    report = tmp_path / "diff.json"
    out = cli(
        "diff",
        "big",
        "cheap",
        "-e",
        "synthetic",
        "--store",
        str(path),
        "--json",
        str(report),
        "--only",
        "right to wrong",
    )
    assert out.returncode == 0, out.stderr
    assert "big beats cheap by" in out.stdout and "shared items" in out.stdout
    items = json.loads(report.read_text())["items"]
    truth = frame.pivot_table(index="item_id", columns="model", values="score")
    flipped = {r["item_id"] for r in items if r["change"] == "right to wrong"}
    assert flipped == set(truth.index[(truth["big"] == 1) & (truth["cheap"] == 0)])
    assert f"right to wrong: {len(flipped)}" in out.stdout
    bad = cli("diff", "big", "cheap", "-e", "synthetic", "--store", str(path), "--only", "worse")
    assert bad.returncode != 0 and "--only takes" in bad.stderr


@pytest.mark.slow
def test_diff_of_two_sim_runs_with_a_changed_model_lists_the_flipped_items(cli, tmp_path: Path) -> None:
    store = tmp_path / "runs.duckdb"
    for name, model in (("before", "sim:gpt-4o"), ("after", "sim:gpt-4o-mini")):
        done = cli(
            "eval",
            "-d",
            "arithmetic",
            "-d",
            "factual",
            "-m",
            model,
            "--name",
            name,
            "--store",
            store,
            "--no-track",
            "--no-progress",
        )
        assert done.returncode == 0, done.stderr
    report = tmp_path / "diff.json"
    out = cli("diff", "before", "after", "--store", store, "--json", report)
    assert out.returncode == 0, out.stderr
    assert "before beats after by" in out.stdout or "before trails after by" in out.stdout
    items = pd.DataFrame(json.loads(report.read_text())["items"])
    with Store.open(store, read_only=True) as st:
        runs = st.runs_frame(["before", "after"])
    right = (
        runs.assign(right=runs["score"] >= 0.5).groupby(["experiment", "item_id"])["right"].mean().unstack(0)
    )
    down = set(right.index[(right["before"] >= 0.5) & (right["after"] < 0.5)])
    assert down and set(items.loc[items["change"] == "right to wrong", "item_id"]) == down
    assert f"right to wrong: {len(down)}" in out.stdout
