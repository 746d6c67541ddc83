"""Which candidates a router serves, and with which weights per task, chosen by cross-fitting inside the training
split (the test split is never touched here).

The blend weights are fitted per task on the candidates' out-of-fold estimates (non-negative least squares, shrunk
towards the pooled weights for small tasks), and the blend is kept only when its out-of-fold routing beats every
single candidate's; otherwise the best single candidate is used alone, a richer one only when it beats the
simpler ones by a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from llmbench.router.candidates import Candidate, Training
from llmbench.router.data import RoutingData
from llmbench.router.decision import blend

__all__ = ["Selection", "blend_weights", "routing_score", "select"]

_POOL = 200  # prompts: a task's own weights count like this many prompts of the pooled ones
_MARGIN = 0.001  # out-of-fold AIQ gain a richer estimator must show over a simpler one (noise guard)


@dataclass
class Selection:
    """The outcome: weights per task of each candidate considered (tasks,), out-of-fold scores, the choice."""

    weights: dict[str, np.ndarray]
    scores: dict[str, float]
    choice: str

    @property
    def served(self) -> list[str]:
        """The candidates with any weight, in the order they were considered (simplest first)."""
        return [name for name, w in self.weights.items() if w.any()]


def blend_weights(
    oof: list[np.ndarray], quality: np.ndarray, task_idx: np.ndarray, n_tasks: int
) -> np.ndarray:
    """Non-negative weights (tasks x candidates) that best combine out-of-fold estimates into the true quality; the
    first estimate (the task prior) fills the others' gaps."""
    known = np.isfinite(quality)
    prior = oof[0]

    def fit(rows: np.ndarray) -> np.ndarray:
        mask = known[rows]
        cols = [np.where(np.isnan(e[rows]), prior[rows], e[rows])[mask] for e in oof]
        if mask.sum() < len(oof):
            return np.asarray(np.eye(len(oof))[0])
        w = nnls(np.column_stack(cols), quality[rows][mask])[0]
        return np.asarray(w if w.sum() > 0 else np.eye(len(oof))[0])

    pooled = fit(np.arange(len(quality)))
    out = np.tile(pooled, (n_tasks, 1))
    for t in range(n_tasks):
        rows = np.flatnonzero(task_idx == t)
        if len(rows):
            out[t] = (len(rows) * fit(rows) + _POOL * pooled) / (len(rows) + _POOL)
    return out


def routing_score(data: RoutingData, estimate: np.ndarray, mode: str) -> float:
    """How well routing on `estimate` does on the rows with every score and cost: in threshold mode APGR of the
    strong-minus-weak ranking, else AIQ of the lambda sweep (the figure `router eval` reports; true mean costs as
    the cost estimate, so candidates differ only in their quality estimates)."""
    from llmbench.router import metrics

    ok = np.isfinite(data.quality).all(axis=1) & np.isfinite(data.cost).all(axis=1)
    q_true, c_true, q = data.quality[ok], data.cost[ok], estimate[ok]
    if not len(q_true):
        return 0.0
    mean_q, mean_c = q_true.mean(axis=0), c_true.mean(axis=0)
    if mode == "threshold":
        s, w = int(np.argmax(mean_q)), int(np.argmin(mean_c))
        if s == w or mean_q[s] <= mean_q[w]:
            return 0.0
        return float(metrics.apgr(metrics.pgr_curve(q[:, s] - q[:, w], q_true[:, s], q_true[:, w])))
    pts = metrics.Sweep.of(q, np.tile(mean_c, (len(q), 1))).points(q_true, c_true)
    costs, quals = pts["cost"], pts["quality"]
    try:
        return float(metrics.aiq(costs, quals, float(mean_c.min()), float(mean_c.max())))
    except ValueError:  # every model costs the same: routing is by quality alone
        return float(quals[0])


def select(train: Training, candidates: list[Candidate], mode: str, forced: bool = False) -> Selection:
    """The weights to serve: with `forced`, the richest candidate alone (its score reported); else the blend
    of all when it beats every single candidate by the margin, or the best single one (simpler first on ties).
    `candidates` come simplest first, the task prior among them unless forced."""
    n_t = train.n_tasks
    names = [c.name for c in candidates]
    oof = [c.out_of_fold(train) for c in candidates]
    if forced:
        only = {name: np.zeros(n_t) for name in names}
        only[names[-1]] = np.ones(n_t)
        return Selection(only, {names[-1]: routing_score(train.data, oof[-1], mode)}, names[-1])
    data, prior = train.data, oof[0]
    weights = blend_weights(oof, data.quality, train.task_idx, n_t)
    scores = {
        n: routing_score(data, np.where(np.isnan(e), prior, e), mode) for n, e in zip(names, oof, strict=True)
    }
    onehot = np.eye(n_t)[train.task_idx]
    scores["blend"] = routing_score(data, blend(onehot, weights, oof, prior), mode)
    best, best_score = names[0], scores[names[0]]
    for name in names[1:]:  # a richer candidate must beat the simpler ones by the margin
        if scores[name] > best_score + _MARGIN:
            best, best_score = name, scores[name]
    if scores["blend"] > best_score + _MARGIN:
        return Selection({n: weights[:, i] for i, n in enumerate(names)}, scores, "blend")
    single = {n: np.zeros(n_t) for n in names}
    single[best] = np.ones(n_t)
    return Selection(single, scores, best)
