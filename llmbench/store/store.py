"""The DuckDB run store: one file, one writing process, any number of readers when nobody writes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from llmbench.errors import DataError, StoreError, redact
from llmbench.store import queries
from llmbench.store.records import (
    CallRecord,
    IntentRecord,
    ScoreRecord,
    git_commit,
    package_versions,
    run_key,
    sanitize_config,
    stable_hash,
    to_timestamp,
)
from llmbench.store.schema import (
    CALL_COLUMNS,
    INTENT_COLUMNS,
    ITEM_COLUMNS,
    LATEST_VERSION,
    MIGRATIONS,
    SCHEMA_VERSION_DDL,
    SCORE_COLUMNS,
    TOOL_STEP_COLUMNS,
)

Source = Literal["native", "simulated", "imported"]
SOURCES = ("native", "simulated", "imported")
DEFAULT_STORE = "llmbench.duckdb"

# Writers open in this process, by resolved path: a read-only open of the same file reuses the writer's
# database (DuckDB refuses a second configuration of one file inside a process).
_WRITERS: weakref.WeakValueDictionary[Path, Store] = weakref.WeakValueDictionary()
_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def default_store_path() -> Path:
    """`$LLMBENCH_STORE` when set, else ./llmbench.duckdb."""
    return Path(os.environ.get("LLMBENCH_STORE") or DEFAULT_STORE)


@dataclass(frozen=True)
class Experiment:
    """One row of the experiments table."""

    id: int
    name: str
    created_at: datetime
    config: dict[str, Any] | None
    config_hash: str | None
    git_commit: str | None
    package_versions: dict[str, str] | None
    source: str


def _lock_error(path: Path, exc: Exception, read_only: bool) -> StoreError:
    """Turn DuckDB's lock message into one that names the holder and says what to do."""
    m = _LOCK_RE.search(str(exc))
    if m is None:
        return StoreError(f"cannot open the run store {path}: {exc}")
    who = f"PID {m['pid']} ({m['exe']})"
    if "read-only mode" in str(exc):  # DuckDB adds this hint only when the holder is a reader
        return StoreError(
            f"{path.name} is open read-only by {who}, e.g. a notebook; a writer needs the file alone: "
            "close it there (store.close() or restart the kernel) and retry, or write to another store "
            "file (LLMBENCH_STORE / --store)."
        )
    if read_only:
        return StoreError(
            f"{path.name} is being written by {who}; DuckDB lets no other process read a file while it is "
            "being written, so wait for that run to finish and open it read-only then, or have the run "
            "write to another store file (LLMBENCH_STORE / --store)."
        )
    return StoreError(
        f"{path.name} is being written by {who}; wait for it to finish (or stop it), or write to another "
        "store file (LLMBENCH_STORE / --store). Open it read-only once the writer is done."
    )


