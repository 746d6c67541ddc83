"""`llmbench diff` through the real console entry point, on a run store."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import synthetic_frame

from llmbench.imports import import_frame
from llmbench.store import Store


def test_diff_of_two_models_shows_the_paired_summary_and_the_flipped_items(cli, tmp_path: Path) -> None:
    frame = synthetic_frame(30).drop(columns=["experiment"])
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as st:
        import_frame(st, frame, "synthetic", "imported")
    report = tmp_path / "diff.json"
    out = cli("diff", "big", "cheap", "-e", "synthetic", "--store", str(path), "--json", str(report),
              "--only", "right to wrong")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "big beats cheap by" in out.stdout and "shared items" in out.stdout
    items = json.loads(report.read_text())["items"]
    truth = frame.pivot_table(index="item_id", columns="model", values="score")
    flipped = {r["item_id"] for r in items if r["change"] == "right to wrong"}
    assert flipped == set(truth.index[(truth["big"] == 1) & (truth["cheap"] == 0)])
    assert f"right to wrong: {len(flipped)}" in out.stdout
    bad = cli("diff", "big", "cheap", "-e", "synthetic", "--store", str(path), "--only", "worse")
    assert bad.returncode != 0 and "--only takes" in bad.stderr
