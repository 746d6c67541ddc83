"""Learned, cost-aware routing: which model should answer this prompt, at what cost?

Training and evaluation (scikit-learn): `RouterEstimator`, `evaluate_router`, `calibrate`.
Serving (numpy only, no scikit-learn import): `RouterPolicy.load(path).route(prompt)` -> `Decision`.
Names are imported lazily so that serving never pulls in scikit-learn or pandas.
"""

from __future__ import annotations

import typing

from llmbench.lazy import lazy_exports

if typing.TYPE_CHECKING:
    from llmbench.router.calibrate import calibrate
    from llmbench.router.data import RoutingData, routing_data, split_by_prompt, train_test_split
    from llmbench.router.decision import Decision, Fallback
    from llmbench.router.estimator import RouterEstimator
    from llmbench.router.evaluate import Evaluation, evaluate_router
    from llmbench.router.features import TfidfFeatures
    from llmbench.router.policy import RouterPolicy

__all__ = [
    "Decision",
    "Evaluation",
    "Fallback",
    "RouterEstimator",
    "RouterPolicy",
    "RoutingData",
    "TfidfFeatures",
    "calibrate",
    "evaluate_router",
    "routing_data",
    "split_by_prompt",
    "train_test_split",
]

_WHERE = {
    "Decision": "llmbench.router.decision",
    "Fallback": "llmbench.router.decision",
    "RouterPolicy": "llmbench.router.policy",
    "RouterEstimator": "llmbench.router.estimator",
    "TfidfFeatures": "llmbench.router.features",
    "Evaluation": "llmbench.router.evaluate",
    "evaluate_router": "llmbench.router.evaluate",
    "calibrate": "llmbench.router.calibrate",
    "RoutingData": "llmbench.router.data",
    "routing_data": "llmbench.router.data",
    "split_by_prompt": "llmbench.router.data",
    "train_test_split": "llmbench.router.data",
}

lazy_exports(__name__, _WHERE)
