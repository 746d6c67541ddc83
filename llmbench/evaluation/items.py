"""What an eval sends for each dataset item: the items of an experiment's sources (files or `bfcl:<category>`),
their messages, and the tool specs an item offers the model."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from llmbench.datasets import Dataset, Item, load_dataset
from llmbench.errors import ConfigError, DataError
from llmbench.evaluation.config import ExperimentConfig
from llmbench.providers import Message
from llmbench.providers.types import ToolSpec

__all__ = [
    "SOURCE_PREFIX",
    "bfcl_source_dataset",
    "item_messages",
    "item_tools",
    "load_items",
    "parse_bfcl_source",
]

SOURCE_PREFIX = "bfcl:"


def parse_bfcl_source(source: str | Path) -> tuple[str, int | None] | None:
    """(category, limit) of a source like `bfcl:parallel` or `bfcl:parallel?limit=20`; None for other sources.

    Only the last path component counts, since experiment files resolve dataset entries against their folder.
    """
    name = str(source).replace("\\", "/").rsplit("/", 1)[-1]
    if not name.startswith(SOURCE_PREFIX):
        return None
    from llmbench.tools.bfcl import bfcl_categories  # the tools stack loads only for BFCL sources

    category, _, query = name.removeprefix(SOURCE_PREFIX).partition("?")
    known = bfcl_categories()
    if category not in known:
        raise DataError(
            f"unknown BFCL category in {name!r}; use bfcl:<category> with one of the categories in the BFCL "
            f"folder ($LLMBENCH_BFCL_DIR): {', '.join(known) or 'none found'}"
        )
    options = parse_qs(query, strict_parsing=False)
    unknown = set(options) - {"limit"}
    if unknown:
        raise DataError(f"{name!r}: unknown option(s) {sorted(unknown)}; only ?limit=N is understood")
    limit = None
    if "limit" in options:
        text = options["limit"][-1]
        if not text.isdigit() or int(text) < 1:
            raise DataError(f"{name!r}: limit must be a positive whole number, got {text!r}")
        limit = int(text)
    return category, limit


def bfcl_source_dataset(source: str | Path) -> Dataset | None:
    """The BFCL dataset a `bfcl:...` source names, or None when `source` is not one (a file path, say)."""
    parsed = parse_bfcl_source(source)
    if parsed is None:
        return None
    from llmbench.tools.bfcl import bfcl_dataset

    category, limit = parsed
    return bfcl_dataset(category, limit)


def load_items(cfg: ExperimentConfig) -> list[Item]:
    """All items of the experiment's datasets (ids made unique per dataset when several are given)."""
    items: list[Item] = []
    for path in cfg.datasets:
        ds = bfcl_source_dataset(path) or load_dataset(path)  # `bfcl:parallel?limit=20` or a file
        chosen = ds.items[: cfg.limit] if cfg.limit else ds.items
        if len(cfg.datasets) > 1:
            chosen = [i.model_copy(update={"id": f"{ds.name}/{i.id}"}) for i in chosen]
        items.extend(chosen)
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ConfigError("two datasets share an item id; give the datasets different names")
    return items


def item_messages(item: Item, system_prompt: str | None) -> list[Message]:
    """The messages sent for an item (system prompt first when configured)."""
    msgs = item.messages()
    return [Message.system(system_prompt), *msgs] if system_prompt else msgs


def item_tools(item: Item) -> list[ToolSpec] | None:
    """The tool specs an item offers the model (`metadata["tools"]`), or None when it has none."""
    raw = item.metadata.get("tools") if isinstance(item.metadata, dict) else None
    if not raw:
        return None
    try:
        return [ToolSpec.model_validate(t) for t in raw]
    except Exception as exc:
        raise DataError(
            f"item {item.id!r}: metadata['tools'] must be a list of {{name, description, parameters}} ({exc})"
        ) from exc
