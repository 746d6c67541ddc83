"""Rows of dataset files (JSONL, CSV, Parquet) as (where, fields) pairs, each row's problem kept as a `RowError`
so that loading can report every bad row at once."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from llmbench.errors import DataError
from llmbench.text_safe import encodable, encodable_data

log = logging.getLogger(__name__)

__all__ = ["ALIASES", "FIELDS", "RowError", "csv_rows", "jsonl_rows", "normalise", "parquet_rows", "safe"]

ALIASES = {
    "item_id": "id",
    "prompt": "input",
    "messages": "input",
    "answer": "reference",
    "target": "reference",
}
FIELDS = ("id", "input", "reference", "task", "metadata", "scorer")


def normalise(raw: Any, where: str, *, strict: bool) -> dict[str, Any]:
    """Map aliases to field names; in `strict` (JSON) mode unknown keys are errors, else they go to metadata.
    Text that is not valid Unicode (a lone surrogate from a `\\ud800` escape) is repaired with U+FFFD, said in a
    warning and listed in `metadata.text_repaired`, so the item can still be sent and stored."""
    if not isinstance(raw, dict):
        raise RowError(where, "", f"expected a JSON object, got {type(raw).__name__}")
    fixed, repaired = encodable_data(raw)
    if repaired:
        fields = sorted(encodable(str(k)) for k, v in raw.items() if encodable_data([k, v])[1])
        raw = fixed
        log.warning(
            "%s: text that is not valid Unicode in %s, repaired with U+FFFD", where, ", ".join(fields)
        )
        meta = raw.get("metadata")
        if meta is None or isinstance(meta, dict):
            raw = {**raw, "metadata": {**(meta or {}), "text_repaired": fields}}
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        target = ALIASES.get(key, key)
        if target in FIELDS:
            if target in out:
                raise RowError(where, target, f"given twice (as {key!r} and an alias); keep one")
            out[target] = value
        elif strict:
            raise RowError(
                where, key, f"unknown field; allowed: {', '.join(FIELDS)} (put extra data under `metadata`)"
            )
        else:
            extra[key] = value
    if extra:
        meta = out.get("metadata") or {}
        out["metadata"] = {**extra, **meta} if isinstance(meta, dict) else meta
    return out


class RowError(Exception):
    def __init__(self, where: str, field_name: str, message: str) -> None:
        super().__init__(f"{where}: {'field ' + repr(field_name) + ': ' if field_name else ''}{message}")


def jsonl_rows(path: Path) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a byte-order mark is fine
            except UnicodeDecodeError as exc:
                rows.append(
                    (
                        f"line {n}",
                        RowError(f"line {n}", "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"),
                    )
                )
                continue
            if not line.strip():
                continue
            try:
                rows.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                rows.append(
                    (
                        f"line {n}",
                        RowError(f"line {n}", "", f"invalid JSON ({exc.msg} at column {exc.pos + 1})"),
                    )
                )
    return [
        (w, r if isinstance(r, RowError) else safe(lambda r=r, w=w: normalise(r, w, strict=True)))
        for w, r in rows
    ]


def safe(fn: Any) -> Any:
    try:
        return fn()
    except RowError as exc:
        return exc


def _cell(value: Any) -> Any:
    """A CSV/Parquet cell: empty means missing; text that looks like a JSON list/object is parsed."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        if text[0] in "[{":
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return value
    return value


def csv_rows(path: Path) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is fine
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8."
        ) from None
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise DataError(
                f"{path}: empty CSV; the first line must name the columns (id, input, reference, ...)."
            )
        start = reader.line_num + 1
        for record in reader:
            where = f"line {start}"
            start = reader.line_num + 1
            cleaned = {k: _cell(v) for k, v in record.items() if k is not None and _cell(v) is not None}
            if None in record:
                rows.append(
                    (where, RowError(where, "", "more cells than header columns; quote cells with commas"))
                )
                continue
            rows.append((where, safe(lambda c=cleaned, w=where: normalise(c, w, strict=False))))
    return rows


def parquet_rows(path: Path) -> list[tuple[str, Any]]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for broken files
        raise DataError(f"{path}: cannot read as Parquet ({exc}).") from None
    rows = []
    for n, record in enumerate(frame.to_dict(orient="records")):
        cleaned = {}
        for k, v in record.items():
            v = v.tolist() if hasattr(v, "tolist") and not isinstance(v, str) else v
            v = _cell(v) if not isinstance(v, list | dict) else v
            if v is not None:
                cleaned[str(k)] = v
        where = f"row {n}"
        rows.append((where, safe(lambda c=cleaned, w=where: normalise(c, w, strict=False))))
    return rows
