"""Evaluation datasets: JSONL, CSV and Parquet files of items, validated into a `Dataset`.

An item has an `id`, an `input` (a prompt string or a list of chat messages `{"role", "content"}`), a
`reference` (the expected answer, tests, schema... whatever its scorer needs), a `task` label, free
`metadata` (shipped sets put a 0..1 `difficulty` there) and an optional `scorer` hint. Loading checks every
row first and raises one `DataError` naming the file, line (or row), field and fix for each problem.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from llmbench.dataset_files import FIELDS, RowError, csv_rows, jsonl_rows, normalise, parquet_rows, safe
from llmbench.errors import DataError
from llmbench.providers.types import Message, to_messages

SHIPPED_DIR = Path(__file__).parent / "shipped" / "datasets"  # the repo's datasets/, also inside a wheel
_MAX_REPORTED = 10


class ChatMessage(BaseModel):
    """One message of a chat input."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Item(BaseModel):
    """One evaluation item."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    input: str | list[ChatMessage]
    reference: Any = None
    task: str = ""
    metadata: dict[str, Any] = {}
    scorer: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, str) and not v.strip():
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _valid_text(self) -> Item:
        # A lone surrogate (e.g. the JSON escape "\ud800") is not Unicode text: no API accepts it, and it
        # would fail only after the calls before it were paid for.
        for name in ("id", "input", "reference", "metadata", "task"):
            bad = _lone_surrogate(getattr(self, name))
            if bad is not None:
                raise ValueError(
                    f"field {name!r} holds a lone surrogate {bad!r}, which is not valid Unicode text"
                )
        return self

    @field_validator("input")
    @classmethod
    def _input_nonempty(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError("the prompt is empty")
        if isinstance(v, list) and not any(m.role == "user" for m in v):
            raise ValueError("a chat input needs at least one user message")
        return v

    @property
    def prompt(self) -> str:
        """The prompt text (for chat inputs: the last user message)."""
        if isinstance(self.input, str):
            return self.input
        return next(m.content for m in reversed(self.input) if m.role == "user")

    @property
    def difficulty(self) -> float | None:
        """The item's 0..1 difficulty from its metadata, when given."""
        d = self.metadata.get("difficulty")
        return float(d) if isinstance(d, int | float) else None

    def messages(self) -> list[Message]:
        """The input as provider messages."""
        if isinstance(self.input, str):
            return to_messages(self.input)
        return to_messages([m.model_dump() for m in self.input])


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string inside `value` (None when all text is valid Unicode)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return value[exc.start : exc.end]
        return None
    if isinstance(value, dict):
        values: Iterable[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        values = value
    elif isinstance(value, BaseModel):
        values = value.model_dump().values()
    else:
        return None
    return next((b for b in map(_lone_surrogate, values) if b is not None), None)


@dataclass
class Dataset:
    """A named, ordered collection of items with unique ids."""

    name: str
    items: list[Item]
    path: Path | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {}
        for n, item in enumerate(self.items):
            if item.id in self._index:
                raise DataError(
                    f"dataset {self.name!r}: item id {item.id!r} appears twice; ids must be unique."
                )
            self._index[item.id] = n

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __getitem__(self, key: int | str) -> Item:
        return self.items[self._index[key]] if isinstance(key, str) else self.items[key]

    @property
    def tasks(self) -> list[str]:
        """The distinct task labels, in order of appearance."""
        return list(dict.fromkeys(i.task for i in self.items))

    def filter(self, task: str | Sequence[str] | None = None, ids: Iterable[str] | None = None) -> Dataset:
        """The items of the given task(s) and/or ids."""
        tasks = {task} if isinstance(task, str) else set(task or ())
        wanted = set(ids) if ids is not None else None
        kept = [
            i for i in self.items if (not tasks or i.task in tasks) and (wanted is None or i.id in wanted)
        ]
        return Dataset(self.name, kept, self.path)

    def head(self, n: int) -> Dataset:
        """The first `n` items."""
        return Dataset(self.name, self.items[:n], self.path)

    def sample(self, n: int, seed: int = 0) -> Dataset:
        """`n` items drawn without replacement, reproducibly, kept in file order."""
        picked = sorted(random.Random(seed).sample(range(len(self.items)), min(n, len(self.items))))
        return Dataset(self.name, [self.items[i] for i in picked], self.path)

    def to_frame(self) -> pd.DataFrame:
        """One row per item: id, task, prompt, reference, difficulty, scorer."""
        return pd.DataFrame(
            {
                "item_id": [i.id for i in self.items],
                "task": [i.task for i in self.items],
                "prompt": [i.prompt for i in self.items],
                "reference": [i.reference for i in self.items],
                "difficulty": [i.difficulty for i in self.items],
                "scorer": [i.scorer for i in self.items],
            }
        )


def shipped_datasets() -> dict[str, Path]:
    """The evaluation sets shipped in the project's datasets/ folder, by name."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.jsonl"))}


def load_dataset(source: str | Path, *, name: str | None = None) -> Dataset:
    """Load a .jsonl, .csv or .parquet file, or a shipped set by name (see `shipped_datasets()`)."""
    path = Path(source)
    if not path.exists():
        shipped = shipped_datasets()
        if str(source) in shipped:
            path = shipped[str(source)]
        else:
            raise DataError(
                f"dataset {str(source)!r} not found: not a file, nor a shipped set ({', '.join(shipped) or 'none'})."
            )
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = jsonl_rows(path)
    elif suffix == ".csv":
        rows = csv_rows(path)
    elif suffix in (".parquet", ".pq"):
        rows = parquet_rows(path)
    else:
        raise DataError(f"{path}: unknown dataset format {suffix!r}; use .jsonl, .csv or .parquet.")
    return _build(name or path.stem, rows, path)


def dataset_from_records(records: Iterable[dict[str, Any]], name: str = "inline") -> Dataset:
    """A dataset from in-memory dicts, validated like a file."""
    rows = [
        (f"record {n}", safe(lambda r=r, w=f"record {n}": normalise(r, w, strict=True)))
        for n, r in enumerate(records)
    ]
    return _build(name, rows, None)


# -- readers: each yields (where, fields) pairs; `where` is "line N" or "row N" ----------------------------


def _build(name: str, rows: list[tuple[str, Any]], path: Path | None) -> Dataset:
    problems: list[str] = []
    items: list[Item] = []
    first_seen: dict[str, str] = {}
    for where, fields in rows:
        if isinstance(fields, RowError):
            problems.append(str(fields))
            continue
        try:
            item = Item.model_validate(fields)
        except ValidationError as exc:
            for err in exc.errors():
                parts = [str(p) for p in err["loc"]]
                # `input` is a union: report only the branch matching what the row gave (text or messages).
                if len(parts) > 1 and parts[0] == "input" and parts[1] in ("str", "list[ChatMessage]"):
                    if (parts[1] == "str") == isinstance(fields.get("input"), list):
                        continue
                    del parts[1]
                loc = ".".join(parts) or "(item)"
                problems.append(f"{where}: field {loc!r}: {_explain(dict(err))}")
            continue
        if item.id in first_seen:
            problems.append(
                f"{where}: field 'id': {item.id!r} already used at {first_seen[item.id]}; ids must be unique"
            )
            continue
        first_seen[item.id] = where
        items.append(item)
    if problems:
        shown = problems[:_MAX_REPORTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise DataError(
            f"{path or name}: {len(problems)} problem(s); fix them and load again:\n  "
            + "\n  ".join(shown)
            + more
        )
    if not items:
        raise DataError(f"{path or name}: no items; a dataset needs at least one row.")
    return Dataset(name, items, path)


def _explain(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "required but missing"
    if kind == "extra_forbidden":
        return "unknown field; allowed: " + ", ".join(FIELDS)
    return str(err.get("msg", "invalid"))


__all__ = ["ChatMessage", "Dataset", "Item", "dataset_from_records", "load_dataset", "shipped_datasets"]
