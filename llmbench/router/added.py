"""Models added to a trained router from a small probe set, without the new model answering the full logs.

A new model is represented through the trained models' results on the probe prompts: its probe scores are fitted
as a non-negative mix of theirs plus an intercept (`scipy.optimize.nnls`), and per task an offset (the mean residual,
shrunk towards zero with `prior_strength` pseudo-prompts). Serving then estimates it, for any prompt, from the
router's own estimates of the trained models: quality_new = offset[task] + quality_trained @ weight, so it inherits
their prompt-level signal (task prior, ridge, kNN) without refitting any candidate. Its cost comes from its own
cost lines on the probe prompts (`llmbench.router.stacking.task_stats`). Serving needs numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmbench.errors import DataError
from llmbench.router.decision import expected_cost
from llmbench.router.policy_file import AddedSection, encode_array, parse_section, shaped

__all__ = ["AddedModels", "fit_added"]


@dataclass
class AddedModels:
    """The added models (in order after the trained ones): weight (trained models, added), offset (tasks, added),
    cost lines (2, tasks, added)."""

    names: list[str] = field(default_factory=list)
    weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    offset: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    cost_lines: np.ndarray = field(default_factory=lambda: np.zeros((2, 0, 0)))

    def __len__(self) -> int:
        return len(self.names)

    def extend(
        self, post: np.ndarray, quality: np.ndarray, cost: np.ndarray, kchars: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Quality and cost with a column per added model after the trained models' columns."""
        if not self.names:
            return quality, cost
        q_new = np.clip(post @ self.offset + quality @ self.weight, 0.0, 1.0)  # scores live in 0..1
        c_new = expected_cost(post, self.cost_lines, kchars)
        return np.hstack([quality, q_new]), np.hstack([cost, c_new])

    def with_model(self, name: str, weight: np.ndarray, offset: np.ndarray, lines: np.ndarray) -> AddedModels:
        """These added models and one more (its weight over the trained models only)."""
        n_t, n_base = len(offset), len(weight)
        if not self.names:
            return AddedModels([name], weight[:, None], offset[:, None], lines[:, :, None])
        return AddedModels(
            [*self.names, name],
            np.hstack([self.weight, weight.reshape(n_base, 1)]),
            np.hstack([self.offset, offset.reshape(n_t, 1)]),
            np.concatenate([self.cost_lines, lines.reshape(2, n_t, 1)], axis=2),
        )

    def section(self) -> dict[str, Any]:
        """The policy file's `added` section ({} when nothing was added)."""
        if not self.names:
            return {}
        return {
            "models": list(self.names),
            "weight": encode_array(self.weight),
            "offset": encode_array(self.offset),
            "cost_lines": encode_array(self.cost_lines),
        }

    @classmethod
    def from_section(cls, section: dict[str, Any], models: list[str], n_tasks: int) -> AddedModels:
        """Read an `added` section; its models must be the last of the policy's models."""
        if not section:
            return cls()
        body = parse_section(AddedSection, section, "added")
        names, n_base = list(body.models), len(models) - len(body.models)
        if n_base < 2 or models[n_base:] != names:
            raise DataError(
                f"policy added models {names} must be the last of its models and leave two trained ones"
            )
        return cls(
            names,
            shaped(body.weight, "added weight", (n_base, len(names))),
            shaped(body.offset, "added offset", (n_tasks, len(names))),
            shaped(body.cost_lines, "added cost_lines", (2, n_tasks, len(names))),
        )


def fit_added(
    trained: np.ndarray, scores: np.ndarray, task_idx: np.ndarray, n_tasks: int, strength: float
) -> tuple[np.ndarray, np.ndarray]:
    """(weight over the trained models, offset per task) of a new model from its probe `scores` (n,) and the
    trained models' results `trained` (n, models) on the same prompts, whose tasks are `task_idx`."""
    from scipy.optimize import nnls  # training only

    ok = np.isfinite(scores) & np.isfinite(trained).all(axis=1)
    if ok.sum() < 2:
        raise DataError(f"a model is added from at least 2 probe prompts with a score, got {int(ok.sum())}")
    x, y, tasks = trained[ok], scores[ok], task_idx[ok]
    ones = np.ones((len(y), 1))
    coef = nnls(np.hstack([x, ones, -ones]), y)[0]  # a signed intercept as two non-negative columns
    m = x.shape[1]
    weight, intercept = coef[:m], coef[m] - coef[m + 1]
    resid = y - x @ weight - intercept
    n = np.bincount(tasks, minlength=n_tasks).astype(float)
    offset = intercept + np.bincount(tasks, weights=resid, minlength=n_tasks) / np.maximum(
        n + strength, 1e-12
    )
    return weight, offset


def learn_model(
    estimate: Any,
    models: list[str],
    tasks: list[str],
    added: AddedModels,
    probe: Any,
    model: str,
    strength: float,
    cost_model: str | None = None,
) -> tuple[AddedModels, float]:
    """`added` with `model` learnt from `probe` (a runs frame or RoutingData holding the new model's runs; the
    trained models' logged runs on the same prompts are used where present, the router's `estimate` of them
    elsewhere), and the new model's mean probe cost. `estimate(prompts, tasks)` is the router's own; its cost
    lines are of the router's own `cost_model` (`llmbench.router.costs.TABLES`; the lines where it routes on
    neighbours' costs, as those fill their gaps)."""
    from llmbench.router.costs import LINES, cost_tables, table_for
    from llmbench.router.data import RoutingData, routing_data

    if model in models:
        raise DataError(f"model {model!r} is already routed (models: {models})")
    data = probe if isinstance(probe, RoutingData) else routing_data(probe)
    if model not in data.models:
        raise DataError(f"the probe runs have no rows of model {model!r} (they have {data.models})")
    column = data.models.index(model)
    data = data.subset(np.isfinite(data.quality[:, column]))
    if len(data) < 2:
        raise DataError(f"a model is added from at least 2 probe prompts with a score, got {len(data)}")
    unknown = sorted({str(t) for t in data.tasks} - set(tasks))
    if unknown:
        raise DataError(f"probe tasks {unknown[:5]} are not among the router's tasks {tasks[:10]}")
    n_base = len(models) - len(added)
    _, estimated, _ = estimate(list(data.prompts), [str(t) for t in data.tasks])
    trained = np.asarray(estimated)[:, :n_base].copy()
    for j, name in enumerate(models[:n_base]):  # logged results beat estimates where the probe has them
        if name in data.models:
            logged = data.quality[:, data.models.index(name)]
            trained[:, j] = np.where(np.isfinite(logged), logged, trained[:, j])
    task_idx = np.array([tasks.index(str(t)) for t in data.tasks])
    weight, offset = fit_added(trained, data.quality[:, column], task_idx, len(tasks), strength)
    own = data.columns([model])
    table = cost_tables(own, task_idx, len(tasks), strength)[table_for(cost_model or LINES)]
    lines = table[:, :, 0]
    return added.with_model(model, weight, offset, lines), float(np.nanmean(own.cost))
