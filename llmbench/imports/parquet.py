"""`llmbench import parquet`: an exported folder is checked by the one validation layer every importer shares
(`llmbench.imports.validate`) before a row of it is written, then read in by `llmbench.store.parquet.import_`.

A Parquet export is typed, but it is a file anyone can write: scores outside [0, 1], negative, infinite or NaN
costs, negative token counts and a run scored twice as primary are refused, each named by table, row, column and
value. Three views are checked per experiment: the runs (final calls with their primary score), every attempt
(costs, tokens, latency) and every score (one per run, scorer and epoch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from llmbench.imports.tables import literal
from llmbench.imports.validate import ImportOptions, long_select, validate
from llmbench.store import Store
from llmbench.store.parquet import exported_names, import_, parquet_glob

__all__ = ["check_export", "import_parquet"]


def _read(root: Path, table: str, experiment: str) -> str:
    """A table's rows of one experiment, numbered from 1 in file order (what an error quotes as the row)."""
    return (
        f"(SELECT row_number() OVER () AS _row, * FROM read_parquet({literal(parquet_glob(str(root), table))}, "
        f"hive_partitioning = true, union_by_name = true) WHERE experiment = {literal(experiment)})"
    )


def _text(number: str) -> str:
    """A number as the text validation reads; NaN spelled so that it is refused, not taken as a missing value."""
    return f"CASE WHEN isnan({number}::DOUBLE) THEN 'NaN (not a number)' ELSE {number}::VARCHAR END"


def check_export(con: duckdb.DuckDBPyConnection, root: Path, experiment: str) -> None:
    """Raise DataError when an exported experiment holds a value no importer would accept."""
    calls, scores, items = (_read(root, t, experiment) for t in ("calls", "scores", "items"))
    source = f"{root} ({experiment})"
    common = {
        "experiment": literal(experiment),
        "model": "c.model_id",
        "epoch_raw": "c.epoch::VARCHAR",
        "cost_raw": _text("c.cost_usd"),
        "cost_col": "'cost_usd'",
        "input_tokens_raw": "c.input_tokens::VARCHAR",
        "output_tokens_raw": "c.output_tokens::VARCHAR",
        "latency_raw": _text("c.latency_s"),
    }
    common |= {"_file": "'calls'", "_row": "c._row", "_order": "c._row", "error": "c.error_class"}
    views = {
        "runs": long_select(
            f"{calls} c LEFT JOIN {items} i USING (item_id) "
            f"LEFT JOIN (SELECT * FROM {scores} WHERE is_primary) s USING (run_key) WHERE c.final",
            **common,
            item_id="c.item_id",
            prompt="coalesce(i.prompt, c.item_id)",
            task="i.task",
            score_raw=_text("s.value"),
            score_col="'value (primary)'",
            response="c.response",
        ),
        "attempts": long_select(
            f"{calls} c",
            **common,
            item_id="c.item_id || ' (attempt ' || c.attempt || ')'",
            prompt="c.item_id",
        ),
        "scores": long_select(
            f"{scores} s",
            experiment=literal(experiment),
            _file="'scores'",
            _row="s._row",
            _order="s._row",
            item_id="s.item_id || ' (' || s.scorer || ')'",
            prompt="s.item_id",
            model="s.model_id",
            epoch_raw="s.epoch::VARCHAR",
            score_raw=_text("s.value"),
            score_col="'value'",
        ),
    }
    for view, select in views.items():
        name = f"_parquet_{view}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")
        if con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]:
            validate(con, name, source, ImportOptions(price_missing=False))


def import_parquet(
    store: Store, root: Path, experiments: Sequence[str] | None, *, replace: bool
) -> list[str]:
    """Check every chosen experiment of an exported folder, then read them into `store` (see the docstring)."""
    chosen = list(experiments) if experiments else exported_names(root)
    with store.bulk() as con:
        for name in chosen:
            if name in exported_names(root):
                check_export(con, root, name)
    return import_(store, root, chosen, replace=replace)
