"""The router's per-task statistics and the stacking of its residual estimators (fitted out of fold)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from llmbench.errors import DataError

if TYPE_CHECKING:
    from llmbench.router.data import RoutingData

__all__ = ["stack_weights", "task_stats"]


def task_stats(
    data: RoutingData, task_idx: np.ndarray, n_tasks: int, strength: float = 0.0, slopes: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Per task and model: mean score (T, M) and cost line (2, T, M) = base + per-1k-chars slope (without
    `slopes`, the mean cost and a zero slope: every prompt of a task costs the same).

    A task's mean counts `strength` pseudo-prompts at the model's global mean (a task with few prompts says little
    about itself); a task without data for a model uses the model's global figures.
    """
    m = len(data.models)
    kchars = np.array([len(p) / 1000 for p in data.prompts])
    gq = _nanmean(data.quality)
    gc = _nanmean(data.cost)
    if np.isnan(gc).any():
        missing = [data.models[j] for j in np.flatnonzero(np.isnan(gc))]
        raise DataError(
            f"no logged cost for models {missing}; attach prices before training a cost-aware router"
        )
    tq = np.tile(np.where(np.isnan(gq), 0.0, gq), (n_tasks, 1))
    tc = np.zeros((2, n_tasks, m))
    tc[0] = gc
    for t in range(n_tasks):
        rows = task_idx == t
        q = _nanmean(data.quality[rows])
        n = np.isfinite(data.quality[rows]).sum(axis=0)
        shrunk = (n * np.where(np.isnan(q), 0.0, q) + strength * tq[t]) / np.maximum(n + strength, 1e-12)
        tq[t] = np.where(np.isnan(q), tq[t], shrunk)
        for j in range(m):
            ok = rows & np.isfinite(data.cost[:, j])
            if ok.sum() >= 1:
                tc[:, t, j] = (
                    _cost_line(kchars[ok], data.cost[ok, j]) if slopes else (data.cost[ok, j].mean(), 0)
                )
    return tq, tc


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means ignoring nan; nan for all-nan columns (without the RuntimeWarning)."""
    known = np.isfinite(a)
    n = known.sum(axis=0)
    total = np.where(known, a, 0.0).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _cost_line(kchars: np.ndarray, cost: np.ndarray) -> tuple[float, float]:
    """Least-squares cost = base + slope * kchars with slope >= 0; the mean when lengths do not vary."""
    spread = kchars - kchars.mean()
    var = float(spread @ spread)
    if len(cost) < 3 or var <= 1e-12:
        return float(cost.mean()), 0.0
    slope = max(0.0, float(spread @ (cost - cost.mean())) / var)
    return float(cost.mean() - slope * kchars.mean()), slope


_POOL = 200  # prompts: a task's own stacking weight counts like this many prompts of the pooled one


def stack_weights(
    oof: np.ndarray, residual: np.ndarray, known: np.ndarray, task_idx: np.ndarray, n_tasks: int, terms: str
) -> np.ndarray:
    """Non-negative weights (own estimate, shared difficulty) per task and model, fitted out of fold.

    They learn how far to trust the prompt-level estimates (0 where they carry no signal). Each task's
    weight is shrunk towards the weight fitted on all tasks pooled, so small tasks do not overfit.
    """
    # training only: the served ridge candidate imports this module, and serving needs numpy alone
    from scipy.optimize import nnls

    shared = oof.mean(axis=1)

    def fit(rows: np.ndarray, m: int) -> np.ndarray:  # rows: the prompts to fit on
        out = np.zeros(2)
        if rows.sum() < 10:
            return out
        if terms == "both":
            out[:] = nnls(np.column_stack([oof[rows, m], shared[rows]]), residual[rows, m])[0]
        elif terms == "own":
            out[0] = nnls(oof[rows, m][:, None], residual[rows, m])[0][0]
        elif terms == "common":  # one weight for all models: their estimates are trusted alike
            both = rows[:, None] & known
            out[0] = nnls(oof[both][:, None], residual[both])[0][0]
        else:
            out[1] = nnls(shared[rows][:, None], residual[rows, m])[0][0]
        return out

    beta = np.zeros((2, n_tasks, oof.shape[1]))
    for m in range(oof.shape[1]):
        pooled = fit(known[:, m], m)
        for t in range(n_tasks):
            rows = (task_idx == t) & known[:, m]
            n = int(rows.sum())
            beta[:, t, m] = (n * fit(rows, m) + _POOL * pooled) / (n + _POOL)
    return beta
