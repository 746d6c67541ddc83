"""Choose lambda (or the threshold) for an operating target on a calibration split; report it on test.

Targets:
- "budget": mean cost per 1,000 requests must not exceed `value` USD; the best quality within it.
- "strong_share": at most `value` (0..1) of the traffic may go to the strongest model; the best quality.
- "quality_floor": quality at least `value` x the best single model's quality; the cheapest such point.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from llmbench.errors import ConfigError, DataError
from llmbench.router.data import RoutingData, split_by_prompt
from llmbench.router.decision import rank
from llmbench.router.estimator import RouterEstimator
from llmbench.router.metrics import Sweep

__all__ = ["TARGETS", "Calibration", "calibrate", "calibrate_and_test", "operating_points"]

TARGETS = ("budget", "strong_share", "quality_floor")


@dataclass
class Calibration:
    """The chosen setting and what it achieved on the calibration and the test split."""

    target: str
    value: float
    parameter: str  # "lambda" or "threshold"
    setting: float
    calib: dict[str, Any]
    test: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def operating_points(
    router: RouterEstimator, data: RoutingData, settings: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Realised figures on `data` for each lambda (cost mode) or threshold (threshold mode); without `settings`,
    every distinct operating point (cost mode: the exact sweep over lambda; threshold mode: every threshold
    between two prompts' expected gains)."""
    data = data.complete()
    _, q, c = router.objective(data.prompts)
    best = int(np.argmax(data.quality.mean(axis=0)))
    best_quality = data.quality[:, best].mean()
    strongest = router.strong_idx_
    if settings is None and router.mode != "threshold":
        pts = Sweep.of(q, c).points(data.quality, data.cost, strong=strongest)
        return [
            {
                "setting": float(lam),
                "quality": float(qual),
                "cost_per_1k": float(cost * 1000),
                "strong_share": float(share),
                "relative_quality": float(qual / best_quality),
            }
            for lam, qual, cost, share in zip(
                pts["lambda"], pts["quality"], pts["cost"], pts["strong_share"], strict=True
            )
        ]
    if settings is None:
        gain = q[:, router.strong_idx_] - q[:, router.weak_idx_]
        settings = np.unique(np.r_[gain.min() - 1, gain, gain.max() + 1])
    rows = np.arange(len(data))
    out = []
    probe = copy.copy(router)  # a shallow copy keeps the fitted state; the caller's router stays as it was
    for s in settings:
        if router.mode == "threshold":
            u = probe.set_params(threshold=float(s)).utilities(q, c)
        else:
            u = router.utilities(q, c, float(s))
        pick = rank(u)[:, 0]
        out.append(
            {
                "setting": float(s),
                "quality": float(data.quality[rows, pick].mean()),
                "cost_per_1k": float(data.cost[rows, pick].mean() * 1000),
                "strong_share": float(np.mean(pick == strongest)),
                "relative_quality": float(data.quality[rows, pick].mean() / best_quality),
            }
        )
    return out


def _meets(point: dict[str, Any], target: str, value: float) -> bool:
    if target == "budget":
        return bool(point["cost_per_1k"] <= value + 1e-12)
    if target == "strong_share":
        return bool(point["strong_share"] <= value + 1e-12)
    return bool(point["relative_quality"] >= value - 1e-12)


def calibrate(router: RouterEstimator, calib: RoutingData, target: str, value: float) -> Calibration:
    """Pick the setting of a fitted router that meets `target` on `calib` (best quality, or least cost)."""
    if target not in TARGETS:
        raise ConfigError(f"unknown calibration target {target!r}; choose one of {', '.join(TARGETS)}")
    points = operating_points(router, calib)
    ok = [p for p in points if _meets(p, target, value)]
    if not ok:
        closest = min(points, key=lambda p: p["cost_per_1k"]) if target == "budget" else None
        hint = f" (the cheapest point costs {closest['cost_per_1k']:.4f} USD per 1k)" if closest else ""
        raise DataError(
            f"no {('lambda', 'threshold')[router.mode == 'threshold']} meets {target}={value} on the calibration split{hint}"
        )
    if target == "quality_floor":
        chosen = min(ok, key=lambda p: (p["cost_per_1k"], -p["quality"]))
    else:
        chosen = max(ok, key=lambda p: (p["quality"], -p["cost_per_1k"]))
    param = "threshold" if router.mode == "threshold" else "lambda"
    return Calibration(
        target, value, param, chosen["setting"], {k: v for k, v in chosen.items() if k != "setting"}
    )


def calibrate_and_test(
    router: RouterEstimator,
    train: RoutingData,
    test: RoutingData,
    target: str,
    value: float,
    calib_size: float = 0.25,
    seed: int = 0,
) -> tuple[RouterEstimator, Calibration]:
    """Fit on part of train, calibrate on the rest, refit on all of train with the chosen setting, test it."""
    fit_part, calib = split_by_prompt(train, calib_size, seed=seed)
    probe = clone(router).fit(fit_part)
    cal = calibrate(probe, calib, target, value)
    final = clone(router).set_params(
        **{"threshold" if cal.parameter == "threshold" else "lambda_": cal.setting}
    )
    final.fit(train)
    point = operating_points(final, test, np.array([cal.setting]))[0]
    if final.mode == "threshold":
        final.set_params(threshold=cal.setting)
    cal.test = {k: v for k, v in point.items() if k != "setting"}
    cal.test["met"] = _meets(point, target, value)
    return final, cal
