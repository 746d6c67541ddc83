"""Strict JSON for everything llmbench writes: NaN and infinities become null, numpy and pandas values plain.

Python's `json` writes `NaN`, which is not JSON: strict parsers (JavaScript's, jq, Go's) reject the whole file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = ["dumps", "loads", "request_bytes", "to_json_safe", "utf8"]


def to_json_safe(obj: Any) -> Any:
    """`obj` as plain JSON data: non-finite floats -> None, numpy scalars/arrays and DataFrames -> lists/dicts."""
    if obj is None or isinstance(obj, bool | str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return to_json_safe(obj.item())
    if isinstance(obj, np.ndarray):
        return [to_json_safe(v) for v in obj.tolist()]
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_json_safe(v) for v in obj]
    if hasattr(obj, "to_dict") and hasattr(obj, "columns"):  # a DataFrame: one dict per row
        return [to_json_safe(r) for r in obj.to_dict("records")]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_json_safe(dataclasses.asdict(obj))
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    try:
        import pandas as pd

        if obj is pd.NA or obj is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON text of `obj` (see `to_json_safe`); never emits NaN or Infinity."""
    return json.dumps(to_json_safe(obj), allow_nan=False, **kwargs)


def utf8(obj: Any) -> bytes:
    """JSON of plain data as UTF-8 bytes that always encode: text with a lone surrogate (which a parsed
    upstream answer can hold) keeps it as a `\\udXXX` escape, as the upstream sent it."""
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj).encode("ascii")


def loads(data: bytes | str) -> Any:
    """Parse JSON fast (orjson); what orjson refuses and Python's parser reads (a lone surrogate escape, an
    integer past 64 bits, NaN) is read as Python reads it. Raises ValueError (RecursionError when nested too
    deeply) for text that is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def request_bytes(obj: Any) -> bytes:
    """A request body as compact UTF-8 JSON (orjson). Text that is not valid Unicode raises UnicodeEncodeError
    (nothing with a lone surrogate is sent); what orjson cannot write (an integer past 64 bits) Python writes."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
