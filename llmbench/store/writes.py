"""Rows in, the store's writing side: `StoreWrites` (items, a run's intents, attempts and scores in one
transaction, tool steps; a mixin of `Store`, which holds the connection and its lock), row types to column values
(JSON, UTC times and redaction from each field's metadata) and inserts by column name, so no writer depends on a
table's column order."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from llmbench.errors import DataError, redact
from llmbench.store.connection import transaction
from llmbench.store.provenance import now, to_timestamp
from llmbench.store.rows import TABLES, CallRecord, IntentRecord, ItemRow, ScoreRecord, ToolStep
from llmbench.text_safe import encodable

__all__ = ["StoreWrites", "append", "delete_rows", "insert_runs", "item_row", "tool_step", "values"]

_BULK = 64  # above this many rows one DataFrame scan beats a VALUES list


class StoreWrites:
    """Rows written through the store's connection under its lock, each call in one transaction."""

    _con: duckdb.DuckDBPyConnection
    _lock: threading.RLock

    if TYPE_CHECKING:

        def _writable(self) -> duckdb.DuckDBPyConnection: ...
        def _experiment_id(self, name: str) -> int: ...
        def _count(self, table: str, eid: int) -> int: ...
        def _finished_set(self, eid: int) -> set[str]: ...

    def add_items(self, experiment: str, items: Iterable[Any]) -> int:
        """Record the dataset items of an experiment (`Item`s or dicts); ids already there are kept as is.

        Every item is checked before anything is written, so a bad one leaves the store untouched.
        """
        rows = [item_row(i, n) for n, i in enumerate(items)]
        seen: dict[str, int] = {}
        for n, row in enumerate(rows):
            if row.item_id in seen:
                raise DataError(
                    f"item id {row.item_id!r} appears twice (positions {seen[row.item_id]} and {n})."
                )
            seen[row.item_id] = n
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(experiment)
            before = self._count("items", eid)
            append(con, "items", [values(r, experiment_id=eid) for r in rows], ignore_conflicts=True)
            return self._count("items", eid) - before

    def write_results(
        self,
        experiment: str,
        calls: Sequence[CallRecord],
        scores: Sequence[ScoreRecord] = (),
        *,
        intents: Sequence[IntentRecord] = (),
        resolved: Sequence[str] = (),
        then: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None,
    ) -> int:
        """Write attempts and scores in ONE transaction; returns how many run keys became finished.

        A run key is finished when its final successful call and its scores are stored. Write a key's final
        call and its scores in the same call to this method: then a crash (even `kill -9`) leaves either
        both or neither. Rows for keys already finished are dropped, so a repeated write adds no duplicates.
        `intents` are attempts about to be sent (stored first); `resolved` the intent ids whose outcome these
        calls record (removed in the same transaction, so an attempt is always in exactly one of the two).
        `then(connection, experiment_id)` runs last in the same transaction (e.g. marking a batch collected).
        """
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(experiment)
            done = self._finished_set(eid)
            calls = [c for c in calls if c.run_key not in done]
            scores = [s for s in scores if s.run_key not in done]
            scored = {s.run_key for s in scores}
            newly = {c.run_key for c in calls if c.final and c.ok and c.run_key in scored}
            stamp = now()
            score_rows = [
                values(s, experiment_id=eid) | {"created_at": s.created_at or stamp} for s in scores
            ]
            with transaction(con):
                # fresh uuid4 ids, so a plain insert: OR IGNORE doubles its cost, and it runs before every request
                append(con, "intents", [values(i, experiment_id=eid) for i in intents])
                append(con, "calls", [values(c, experiment_id=eid) for c in calls])
                append(con, "scores", score_rows)
                if resolved:
                    con.execute(
                        "DELETE FROM intents WHERE experiment_id = ? AND list_contains(?, intent_id)",
                        [eid, list(resolved)],
                    )
                if then is not None:
                    then(con, eid)
            done |= newly
            return len(newly)

    def write_tool_steps(
        self, experiment: str, item_id: str, steps: Iterable[ToolStep | dict[str, Any]]
    ) -> int:
        """Append the steps (`ToolStep`s or dicts) of an item's tool conversations in one transaction.

        Steps already stored (same conversation_id and step) are skipped; returns the rows written.
        """
        rows = [tool_step(s) for s in steps]
        with self._lock:
            con = self._writable()
            eid = self._experiment_id(experiment)
            before = self._count("tool_steps", eid)
            new_rows = [values(r, experiment_id=eid, item_id=str(item_id)) for r in rows]
            with transaction(con):
                append(con, "tool_steps", new_rows, ignore_conflicts=True)
            return self._count("tool_steps", eid) - before