class Store:
    """A run store file. Use `Store.open(path, read_only=...)`; close it (or use `with`) when done."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, owner: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._owner = owner
        self._lock = threading.RLock()
        self._finished: dict[int, set[str]] = {}
        self._ids: dict[str, int] = {}
        self.closed = False

    # -- opening ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, read_only: bool = False) -> Store:
        """Open (creating and migrating when writing) the store at `path` (default: `default_store_path()`)."""
        path = Path(path or default_store_path()).expanduser().resolve()
        writer = _WRITERS.get(path)
        if writer is not None and not writer.closed:
            if read_only:
                with writer._lock:
                    return cls(writer._con.cursor(), path, read_only=True, owner=False)
            raise StoreError(
                f"{path.name} is already open for writing in this process; reuse that Store or close it first."
            )
        if read_only and not path.exists():
            raise StoreError(f"no run store at {path}; run `llmbench eval` first or pass the right path.")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            raise _lock_error(path, exc, read_only) from None
        except duckdb.ConnectionException as exc:
            raise StoreError(
                f"{path.name} is already open read-only in this process; close that Store before writing. ({exc})"
            ) from None
        except duckdb.Error as exc:
            raise StoreError(f"{path} is not a usable DuckDB run store: {exc}") from None
        store = cls(con, path, read_only=read_only, owner=True)
        try:
            store._check_or_migrate()
        except BaseException:
            con.close()
            raise
        if not read_only:
            _WRITERS[path] = store
        return store

    def _check_or_migrate(self) -> None:
        con = self._con
        has_table = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchall()[0][0]
        if self.read_only and not has_table:
            raise StoreError(
                f"{self.path} is a DuckDB file but not an llmbench run store (no schema_version)."
            )
        if not self.read_only:
            con.execute(SCHEMA_VERSION_DDL)
        current = self.schema_version
        if current > LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this llmbench knows ({LATEST_VERSION}); "
                "upgrade llmbench."
            )
        if self.read_only:
            if current < LATEST_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {current} (current: {LATEST_VERSION}); open it once for "
                    "writing (e.g. `llmbench eval`) to upgrade it."
                )
            return
        for m in MIGRATIONS:
            if m.version <= current:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in m.statements:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [m.version, m.description, _now()])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        """The highest migration applied to this file."""
        with self._lock:
            return int(
                self._con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
            )

    def close(self) -> None:
        """Close the file (a read-only view of an in-process writer only drops its cursor)."""
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
                        f"experiment {name!r} already exists in {self.path.name}; choose another name or "
                        "delete it first."
                    )
                return existing
            clean = sanitize_config(config) if config is not None else None
            sha = git_commit() if git_commit_sha == "auto" else git_commit_sha
            con.execute(
                "INSERT INTO experiments (name, created_at, config, config_hash, git_commit, package_versions,"
                " source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    _now(),
                    None if clean is None else json.dumps(clean, sort_keys=True, default=str),
                    None if clean is None else stable_hash(clean),
                    sha,
                    json.dumps(versions if versions is not None else package_versions(), sort_keys=True),
                    source,
                ],
            )
            exp = self.get_experiment(name)
            assert exp is not None
            return exp

    def get_experiment(self, name: str) -> Experiment | None:
        """The experiment called `name`, or None."""
        with self._lock:
            row = self._con.execute(
                "SELECT id, name, created_at, config, config_hash, git_commit, package_versions, source "
                "FROM experiments WHERE name = ?",
                [name],
            ).fetchall()  # fetchall: DuckDB 2 keeps a fetchone() result open and blocks the connection
        row = row[0] if row else None
        if row is None:
            return None
        cfg, versions = (json.loads(v) if v is not None else None for v in (row[3], row[6]))
        return Experiment(row[0], row[1], row[2], cfg, row[4], row[5], versions, row[7])

    def delete_experiment(self, name: str) -> None:
        """Remove an experiment and all its items, calls and scores."""
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(name)
            con.execute("BEGIN TRANSACTION")
            try:
                self._delete_rows(eid)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self._forget(name, eid)

    def _delete_rows(self, eid: int) -> None:
        for table in ("intents", "tool_steps", "scores", "calls", "items", "experiments"):
            column = "id" if table == "experiments" else "experiment_id"
            self._con.execute(f"DELETE FROM {table} WHERE {column} = ?", [eid])

    def _forget(self, name: str, eid: int) -> None:
        self._ids.pop(name, None)
        self._finished.pop(eid, None)

    def _experiment_id(self, name: str) -> int:
        eid = self._ids.get(name)
        if eid is None:
            exp = self.get_experiment(name)
            if exp is None:
                raise StoreError(f"no experiment {name!r} in {self.path.name}; create it first.")
            eid = self._ids[name] = exp.id
        return eid

    # -- writing --------------------------------------------------------------------------------------------

    def add_items(self, experiment: str, items: Iterable[Any]) -> int:
        """Record the dataset items of an experiment (`Item`s or dicts); ids already there are kept as is.

        Every item is checked before anything is written, so a bad one leaves the store untouched.
        """
        rows = [_item_row(i, n) for n, i in enumerate(items)]
        seen: dict[str, int] = {}
        for n, row in enumerate(rows):
            if row[0] in seen:
                raise DataError(f"item id {row[0]!r} appears twice (positions {seen[row[0]]} and {n}).")
            seen[row[0]] = n
        with self._lock:
            self._writable()
            eid = self._experiment_id(experiment)
            before = self._count("items", eid)
            self._append("items", ITEM_COLUMNS, [(eid, *r) for r in rows], ignore_conflicts=True)
            return self._count("items", eid) - before

    def write_results(
        self,
        experiment: str,
        calls: Sequence[CallRecord],
        scores: Sequence[ScoreRecord] = (),
        *,
        intents: Sequence[IntentRecord] = (),
        resolved: Sequence[str] = (),
    ) -> int:
        """Write attempts and scores in ONE transaction; returns how many run keys became finished.

        A run key is finished when its final successful call and its scores are stored. Write a key's final
        call and its scores in the same call to this method: then a crash (even `kill -9`) leaves either
        both or neither. Rows for keys already finished are dropped, so a repeated write adds no duplicates.
        `intents` are attempts about to be sent (stored first); `resolved` the intent ids whose outcome these
        calls record (removed in the same transaction, so an attempt is always in exactly one of the two).
        """
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(experiment)
            done = self._finished_set(eid)
            calls = [c for c in calls if c.run_key not in done]
            scores = [s for s in scores if s.run_key not in done]
            scored = {s.run_key for s in scores}
            newly = {c.run_key for c in calls if c.final and c.ok and c.run_key in scored}
            now = _now()
            call_rows = [_call_row(eid, c) for c in calls]
            score_rows = [
                (eid, s.run_key, s.item_id, s.model_id, int(s.epoch), s.scorer, _float(s.value),
                 redact(s.explanation) if s.explanation else s.explanation, bool(s.is_primary), now)
                for s in scores
            ]  # fmt: skip
            intent_rows = [
                (eid, i.intent_id, i.run_key, i.item_id, i.model_id, int(i.epoch), int(i.attempt),
                 to_timestamp(i.sent_at), _float(i.est_cost_usd))
                for i in intents
            ]  # fmt: skip
            con.execute("BEGIN TRANSACTION")
            try:
                self._append("intents", INTENT_COLUMNS, intent_rows, ignore_conflicts=True)
                self._append("calls", CALL_COLUMNS, call_rows)
                self._append("scores", SCORE_COLUMNS, score_rows)
                if resolved:
                    con.execute(
                        "DELETE FROM intents WHERE experiment_id = ? AND list_contains(?, intent_id)",
                        [eid, list(resolved)],
                    )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            done |= newly
            return len(newly)

    def spent(self, experiment: str) -> tuple[float, int, float]:
        """(USD of stored attempts, attempts sent with their outcome unknown, their estimated USD)."""
        with self._lock:
            exp = self.get_experiment(experiment)
            if exp is None:
                return 0.0, 0, 0.0
            row = self._con.execute(queries.SPENT, [exp.id, exp.id]).fetchall()[0]
        return float(row[0]), int(row[1]), float(row[2])

    def _finished_set(self, eid: int) -> set[str]:
        if eid not in self._finished:
            self._finished[eid] = set(
                r[0] for r in self._con.execute(queries.FINISHED_KEYS, [eid, eid]).fetchall()
            )
        return self._finished[eid]

    def finished_keys(self, experiment: str) -> set[str]:
        """Run keys of `experiment` with a final successful call and its score (what a resume skips)."""
        with self._lock:
            exp = self.get_experiment(experiment)
            if exp is None:
                return set()
            return {r[0] for r in self._con.execute(queries.FINISHED_KEYS, [exp.id, exp.id]).fetchall()}

    def _append(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[tuple] | pd.DataFrame,
        *,
        ignore_conflicts: bool = False,
    ) -> None:
        """Insert many rows in one statement (a DataFrame scan for big batches, one VALUES list else)."""
        if len(rows) == 0:
            return
        verb = "INSERT OR IGNORE INTO" if ignore_conflicts else "INSERT INTO"
        cols = ", ".join(columns)
        if isinstance(rows, pd.DataFrame) or len(rows) > 64:
            if isinstance(rows, pd.DataFrame):
                frame = rows[list(columns)]
            else:
                frame = pd.DataFrame.from_records(rows, columns=list(columns))
            self._con.register("_llmbench_rows", frame)
            try:
                self._con.execute(f"{verb} {table} ({cols}) SELECT {cols} FROM _llmbench_rows")
            finally:
                self._con.unregister("_llmbench_rows")
            return
        one = "(" + ", ".join("?" * len(columns)) + ")"
        params = [v for row in rows for v in row]
        self._con.execute(f"{verb} {table} ({cols}) VALUES {', '.join([one] * len(rows))}", params)

    def _count(self, table: str, eid: int) -> int:
        return int(
            self._con.execute(f"SELECT count(*) FROM {table} WHERE experiment_id = ?", [eid]).fetchall()[0][0]
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
            con = self._writable()
            old = self.get_experiment(experiment)
            if old is not None and not replace:
                raise StoreError(
                    f"experiment {experiment!r} already exists in {self.path.name}; choose another name "
                    "(--name), or replace it (--replace)."
                )
            rows = f"(SELECT * FROM {view} WHERE experiment = $exp)"
            key = (
                "sha256('[' || to_json($exp::VARCHAR) || ',' || to_json(item_id) || ',' || to_json(model) || ',' "
                '|| epoch || \',"",""]\')'
            )  # = store.records.run_key(experiment, item_id, model, epoch, "", "")
            con.execute("BEGIN TRANSACTION")
            try:
                if old is not None:  # replaced in the same transaction: a failed import keeps the old rows
                    self._delete_rows(old.id)
                    self._forget(experiment, old.id)
                exp = self.create_experiment(experiment, config=config, source=source, git_commit_sha=None)
                params = {"eid": exp.id, "exp": experiment, "sim": source == "simulated", "scorer": scorer,
                          "now": _now()}  # fmt: skip
                con.execute(
                    f"""INSERT INTO items (experiment_id, item_id, input, prompt, reference, task, metadata)
                    SELECT $eid, item_id, to_json(first(prompt ORDER BY _order, _row)),
                           first(prompt ORDER BY _order, _row), NULL, first(task ORDER BY _order, _row), NULL
                    FROM {rows} GROUP BY item_id""",
                    {k: params[k] for k in ("eid", "exp")},
                )
                con.execute(
                    f"""INSERT INTO calls (experiment_id, run_key, item_id, model_id, epoch, attempt, latency_s,
                        input_tokens, output_tokens, cost_usd, error_class, response, final, simulated, cost_basis)
                    SELECT $eid, {key}, item_id, model, epoch, 1, latency_s, input_tokens, output_tokens, cost_usd,
                           error, response, TRUE, $sim, cost_basis
                    FROM {rows}""",
                    {k: params[k] for k in ("eid", "exp", "sim")},
                )
                n = con.execute(f"SELECT count(*) FROM {rows}", {"exp": experiment}).fetchall()[0][0]
                con.execute(
                    f"""INSERT INTO scores (experiment_id, run_key, item_id, model_id, epoch, scorer, value,
                        explanation, is_primary, created_at)
                    SELECT $eid, {key}, item_id, model, epoch, $scorer, score, NULL, TRUE, $now
                    FROM {rows} WHERE score IS NOT NULL""",
                    {k: params[k] for k in ("eid", "exp", "scorer", "now")},
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                self._ids.pop(experiment, None)
                raise
            self._finished.pop(exp.id, None)
            return int(n)

    # -- reading --------------------------------------------------------------------------------------------

    def experiments_frame(self) -> pd.DataFrame:
        """One row per experiment with its metadata and counts of items, calls, models and errors."""
        with self._lock:
            return self._con.execute(queries.EXPERIMENTS).df()

    def items_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The stored dataset items (input, reference and metadata as JSON text)."""
        with self._lock:
            return self._con.execute(queries.ITEMS, [_names(experiments)]).df()

    def calls_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every attempt (failed ones included), with the experiment name, in insertion order."""
        with self._lock:
            return self._con.execute(queries.CALLS, [_names(experiments)]).df()

    def scores_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every score row (all scorers)."""
        with self._lock:
            return self._con.execute(queries.SCORES, [_names(experiments)]).df()

    def runs_frame(
        self, experiments: str | Sequence[str] | None = None, score: str | None = None
    ) -> pd.DataFrame:
        """The runs frame (one row per item, model, epoch); `score` picks a scorer, default the primary one."""
        from llmbench.store.frames import runs_frame_dtypes

        with self._lock:
            frame = self._con.execute(queries.RUNS, [_names(experiments), score]).df()
        return runs_frame_dtypes(frame)

    def summary_frame(
        self, experiments: str | Sequence[str] | None = None, score: str | None = None
    ) -> pd.DataFrame:
        """Per experiment and model: score mean, cost, cost per correct answer, latency p50/p95, errors."""
        from llmbench.store.frames import summarize

        runs = self.runs_frame(experiments, score)
        with self._lock:
            attempts = self._con.execute(queries.ATTEMPTS, [_names(experiments)]).df()
        return summarize(runs, attempts)

    # -- tool-using conversations (see llmbench.tools.log) ---------------------------------------------------

    def write_tool_steps(self, experiment: str, item_id: str, steps: Iterable[Any]) -> int:
        """Append the steps (`ToolStep`s or dicts) of an item's tool conversations in one transaction.

        Steps already stored (same conversation_id and step) are skipped; returns the rows written.
        """
        rows = [_tool_step_row(item_id, s) for s in steps]
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(experiment)
            before = self._count("tool_steps", eid)
            con.execute("BEGIN TRANSACTION")
            try:
                self._append(
                    "tool_steps", TOOL_STEP_COLUMNS, [(eid, *r) for r in rows], ignore_conflicts=True
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return self._count("tool_steps", eid) - before

    def tool_steps_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every logged tool-conversation step, with the experiment name, in conversation and step order."""
        with self._lock:
            return self._con.execute(
                # Conversations in the order they began, each one's steps in order.
                "SELECT e.name AS experiment, t.* EXCLUDE (experiment_id) FROM tool_steps t "
                "JOIN experiments e ON t.experiment_id = e.id "
                "WHERE $1::VARCHAR[] IS NULL OR list_contains($1::VARCHAR[], e.name) "
                "ORDER BY e.id, min(t.started_at) OVER (PARTITION BY t.experiment_id, t.conversation_id), "
                "t.conversation_id, t.step",
                [_names(experiments)],
            ).df()


def _names(experiments: str | Sequence[str] | None) -> list[str] | None:
    if experiments is None:
        return None
    return [experiments] if isinstance(experiments, str) else list(experiments)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _json(value: Any, what: str, position: int) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"item #{position}: {what} is not JSON-serialisable ({exc}); use plain data."
        ) from None


def _item_row(item: Any, position: int) -> tuple:
    """(item_id, input, prompt, reference, task, metadata) from an `Item` or a dict."""
    get = item.get if isinstance(item, dict) else lambda k, d=None: getattr(item, k, d)
    item_id = get("item_id") if isinstance(item, dict) and "item_id" in item else get("id")
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
        raise DataError(
            f"item #{position} has no usable id (got {item_id!r}); give every item a string `id`."
        )
    raw_input = get("input")
    prompt = get("prompt")
    if prompt is None:
        prompt = raw_input if isinstance(raw_input, str) else _last_user_text(raw_input)
    if raw_input is not None and hasattr(raw_input, "__iter__") and not isinstance(raw_input, str | dict):
        raw_input = [m.model_dump() if hasattr(m, "model_dump") else m for m in raw_input]
    metadata = get("metadata") or {}
    return (
        str(item_id),
        _json(raw_input, "input", position),
        prompt,
        _json(get("reference"), "reference", position),
        get("task"),
        _json(metadata, "metadata", position),
    )


def _last_user_text(messages: Any) -> str | None:
    for m in reversed(list(messages or [])):
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        if role != "user":
            continue
        content = m.get("content") if isinstance(m, dict) else getattr(m, "text", None)
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return None


_STEP_TEXT = ("text", "raw_arguments", "result", "traceback", "detail")


def _tool_step_row(item_id: str, step: Any) -> tuple:
    """A tool_steps row (without experiment_id) from a `ToolStep` or a dict; free text is redacted."""
    get = step.get if isinstance(step, dict) else lambda k, d=None: getattr(step, k, d)
    row: dict[str, Any] = {c: get(c) for c in TOOL_STEP_COLUMNS[1:]}
    row["item_id"] = str(item_id)
    for name in _STEP_TEXT:
        if row[name]:
            row[name] = redact(row[name])
    if row["arguments"] is not None:
        row["arguments"] = redact(json.dumps(row["arguments"], ensure_ascii=False, default=str))
    row["is_error"], row["truncated"] = bool(row["is_error"]), bool(row["truncated"])
    row["started_at"] = to_timestamp(row["started_at"])
    return tuple(row.values())


_CALL_FIELDS = tuple(f.name for f in fields(CallRecord))
assert CALL_COLUMNS[1:] == _CALL_FIELDS, "CallRecord fields must follow the calls table's column order"


def _call_row(eid: int, c: CallRecord) -> tuple:
    row = [getattr(c, name) for name in _CALL_FIELDS]
    row[5] = to_timestamp(c.started_at)  # started_at sits after run_key..attempt
    if c.error_message:
        row[14] = redact(c.error_message)
    if c.response:
        row[19] = redact(c.response)
    return (eid, *row)


__all__ = ["Experiment", "Store", "default_store_path", "run_key"]
