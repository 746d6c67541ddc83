"""The served routing policy: a verified `PolicyFile` turned into numpy arrays, routing one prompt at a time.

Nothing here imports scikit-learn or pandas, so serving stays light; every problem with a file is a DataError
(the file format and its checks are in `policy_file.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmbench.errors import DataError
from llmbench.router.added import AddedModels, learn_model
from llmbench.router.candidates import CANDIDATES, Candidate, Query, Shape
from llmbench.router.candidates.knn import Knn
from llmbench.router.candidates.task_prior import TaskPrior
from llmbench.router.costs import LINES, NEIGHBOURS, TABLES, routed_cost
from llmbench.router.decision import Decision, blend, decision_from, softmax, utilities, with_known_tasks
from llmbench.router.latency import LatencyTerm
from llmbench.router.policy_file import Classifier, PolicyFile, shaped
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
        self.added = AddedModels.from_section(body.added, self.models, len(self.tasks))
        n_t, n_m = (
            len(self.tasks),
            len(self.models) - len(self.added),
        )  # the candidates know the trained models
        self.task_quality = shaped(body.task_quality, "task_quality", (n_t, n_m))
        self.task_cost = shaped(body.task_cost, "task_cost", (2, n_t, n_m))
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
            coef = shaped(clf.coef, "coef", (n_out, n_f))
            intercept = shaped(clf.intercept, "intercept", (n_out,))
            self._link: str = clf.link
        else:
            coef, intercept, self._link = np.zeros((0, n_f)), np.zeros(0), "none"
        self._n_logits = coef.shape[0]
        if (self._link == "sigmoid") != (self._n_logits == 1):
            raise DataError(f"policy classifier link {self._link!r} does not fit its {self._n_logits} rows")
        # the classifier's logits come from one gather over each prompt's own columns
        self._weights = np.ascontiguousarray(coef.T)
        self._bias = intercept
        shape = Shape(n_t, n_m, len(feats.vocabulary), n_f)
        self.candidates, self.blend = _served(body, shape)
        cost = body.candidates.cost
        # {} is the task cost lines (policies before the cost model was named); a table names its cost model
        self.cost_model = (
            str(cost.get("model", LINES)) if cost.get("kind", "table") == "table" else NEIGHBOURS
        )
        if cost.get("kind", "table") not in ("table", "kNN") or self.cost_model not in (*TABLES, NEIGHBOURS):
            raise DataError(
                f"policy cost model {cost.get('kind')!r} {cost.get('model', '')!r} is not one this llmbench "
                f"knows (a table: {', '.join(TABLES)}; or kNN)"
            )
        self.latency = LatencyTerm.from_section(body.latency, n_t, n_m)
        self.cost_knn = (
            Knn.from_section(cost["index"], shape).index if self.cost_model == NEIGHBOURS else None
        )
        if self.cost_model == NEIGHBOURS and (self.cost_knn is None or self.cost_knn.cost is None):
            raise DataError("policy cost model 'kNN' holds no costs")

    @classmethod
    def load(cls, path: str | Path) -> RouterPolicy:
        """Load and verify a policy file written by `llmbench router export`."""
        return cls(*PolicyFile.load(path))

    def with_model(self, probe: Any, model: str) -> PolicyFile:
        """This policy routing to `model` too, learnt from its runs on a few probe prompts (`llmbench.router.added`):
        the trained models' logged runs on the same prompts are used where `probe` has them."""
        strength = float(self.body.params.get("prior_strength", 5.0))
        added, mean_cost = learn_model(
            self.estimate_many,
            self.models,
            self.tasks,
            self.added,
            probe,
            model,
            strength,
            self.cost_model,
        )
        prices = dict(self.body.prices)
        prices["per_model_mean"] = {**prices.get("per_model_mean", {}), model: mean_cost}
        body = self.body.to_dict()
        return PolicyFile.parse(
            {**body, "models": [*self.models, model], "added": added.section(), "prices": prices}
        )

    def estimate_many(
        self, prompts: list[object], tasks: list[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task posteriors, expected qualities, expected costs), one row per prompt: each prompt's features and
        linear heads one at a time (a gather over its own columns), everything after in one vectorised pass."""
        texts = [prompt_text(p) for p in prompts]
        rows = [self.features.transform_one(t) for t in texts]
        k = self._n_logits
        z = np.array([val @ self._weights[idx] for idx, val in rows]).reshape(len(rows), k) + self._bias
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
        post = with_known_tasks(post, tasks, self.tasks)
        kchars = np.array([len(t) / 1000 for t in texts])
        query = Query(post, rows, self.task_quality)
        estimates = [c.query(query) for c in self.candidates]
        served = [e for c, e in zip(self.candidates, estimates, strict=True) if isinstance(c, TaskPrior)]
        prior = served[0] if served else TaskPrior().query(query)  # the blend's fallback, computed once
        cost = routed_cost(post, self.task_cost, kchars, self.cost_knn, rows)
        return post, *self.added.extend(post, blend(post, self.blend, estimates, prior), cost, kchars)

    def route(self, prompt: object, lambda_: float | None = None, task: str | None = None) -> Decision:
        """The decision for one prompt string or chat message list (optionally with its known task label)."""
        return self.route_many([prompt], None if task is None else [task], lambda_)[0]

    def route_many(
        self, prompts: list[object], tasks: list[str | None] | None = None, lambda_: float | None = None
    ) -> list[Decision]:
        """Decisions for several prompts (optionally with their known task labels), estimated in one batch."""
        if tasks is not None and len(tasks) != len(prompts):
            raise DataError(f"{len(tasks)} task labels for {len(prompts)} prompts")
        if not prompts:
            return []
        post, q, c = self.estimate_many(prompts, tasks)
        lam = self.lambda_ if lambda_ is None else lambda_
        q_rank, c_rank = self.latency.rank(post, q, c)
        u = utilities(q_rank, c_rank, lam, self.mode, self.strong, self.weak, self.threshold)
        return [
            decision_from(post[i], q[i], c[i], u[i], self.models, self.tasks) for i in range(len(prompts))
        ]


# The order of a version 1 policy's (tasks, 3) blend columns, and its sections' old places.
_V1_COLUMNS = ("task prior", "prompt ridge", "kNN")


def _served(body: PolicyFile, shape: Shape) -> tuple[list[Candidate], np.ndarray]:
    """The candidates a policy blends (simplest first) and their weights (tasks, candidates)."""
    n_t = shape.tasks
    sections = dict(body.candidates.sections)
    if body.residual is not None:
        sections.setdefault("prompt ridge", body.residual)
    if body.knn is not None:
        sections.setdefault("kNN", body.knn)
    if body.candidates.blend:
        weights = {name: shaped(w, f"blend {name!r}", (n_t,)) for name, w in body.candidates.blend.items()}
    elif body.blend is not None:
        columns = shaped(body.blend, "blend", (n_t, len(_V1_COLUMNS)))
        weights = {name: columns[:, i] for i, name in enumerate(_V1_COLUMNS)}
    else:  # policies from before the blend serve their ridge when they have one, else the task prior
        weights = {("prompt ridge" if body.residual is not None else "task prior"): np.ones(n_t)}
    if any((w < 0).any() for w in weights.values()):
        raise DataError("policy blend weights must not be negative")
    kinds = []
    for name, w in weights.items():
        kind = CANDIDATES.find(name)
        if kind is None:
            raise DataError(f"policy blends candidate {name!r}, which this llmbench does not know")
        if w.any():
            kinds.append(kind)
    kinds.sort(key=lambda kind: (kind.complexity, kind.name))
    served: list[Candidate] = []
    for kind in kinds:
        section = sections.get(kind.name)
        if section is None and kind is not TaskPrior:
            raise DataError(f"policy blends candidate {kind.name!r} but holds no section for it")
        served.append(kind.from_section(section or {}, shape))
    if not served:
        raise DataError("policy blend gives no candidate any weight")
    return served, np.column_stack([weights[c.name] for c in served])
