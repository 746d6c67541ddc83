"""A fitted `RouterEstimator` as a policy file: every array the numpy-only `RouterPolicy` serves from."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import MultinomialNB

from llmbench import __version__
from llmbench.errors import ConfigError
from llmbench.router.candidates.knn import Knn
from llmbench.router.features import TfidfFeatures
from llmbench.router.policy_file import PolicyFile, encode_array

__all__ = ["linear_classifier", "policy_of"]


def policy_of(router: BaseEstimator, trained_on: dict[str, Any] | None = None) -> PolicyFile:
    """A fitted `RouterEstimator` as a validated policy file (typed by its scikit-learn base: the estimator
    module imports this one)."""
    if not isinstance(router.features_, TfidfFeatures):
        raise ConfigError(
            "only routers with the default TfidfFeatures can be exported to a numpy-only policy"
        )
    arrays = router.features_.to_arrays()
    vocab = sorted(arrays.vocabulary, key=arrays.vocabulary.__getitem__)
    clf = router.classifier_
    policy = {
        "models": list(router.models_),
        "tasks": [str(t) for t in router.classes_],
        "lambda": float(router.lambda_),
        "mode": router.mode,
        "threshold": float(router.threshold),
        "strong": router.models_[router.strong_idx_],
        "weak": router.models_[router.weak_idx_],
        "fallbacks": "every decision ranks all models by utility; fallbacks follow the chosen model",
        "prices": {
            "unit": "USD per call (mean logged cost per task, the price snapshot the router was trained on)",
            "per_model_mean": dict(zip(router.models_, map(float, router.mean_cost_), strict=True)),
        },
        "task_quality": encode_array(router.task_quality_),
        "task_cost": encode_array(router.task_cost_),
        "features": {
            "kind": "tfidf",
            "vocabulary": vocab,
            "word_idf": encode_array(arrays.word_idf),
            "word_ngram_range": list(arrays.word_ngram_range),
            "char_buckets": encode_array(arrays.char_buckets.astype(np.int64)),
            "char_idf": encode_array(arrays.char_idf),
            "char_ngram_range": list(arrays.char_ngram_range),
            "char_bits": arrays.char_bits,
            "word_weight": arrays.word_weight,
            "char_weight": arrays.char_weight,
            "head_chars": arrays.head_chars,
            "tail_chars": arrays.tail_chars,
        },
        "classifier": {} if clf is None else linear_classifier(clf),
        "candidates": {
            "choice": router.choice_,
            "scores": {k: float(v) for k, v in router.candidate_scores_.items()},
            "blend": {name: encode_array(w) for name, w in router.blend_.items()},
            "sections": {name: c.section() for name, c in router.candidates_.items()},
            "cost": {"kind": "table", "model": router.cost_model_}
            if router.cost_knn_ is None
            else {"kind": "kNN", "index": Knn(router.cost_knn_).section()},
        },
        "added": router.added_.section(),
        "latency": router.latency_.section(),
        "params": {
            k: v for k, v in router.get_params().items() if isinstance(v, (int, float, str, type(None)))
        },
        "trained_on": trained_on or {},
        "llmbench_version": __version__,
    }
    return PolicyFile.parse(policy)


def linear_classifier(clf: LogisticRegression | SGDClassifier | MultinomialNB) -> dict[str, Any]:
    """Every classifier here is linear in the features: z = x W^T + b, then a link gives the posterior:
    softmax (multinomial logistic, naive Bayes), sigmoid of one row (binary), or one-vs-rest sigmoids
    normalised to sum to 1 (SGD), exactly as their predict_proba does."""
    if isinstance(clf, MultinomialNB):  # predict_proba = softmax of the joint log likelihood
        coef, intercept, link = clf.feature_log_prob_, clf.class_log_prior_, "softmax"
    else:
        coef, intercept = clf.coef_, clf.intercept_
        link = "sigmoid" if coef.shape[0] == 1 else ("ovr" if isinstance(clf, SGDClassifier) else "softmax")
    return {
        "kind": type(clf).__name__,
        "link": link,
        "coef": encode_array(coef),
        "intercept": encode_array(intercept),
    }
