"""The served routing policy: a verified `PolicyFile` turned into numpy arrays, routing one prompt at a time.

Nothing here imports scikit-learn or pandas, so serving stays light; every problem with a file is a DataError
(the file format and its checks are in `policy_file.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmbench.errors import DataError
from llmbench.router.decision import Decision, blend, decision_from, estimate_quality_cost, softmax, utilities
from llmbench.router.knn import KnnIndex
from llmbench.router.policy_file import Classifier, Knn, PolicyFile
from llmbench.router.text import TfidfArrays, prompt_text

__all__ = ["RouterPolicy"]


class RouterPolicy:
    """A served routing policy: `RouterPolicy.load(path).route(prompt_or_messages)` -> Decision (numpy only)."""

    def __init__(self, policy: dict[str, Any] | PolicyFile, sha256: str | None = None) -> None:
        body = policy if isinstance(policy, PolicyFile) else PolicyFile.parse(policy)
        self.sha256 = sha256
        self.body = body
        self.models: list[str] = list(body.models)
        self.tasks: list[str] = list(body.tasks)
        self._task_index = {t: i for i, t in enumerate(self.tasks)}
        self.lambda_ = body.lambda_
        self.mode = body.mode
        self.threshold = body.threshold
        self.strong, self.weak = self.models.index(body.strong), self.models.index(body.weak)
        self.trained_on = body.trained_on
        n_t, n_m = len(self.tasks), len(self.models)
        self.task_quality = _shaped(body.task_quality, "task_quality", (n_t, n_m))
        self.task_cost = _shaped(body.task_cost, "task_cost", (2, n_t, n_m))
        feats = body.features
        word_idf = feats.word_idf.array("word_idf")
        if word_idf.shape != (len(feats.vocabulary),):
            raise DataError("policy word_idf does not match the vocabulary length")
        buckets = feats.char_buckets.array("char_buckets")
        char_idf = feats.char_idf.array("char_idf")
        bits = feats.char_bits
        if (
            buckets.ndim != 1
            or buckets.shape != char_idf.shape
            or (len(buckets) and (buckets.min() < 0 or buckets.max() >= 1 << bits))
        ):
            raise DataError("policy char features are inconsistent (buckets, idf and bits disagree)")
        self.features = TfidfArrays(
            vocabulary={str(t): i for i, t in enumerate(feats.vocabulary)},
            word_idf=word_idf,
            word_ngram_range=feats.word_ngram_range,
            char_buckets=buckets,
            char_idf=char_idf,
            char_ngram_range=feats.char_ngram_range,
            char_bits=bits,
            word_weight=feats.word_weight,
            char_weight=feats.char_weight,
            head_chars=feats.head_chars,
            tail_chars=feats.tail_chars,
        )
        n_f = self.features.n_features
        clf = body.classifier
        if n_t > 1:
            if not isinstance(clf, Classifier):
                raise DataError(f"policy has {n_t} tasks but no task classifier")
            rows = clf.coef.shape[0] if clf.coef.shape else n_t
            n_out = 1 if (n_t == 2 and rows == 1) else n_t  # binary logistic regression keeps one row
            coef = _shaped(clf.coef, "coef", (n_out, n_f))
            intercept = _shaped(clf.intercept, "intercept", (n_out,))
            self._link: str = clf.link
        else:
            coef, intercept, self._link = np.zeros((0, n_f)), np.zeros(0), "none"
        self._n_logits = coef.shape[0]
        if (self._link == "sigmoid") != (self._n_logits == 1):
            raise DataError(f"policy classifier link {self._link!r} does not fit its {self._n_logits} rows")
        res = body.residual
        if res is None:
            res_coef, self.task_beta = np.zeros((0, n_f)), None
        else:
            n_word = len(feats.vocabulary)
            width = res.coef.shape[-1] if res.coef.shape else -1
            res_coef = _shaped(res.coef, "coef", (n_m, n_word if width == n_word else n_f))
            if res_coef.shape[1] == n_word:  # residuals over the word block: no weight on char columns
                res_coef = np.hstack([res_coef, np.zeros((n_m, n_f - n_word))])
            self.task_beta = _shaped(res.task_beta, "task_beta", (2, n_t, n_m))
        # one gather serves the classifier and the residual estimators together
        self._weights = np.ascontiguousarray(np.vstack([coef, res_coef]).T)
        self._bias = np.r_[intercept, np.zeros(res_coef.shape[0])]
        default = [0.0, 1.0, 0.0] if res is not None else [1.0, 0.0, 0.0]  # policies from before the blend
        self.blend = (
            _shaped(body.blend, "blend", (n_t, 3)) if body.blend is not None else np.tile(default, (n_t, 1))
        )
        if (self.blend < 0).any():
            raise DataError("policy blend weights must not be negative")
        self.knn = _knn(body.knn, len(feats.vocabulary), n_m) if body.knn is not None else None

    @classmethod
    def load(cls, path: str | Path) -> RouterPolicy:
        """Load and verify a policy file written by `llmbench router export`."""
        return cls(*PolicyFile.load(path))

    def estimate_one(
        self, prompt: object, task: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task posterior, expected quality, expected cost) for one prompt; a known `task` label seen in
        training replaces the classifier's posterior."""
        post, q, c = self.estimate_many([prompt], [task])
        return post[0], q[0], c[0]

    def estimate_many(
        self, prompts: list[object], tasks: list[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task posteriors, expected qualities, expected costs), one row per prompt: each prompt's features and
        linear heads one at a time (a gather over its own columns), everything after in one vectorised pass."""
        texts = [prompt_text(p) for p in prompts]
        rows = [self.features.transform_one(t) for t in texts]
        z = np.array([val @ self._weights[idx] for idx, val in rows]).reshape(len(rows), -1) + self._bias
        k = self._n_logits
        if k == 0:
            post = np.ones((len(rows), 1))
        elif self._link == "sigmoid":
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            post = np.column_stack([1.0 - p1, p1])
        elif self._link == "ovr":
            p = 1.0 / (1.0 + np.exp(-z[:, :k]))
            post = p / p.sum(axis=1, keepdims=True)
        else:
            post = softmax(z[:, :k])
        for i, task in enumerate(tasks or []):
            if task is not None and task in self._task_index:
                post[i] = 0.0
                post[i, self._task_index[task]] = 1.0
        resid = z[:, k:] if self.task_beta is not None else None
        kchars = np.array([len(t) / 1000 for t in texts])
        q_ridge, c = estimate_quality_cost(
            post, resid, self.task_quality, self.task_cost, self.task_beta, kchars
        )
        q_prior = np.clip(post @ self.task_quality, 0.0, 1.0)
        if self.knn is not None:
            q_knn = np.array([self.knn.query_one(idx, val) for idx, val in rows]).reshape(q_prior.shape)
        else:
            q_knn = np.full_like(q_prior, np.nan)
        return post, blend(post, self.blend, [q_prior, q_ridge, q_knn]), c

    def route(self, prompt: object, lambda_: float | None = None, task: str | None = None) -> Decision:
        """The decision for one prompt string or chat message list (optionally with its known task label)."""
        post, q, c = self.estimate_one(prompt, task)
        lam = self.lambda_ if lambda_ is None else lambda_
        u = utilities(q, c, lam, self.mode, self.strong, self.weak, self.threshold)
        return decision_from(post, q, c, u, self.models, self.tasks)

    def route_many(self, prompts: list[object], tasks: list[str | None] | None = None) -> list[Decision]:
        """Decisions for several prompts (optionally with their known task labels), estimated in one batch."""
        if tasks is not None and len(tasks) != len(prompts):
            raise DataError(f"{len(tasks)} task labels for {len(prompts)} prompts")
        if not prompts:
            return []
        post, q, c = self.estimate_many(prompts, tasks)
        u = utilities(q, c, self.lambda_, self.mode, self.strong, self.weak, self.threshold)
        return [
            decision_from(post[i], q[i], c[i], u[i], self.models, self.tasks) for i in range(len(prompts))
        ]


def _knn(knn: Knn, n_word: int, n_models: int) -> KnnIndex:
    """The served kNN index, its arrays checked against each other before any query reads them."""
    indptr, indices = knn.indptr.array("knn.indptr"), knn.indices.array("knn.indices")
    data, quality = knn.data.array("knn.data"), knn.quality.array("knn.quality")
    n_train = quality.shape[0] if quality.ndim == 2 else -1
    if (
        indptr.shape != (n_word + 1,)
        or quality.shape != (n_train, n_models)
        or indices.shape != data.shape
        or indptr[0] != 0
        or indptr[-1] != len(indices)
        or (np.diff(indptr) < 0).any()
        or (len(indices) and (indices.min() < 0 or indices.max() >= n_train))
    ):
        raise DataError("policy kNN index is inconsistent (pointers, rows, values and quality disagree)")
    return KnnIndex(indptr, indices, data, np.where(quality < 0, np.nan, quality), knn.k)


def _shaped(data: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A policy array of the given shape (finite: `ArrayData.array` checks that)."""
    a = data.array(name)
    if a.shape != shape:
        raise DataError(f"policy array {name!r} has shape {list(a.shape)}, expected {list(shape)}")
    return np.asarray(a)
