"""Latency as an objective: logged latency per task and model (p50 and p95) as a cost term or a constraint.

A router with `latency_weight` w ranks on quality - lambda * cost - w * p50 (seconds); with `max_p95_latency` L it
never picks a model whose expected p95 for the prompt's task exceeds L (unless every model does: then the one with
the lowest p95). Expected latencies weight each task's p50/p95 by the task posterior. A model without logged
latency (e.g. one added from probe prompts without timings) is neither penalised nor excluded. Serving needs numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from llmbench.errors import ConfigError, DataError
from llmbench.router.policy_file import ArrayData, encode_array, shaped

if TYPE_CHECKING:
    from llmbench.router.data import RoutingData

__all__ = ["LatencyTerm", "task_latency"]

_OUT = 1e6  # an excluded model's quality is lowered and its cost raised by this much: never on any frontier


def task_latency(data: RoutingData, task_idx: np.ndarray, n_tasks: int, min_calls: int = 5) -> np.ndarray:
    """(2, tasks, models): p50 and p95 of the logged latency per task and model; a task with fewer than
    `min_calls` timed prompts for a model takes the model's overall figures (NaN: never timed)."""
    if data.latency is None:
        raise DataError("the runs carry no latency (latency_s); a latency objective needs logged timings")
    lat = data.latency
    out = np.full((2, n_tasks, lat.shape[1]), np.nan)
    for j in range(lat.shape[1]):
        seen = np.isfinite(lat[:, j])
        if not seen.any():
            continue
        overall = np.percentile(lat[seen, j], [50, 95])
        for t in range(n_tasks):
            mine = seen & (task_idx == t)
            out[:, t, j] = np.percentile(lat[mine, j], [50, 95]) if mine.sum() >= min_calls else overall
    return out


@dataclass
class LatencyTerm:
    """What latency does to a router's ranking: nothing (the default), a weight per second of p50, a p95 cap."""

    task_latency: np.ndarray | None = None  # (2, tasks, models)
    weight: float = 0.0
    max_p95: float | None = None

    def __post_init__(self) -> None:
        if self.weight < 0 or (self.max_p95 is not None and self.max_p95 <= 0):
            raise ConfigError(
                f"latency weight must be >= 0 and max p95 latency > 0, got {self.weight}, {self.max_p95}"
            )

    @property
    def active(self) -> bool:
        return self.task_latency is not None and (self.weight > 0 or self.max_p95 is not None)

    def expected(self, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected p50 and p95 per prompt and model (NaN where a model was never timed)."""
        assert self.task_latency is not None
        return post @ self.task_latency[0], post @ self.task_latency[1]

    def rank(self, post: np.ndarray, quality: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The quality and cost the router ranks on: latency-weighted, and excluded models pushed off."""
        if not self.active:
            return quality, cost
        p50, p95 = self.expected(post)
        width = quality.shape[1]
        p50 = np.pad(
            p50, ((0, 0), (0, width - p50.shape[1])), constant_values=np.nan
        )  # added models: untimed
        p95 = np.pad(p95, ((0, 0), (0, width - p95.shape[1])), constant_values=np.nan)
        q = quality - self.weight * np.nan_to_num(p50)
        c = cost
        if self.max_p95 is not None:
            over = np.nan_to_num(p95, nan=0.0) > self.max_p95
            fastest = np.nanargmin(np.where(np.isnan(p95), np.inf, p95), axis=1)
            over[np.arange(len(over)), fastest] &= ~over.all(axis=1)  # all too slow: keep the fastest
            q, c = np.where(over, q - _OUT, q), np.where(over, c + _OUT, c)
        return q, c

    def section(self) -> dict[str, Any]:
        """The policy file's `latency` section ({} when latency plays no part)."""
        if not self.active:
            return {}
        assert self.task_latency is not None
        return {
            "task_latency": encode_array(self.task_latency),
            "weight": self.weight,
            "max_p95": self.max_p95,
        }

    @classmethod
    def from_section(cls, section: dict[str, Any], n_tasks: int, n_models: int) -> LatencyTerm:
        if not section:
            return cls()
        try:
            data = ArrayData.model_validate(section["task_latency"])
            weight = float(section.get("weight", 0.0))
            cap = section.get("max_p95")
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"policy latency section is malformed: {exc}") from None
        lat = shaped(data, "task_latency", (2, n_tasks, n_models))
        try:
            return cls(lat, weight, None if cap is None else float(cap))
        except ConfigError as exc:
            raise DataError(f"policy latency section: {exc}") from None
