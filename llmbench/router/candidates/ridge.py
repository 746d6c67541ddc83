"""The prompt ridge: the task prior plus each model's prompt-level score residual (ridge regression on the word
TF-IDF block), weighted per task by out-of-fold stacking (`llmbench.router.stacking`).

quality_m = P(task) . task_quality[:, m] + (P(task) . beta_own[:, m]) * r_m + (P(task) . beta_shared[:, m]) *
mean(r), clipped to [0, 1], where r are the ridge estimates of the residuals (score - task mean).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from llmbench.errors import DataError
from llmbench.router.candidates import CANDIDATES, Query, Shape, Training
from llmbench.router.policy_file import ArrayData, encode_array, parse_section, shaped
from llmbench.router.stacking import stack_weights

__all__ = ["PromptRidge", "RidgeSection"]


class RidgeSection(BaseModel):
    """Per-model ridge coefficients over the word block (or every feature) and their stacking weights."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["ridge"]
    coef: ArrayData  # (models, words or features)
    task_beta: ArrayData  # (2, tasks, models)


@CANDIDATES.register
class PromptRidge:
    """Ridge residuals on the word block, stacked per task over the task prior."""

    name: ClassVar[str] = "prompt ridge"
    complexity: ClassVar[int] = 2

    def __init__(self, coef_t: np.ndarray | None = None, task_beta: np.ndarray | None = None) -> None:
        self.coef_t = coef_t  # (columns, models): gathered by a prompt's column indices
        self.task_beta = task_beta
        self._fold_predictions: np.ndarray | None = None

    @staticmethod
    def _ridge(train: Training) -> Any:
        from sklearn.linear_model import Ridge

        # sparse_cg without intercept is ~10x faster than the intercept-centering path on TF-IDF rows
        return Ridge(alpha=train.options.get("alpha", 3.0), fit_intercept=False, solver="sparse_cg", tol=1e-4)

    @staticmethod
    def _residual(train: Training) -> tuple[np.ndarray, np.ndarray]:
        """(score - task mean with missing scores as 0, which scores are known): ~zero mean per task."""
        residual = train.data.quality - train.task_quality[train.task_idx]
        known = np.isfinite(residual)
        return np.where(known, residual, 0.0), known

    def _predictions(self, train: Training, residual: np.ndarray) -> np.ndarray:
        """Each prompt's residual estimates from a ridge fitted on the other folds."""
        if self._fold_predictions is None:
            oof = np.zeros_like(residual)
            for k in train.folds:
                a, b = np.flatnonzero(train.fold != k), np.flatnonzero(train.fold == k)
                oof[b] = (
                    self._ridge(train)
                    .fit(train.words[a], residual[a])
                    .predict(train.words[b])
                    .reshape(len(b), -1)
                )
            self._fold_predictions = oof
        return self._fold_predictions

    def out_of_fold(self, train: Training) -> np.ndarray:
        residual, known = self._residual(train)
        oof = self._predictions(train, residual)
        terms, n_t, idx = train.options.get("residual_terms", "common"), train.n_tasks, train.task_idx
        rows_beta = np.empty((len(idx), 2, oof.shape[1]))
        for k in train.folds:  # the stacking weights of each fold come from the other folds too
            out, inside = train.fold != k, train.fold == k
            b_k = stack_weights(oof[out], residual[out], known[out], idx[out], n_t, terms)
            rows_beta[inside] = b_k[:, idx[inside]].transpose(1, 0, 2)
        shared = oof.mean(axis=1, keepdims=True)
        return np.asarray(
            np.clip(train.prior_oof + rows_beta[:, 0] * oof + rows_beta[:, 1] * shared, 0.0, 1.0)
        )

    def fit(self, train: Training) -> None:
        residual, known = self._residual(train)
        oof = self._predictions(train, residual)
        terms = train.options.get("residual_terms", "common")
        self.task_beta = stack_weights(oof, residual, known, train.task_idx, train.n_tasks, terms)
        self.coef_t = np.atleast_2d(self._ridge(train).fit(train.words, residual).coef_).T
        self._fold_predictions = None

    def query(self, query: Query) -> np.ndarray:
        assert self.coef_t is not None and self.task_beta is not None, "fit or load the candidate first"
        width = self.coef_t.shape[0]
        resid = np.array([val[idx < width] @ self.coef_t[idx[idx < width]] for idx, val in query.rows])
        resid = resid.reshape(len(query.rows), self.coef_t.shape[1])
        post, beta = query.posterior, self.task_beta
        quality = post @ query.task_quality
        shared = resid.mean(axis=-1, keepdims=True)
        quality = quality + (post @ beta[0]) * resid + (post @ beta[1]) * shared
        return np.asarray(np.clip(quality, 0.0, 1.0))

    def section(self) -> dict[str, Any]:
        assert self.coef_t is not None and self.task_beta is not None, "fit the candidate first"
        return {
            "kind": "ridge",
            "coef": encode_array(self.coef_t.T),
            "task_beta": encode_array(self.task_beta),
        }

    @classmethod
    def from_section(cls, section: dict[str, Any], shape: Shape) -> PromptRidge:
        body = parse_section(RidgeSection, section, cls.name)
        width = body.coef.shape[-1] if body.coef.shape else -1
        if width not in (shape.words, shape.features):
            raise DataError(
                f"policy {cls.name!r} coefficients span {width} columns, not the {shape.words} words "
                f"or {shape.features} features"
            )
        coef = shaped(body.coef, "coef", (shape.models, width))
        beta = shaped(body.task_beta, "task_beta", (2, shape.tasks, shape.models))
        return cls(np.ascontiguousarray(coef.T), beta)
