"""Runs shared as Parquet: export, import into another store (equal row for row), attach for queries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llmbench.errors import StoreError
from llmbench.store import Store
from llmbench.store.parquet import attach


def _tables(store: Store, name: str) -> dict[str, pd.DataFrame]:
    drop = ["experiment", "run_key"]
    return {
        "calls": store.calls_frame(name).drop(columns=["experiment"]).sort_values(["run_key", "attempt"]),
        "scores": store.scores_frame(name)
        .drop(columns=[*drop, "created_at"])
        .sort_values(["item_id", "model_id"]),
        "items": store.items_frame(name).drop(columns=["experiment"]).sort_values("item_id"),
    }


def test_export_import_round_trip_and_attach(cli, tmp_path: Path) -> None:
    first = tmp_path / "a.duckdb"
    for name in ("one", "two/with slash"):
        done = cli("eval", "-d", "arithmetic", "-m", "sim:gpt-4o-mini", "-m", "sim:gpt-4o", "--limit", "4", "--name",
                   name, "--store", first, "--no-track", "--no-progress")  # fmt: skip
        assert done.returncode == 0, done.stderr
    out = cli("export", "one", "two/with slash", "--parquet", tmp_path / "shared", "--store", first)
    assert out.returncode == 0, out.stderr
    second = tmp_path / "b.duckdb"
    assert cli("import", "parquet", tmp_path / "shared", "--store", second).returncode == 0
    with Store.open(first, read_only=True) as a, Store.open(second) as b:
        for name in ("one", "two/with slash"):
            left, right = _tables(a, name), _tables(b, name)
            for table in left:
                pd.testing.assert_frame_equal(
                    left[table].reset_index(drop=True), right[table].reset_index(drop=True)
                )
            assert a.get_experiment(name).config == b.get_experiment(name).config
        with pytest.raises(StoreError, match="already exists"):
            from llmbench.store.parquet import import_

            import_(b, tmp_path / "shared", ["one"], replace=False)
        views = attach(b, str(tmp_path / "shared"), "team")
        assert "team_calls" in views
        counts = b.sql("SELECT experiment, count(*) AS n FROM team_calls GROUP BY ALL ORDER BY 1")
        assert counts["experiment"].tolist() == ["one", "two/with slash"] and (counts["n"] >= 8).all()
    again = cli("import", "parquet", tmp_path / "shared", "-e", "one", "--replace", "--store", second)
    assert again.returncode == 0
    with Store.open(second, read_only=True) as b:
        assert set(b.experiments_frame()["name"]) == {"one", "two/with slash"}
