"""The numpy-only scoring core shared by the trained router and the exported policy.

Given the task posterior and the candidates' quality estimates of a prompt, both sides blend them, compute the
expected cost per model and rank the models the same way, so their decisions agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from llmbench.errors import DataError

__all__ = [
    "Decision",
    "Fallback",
    "blend",
    "decision_from",
    "expected_cost",
    "rank",
    "softmax",
    "utilities",
    "with_known_tasks",
]


@dataclass(slots=True)
class Fallback:
    """A model ranked after the chosen one, with its expected figures."""

    model: str
    expected_quality: float
    expected_cost: float
    utility: float


@dataclass(slots=True)
class Decision:
    """Which model should answer, what it is expected to score and cost, and the ranked fallbacks."""

    model: str
    expected_quality: float
    expected_cost: float
    utility: float
    task: str
    task_probability: float
    fallbacks: list[Fallback] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


def expected_cost(posterior: np.ndarray, task_cost: np.ndarray, kchars: np.ndarray) -> np.ndarray:
    """Expected cost per model for prompts of `kchars` thousand characters: P(task) . (base + per_kchar * kchars)
    with task_cost (2, tasks, models): the logged cost per call grows with the prompt's length (input tokens)."""
    cost = posterior @ task_cost[0] + (posterior @ task_cost[1]) * kchars[:, None]
    return np.asarray(np.maximum(cost, 0.0))


def utilities(
    quality: np.ndarray,
    cost: np.ndarray,
    lambda_: float,
    mode: str = "cost",
    strong: int = 0,
    weak: int = 1,
    threshold: float = 0.0,
) -> np.ndarray:
    """Per-model utility whose argmax is the decision.

    cost mode: quality - lambda * cost. threshold mode (RouteLLM style, two models): the strong model's
    utility is the expected quality gain over the weak one minus the threshold, the weak model's is 0,
    every other model is ranked after them by quality - lambda * cost.
    """
    u = quality - lambda_ * cost
    if mode == "threshold":
        other = u - (np.abs(u).max(axis=-1, keepdims=True) + 2.0)  # strictly below the pair
        other[..., strong] = quality[..., strong] - quality[..., weak] - threshold
        other[..., weak] = -1e-12  # a gain equal to the threshold goes to the strong model
        return np.asarray(other)
    return u


def rank(u: np.ndarray) -> np.ndarray:
    """Model indices by decreasing utility; ties go to the earlier model (stable)."""
    return np.argsort(-u, axis=-1, kind="stable")


def decision_from(
    post: np.ndarray, q: np.ndarray, c: np.ndarray, u: np.ndarray, models: list[str], tasks: list[str]
) -> Decision:
    """The Decision for one prompt's estimate vectors: best model first, the rest as ranked fallbacks."""
    ql, cl, ul = q.tolist(), c.tolist(), u.tolist()
    ranked = [Fallback(models[j], ql[j], cl[j], ul[j]) for j in rank(u).tolist()]
    t = int(np.argmax(post))
    best = ranked[0]
    return Decision(
        best.model,
        best.expected_quality,
        best.expected_cost,
        best.utility,
        str(tasks[t]),
        float(post[t]),
        ranked[1:],
    )


def blend(
    post: np.ndarray, weights: np.ndarray, estimates: list[np.ndarray], fallback: np.ndarray
) -> np.ndarray:
    """sum_c (P(task) . W[:, c]) * estimate_c, a missing (NaN) estimate falling back to `fallback` (the task
    prior)."""
    mix = post @ weights  # (prompts, candidates)
    out = np.zeros_like(fallback)
    for c, est in enumerate(estimates):
        out += mix[:, c : c + 1] * np.where(np.isnan(est), fallback, est)
    return np.asarray(np.minimum(np.maximum(out, 0.0), 1.0))  # cheaper than np.clip for a few values


def with_known_tasks(post: np.ndarray, tasks: Sequence[str | None] | None, classes: list[str]) -> np.ndarray:
    """The posterior with rows of known, trained task labels replaced by one-hot rows (None or an unseen label
    keeps the classifier's row)."""
    if tasks is None:
        return post
    if len(tasks) != len(post):
        raise DataError(f"got {len(tasks)} task labels for {len(post)} prompts")
    post = post.copy()
    index = {t: i for i, t in enumerate(classes)}
    for row, task in enumerate(tasks):
        if task is not None and task in index:
            post[row] = 0.0
            post[row, index[task]] = 1.0
    return post
