"""Baseline routers, each giving (expected quality, expected cost) per test prompt and model.

All are scored by the same lambda sweep as the learned router, so the comparison is like for like.
Single models and the zero router (mixtures of single models) are points/hulls and need no estimates.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from llmbench.router.data import RoutingData

__all__ = [
    "knn_estimates",
    "model_prior_estimates",
    "oracle_estimates",
    "random_choice",
    "task_prior_estimates",
]


def model_prior_estimates(train: RoutingData, test: RoutingData) -> tuple[np.ndarray, np.ndarray]:
    """The zero router as a bet: every prompt gets each model's train mean, so the sweep mixes the models on
    the training split's hull (RouterBench's zero router mixes those on the test split's, with hindsight)."""
    q, c = np.nanmean(train.quality, axis=0), np.nanmean(train.cost, axis=0)
    return np.tile(q, (len(test), 1)), np.tile(c, (len(test), 1))


def task_prior_estimates(train: RoutingData, test: RoutingData) -> tuple[np.ndarray, np.ndarray]:
    """Per-task router: every prompt of a task gets that task's train means (test prompts' true task)."""
    q_glob, c_glob = np.nanmean(train.quality, axis=0), np.nanmean(train.cost, axis=0)
    q = np.tile(q_glob, (len(test), 1))
    c = np.tile(c_glob, (len(test), 1))
    for task in np.unique(test.tasks):
        tr = train.tasks == task
        te = test.tasks == task
        if tr.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                tq, tc = np.nanmean(train.quality[tr], axis=0), np.nanmean(train.cost[tr], axis=0)
            q[te] = np.where(np.isnan(tq), q_glob, tq)
            c[te] = np.where(np.isnan(tc), c_glob, tc)
    return q, c


def knn_estimates(
    x_train: Any, train: RoutingData, x_test: Any, k: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """kNN router: the mean score and cost of the k nearest train prompts (cosine, same features)."""
    k = min(k, x_train.shape[0])
    nn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x_train)
    idx: np.ndarray = nn.kneighbors(x_test, return_distance=False)
    q_glob, c_glob = np.nanmean(train.quality, axis=0), np.nanmean(train.cost, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # neighbours without a score: global mean below
        q = np.asarray(np.nanmean(train.quality[idx], axis=1))
        c = np.asarray(np.nanmean(train.cost[idx], axis=1))
    return np.where(np.isnan(q), q_glob, q), np.where(np.isnan(c), c_glob, c)


def oracle_estimates(test: RoutingData) -> tuple[np.ndarray, np.ndarray]:
    """The oracle knows each test prompt's true scores and costs."""
    return test.quality.copy(), test.cost.copy()


def random_choice(n_prompts: int, n_models: int, seed: int = 0) -> np.ndarray:
    """Uniformly random model index per prompt (fixed seed)."""
    return np.random.default_rng(seed).integers(0, n_models, size=n_prompts)
