"""Rows in: row types to column values (JSON, UTC times and redaction from each field's metadata) and inserts
by column name, so no writer depends on a table's column order."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import duckdb
import pandas as pd

from llmbench.errors import DataError, redact
from llmbench.store.provenance import to_timestamp
from llmbench.store.rows import TABLES, ItemRow, ToolStep
from llmbench.text_safe import encodable

__all__ = ["append", "delete_rows", "insert_runs", "item_row", "tool_step", "values"]

_BULK = 64  # above this many rows one DataFrame scan beats a VALUES list


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
    if len(rows) > _BULK:
        con.register("_llmbench_rows", pd.DataFrame.from_records(rows, columns=columns))
        try:
            con.execute(f"{verb} {table} ({names}) SELECT {names} FROM _llmbench_rows")
        finally:
            con.unregister("_llmbench_rows")
        return
    one = "(" + ", ".join("?" * len(columns)) + ")"
    params = [row[c] for row in rows for c in columns]
    con.execute(f"{verb} {table} ({names}) VALUES {', '.join([one] * len(rows))}", params)


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
    first = "first({} ORDER BY _order, _row)"
    con.execute(
        f"""INSERT INTO items BY NAME
        SELECT $eid AS experiment_id, item_id, to_json({first.format("prompt")}) AS input,
               {first.format("prompt")} AS prompt, {first.format("task")} AS task
        FROM {rows} GROUP BY item_id""",
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
