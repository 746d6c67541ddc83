"""One import, two destinations: a reader builds its long view, `validate` checks it, and the rows go to a pandas
runs frame (`to_frame`) or straight into a run store with SQL (`into_store`), never both through pandas."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from llmbench.imports.validate import ImportOptions, ImportReport, validate
from llmbench.store.frames import RUNS_COLUMNS, runs_frame_dtypes

if TYPE_CHECKING:
    from llmbench.store import Store

__all__ = ["Builder", "into_store", "to_frame"]

IMPORT_MEMORY = "1GB"  # DuckDB's working memory during an import into a store (it spills beyond)
Builder = Callable[[duckdb.DuckDBPyConnection], str]  # builds a long view in the connection, returns its name


def to_frame(
    build: Builder, source: str, options: ImportOptions | None = None, *, split: bool | None = None
) -> pd.DataFrame:
    """The runs frame of an import, plus a `split` column (always, never, or None: when the files carry one);
    its `ImportReport` is in `frame.attrs["import_report"]`."""
    con = duckdb.connect()
    try:
        runs, report = validate(con, build(con), source, options)
        report.columns = dict(getattr(build, "taken", {}))
        has_split = (
            split
            if split is not None
            else con.execute(f"SELECT count(split) FROM {runs}").fetchall()[0][0] > 0
        )
        cols = ", ".join([*RUNS_COLUMNS, *(["split"] if has_split else [])])
        frame = con.execute(f"SELECT {cols} FROM {runs} ORDER BY _order, _file, _row").df()
    finally:
        con.close()
    out = runs_frame_dtypes(frame)
    if has_split:
        out["split"] = frame["split"].astype("str")
    out.attrs["import_report"] = report
    return out


def into_store(
    store: Store,
    build: Builder,
    source: str,
    options: ImportOptions | None = None,
    *,
    config: dict[str, Any] | None = None,
    kind: str = "imported",
    replace: bool = False,
) -> ImportReport:
    """Validate an import and write each of its experiments into `store` (one transaction each), all in SQL."""
    with store.bulk() as con:
        # large files: DuckDB spills to disk (its `<store>.tmp` folder) instead of holding every row in memory
        con.execute(f"SET memory_limit = '{IMPORT_MEMORY}'")
        con.execute("SET preserve_insertion_order = false")
        try:
            runs, report = validate(con, build(con), source, options)
            report.columns = dict(getattr(build, "taken", {}))
            provenance = {**(config or {}), "import": _provenance(report)}
            for experiment in report.experiments:
                store.insert_runs(runs, experiment, kind, config=provenance, replace=replace)  # type: ignore[arg-type]
        finally:
            _drop_temporaries(con)
            for setting in ("memory_limit", "preserve_insertion_order"):
                con.execute(f"RESET {setting}")
    return report


def _drop_temporaries(con: duckdb.DuckDBPyConnection) -> None:
    """Free what the import built in the store's connection (raw tables can be large)."""
    for (name,) in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall():
        con.execute(f'DROP VIEW IF EXISTS "{name}" CASCADE')
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
        con.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    for (name,) in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall():
        con.execute(f'DROP VIEW IF EXISTS "{name}"')


def _provenance(report: ImportReport) -> dict[str, Any]:
    """What the experiment's config keeps of its import: how scores were read and costs obtained."""
    return {
        "source": report.source,
        "rows": report.rows,
        "rescaled_from": list(report.rescaled) if report.rescaled else None,
        "clipped": report.clipped,
        "cost_basis": report.cost_basis,
        "unpriced": report.unpriced,
    }
