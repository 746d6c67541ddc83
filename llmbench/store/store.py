"""The DuckDB run store's front (connection, lock, experiment names, resume cache): opening is in `connection.py`,
the schema in `rows.py`/`migrations.py`, row conversion and inserts in `writes.py`, read SQL in `reads.py`."""

from __future__ import annotations

import contextlib
import importlib
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from llmbench.errors import StoreError
from llmbench.store import reads, writes
from llmbench.store.connection import connect, is_postgres_url, store_location, transaction
from llmbench.store.live import SnapshotServer, live_snapshot, serve_snapshots
from llmbench.store.migrations import LATEST_VERSION, migrate, version_of
from llmbench.store.provenance import git_commit, now, package_versions, sanitize_config, stable_hash
from llmbench.store.rows import Experiment
from llmbench.store.store_reads import StoreReads
from llmbench.store.writes import StoreWrites

__all__ = ["SOURCES", "EmptyStoreError", "Source", "Store"]

Source = Literal["native", "simulated", "imported"]
SOURCES = ("native", "simulated", "imported")

# Writers open in this process by path: a read-only open reuses the writer's database (DuckDB allows one per file)
_WRITERS: weakref.WeakValueDictionary[Path, Store] = weakref.WeakValueDictionary()


class EmptyStoreError(StoreError):
    """A store file with no tables: created by a first run that was stopped before its first migration."""


