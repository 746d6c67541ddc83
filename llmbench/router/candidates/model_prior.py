"""The model prior: each model's mean score over every training prompt, whatever the prompt (the best single
model at each cost weight). The simplest candidate: a task-level one must beat it on out-of-fold evidence."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from llmbench.errors import DataError
from llmbench.router.candidates import CANDIDATES, Query, Shape, Training
from llmbench.router.policy_file import ArrayData, encode_array, parse_section

__all__ = ["ModelPrior", "ModelPriorSection"]


class ModelPriorSection(BaseModel):
    """Each model's mean training score."""

    model_config = ConfigDict(extra="forbid")
    mean: ArrayData  # (models,)


def _means(quality: np.ndarray) -> np.ndarray:
    known = np.isfinite(quality)
    total = np.where(known, quality, 0.0).sum(axis=0)
    return np.asarray(np.where(known.any(axis=0), total / np.maximum(known.sum(axis=0), 1), np.nan))


@CANDIDATES.register
class ModelPrior:
    """The mean score of each model over all training prompts."""

    name: ClassVar[str] = "model prior"
    complexity: ClassVar[int] = 0

    def __init__(self, mean: np.ndarray | None = None) -> None:
        self.mean = mean

    def out_of_fold(self, train: Training) -> np.ndarray:
        out = np.full(train.data.quality.shape, np.nan)
        for k in train.folds:
            out[train.fold == k] = _means(train.data.quality[train.fold != k])
        return out

    def fit(self, train: Training) -> None:
        self.mean = _means(train.data.quality)

    def query(self, query: Query) -> np.ndarray:
        assert self.mean is not None, "fit or load the candidate first"
        return np.tile(self.mean, (len(query.rows), 1))

    def section(self) -> dict[str, Any]:
        assert self.mean is not None, "fit the candidate first"
        return {"mean": encode_array(np.nan_to_num(self.mean, nan=-1.0))}

    @classmethod
    def from_section(cls, section: dict[str, Any], shape: Shape) -> ModelPrior:
        mean = parse_section(ModelPriorSection, section, cls.name).mean.array("model prior mean")
        if mean.shape != (shape.models,):
            raise DataError(
                f"policy 'model prior' means have shape {list(mean.shape)}, expected [{shape.models}]"
            )
        return cls(np.where(mean < 0, np.nan, mean))
