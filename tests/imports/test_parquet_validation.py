"""`llmbench import parquet` checks an export like every other importer before writing a row of it: each
tampered value below was imported silently before (scores of 7.5, costs of -$1000 and NaN, negative tokens, a run
scored three times as primary), and is now refused with the table, row, column and value, the store untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from llmbench.store import Store


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmbench.cli import run

    root = tmp_path_factory.mktemp("export")
    store = root / "a.duckdb"
    assert run(["eval", "-d", "arithmetic", "-m", "sim:gpt-4o-mini", "--limit", "4", "--name", "x",
                "--store", str(store), "--no-track", "--no-progress"]) == 0  # fmt: skip
    assert run(["export", "x", "--parquet", str(root / "shared"), "--store", str(store)]) == 0
    return root / "shared"


def _tamper(src: Path, dst: Path, table: str, select: str) -> Path:
    """A copy of the export whose `table` is rewritten by `select` (over `t`, the table's rows)."""
    shutil.copytree(src, dst)
    folder = dst / table / "experiment=x"
    files = sorted(folder.glob("*.parquet"))
    con = duckdb.connect()
    # in DuckDB throughout: a pandas round trip would turn NaN into NULL
    con.execute(
        f"CREATE TABLE tampered AS WITH t AS (SELECT * FROM read_parquet({[str(f) for f in files]})) {select}"
    )
    for f in files:
        f.unlink()
    con.execute(f"COPY tampered TO '{folder / 'data.parquet'}' (FORMAT parquet)")
    return dst


CASES = {
    "score 7.5": ("scores", "SELECT * REPLACE (7.5 AS value) FROM t", "7.5"),
    "cost -1000": ("calls", "SELECT * REPLACE (-1000.0 AS cost_usd) FROM t", "cost_usd"),
    "cost NaN": ("calls", "SELECT * REPLACE ('NaN'::DOUBLE AS cost_usd) FROM t", "NaN"),
    "cost infinite": ("calls", "SELECT * REPLACE ('inf'::DOUBLE AS cost_usd) FROM t", "cost_usd"),
    "negative tokens": ("calls", "SELECT * REPLACE (-5 AS output_tokens) FROM t", "output_tokens"),
    "negative latency": ("calls", "SELECT * REPLACE (-1.0 AS latency_s) FROM t", "latency"),
    "tripled primary": (
        "scores",
        "SELECT * FROM t UNION ALL SELECT * FROM t UNION ALL SELECT * FROM t",
        "repeat",
    ),
    "no model": ("calls", "SELECT * REPLACE (NULL::VARCHAR AS model_id) FROM t", "model"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_export_is_refused_and_nothing_is_written(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    from llmbench.cli import run

    table, select, named = CASES[case]
    bad = _tamper(export, tmp_path / "bad", table, select)
    store = tmp_path / "b.duckdb"
    code = run(["import", "parquet", str(bad), "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2 and named in err and "row" in err, err
    with Store.open(store, read_only=True) as st:
        assert st.experiments_frame().empty


def test_an_untouched_export_still_imports(export: Path, tmp_path: Path) -> None:
    from llmbench.cli import run

    assert run(["import", "parquet", str(export), "--store", str(tmp_path / "b.duckdb")]) == 0
