"""kNN over the router's word TF-IDF block: a prompt's expected quality per model is the mean over its k most
similar training prompts (cosine). Numpy only, one code path for training and serving, so an exported policy
decides exactly as the trained router does.

The index keeps the training rows' word columns in CSC form (a column's rows and values), without the most common
words (they connect everything and cost the most to scan): a query touches only the columns of its own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["KnnIndex"]

MAX_DF = 0.2  # words in more than this share of training prompts are left out of the index


@dataclass
class KnnIndex:
    """Neighbour search over training prompts and their per-model quality (NaN: not scored)."""

    indptr: np.ndarray  # CSC over the word columns: column j's rows are indices[indptr[j]:indptr[j+1]]
    indices: np.ndarray
    data: np.ndarray
    quality: np.ndarray  # (n_train, n_models)
    k: int
    cost: np.ndarray | None = None  # (n_train, n_models): the training prompts' logged costs, when kept

    @classmethod
    def build(
        cls,
        words: sp.spmatrix,
        quality: np.ndarray,
        k: int = 25,
        max_df: float = MAX_DF,
        cost: np.ndarray | None = None,
    ) -> KnnIndex:
        """An index over training rows (`words`: their word TF-IDF block), their quality and (optionally) cost."""
        import scipy.sparse as sp  # training only: serving stays numpy

        x = sp.csc_matrix(words, dtype=np.float64)
        df = np.diff(x.indptr)
        common = df > max(1.0, max_df * x.shape[0])
        x = x @ sp.diags((~common).astype(np.float64))  # drop the common words' columns (kept as empty)
        x = sp.csr_matrix(x)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x = sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ x
        x = sp.csc_matrix(x)
        x.sort_indices()
        return cls(
            x.indptr.astype(np.int64),
            x.indices.astype(np.int64),
            x.data.astype(np.float64),
            np.asarray(quality, dtype=np.float64),
            int(k),
            None if cost is None else np.asarray(cost, dtype=np.float64),
        )

    @property
    def n_columns(self) -> int:
        """Word columns the index spans."""
        return len(self.indptr) - 1

    def nearest(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        """The training rows most similar to one prompt's sparse word row (`idx` ascending, any scale): at most k,
        best first, ties broken by training row (deterministic on both sides of the export)."""
        keep = idx < self.n_columns
        idx, val = idx[keep], val[keep]
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        lengths = ends - starts
        if not lengths.sum():
            return np.zeros(0, dtype=np.int64)
        # the rows and weights of every touched column, gathered in one pass
        offsets = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
        scores = np.bincount(
            self.indices[offsets],
            weights=self.data[offsets] * np.repeat(val, lengths),
            minlength=self.quality.shape[0],
        )
        hit = np.flatnonzero(scores > 0)
        return np.asarray(hit[np.lexsort((hit, -scores[hit]))[: self.k]])

    @staticmethod
    def mean_of(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per model, the mean of `values` over `rows` (NaN when none of them has a value)."""
        if not len(rows):
            return np.full(values.shape[1], np.nan)
        v = values[rows]
        seen = np.isfinite(v)
        n = seen.sum(axis=0)
        return np.where(n > 0, np.where(seen, v, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)

    def query_one(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        """Expected quality per model for one prompt's sparse word row (`idx` ascending, any scale)."""
        return self.mean_of(self.quality, self.nearest(idx, val))

    def cost_one(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        """Expected cost per model for one prompt: its neighbours' mean logged cost (NaN without costs)."""
        if self.cost is None:
            return np.full(self.quality.shape[1], np.nan)
        return self.mean_of(self.cost, self.nearest(idx, val))

    def query(self, words: sp.spmatrix) -> np.ndarray:
        """Expected quality per model for each row of a sparse word matrix (NaN where nothing is similar)."""
        import scipy.sparse as sp

        rows = sp.csr_matrix(words)
        out = np.empty((rows.shape[0], self.quality.shape[1]))
        for i in range(rows.shape[0]):
            a, b = rows.indptr[i], rows.indptr[i + 1]
            order = np.argsort(rows.indices[a:b], kind="stable")
            out[i] = self.query_one(rows.indices[a:b][order].astype(np.int64), rows.data[a:b][order])
        return out
