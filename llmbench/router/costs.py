"""The cost models a router routes on, and their out-of-fold evidence.

The task cost lines (per task and model, a base cost plus a slope per thousand prompt characters) are the simple
model; the neighbours' logged costs (the mean cost of each model on the prompt's nearest training prompts) are the
richer one, kept only when routing on them shows a gain (`llmbench.router.selection`). Serving needs numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from llmbench.router.decision import expected_cost

if TYPE_CHECKING:
    from llmbench.router.candidates import Training

__all__ = ["LINES", "NEIGHBOURS", "line_costs", "neighbour_costs", "out_of_fold_costs", "routed_cost"]

LINES, NEIGHBOURS = "task cost lines", "neighbour costs"


def line_costs(train: Training, prior_strength: float) -> np.ndarray:
    """The task cost lines' estimate of every training prompt's cost, each from the other folds."""
    from llmbench.router.stacking import task_stats  # training only

    data, n_t = train.data, train.n_tasks
    kchars = np.array([len(p) / 1000 for p in data.prompts])
    out = np.empty_like(data.cost)
    for k in train.folds:
        rest, inside = train.fold != k, train.fold == k
        lines = task_stats(data.subset(rest), train.task_idx[rest], n_t, prior_strength)[1]
        out[inside] = expected_cost(np.eye(n_t)[train.task_idx[inside]], lines, kchars[inside])
    return out


def neighbour_costs(train: Training) -> np.ndarray:
    """Every training prompt's cost per model as its nearest neighbours in the other folds logged it (NaN where
    nothing is similar): the out-of-fold evidence for routing on neighbours' costs."""
    from llmbench.router.candidates import sparse_rows
    from llmbench.router.knn import KnnIndex

    data, k = train.data, train.options.get("k", 25)
    near = np.full(data.cost.shape, np.nan)
    for fold in train.folds:
        rest, inside = train.fold != fold, np.flatnonzero(train.fold == fold)
        index = KnnIndex.build(train.words[rest], data.quality[rest], k, cost=data.cost[rest])
        for i, (idx, val) in zip(inside, sparse_rows(train.words[inside]), strict=True):
            near[i] = index.cost_one(idx, val)
    return near


def out_of_fold_costs(train: Training, prior_strength: float) -> dict[str, np.ndarray]:
    """Each cost model's out-of-fold estimate of every training prompt's cost, simplest first; the neighbours'
    gaps (nothing similar) are the lines' estimate, as serving fills them."""
    lines, near = line_costs(train, prior_strength), neighbour_costs(train)
    return {LINES: lines, NEIGHBOURS: np.where(np.isnan(near), lines, near)}


def routed_cost(
    posterior: np.ndarray,
    task_cost: np.ndarray,
    kchars: np.ndarray,
    neighbours: Any | None,
    rows: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """The cost a router routes on: its neighbours' mean logged cost (`KnnIndex.cost_one`) where it keeps them
    and they have one, else the task cost lines (`expected_cost`)."""
    cost = expected_cost(posterior, task_cost, kchars)
    if neighbours is None:
        return cost
    near = np.array([neighbours.cost_one(idx, val) for idx, val in rows]).reshape(cost.shape)
    return np.asarray(np.where(np.isnan(near), cost, near))