class Store(StoreReads, StoreWrites):
    """A run store file. Use `Store.open(path, read_only=...)`; close it (or use `with`) when done."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self._finished: dict[int, set[str]] = {}
        self._ids: dict[str, int] = {}
        self.closed = False

    # -- opening ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, read_only: bool = False) -> Store:
        """Open (creating and migrating when writing) the store at `path` (default: `default_store_path()`)."""
        location = store_location(path)
        if is_postgres_url(location):  # the backend by name: it subclasses Store, so it is imported on use
            backend = importlib.import_module("llmbench.store.postgres").PostgresStore
            return backend.open_url(location, read_only=read_only)  # type: ignore[no-any-return]
        path = Path(location).expanduser().resolve()
        writer = _WRITERS.get(path)
        if writer is not None and not writer.closed:
            if read_only:
                with writer._lock:
                    return cls(writer._con.cursor(), path, read_only=True)
            raise StoreError(
                f"{path.name} is already open for writing in this process; reuse that Store or close it first."
            )
        try:
            con = connect(path, read_only)
        except StoreError:
            # another process writes the file: a reader asks it for what it has committed so far
            snapshot = live_snapshot(path) if read_only else None
            if snapshot is None:
                raise
            con = snapshot
        store = cls(con, path, read_only=read_only)
        try:
            store._check_or_migrate()
        except BaseException:
            con.close()
            raise
        if not read_only:
            _WRITERS[path] = store
            store._snapshots = serve_snapshots(path, store)
        return store

    def _check_or_migrate(self) -> None:
        con = self._con
        has_version = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchall()[0][0]
        if self.read_only and not has_version:
            if not con.execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0]:
                raise EmptyStoreError(
                    f"{self.path} holds no tables yet: a first run stopped before it set the store up (nothing "
                    "was sent); run `llmbench eval` again."
                )
            raise StoreError(
                f"{self.path} is a DuckDB file but not an llmbench run store (no schema_version)."
            )
        current = version_of(con) if has_version else 0
        if current > LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this llmbench knows ({LATEST_VERSION}); "
                "upgrade llmbench."
            )
        if not self.read_only:
            migrate(con)
        elif current < LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current} (current: {LATEST_VERSION}); open it once for "
                "writing (e.g. `llmbench eval`) to upgrade it."
            )

    @property
    def schema_version(self) -> int:
        """The highest migration applied to this file."""
        with self._lock:
            return version_of(self._con)

    _snapshots: SnapshotServer | None = None  # a writer answers readers of other processes

    def close(self) -> None:
        """Close the file (a read-only view of an in-process writer only drops its cursor)."""
        if self._snapshots is not None:
            self._snapshots.close()
        with self._lock:
            if not self.closed:
                self._con.close()
                self.closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"Store({str(self.path)!r}, {mode}{', closed' if self.closed else ''})"

    def _writable(self) -> duckdb.DuckDBPyConnection:
        if self.closed:
            raise StoreError(f"the store {self.path} is closed; open it again.")
        if self.read_only:
            raise StoreError(
                f"the store {self.path} is open read-only; open it with read_only=False to write."
            )
        return self._con

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run any SQL against the store and return a DataFrame (for notebooks)."""
        with self._lock:
            return self._con.execute(query, params or []).df()

    # -- experiments ----------------------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        *,
        config: dict[str, Any] | None = None,
        source: Source = "native",
        git_commit_sha: str | Literal["auto"] | None = "auto",
        versions: dict[str, str] | None = None,
        exist_ok: bool = True,
    ) -> Experiment:
        """Create experiment `name` (or return it when it exists and `exist_ok`); the config is sanitised."""
        if not isinstance(name, str) or not name.strip():
            raise StoreError("an experiment needs a non-empty name.")
        if source not in SOURCES:
            raise StoreError(f"source must be one of {SOURCES}, got {source!r}.")
        with self._lock:
            con = self._writable()
            existing = self.get_experiment(name)
            if existing is not None:
                if not exist_ok:
                    raise StoreError(
                        f"experiment {name!r} already exists in {self.path.name}; choose another "
                        "name or delete it first."
                    )
                return existing
            clean = sanitize_config(config) if config is not None else None
            row = Experiment(
                name=name,
                created_at=now(),
                config=clean,
                config_hash=None if clean is None else stable_hash(clean),
                git_commit=git_commit() if git_commit_sha == "auto" else git_commit_sha,
                package_versions=versions if versions is not None else package_versions(),
                source=source,
            )
            row_values = writes.values(row)
            del row_values["id"]  # from the sequence
            writes.append(con, "experiments", [row_values])
            return self.get_experiment(name)  # type: ignore[return-value]  # just inserted

    def get_experiment(self, name: str) -> Experiment | None:
        """The experiment called `name`, or None."""
        with self._lock:
            return reads.experiment(self._con, name)

    def delete_experiment(self, name: str) -> None:
        """Remove an experiment and all its items, calls and scores."""
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(name)
            with transaction(con):
                writes.delete_rows(self._con, eid)
            self.forget(name)

    def _experiment_id(self, name: str) -> int:
        eid = self._ids.get(name)
        if eid is None:
            exp = self.get_experiment(name)
            if exp is None:
                raise StoreError(f"no experiment {name!r} in {self.path.name}; create it first.")
            eid = self._ids[name] = exp.id
        return eid

    def spent(self, experiment: str) -> tuple[float, int, float]:
        """(USD of stored attempts, attempts sent with their outcome unknown, their estimated USD)."""
        with self._lock:
            exp = self.get_experiment(experiment)
            if exp is None:
                return 0.0, 0, 0.0
            row = self._con.execute(reads.SPENT, [exp.id, exp.id]).fetchall()[0]
        return float(row[0]), int(row[1]), float(row[2])

    def finished_count(self, experiment: str) -> int:
        """How many run keys of `experiment` are finished (counted in SQL, no key list built)."""
        with self._lock:
            exp = self.get_experiment(experiment)
            if exp is None:
                return 0
            sql = f"SELECT count(*) FROM ({reads.FINISHED_KEYS}) AS finished"
            return int(self._con.execute(sql, [exp.id, exp.id]).fetchall()[0][0])

    def set_plan(self, experiment: str, plan: str | None, planned: int | None) -> None:
        """Record the fingerprint and size of a plan that ran to completion (None clears it)."""
        with self._lock:
            con = self._writable()
            con.execute(
                "UPDATE experiments SET plan = ?, planned = ? WHERE id = ?",
                [plan, planned, self._experiment_id(experiment)],
            )

    def claim(self, experiment: str, run_key: str) -> bool:
        """Whether this process may run `run_key` now. A DuckDB file has one writer, so always; a shared store
        (PostgreSQL) says no while another process runs it, or once it is finished."""
        return True

    def _finished_set(self, eid: int) -> set[str]:
        if eid not in self._finished:
            self._finished[eid] = {
                r[0] for r in self._con.execute(reads.FINISHED_KEYS, [eid, eid]).fetchall()
            }
        return self._finished[eid]

    def finished_keys(self, experiment: str) -> set[str]:
        """Run keys of `experiment` with a final successful call and its score (what a resume skips)."""
        with self._lock:
            exp = self.get_experiment(experiment)
            if exp is None:
                return set()
            return {r[0] for r in self._con.execute(reads.FINISHED_KEYS, [exp.id, exp.id]).fetchall()}

    def _count(self, table: str, eid: int) -> int:
        return int(
            self._con.execute(f"SELECT count(*) FROM {table} WHERE experiment_id = ?", [eid]).fetchall()[0][0]
        )

    @contextlib.contextmanager
    def writing(self) -> Iterator[Any]:
        """The connection the store writes through, under its lock, for a module's own statements (e.g. the
        batch bookkeeping): a DuckDB connection here, a `PgConnection` on PostgreSQL."""
        with self._lock:
            yield self._writable()

    keeps_views = (
        True  # views made in `connection()` outlive the block (not so on PostgreSQL: each read copies)
    )

    @contextlib.contextmanager
    def bulk(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store's connection under its lock, for bulk SQL such as imports building views to insert from
        (`insert_runs`); write to the tables only through Store methods."""
        with self._lock:
            yield self._writable()

    def insert_runs(
        self,
        view: str,
        experiment: str,
        source: Source = "imported",
        *,
        config: dict[str, Any] | None = None,
        scorer: str = "score",
        replace: bool = False,
    ) -> int:
        """Write one experiment's rows of a validated runs view (see `llmbench.imports`) as items, one final call
        per row and scores, in one transaction; returns the rows written. The view lives in this store's
        connection (`bulk`)."""
        with self._lock:
            old = self.get_experiment(experiment)
            if old is not None and not replace:
                raise StoreError(
                    f"experiment {experiment!r} already exists in {self.path.name}; choose another name "
                    "(--name), or replace it (--replace)."
                )
            return self._insert_runs(view, experiment, source, config, scorer, old)

    def _insert_runs(
        self, view: str, experiment: str, source: Source, config: dict[str, Any] | None, scorer: str, old: Any
    ) -> int:
        """`insert_runs` once the name is checked: `old` (the experiment of that name, or None) is replaced."""
        con = self._writable()
        try:
            with transaction(con):
                # replaced in the same transaction: a failed import keeps the old rows
                if old is not None:
                    writes.delete_rows(self._con, old.id)
                    self.forget(experiment)
                exp = self.create_experiment(experiment, config=config, source=source, git_commit_sha=None)
                n = writes.insert_runs(
                    con, view, exp.id, experiment, simulated=source == "simulated", scorer=scorer, now=now()
                )
        except BaseException:
            self._ids.pop(experiment, None)
            raise
        self._finished.pop(exp.id, None)
        return n

    # -- whole-table SQL (e.g. `llmbench.store.parquet`) --------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store's connection under its lock (read-only stores too), for whole-table SQL such as exports."""
        with self._lock:
            if self.closed:
                raise StoreError(f"the store {self.path} is closed; open it again.")
            yield self._con

    def forget(self, name: str) -> None:
        """Drop what this Store caches about experiment `name` (after SQL changed it behind the methods)."""
        self._finished.pop(self._ids.pop(name, -1), None)
