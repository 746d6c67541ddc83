"""The run store on PostgreSQL (`--store postgresql://...`, or `$LLMBENCH_STORE`): one store that several processes
write at once (evals on several machines, gateway replicas), with the DuckDB store's guarantees, each write one
PostgreSQL transaction. Install `llmbench[postgres]` (psycopg).

The same row types and numbered migrations make its tables (DuckDB's DOUBLE is PostgreSQL's DOUBLE PRECISION;
each table gets a `_row` identity, the insertion order DuckDB's `rowid` gives). The write side is `Store`'s own
code over `PgConnection`, which speaks the few statements it sends in PostgreSQL's words. Reads for analysis
(runs, report, view, router training, export) copy the tables into a local DuckDB database in batches and run the
DuckDB store's own read SQL there, so every frame is the same as from a DuckDB file with the same rows. Bulk SQL
written for DuckDB (the importers, `import parquet`) runs in a DuckDB staging file whose experiments are then
copied to PostgreSQL, each in one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pandas as pd
import pyarrow as pa

from llmbench.errors import ConfigError, StoreError, register_secret
from llmbench.store.connection import postgres_url, store_label, transaction
from llmbench.store.migrations import migrate
from llmbench.store.rows import TABLES
from llmbench.store.store import Source, Store

__all__ = ["PgConnection", "PostgresStore", "pg_sql"]


_BATCH = 50_000  # rows per fetch when copying a table
_FINISHED_ONE = """SELECT 1 FROM calls WHERE experiment_id = ? AND run_key = ? AND final AND error_class IS NULL
AND EXISTS (SELECT 1 FROM scores WHERE experiment_id = ? AND run_key = ?) LIMIT 1"""


def _lock_id(experiment_id: int, run_key: str) -> int:
    """A run key's advisory lock id: a signed 64-bit number from its experiment and key."""
    digest = hashlib.sha256(f"{experiment_id}:{run_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_MIGRATION_LOCK = 7_245_091  # a pg_advisory_lock id: one process migrates at a time


# The statements `Store` sends, in PostgreSQL's words: its placeholders, DuckDB's `INSERT OR IGNORE`, `list_contains`
# and `DOUBLE`; each table gets its insertion order.
_PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = ((re.compile(r"%"), "%%"), (re.compile(r"\?"), "%s"))
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"list_contains\(%s, (\w+)\)"), r"\1 = ANY(%s)"),
    (re.compile(r"\bDOUBLE\b"), "DOUBLE PRECISION"),
    (re.compile(r"^(CREATE TABLE IF NOT EXISTS \w+ \(\n.*)\n\)$", re.S), "\\1,\n    _row BIGSERIAL\n)"),
)
_OR_IGNORE = re.compile(r"^INSERT OR IGNORE INTO (.*)$", re.S)


def pg_sql(sql: str, *, params: bool = True) -> str:
    """One of the store's statements as PostgreSQL takes it (`params`: it is sent with parameters, so its `?` are
    psycopg's `%s` and a literal `%` is `%%`)."""
    for pattern, replacement in (*_PLACEHOLDERS, *_REWRITES) if params else _REWRITES:
        sql = pattern.sub(replacement, sql)
    ignored = _OR_IGNORE.match(sql)
    return f"INSERT INTO {ignored[1]} ON CONFLICT DO NOTHING" if ignored else sql


class PgConnection:
    """A psycopg connection with the part of DuckDB's connection API the store's write side uses."""

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.types.string import TextLoader

        self.url = url
        try:
            self.pg = psycopg.connect(url, autocommit=True)  # transactions are the store's BEGIN ... COMMIT
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {store_label(url)}: {exc}") from None
        for json_type in ("json", "jsonb"):  # JSON columns come back as the text DuckDB gives
            self.pg.adapters.register_loader(json_type, TextLoader)
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgConnection:
        import psycopg

        try:
            values = list(params) if params else None
            cur = self.pg.execute(pg_sql(sql, params=values is not None), values)
        except psycopg.Error as exc:
            raise StoreError(f"the PostgreSQL store refused a statement: {exc}") from None
        self._rows = cur.fetchall() if cur.description else []
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        self.pg.close()


