"""Runs shared as Parquet: every table of the chosen experiments written as one folder per table, partitioned by
experiment (`DIR/calls/experiment=NAME/*.parquet`, hive style), read back into any store, or attached read-only
for queries (a local folder, or `s3://`/`https://` through DuckDB's httpfs extension where it is installed).

The experiment's numeric id is local to a store, so the files carry the experiment's name instead; importing gives
each experiment a fresh id. Column lists come from the row types (`rows.TABLES`), so a new column travels too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import duckdb

from llmbench.errors import DataError, StoreError
from llmbench.store.connection import transaction
from llmbench.store.rows import TABLES
from llmbench.store.writes import delete_rows

if TYPE_CHECKING:
    from llmbench.store.store import Store

__all__ = ["attach", "export", "exported_names", "import_", "parquet_glob"]


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_glob(root: str, table: str) -> str:
    """The files of one table under an exported folder (local path or URL)."""
    return f"{root.rstrip('/')}/{table}/*/*.parquet"


def _export_sql(root: Path, experiments: Sequence[str]) -> list[str]:
    """The COPY statements writing each table of `experiments` under `root`, partitioned by experiment."""
    names = "[" + ", ".join(_q(e) for e in experiments) + "]"
    out = []
    for table in TABLES.values():
        if table.name == "experiments":
            cols = ", ".join(c for c in table.columns() if c not in ("id", "name"))
            select = f"SELECT name AS experiment, {cols} FROM experiments WHERE list_contains({names}, name)"
        else:
            cols = ", ".join(f"t.{c}" for c in table.columns() if c != "experiment_id")
            select = (
                f"SELECT e.name AS experiment, {cols} FROM {table.name} t JOIN experiments e "
                f"ON t.experiment_id = e.id WHERE list_contains({names}, e.name)"
            )
        target = _q(str(root / table.name))
        out.append(
            f"COPY ({select}) TO {target} (FORMAT parquet, PARTITION_BY (experiment), OVERWRITE_OR_IGNORE)"
        )
    return out


def _attach_sql(root: str, prefix: str) -> list[str]:
    """Views `{prefix}_{table}` over an exported folder: read-only, queried in place."""
    if not prefix.isidentifier():
        raise StoreError(f"the attach prefix must be a plain identifier, got {prefix!r}")
    return [
        f"CREATE OR REPLACE TEMP VIEW {prefix}_{t} AS SELECT * FROM read_parquet({_q(parquet_glob(root, t))}, "
        "hive_partitioning = true, union_by_name = true)"
        for t in TABLES
    ]


def exported_names(root: Path) -> list[str]:
    """The experiment names an exported folder holds (from its experiments table)."""
    folder = root / "experiments"
    if not folder.is_dir():
        raise DataError(
            f"{root} is not an llmbench Parquet export (no experiments/ folder); write one with "
            "`llmbench export EXPERIMENT --parquet DIR`"
        )
    return sorted(_partitions(folder))


def _partitions(folder: Path) -> set[str]:
    """Experiment names of a table folder's partitions (DuckDB escapes them like URLs: `a/b` is `a%2Fb`)."""
    if not folder.is_dir():
        return set()
    return {
        unquote(p.name.removeprefix("experiment="))
        for p in folder.iterdir()
        if p.name.startswith("experiment=")
    }


def export(store: Store, root: Path, experiments: Sequence[str]) -> Path:
    """Write the experiments' tables under `root` (see the module docstring)."""
    missing = [e for e in experiments if store.get_experiment(e) is None]
    if missing:
        raise StoreError(f"no experiment(s) {missing} in {store.path.name}; `llmbench runs` lists them")
    root.mkdir(parents=True, exist_ok=True)
    with store.connection() as con:
        for statement in _export_sql(root, experiments):
            con.execute(statement)
    return root


def import_(store: Store, root: Path, experiments: Sequence[str] | None, *, replace: bool) -> list[str]:
    """Read exported experiments into `store`, each in one transaction with a fresh id (see the docstring)."""
    names = exported_names(root)
    chosen = list(experiments) if experiments else names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise DataError(f"{root} holds no experiment(s) {unknown}; it holds {names}")
    for name in chosen:
        old = store.get_experiment(name)
        if old is not None and not replace:
            raise StoreError(
                f"experiment {name!r} already exists in {store.path.name}; --replace replaces it"
            )
        with store.bulk() as con, transaction(con):
            if old is not None:  # replaced in the same transaction: a failed import keeps the old rows
                delete_rows(con, old.id)
            cols = [c for c in TABLES["experiments"].columns() if c not in ("id", "name")]
            con.execute(
                f"INSERT INTO experiments BY NAME SELECT experiment AS name, {', '.join(cols)} FROM "
                "read_parquet(?, hive_partitioning = true, union_by_name = true) WHERE experiment = ?",
                [parquet_glob(str(root), "experiments"), name],
            )
            eid = con.execute("SELECT id FROM experiments WHERE name = ?", [name]).fetchall()[0][0]
            for table in TABLES.values():
                if table.name == "experiments" or name not in _partitions(root / table.name):
                    continue
                con.execute(
                    f"INSERT INTO {table.name} BY NAME SELECT ? AS experiment_id, * EXCLUDE (experiment) "
                    "FROM read_parquet(?, hive_partitioning = true, union_by_name = true) WHERE experiment = ?",
                    [eid, parquet_glob(str(root), table.name), name],
                )
        store.forget(name)
    return chosen


def attach(store: Store, root: str, prefix: str) -> list[str]:
    """Views `{prefix}_{table}` over an exported folder or URL, queried in place (read-only); returns the views
    made (a table the export holds no rows of has none)."""
    if not store.keeps_views:
        raise StoreError(
            f"views over an export live in a DuckDB store; {store.path.name} copies its tables for each read. "
            "Attach to a DuckDB store (Store.open('some.duckdb')), or import the export with `import parquet`."
        )
    made = []
    with store.connection() as con:
        for table, statement in zip(TABLES, _attach_sql(root, prefix), strict=True):
            try:
                con.execute(statement)
            except duckdb.IOException:  # the export had no rows of this table (e.g. no tool steps)
                continue
            made.append(f"{prefix}_{table}")
    return made
