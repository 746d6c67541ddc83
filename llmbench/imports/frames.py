"""A runs frame already in memory (pandas), checked and written by the same validation layer as files."""

from __future__ import annotations

import duckdb
import pandas as pd

from llmbench.errors import DataError
from llmbench.imports.flow import Builder
from llmbench.imports.tables import ident, literal
from llmbench.imports.validate import long_select

__all__ = ["frame_builder"]

_OPTIONAL = {
    "prompt": "prompt",
    "task": "task",
    "epoch": "epoch_raw",
    "score": "score_raw",
    "cost_usd": "cost_raw",
    "input_tokens": "input_tokens_raw",
    "output_tokens": "output_tokens_raw",
    "latency_s": "latency_raw",
    "response": "response",
    "error": "error",
}


def frame_builder(frame: pd.DataFrame, experiment: str) -> Builder:
    """A `Builder` (see `llmbench.imports.flow`) of a runs frame: needs item_id and model, the rest optional.

    A frame without prompts keeps its item ids as the prompt text, so every item still has a text.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"a runs frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("item_id", "model") if c not in frame.columns]
    if missing:
        raise DataError(
            f"the runs frame lacks column(s) {missing}; it needs at least item_id and model "
            f"(see the runs-frame contract). Columns present: {list(frame.columns)}."
        )

    def build(con: duckdb.DuckDBPyConnection) -> str:
        data = frame.reset_index(drop=True)
        data["_r"] = range(1, len(data) + 1)  # row numbers for messages (1 = the first row)
        view = f"_frame{id(data)}"
        con.register(view, data)

        def text(column: str) -> str:
            return f"CAST({ident(column)} AS VARCHAR)"

        exprs = {target: text(c) for c, target in _OPTIONAL.items() if c in data.columns}
        exprs.setdefault("prompt", text("item_id"))
        if "score" in data.columns:
            exprs["score_col"] = "'score'"
        if "cost_usd" in data.columns:
            exprs["cost_col"] = "'cost_usd'"
        long = f"{view}_long"
        source = view
        con.execute(
            f"CREATE TEMP VIEW {long} AS "
            + long_select(
                source,
                experiment=literal(experiment),
                _file="'the runs frame'",
                _row="_r",
                _order="0",
                item_id=text("item_id"),
                model=text("model"),
                **exprs,
            )
        )
        return long

    return build
