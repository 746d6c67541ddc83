"""The cost models a router routes on, and their out-of-fold evidence.

Simplest first: each model's mean cost (the baselines' cost model); per task and model, the mean cost; the task
cost lines (a base cost plus a slope per thousand prompt characters); the neighbours' logged costs (the mean cost
of each model on the prompt's nearest training prompts). A richer one is kept only when routing on it shows a gain
(`llmbench.router.selection`): a slope sends short prompts to the dear model first, which loses where the dear
model's gain grows with the prompt's length. The first three are one table in a policy (`task_cost`: base and
slope per task and model), the last a kNN index. Serving needs numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from llmbench.router.decision import expected_cost

if TYPE_CHECKING:
    from llmbench.router.candidates import Training
    from llmbench.router.data import RoutingData

__all__ = [
    "LINES",
    "MODEL_MEANS",
    "NEIGHBOURS",
    "TABLES",
    "TASK_MEANS",
    "cost_tables",
    "neighbour_costs",
    "out_of_fold_costs",
    "routed_cost",
    "table_costs",
    "table_for",
]

MODEL_MEANS, TASK_MEANS = "model mean costs", "task mean costs"
LINES, NEIGHBOURS = "task cost lines", "neighbour costs"
TABLES = (MODEL_MEANS, TASK_MEANS, LINES)  # the cost models a policy's task_cost table holds, simplest first


def cost_tables(
    data: RoutingData, task_idx: np.ndarray, n_tasks: int, prior_strength: float
) -> dict[str, np.ndarray]:
    """Every one of the `TABLES` cost models' (2, tasks, models) table (base, slope per thousand characters),
    from two passes over the logged costs."""
    from llmbench.router.stacking import task_stats  # training only

    means = task_stats(data, task_idx, n_tasks, prior_strength, slopes=False)[1]
    overall = np.zeros_like(means)
    overall[0] = np.nanmean(data.cost, axis=0)  # each model's mean over every prompt, whatever its task
    lines = task_stats(data, task_idx, n_tasks, prior_strength)[1]
    return {MODEL_MEANS: overall, TASK_MEANS: means, LINES: lines}


def table_for(cost_model: str) -> str:
    """The table a router with `cost_model` serves: its own, or for the neighbours' costs the lines that fill
    their gaps."""
    return cost_model if cost_model in TABLES else LINES


def table_costs(train: Training, prior_strength: float) -> dict[str, np.ndarray]:
    """Each table cost model's estimate of every training prompt's cost, each from the other folds."""
    data, n_t = train.data, train.n_tasks
    kchars = np.array([len(p) / 1000 for p in data.prompts])
    out = {model: np.empty_like(data.cost) for model in TABLES}
    for k in train.folds:
        rest, inside = train.fold != k, train.fold == k
        tables = cost_tables(data.subset(rest), train.task_idx[rest], n_t, prior_strength)
        for model, table in tables.items():
            out[model][inside] = expected_cost(np.eye(n_t)[train.task_idx[inside]], table, kchars[inside])
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
    tables, near = table_costs(train, prior_strength), neighbour_costs(train)
    return {**tables, NEIGHBOURS: np.where(np.isnan(near), tables[table_for(NEIGHBOURS)], near)}


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
