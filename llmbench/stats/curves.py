"""Cost/quality curves: models as points, the router's deferral curve, the zero-router hull, the Pareto frontier.

Inputs are plain frames: `points` has columns `model`, `cost`, `quality` (optionally `task`); a router curve
has `cost`, `quality` and optionally a label column such as `threshold` or `lambda` (optionally `task`).
Cost is the mean cost per item in USD; quality the mean score.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = [
    "ALL_TASKS",
    "cost_quality_points",
    "for_task",
    "pareto_frontier",
    "zero_router_hull",
]

ALL_TASKS = "all"


def cost_quality_points(runs: pd.DataFrame, by_task: bool = False) -> pd.DataFrame:
    """Mean cost per item and mean score per model (and per task, plus task "all", when by_task)."""
    for col in ("model", "score", "cost_usd"):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r}; see the runs-frame contract")

    def summarise(frame: pd.DataFrame) -> pd.DataFrame:
        grouped = frame.groupby("model")
        return pd.DataFrame(
            {"cost": grouped["cost_usd"].mean(), "quality": grouped["score"].mean(), "n": grouped.size()}
        ).reset_index()

    overall = summarise(runs).assign(task=ALL_TASKS)
    if not by_task or "task" not in runs.columns:
        return overall[["task", "model", "cost", "quality", "n"]]
    per_task = [summarise(frame).assign(task=task) for task, frame in runs.groupby("task")]
    return pd.concat([overall, *per_task], ignore_index=True)[["task", "model", "cost", "quality", "n"]]


def _clean(points: pd.DataFrame) -> pd.DataFrame:
    for col in ("cost", "quality"):
        if col not in points.columns:
            raise DataError(f"points frame lacks column {col!r} (needs cost and quality)")
    return points.dropna(subset=["cost", "quality"]).sort_values(["cost", "quality"], ascending=[True, False])


def pareto_frontier(points: pd.DataFrame) -> pd.DataFrame:
    """Points no other point beats on both axes (cheaper or equal and better or equal), sorted by cost."""
    ordered = _clean(points)
    best = -np.inf
    keep = []
    for idx, quality in zip(ordered.index, ordered["quality"], strict=True):
        if quality > best:  # cheaper points come first, so a point survives only by being strictly better
            keep.append(idx)
            best = quality
    return ordered.loc[keep]


def zero_router_hull(points: pd.DataFrame) -> pd.DataFrame:
    """The zero router (RouterBench): the upper convex hull of the Pareto points, reached by mixing two models."""
    front = pareto_frontier(points)
    hull: list[Any] = []
    xy = front[["cost", "quality"]].to_numpy()
    for i, (x, y) in enumerate(xy):
        # Monotone chain, upper hull: drop the last point while it lies on or below the chord to the new one.
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = xy[hull[-2]], xy[hull[-1]]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return front.iloc[hull]


@overload
def for_task(frame: pd.DataFrame, task: str | None) -> pd.DataFrame: ...
@overload
def for_task(frame: pd.DataFrame | None, task: str | None) -> pd.DataFrame | None: ...
def for_task(frame: pd.DataFrame | None, task: str | None) -> pd.DataFrame | None:
    """The rows of one task (all rows when `task` is None or the frame has no task column)."""
    if frame is None or task is None or "task" not in frame.columns:
        return frame
    return frame[frame["task"] == task]
