"""The task prior: the task posterior times each task's mean quality (what a task label alone knows). It is the
simplest candidate and the fallback of every other one where they have no estimate."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from llmbench.router.candidates import CANDIDATES, Query, Shape, Training

__all__ = ["TaskPrior"]


@CANDIDATES.register
class TaskPrior:
    """P(task | prompt) . per-task mean quality."""

    name: ClassVar[str] = "task prior"
    complexity: ClassVar[int] = 1

    def out_of_fold(self, train: Training) -> np.ndarray:
        return train.prior_oof

    def fit(self, train: Training) -> None:
        """Nothing beyond the task statistics every router keeps."""

    def query(self, query: Query) -> np.ndarray:
        return np.asarray(np.minimum(np.maximum(query.posterior @ query.task_quality, 0.0), 1.0))

    def section(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_section(cls, section: dict[str, Any], shape: Shape) -> TaskPrior:
        return cls()