class PostgresStore(Store):
    """A run store in a PostgreSQL database; see the module docstring. Open it with `Store.open(url)`."""

    _con: Any  # a PgConnection: the write side's SQL goes through it
    keeps_views = False

    @classmethod
    def open_url(cls, location: str | Path, *, read_only: bool = False) -> PostgresStore:
        """Connect to (and, when writing, migrate) the store at a `postgresql://` URL."""
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(
                "a PostgreSQL run store needs psycopg: pip install 'llmbench[postgres]'"
            ) from None
        url = postgres_url(location)
        parts = urlsplit(url)
        register_secret(parts.password)
        con = PgConnection(url)
        store = cls(con, Path(store_label(url)), read_only)  # type: ignore[arg-type]
        store.url, store._claimed = url, {}
        try:
            if not read_only:
                store._migrate()
        except BaseException:
            con.close()
            raise
        return store

    url: str = ""
    _claimed: dict[int, str]  # advisory lock id -> the run key this process holds it for

    def _migrate(self) -> None:
        """The DuckDB store's migrations, one process at a time (an advisory lock), each in one transaction."""
        con = self._con
        con.execute(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})")
        try:
            migrate(con)
        finally:
            con.execute(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK})")

    def _check_or_migrate(self) -> None:  # opening is `open_url`'s
        pass

    def __repr__(self) -> str:
        return f"PostgresStore({store_label(self.url)!r}{', read-only' if self.read_only else ''})"

    def create_experiment(self, name: str, **kwargs: Any) -> Any:
        """As `Store.create_experiment`; two writers creating the same experiment at once get the same one."""
        try:
            return super().create_experiment(name, **kwargs)
        except StoreError:
            existing = self.get_experiment(name)
            if existing is None or not kwargs.get("exist_ok", True):
                raise
            return existing

    # -- claims: two processes running one experiment split its work -----------------------------------------

    def claim(self, experiment: str, run_key: str) -> bool:
        """A session-level advisory lock on the run key, taken only when no other process holds it and the key is
        not finished; released once the key's result is committed, or by PostgreSQL when this process's
        connection ends (a `kill -9` too), so a crashed process never blocks a resume."""
        with self._lock:
            eid = self._experiment_id(experiment)
            lock = _lock_id(eid, run_key)
            if not self._con.execute("SELECT pg_try_advisory_lock(?)", [lock]).fetchall()[0][0]:
                return False
            if self._con.execute(_FINISHED_ONE, [eid, run_key, eid, run_key]).fetchall():
                self._con.execute("SELECT pg_advisory_unlock(?)", [lock])
                return False
            self._claimed[lock] = run_key
            return True

    def write_results(
        self, experiment: str, calls: Sequence[Any], scores: Sequence[Any] = (), **kw: Any
    ) -> int:
        """As `Store.write_results`; then the claims on the run keys written are released."""
        with self._lock:
            newly = super().write_results(experiment, calls, scores, **kw)
            if self._claimed:
                eid = self._experiment_id(experiment)
                for key in {c.run_key for c in calls}:
                    lock = _lock_id(eid, key)
                    if self._claimed.pop(lock, None) is not None:
                        self._con.execute("SELECT pg_advisory_unlock(?)", [lock])
            return newly

    # -- reads: the tables copied into DuckDB, the DuckDB store's SQL run there ---------------------------

    def _frame(self, query: str, *params: Any) -> pd.DataFrame:
        # the read SQL's first parameter names the experiments it reads (None: all): only those are copied
        names = params[0] if params and isinstance(params[0], list) else None
        with self._copy(names) as duck:
            return duck.execute(query, list(params)).df()

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL against a copy of the store's tables (as `Store.sql` on a file)."""
        with self.connection() as duck:
            return duck.execute(query, list(params or [])).df()

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB database holding a copy of every table as committed now (for the read SQL and exports)."""
        with self._copy(None) as duck:
            yield duck

    @contextlib.contextmanager
    def _copy(self, experiments: list[str] | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A temporary DuckDB database with the rows of these experiments (None: every one) as committed now."""
        with self._lock, tempfile.TemporaryDirectory(prefix="llmbench-pg-") as tmp:
            duck = duckdb.connect(str(Path(tmp) / "mirror.duckdb"))
            try:
                migrate(duck)
                self._copy_into(duck, experiments)
                yield duck
            finally:
                duck.close()

    def _copy_into(self, duck: duckdb.DuckDBPyConnection, experiments: list[str] | None) -> None:
        """The tables' rows in insertion order, in one snapshot, fetched in batches (a table never has to fit in
        memory); only the named experiments' rows when `experiments` is given."""
        pg = self._con.pg
        with pg.transaction():  # one snapshot of every table
            pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for table in TABLES.values():
                columns = table.columns()
                where, args = "", []
                if experiments is not None:
                    key = "id" if not table.per_experiment else "experiment_id"
                    where = f"WHERE {key} IN (SELECT id FROM experiments WHERE name = ANY(%s))"
                    args = [experiments]
                with pg.cursor(name=f"llmbench_copy_{table.name}") as cur:
                    cur.execute(f"SELECT {', '.join(columns)} FROM {table.name} {where} ORDER BY _row", args)
                    while batch := cur.fetchmany(_BATCH):
                        # Arrow keeps an integer column with nulls an integer column (pandas would make it float)
                        frame = pa.table(
                            {c: pa.array(v) for c, v in zip(columns, zip(*batch, strict=True), strict=True)}
                        )
                        duck.register("_llmbench_batch", frame)
                        try:
                            duck.execute(f"INSERT INTO {table.name} BY NAME SELECT * FROM _llmbench_batch")
                        finally:
                            duck.unregister("_llmbench_batch")

    # -- bulk SQL written for DuckDB: staged in a DuckDB file, then copied --------------------------------

    _stage: Store | None = None

    @contextlib.contextmanager
    def bulk(self) -> Iterator[Any]:
        """A DuckDB staging database for bulk SQL (imports); the experiments written there are copied to
        PostgreSQL when the block ends, each in one transaction (one that exists here is replaced: the
        importers ask `--replace` first)."""
        with self._lock, tempfile.TemporaryDirectory(prefix="llmbench-stage-") as tmp:
            stage = Store.open(Path(tmp) / "stage.duckdb")
            self._stage = stage
            try:
                with stage.bulk() as con:
                    yield con
                for name in stage.experiments_frame()["name"]:
                    self._publish(stage, str(name))
            finally:
                self._stage = None
                stage.close()

    def _insert_runs(
        self, view: str, experiment: str, source: Source, config: dict[str, Any] | None, scorer: str, old: Any
    ) -> int:
        """Staged: the view lives in the `bulk` staging database; an `old` experiment is replaced on publishing."""
        if self._stage is None:
            raise StoreError("insert_runs on a PostgreSQL store runs inside `with store.bulk():`")
        return self._stage.insert_runs(view, experiment, source, config=config, scorer=scorer, replace=True)

    def _publish(self, stage: Store, name: str) -> None:
        """Copy one staged experiment (replacing one of that name) in one PostgreSQL transaction."""
        from llmbench.store import writes

        exp = stage.get_experiment(name)
        assert exp is not None
        with stage.connection() as src, self._lock, transaction(self._con):
            old = self.get_experiment(name)
            if old is not None:
                writes.delete_rows(self._con, old.id)
            meta = TABLES["experiments"].columns()[1:]  # a fresh id from this store's sequence
            row = src.execute(f"SELECT {', '.join(meta)} FROM experiments WHERE id = ?", [exp.id]).fetchall()[
                0
            ]
            self._con.execute(
                f"INSERT INTO experiments ({', '.join(meta)}) VALUES ({', '.join('?' * len(meta))})",
                list(row),
            )
            eid = self._con.execute("SELECT id FROM experiments WHERE name = ?", [name]).fetchall()[0][0]
            for table in TABLES.values():
                if not table.per_experiment:
                    continue
                columns = table.columns()[1:]
                cur = src.execute(
                    f"SELECT {', '.join(columns)} FROM {table.name} WHERE experiment_id = ? ORDER BY rowid",
                    [exp.id],
                )
                copy_sql = f"COPY {table.name} (experiment_id, {', '.join(columns)}) FROM STDIN"
                with self._con.pg.cursor().copy(copy_sql) as copy:
                    while batch := cur.fetchmany(_BATCH):
                        for values in batch:
                            copy.write_row((eid, *values))
        self.forget(name)
