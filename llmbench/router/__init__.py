"""Learned, cost-aware routing: which model should answer this prompt, at what cost?

Training and evaluation (scikit-learn): `RouterEstimator`, `evaluate_router`, `calibrate`.
Serving (numpy only, no scikit-learn import): `RouterPolicy.load(path).route(prompt)` -> `Decision`.
Names are imported lazily so that serving never pulls in scikit-learn or pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'llmbench.router' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
