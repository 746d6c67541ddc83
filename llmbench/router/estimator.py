"""`RouterEstimator`: a learned, cost-aware router in scikit-learn style.

fit(frame) learns, from a runs frame (one row per prompt x model, `score` in 0..1, `cost_usd`):
  1. features of the prompt text (TF-IDF word + hashed char n-grams by default, pluggable);
  2. a task classifier (logistic regression; naive Bayes for many tasks) giving P(task | prompt);
  3. per-task mean score and logged cost of every model (the prior);
  4. per-model prompt-level estimators: ridge regression of each model's score residual (score - its task
     mean) on the features, weighted per task by out-of-fold stacking; with residual="auto" they are kept only
     when out-of-fold routing on the training prompts beats the task prior alone.
Expected quality_m = P(task|x) . task_quality[:, m] + (P(task|x) . beta[:, m]) * residual_m(x);
expected cost_m = P(task|x) . (base[:, m] + slope[:, m] * prompt length) from the logged costs.
Decision: argmax_m quality_m - lambda_ * cost_m (mode "cost"), or RouteLLM's two-model threshold rule on
the expected gain of the strong over the weak model (mode "threshold"); the rest of the ranking gives fallbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GroupKFold
from sklearn.naive_bayes import MultinomialNB
from sklearn.utils.validation import check_is_fitted

from llmbench.errors import ConfigError, DataError
from llmbench.router.added import AddedModels, learn_model
from llmbench.router.candidates import Candidate, Query, Training, ordered, sparse_rows
from llmbench.router.candidates.ridge import PromptRidge
from llmbench.router.candidates.task_prior import TaskPrior
from llmbench.router.costs import (
    NEIGHBOURS,
    TASK_MEANS,
    cost_tables,
    out_of_fold_costs,
    routed_cost,
    table_for,
)
from llmbench.router.data import RoutingData, routing_data
from llmbench.router.decision import (
    Decision,
    blend,
    decision_from,
    rank,
    utilities,
    with_known_tasks,
)
from llmbench.router.features import TfidfFeatures
from llmbench.router.knn import KnnIndex
from llmbench.router.latency import LatencyTerm, task_latency
from llmbench.router.policy_file import PolicyFile
from llmbench.router.selection import select
from llmbench.router.stacking import task_stats
from llmbench.router.text import prompt_text

__all__ = ["RouterEstimator"]

_REPEAT_BELOW = 1000  # training prompts: below this, candidates are judged on three cross-fittings, not one


class RouterEstimator(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no type stubs
    """Learned router: task classifier + per-task model statistics + per-model residual estimators."""

    def __init__(
        self,
        lambda_: float = 0.0,
        mode: str = "cost",
        threshold: float = 0.0,
        strong: str | None = None,
        weak: str | None = None,
        features: object | None = None,
        classifier: str = "auto",
        classifier_c: float = 10.0,
        alpha: float = 3.0,
        residual: str = "auto",
        cv: int = 5,
        residual_terms: str = "common",
        models: list[str] | None = None,
        k: int = 25,
        max_fit_prompts: int | None = 20_000,
        candidates: list[str] | None = None,
        prior_strength: float = 5.0,
        latency_weight: float = 0.0,
        max_p95_latency: float | None = None,
    ) -> None:
        self.lambda_ = lambda_
        self.mode = mode
        self.threshold = threshold
        self.strong = strong
        self.weak = weak
        self.features = features
        self.classifier = classifier
        self.classifier_c = classifier_c
        self.residual = residual
        self.alpha = alpha
        self.cv = cv
        self.residual_terms = residual_terms
        self.models = models
        self.k = k
        self.max_fit_prompts = max_fit_prompts
        self.candidates = candidates
        self.prior_strength = prior_strength
        self.latency_weight = latency_weight
        self.max_p95_latency = max_p95_latency

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame | RoutingData, y: object = None) -> RouterEstimator:
        """Learn features, task classifier, per-task statistics and residual estimators from a runs frame."""
        if self.residual_terms not in ("own", "common", "shared", "both"):
            raise ConfigError(
                f"residual_terms must be 'own', 'common', 'shared' or 'both', got {self.residual_terms!r}"
            )
        if self.mode not in ("cost", "threshold"):
            raise ConfigError(f"mode must be 'cost' or 'threshold', got {self.mode!r}")
        data = frame if isinstance(frame, RoutingData) else routing_data(frame, self.models)
        keep = np.isfinite(data.quality).any(axis=1)
        data = data.subset(keep)
        if len(data) < 2:
            raise DataError(f"need at least 2 prompts with a score to train a router, got {len(data)}")
        self.models_ = list(data.models)
        if len(self.models_) < 2:
            raise DataError("routing needs at least two models in the runs frame")
        self.classes_ = np.array(sorted(set(data.tasks)), dtype=object)
        task_idx = np.searchsorted(self.classes_, data.tasks)
        self.task_quality_ = task_stats(data, task_idx, len(self.classes_), self.prior_strength)[0]
        tables = cost_tables(data, task_idx, len(self.classes_), self.prior_strength)
        self.n_prompts_ = len(data)
        self.latency_ = LatencyTerm()  # logged latency as a cost term or a cap, when asked for
        if self.latency_weight or self.max_p95_latency is not None:
            lat = task_latency(data, task_idx, len(self.classes_))
            self.latency_ = LatencyTerm(lat, float(self.latency_weight), self.max_p95_latency)
        data = self._sample(data, task_idx)  # the prompt-level estimators learn from a bounded sample
        task_idx = np.searchsorted(self.classes_, data.tasks)
        self.features_ = clone(self.features) if self.features is not None else TfidfFeatures()
        x = self.features_.fit_transform(data.prompts)
        self.n_features_in_ = x.shape[1]
        self.classifier_ = self._classifier().fit(x, task_idx) if len(self.classes_) > 1 else None
        words = self._words(x)
        del x  # the char block is most of it, and from here on only the word block is read
        self._fit_candidates(words, data, task_idx)
        self.task_cost_ = tables[table_for(self.cost_model_)]
        self.strong_idx_, self.weak_idx_ = self._pair(data)
        self.mean_cost_ = np.nanmean(data.cost, axis=0)
        self.added_ = AddedModels()
        return self

    def add_model(self, probe: pd.DataFrame | RoutingData, model: str) -> RouterEstimator:
        """Route to `model` too, learnt from a small probe set of its runs (`llmbench.router.added`); nothing
        trained is refitted."""
        check_is_fitted(self, "models_")
        self.added_, mean_cost = learn_model(
            self.estimate,
            self.models_,
            [str(t) for t in self.classes_],
            self.added_,
            probe,
            model,
            self.prior_strength,
            self.cost_model_,
        )
        self.models_ = [*self.models_, model]
        self.mean_cost_ = np.append(self.mean_cost_, mean_cost)
        return self

    def _sample(self, data: RoutingData, task_idx: np.ndarray) -> RoutingData:
        """At most `max_fit_prompts` prompts, drawn per task in proportion (seeded): the task statistics use every
        prompt, while features, classifier, residuals and kNN stay within bounded memory and time."""
        cap = self.max_fit_prompts
        if cap is None or len(data) <= cap:
            return data
        rng = np.random.default_rng(0)
        keep = []
        for t in np.unique(task_idx):
            rows = np.flatnonzero(task_idx == t)
            share = max(1, round(cap * len(rows) / len(data)))
            keep.append(rng.choice(rows, size=min(share, len(rows)), replace=False))
        return data.subset(np.sort(np.concatenate(keep)))

    def _classifier(self) -> LogisticRegression | SGDClassifier | MultinomialNB:
        kind = self.classifier
        if kind == "auto":  # multinomial logistic regression gets slow with many classes on 2 cores
            kind = "logistic" if len(self.classes_) <= 10 else "sgd"
        if kind == "logistic":
            return LogisticRegression(C=self.classifier_c, max_iter=2000)
        if kind == "sgd":  # one-vs-rest logistic loss, normalised probabilities
            return SGDClassifier(loss="log_loss", alpha=1e-5, random_state=0)
        if kind == "naive_bayes":
            return MultinomialNB(alpha=0.01)
        raise ConfigError(
            f"classifier must be 'auto', 'logistic', 'sgd' or 'naive_bayes', got {self.classifier!r}"
        )

    def _fit_candidates(self, words: Any, data: RoutingData, task_idx: np.ndarray) -> None:
        """The candidate estimators (`llmbench.router.candidates`) and the blend served, chosen by cross-fitting on
        the training prompts (`llmbench.router.selection`); residual='on' serves the prompt ridge alone, 'off'
        leaves it out of the choice. They read the word block only: 50x fewer non-zeros than the char n-grams."""
        n_t = len(self.classes_)
        self.candidates_: dict[str, Candidate] = {TaskPrior.name: TaskPrior()}
        self.cost_knn_: KnnIndex | None = None  # set when routing on the neighbours' logged costs pays
        self.cost_model_ = TASK_MEANS  # the task prior's, until another cost model shows a gain
        self.blend_ = {TaskPrior.name: np.ones(n_t)}
        self.candidate_scores_: dict[str, float] = {}
        self.choice_ = TaskPrior.name
        if self.residual not in ("auto", "on", "off"):
            raise ConfigError(f"residual must be 'auto', 'on' or 'off', got {self.residual!r}")
        if not self.cv or self.cv < 2 or len(data) < 4 * self.cv:
            return  # too little data to learn how far to trust prompt-level estimates: task prior only
        options = {"alpha": self.alpha, "k": self.k, "residual_terms": self.residual_terms}
        # where data is small, the out-of-fold evidence is averaged over repeated cross-fittings
        repeats = 1 if len(data) >= _REPEAT_BELOW else 3
        trains = [self._training(words, data, task_idx, options, r) for r in range(repeats)]
        names = [TaskPrior.name, PromptRidge.name] if self.residual == "on" else self.candidates
        kinds: list[type[Candidate]] = ordered(names)
        if self.residual == "off":
            kinds = [k for k in kinds if k is not PromptRidge]
        if TaskPrior not in kinds:  # the fallback of every other candidate
            kinds = ordered([TaskPrior.name, *(k.name for k in kinds)])
        # routing on the neighbours' logged costs must earn its place like a candidate
        costs = out_of_fold_costs(trains[0], self.prior_strength) if self.mode == "cost" else None
        chosen = select(trains, kinds, TaskPrior.name, self.mode, forced=self.residual == "on", costs=costs)
        self.blend_, self.candidate_scores_, self.choice_ = chosen.weights, chosen.scores, chosen.choice
        self.residual_cv_ = dict(self.candidate_scores_)
        self.cost_model_ = chosen.cost or TASK_MEANS
        if chosen.cost == NEIGHBOURS:
            self.cost_knn_ = KnnIndex.build(words, data.quality, self.k, cost=data.cost)
        self.candidates_ = {}
        for kind in kinds:
            if kind.name in chosen.served:
                self.candidates_[kind.name] = fitted = kind()
                fitted.fit(trains[0])

    def _training(
        self, words: Any, data: RoutingData, task_idx: np.ndarray, options: dict[str, Any], repeat: int
    ) -> Training:
        """One cross-fitting of the training prompts: folds grouped by prompt (the first as GroupKFold makes them,
        the others shuffled), and each fold's task prior from the other folds."""
        n_t = len(self.classes_)
        fold = np.zeros(len(data), dtype=int)
        if repeat == 0:
            for k, (_, inside) in enumerate(
                GroupKFold(n_splits=self.cv).split(data.prompts, groups=data.prompts)
            ):
                fold[inside] = k
        else:
            groups = np.unique(np.asarray(data.prompts, dtype=object).astype(str), return_inverse=True)[1]
            fold = np.random.default_rng(repeat).permutation(groups.max() + 1)[groups] % self.cv
        prior = np.empty_like(data.quality)
        for k in np.unique(fold):  # the task means of each fold's prompts come from the other folds
            rest = fold != k
            means = task_stats(data.subset(rest), task_idx[rest], n_t, self.prior_strength)[0]
            prior[fold == k] = means[task_idx[fold == k]]
        return Training(data, words, task_idx, n_t, self.task_quality_, fold, prior, options)

    def _words(self, x: Any) -> Any:
        """The word block of a feature matrix (the kNN's space); other features are used whole."""
        if isinstance(self.features_, TfidfFeatures):
            return sp.csr_matrix(x)[:, : len(self.features_.word_vectorizer_.vocabulary_)]
        return sp.csr_matrix(x)

    def _pair(self, data: RoutingData) -> tuple[int, int]:
        mean_q = np.nanmean(data.quality, axis=0)
        mean_c = np.nanmean(data.cost, axis=0)
        strong = self._model_index(self.strong) if self.strong else int(np.nanargmax(mean_q))
        weak = (
            self._model_index(self.weak)
            if self.weak
            else int(np.nanargmin(np.where(np.isnan(mean_c), np.inf, mean_c)))
        )
        if strong == weak:
            others = [i for i in range(len(self.models_)) if i != strong]
            weak = max(others, key=lambda i: -np.inf if np.isnan(mean_q[i]) else mean_q[i])
        return strong, weak

    def _model_index(self, model: str) -> int:
        if model not in self.models_:
            raise ConfigError(f"model {model!r} is not among the trained models {self.models_}")
        return self.models_.index(model)

    # ---- estimates -----------------------------------------------------------------------------
    def transform_prompts(self, prompts: Sequence[object]) -> object:
        """Feature matrix of prompts (strings or chat message lists)."""
        check_is_fitted(self, "models_")
        return self.features_.transform([prompt_text(p) for p in prompts])

    def posterior(self, x: Any) -> np.ndarray:
        """Task posterior for a feature matrix."""
        if self.classifier_ is None:
            return np.ones((x.shape[0], 1))
        return np.asarray(self.classifier_.predict_proba(x))

    def estimate(
        self, prompts: Sequence[object], tasks: Sequence[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task posterior, expected quality, expected cost) per prompt; one column per task/model.

        `tasks` optionally gives each prompt's known task label: a label seen in training replaces the
        classifier's posterior for that prompt (None or an unseen label keeps the classifier).
        """
        texts = [prompt_text(p) for p in prompts]
        x = self.features_.transform(texts)
        post = with_known_tasks(self.posterior(x), tasks, [str(t) for t in self.classes_])
        kchars = np.array([len(t) / 1000 for t in texts])
        query = Query(post, sparse_rows(self._words(x)), self.task_quality_)
        weights = np.column_stack([self.blend_[name] for name in self.candidates_])
        estimates = [c.query(query) for c in self.candidates_.values()]
        quality = blend(post, weights, estimates, TaskPrior().query(query))
        cost = routed_cost(post, self.task_cost_, kchars, self.cost_knn_, query.rows)
        return post, *self.added_.extend(post, quality, cost, kchars)

    def objective(
        self, prompts: Sequence[object], tasks: Sequence[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task posterior, quality, cost) as the router ranks them: `estimate` with the latency term applied."""
        post, q, c = self.estimate(prompts, tasks)
        return post, *self.latency_.rank(post, q, c)

    def utilities(self, quality: np.ndarray, cost: np.ndarray, lambda_: float | None = None) -> np.ndarray:
        """Utility per model for given estimates (uses the router's lambda_ unless one is passed)."""
        check_is_fitted(self, "models_")
        lam = self.lambda_ if lambda_ is None else lambda_
        return utilities(quality, cost, lam, self.mode, self.strong_idx_, self.weak_idx_, self.threshold)

    # ---- decisions -----------------------------------------------------------------------------
    def predict(self, prompts: Sequence[object], tasks: Sequence[str | None] | None = None) -> np.ndarray:
        """The chosen model id for each prompt."""
        _, q, c = self.objective(prompts, tasks)
        return np.asarray(np.array(self.models_, dtype=object)[rank(self.utilities(q, c))[:, 0]])

    def decide(self, prompts: Sequence[object], tasks: Sequence[str | None] | None = None) -> list[Decision]:
        """Full decisions (model, expected quality and cost, task, ranked fallbacks) for each prompt."""
        post, q, c = self.estimate(prompts, tasks)
        u = self.utilities(*self.latency_.rank(post, q, c))
        classes = [str(t) for t in self.classes_]
        return [decision_from(post[i], q[i], c[i], u[i], self.models_, classes) for i in range(len(u))]

    def route(self, prompt: object, task: str | None = None) -> Decision:
        """Decision for one prompt or chat message list (optionally with its known task label)."""
        return self.decide([prompt], [task])[0]

    # ---- export --------------------------------------------------------------------------------
    def to_policy(self, trained_on: dict[str, Any] | None = None) -> PolicyFile:
        """The fitted router as a JSON-safe policy file (see `llmbench.router.export`)."""
        from llmbench.router.export import policy_of

        check_is_fitted(self, "models_")
        return policy_of(self, trained_on)

    def export(self, path: str | Path, trained_on: dict[str, Any] | None = None) -> str:
        """Write the policy file (JSON, no pickle); returns its content hash."""
        return self.to_policy(trained_on).save(path)
