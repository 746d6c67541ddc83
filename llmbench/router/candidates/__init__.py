"""Router candidates: estimators of each model's expected quality on a prompt, found by name.

A candidate is one module in this package: a class with a `name`, a `complexity` (simpler candidates are
preferred on ties and must be beaten by a margin), `out_of_fold` estimates on the training prompts, `fit` on all
of them, a numpy-only `query` used by the trained router and the served policy alike, and its policy section
(`section` / `from_section`). The estimator, the policy and the CLI loop over `CANDIDATES`; which candidates are
blended, and with which weights per task, is chosen in `llmbench.router.selection`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from llmbench.registry import Registry

if typing.TYPE_CHECKING:
    from llmbench.router.data import RoutingData

__all__ = ["CANDIDATES", "Candidate", "Query", "Shape", "Training", "ordered", "sparse_rows"]


@dataclass(frozen=True)
class Shape:
    """The sizes a policy section must agree with."""

    tasks: int
    models: int
    words: int  # the word block's columns (the first ones of every feature row)
    features: int


@dataclass
class Training:
    """What every candidate learns from: the training prompts, their folds and the task prior."""

    data: RoutingData
    words: Any  # sparse (prompts, words): the word block of the features
    task_idx: np.ndarray
    n_tasks: int
    task_quality: np.ndarray  # (tasks, models): mean score per task on every training prompt
    fold: np.ndarray  # each prompt's cross-fitting fold (prompts grouped)
    prior_oof: np.ndarray  # the task prior from the other folds, per prompt
    options: dict[str, Any] = field(default_factory=dict)  # the estimator's parameters

    @property
    def folds(self) -> list[int]:
        """The fold numbers, in order."""
        return [int(k) for k in np.unique(self.fold)]


@dataclass(frozen=True)
class Query:
    """What every candidate sees of the prompts it estimates, on both sides of the export (numpy only)."""

    posterior: np.ndarray  # (prompts, tasks)
    rows: list[tuple[np.ndarray, np.ndarray]]  # each prompt's feature columns (ascending) and values
    task_quality: np.ndarray


class Candidate(Protocol):
    """An expected-quality estimator (prompts x models; NaN where it has no estimate)."""

    name: ClassVar[str]
    complexity: ClassVar[int]  # simplest first; a richer candidate must show its gain over the simpler ones

    def out_of_fold(self, train: Training) -> np.ndarray:
        """Estimates for every training prompt, each from a fit on the other folds."""
        ...

    def fit(self, train: Training) -> None:
        """Fit on every training prompt (called only when the candidate is served)."""
        ...

    def query(self, query: Query) -> np.ndarray:
        """Estimates for new prompts (numpy only: the served policy calls this)."""
        ...

    def section(self) -> dict[str, Any]:
        """The fitted state as a JSON-safe policy section (arrays via `encode_array`)."""
        ...

    @classmethod
    def from_section(cls, section: dict[str, Any], shape: Shape) -> Candidate:
        """The candidate a policy section describes, checked against the policy's sizes (DataError if not)."""
        ...


CANDIDATES: Registry[type[Candidate]] = Registry("router candidate", package=__name__)


def ordered(names: list[str] | None = None) -> list[type[Candidate]]:
    """The registered candidates (or those named), simplest first."""
    kinds = [CANDIDATES.get(n) for n in names] if names is not None else list(CANDIDATES)
    return sorted(kinds, key=lambda kind: (kind.complexity, kind.name))


def sparse_rows(matrix: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """A scipy sparse matrix as per-row (ascending column indices, values): the policy's own row form."""
    import scipy.sparse as sp  # training only: serving builds rows itself

    csr = sp.csr_matrix(matrix)
    out = []
    for i in range(csr.shape[0]):
        a, b = csr.indptr[i], csr.indptr[i + 1]
        order = np.argsort(csr.indices[a:b], kind="stable")
        out.append((csr.indices[a:b][order].astype(np.int64), csr.data[a:b][order]))
    return out
