"""kNN: the mean quality of the k training prompts most similar to the prompt (cosine over the word TF-IDF
block, see `llmbench.router.knn.KnnIndex`)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from llmbench.errors import DataError
from llmbench.router.candidates import CANDIDATES, Query, Shape, Training
from llmbench.router.knn import KnnIndex
from llmbench.router.policy_file import ArrayData, encode_array, parse_section

__all__ = ["Knn", "KnnSection"]


class KnnSection(BaseModel):
    """The index: CSC arrays over the word columns and the training prompts' quality (-1: none)."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(ge=1, le=1000)
    indptr: ArrayData
    indices: ArrayData
    data: ArrayData
    quality: ArrayData
    # (train, models): logged costs, for a router that routes on its neighbours' costs
    cost: ArrayData | None = None


@CANDIDATES.register
class Knn:
    """Mean quality of the k nearest training prompts."""

    name: ClassVar[str] = "kNN"
    complexity: ClassVar[int] = 3

    def __init__(self, index: KnnIndex | None = None) -> None:
        self.index = index

    def out_of_fold(self, train: Training) -> np.ndarray:
        k = train.options.get("k", 25)
        out = np.full(train.data.quality.shape, np.nan)
        for fold in train.folds:
            rest, inside = train.fold != fold, train.fold == fold
            index = KnnIndex.build(train.words[rest], train.data.quality[rest], k)
            out[inside] = index.query(train.words[inside])
        return out

    def fit(self, train: Training) -> None:
        self.index = KnnIndex.build(train.words, train.data.quality, train.options.get("k", 25))

    def query(self, query: Query) -> np.ndarray:
        assert self.index is not None, "fit or load the candidate first"
        index = self.index
        out = np.array([index.query_one(idx, val) for idx, val in query.rows])
        return out.reshape(len(query.rows), index.quality.shape[1])

    def section(self) -> dict[str, Any]:
        assert self.index is not None, "fit the candidate first"
        index = self.index
        return {
            "k": index.k,
            "indptr": encode_array(index.indptr),
            "indices": encode_array(index.indices),
            "data": encode_array(index.data),
            "quality": encode_array(np.nan_to_num(index.quality, nan=-1.0)),
            **({} if index.cost is None else {"cost": encode_array(np.nan_to_num(index.cost, nan=-1.0))}),
        }

    @classmethod
    def from_section(cls, section: dict[str, Any], shape: Shape) -> Knn:
        """The served index, its arrays checked against each other before any query reads them."""
        knn = parse_section(KnnSection, section, cls.name)
        indptr, indices = knn.indptr.array("knn.indptr"), knn.indices.array("knn.indices")
        data, quality = knn.data.array("knn.data"), knn.quality.array("knn.quality")
        n_train = quality.shape[0] if quality.ndim == 2 else -1
        if (
            indptr.shape != (shape.words + 1,)
            or quality.shape != (n_train, shape.models)
            or indices.shape != data.shape
            or indptr[0] != 0
            or indptr[-1] != len(indices)
            or (np.diff(indptr) < 0).any()
            or (len(indices) and (indices.min() < 0 or indices.max() >= n_train))
        ):
            raise DataError("policy kNN index is inconsistent (pointers, rows, values and quality disagree)")
        cost = None if knn.cost is None else knn.cost.array("knn.cost")
        if cost is not None and cost.shape != quality.shape:
            raise DataError(
                f"policy kNN costs have shape {list(cost.shape)}, not the quality's {list(quality.shape)}"
            )
        cost = None if cost is None else np.where(cost < 0, np.nan, cost)
        return cls(KnnIndex(indptr, indices, data, np.where(quality < 0, np.nan, quality), knn.k, cost))