def values(record: Any, **lead: Any) -> dict[str, Any]:
    """Column name -> stored value for a row-type instance, after `lead` columns such as experiment_id. Text is
    made valid Unicode here (`llmbench.text_safe.encodable`), so no string can make a row unwritable."""
    out = dict(lead)
    for f in fields(record):
        value, meta = getattr(record, f.name), f.metadata
        if value is not None:
            if meta["sql"] == "JSON":
                value = encodable(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
            elif isinstance(value, str):
                value = encodable(value)
            if meta["sql"] == "TIMESTAMP":
                value = to_timestamp(value)
            elif meta["sql"] == "DOUBLE":
                value = float(value)
            if meta["redacted"] and value:
                value = redact(value)
        out[f.name] = value
    return out


def append(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows (dicts with the same keys) into `table` by column name in one statement."""
    if not rows:
        return
    columns = list(rows[0])
    unknown = set(columns) - set(TABLES[table].columns())
    if unknown:
        raise ValueError(f"{table} has no column(s) {sorted(unknown)}")
    verb = "INSERT OR IGNORE INTO" if ignore_conflicts else "INSERT INTO"
    names = ", ".join(columns)
    if not isinstance(
        con, duckdb.DuckDBPyConnection
    ):  # PostgreSQL: VALUES lists within its 65,535 parameters
        step = max(1, 30_000 // len(columns))
        for start in range(0, len(rows), step):
            _values(con, verb, table, columns, rows[start : start + step])
        return
    if len(rows) > _BULK:
        con.register("_llmbench_rows", pd.DataFrame.from_records(rows, columns=columns))
        try:
            con.execute(f"{verb} {table} ({names}) SELECT {names} FROM _llmbench_rows")
        finally:
            con.unregister("_llmbench_rows")
        return
    _values(con, verb, table, columns, rows)


def _values(con: Any, verb: str, table: str, columns: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    params = [row[c] for row in rows for c in columns]
    con.execute(f"{verb} {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(rows))}", params)


def _checked_json(value: Any, what: str, position: int) -> Any:
    try:
        json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"item #{position}: {what} is not JSON-serialisable ({exc}); use plain data."
        ) from None
    return value


def item_row(item: Any, position: int) -> ItemRow:
    """An `ItemRow` from a dataset `Item` or a dict, or a `DataError` naming the item's position."""
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
    return ItemRow(
        item_id=str(item_id),
        input=_checked_json(raw_input, "input", position),
        prompt=prompt,
        reference=_checked_json(get("reference"), "reference", position),
        task=get("task"),
        metadata=_checked_json(get("metadata") or {}, "metadata", position),
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


def tool_step(step: ToolStep | Mapping[str, Any]) -> ToolStep:
    """A `ToolStep` from itself or a dict with its fields."""
    if isinstance(step, ToolStep):
        return step
    known = {f.name for f in fields(ToolStep)}
    return ToolStep(**{k: v for k, v in step.items() if k in known})


# The run key of an imported row, computed in SQL: = provenance.run_key(experiment, item_id, model, epoch, "", "").
_RUN_KEY = (
    "sha256('[' || to_json($exp::VARCHAR) || ',' || to_json(item_id) || ',' || to_json(model) || ',' "
    '|| epoch || \',"",""]\')'
)


def insert_runs(
    con: duckdb.DuckDBPyConnection,
    view: str,
    eid: int,
    experiment: str,
    *,
    simulated: bool,
    scorer: str,
    now: Any,
) -> int:
    """Insert one experiment's rows of a validated runs view as items, one final call per row and scores (by
    name, inside the caller's transaction); returns the rows."""
    rows = f"(SELECT * FROM {view} WHERE experiment = $exp)"
    # an item's fields from its first row, picked by a window (it spills): an ordered aggregate such as
    # first(prompt ORDER BY ...) held every row's prompt in memory and ran a 100 MB wide file out of the 1 GB cap
    con.execute(
        f"""INSERT INTO items BY NAME
        SELECT $eid AS experiment_id, item_id, to_json(prompt) AS input, prompt, task
        FROM {rows} QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY _order, _row) = 1""",
        {"eid": eid, "exp": experiment},
    )
    con.execute(
        f"""INSERT INTO calls BY NAME
        SELECT $eid AS experiment_id, {_RUN_KEY} AS run_key, item_id, model AS model_id, epoch, 1 AS attempt,
               latency_s, input_tokens, output_tokens, cost_usd, error AS error_class, response, TRUE AS final,
               $sim AS simulated, cost_basis
        FROM {rows}""",
        {"eid": eid, "exp": experiment, "sim": simulated},
    )
    con.execute(
        f"""INSERT INTO scores BY NAME
        SELECT $eid AS experiment_id, {_RUN_KEY} AS run_key, item_id, model AS model_id, epoch,
               $scorer AS scorer, score AS value, NULL AS explanation, TRUE AS is_primary, $now AS created_at
        FROM {rows} WHERE score IS NOT NULL""",
        {"eid": eid, "exp": experiment, "scorer": scorer, "now": now},
    )
    return int(con.execute(f"SELECT count(*) FROM {rows}", {"exp": experiment}).fetchall()[0][0])


def delete_rows(con: duckdb.DuckDBPyConnection, eid: int) -> None:
    """Remove an experiment's rows from every table (inside the caller's transaction)."""
    for table in TABLES.values():
        con.execute(
            f"DELETE FROM {table.name} WHERE {'id' if table.name == 'experiments' else 'experiment_id'} = ?",
            [eid],
        )
