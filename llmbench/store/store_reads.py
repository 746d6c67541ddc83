"""The run store's reading side: every table as a DataFrame, the runs frame and the per-model summary (a mixin
of `Store`, which holds the connection and its lock)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from llmbench.store import reads
from llmbench.store.frames import runs_frame_dtypes, summarize

__all__ = ["StoreReads"]


class StoreReads:
    """Frames read from the store's connection under its lock."""

    _con: duckdb.DuckDBPyConnection
    _lock: threading.RLock

    def _frame(self, query: str, *params: Any) -> pd.DataFrame:
        with self._lock:
            return self._con.execute(query, list(params)).df()

    def experiments_frame(self) -> pd.DataFrame:
        """One row per experiment with its metadata and counts of items, calls, models and errors."""
        return self._frame(reads.EXPERIMENTS)

    def items_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The stored dataset items (input, reference and metadata as JSON text)."""
        return self._frame(reads.ITEMS, reads.names(experiments))

    def calls_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every attempt (failed ones included), with the experiment name, in insertion order."""
        return self._frame(reads.CALLS, reads.names(experiments))

    def scores_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every score row (all scorers)."""
        return self._frame(reads.SCORES, reads.names(experiments))

    def runs_frame(
        self, experiments: str | Sequence[str] | None = None, score: str | None = None
    ) -> pd.DataFrame:
        """The runs frame (one row per item, model, epoch); `score` picks a scorer, default the primary one."""
        return runs_frame_dtypes(self._frame(reads.RUNS, reads.names(experiments), score))

    def summary_frame(
        self, experiments: str | Sequence[str] | None = None, score: str | None = None
    ) -> pd.DataFrame:
        """Per experiment and model: score mean, cost, cost per correct answer, latency p50/p95, errors."""
        runs = self.runs_frame(experiments, score)
        return summarize(runs, self._frame(reads.ATTEMPTS, reads.names(experiments)))

    def tool_steps_frame(self, experiments: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Every logged tool-conversation step, with the experiment name, in conversation and step order."""
        return self._frame(reads.TOOL_STEPS, reads.names(experiments))
