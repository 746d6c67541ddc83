"""How much of an evaluation is noise: bootstrap intervals over the test prompts.

Every router's decisions per lambda are fixed by training; only which test prompts are drawn varies.
Each replicate resamples the test prompts with replacement and recomputes every figure the same way as
`evaluate_router` (cost range, best single model, hulls, the oracle's exact frontier), so the intervals cover
the whole measurement. The AIQ difference to a reference router is paired: both are measured on the same
resample. A figure that is n/a on a resample (e.g. every model costs the same) is left out of its interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from llmbench.errors import ConfigError
from llmbench.router.evaluate import Evaluation, Reference

__all__ = ["bootstrap_intervals"]


def _quantile(values: np.ndarray, q: float) -> float:
    finite = values[np.isfinite(values)]
    return float(np.quantile(finite, q)) if len(finite) else float("nan")


def bootstrap_intervals(
    ev: Evaluation, n_boot: int = 500, level: float = 0.9, reference: str = "task prior", seed: int = 0
) -> pd.DataFrame:
    """Per router: central `level` intervals of AIQ, cost saving and AIQ minus `reference`'s AIQ.

    `reaches best quality` is the share of resamples in which the router's hull reaches the best single
    model's quality at all; the cost-saving interval is over those resamples only.
    """
    if n_boot < 10:
        raise ConfigError(f"n_boot must be at least 10 for an interval, got {n_boot}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be between 0 and 1, got {level}")
    test, sweeps = ev.test, ev.sweeps
    if reference not in sweeps:
        raise ConfigError(f"reference must be one of {sorted(sweeps)}, got {reference!r}")
    rng = np.random.default_rng(seed)
    n = len(test)
    names = list(sweeps)
    aiq = {k: np.empty(n_boot) for k in names}
    saving = {k: np.empty(n_boot) for k in names}
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        ref = Reference.of(test.quality[idx], test.cost[idx])
        weights = np.bincount(idx, minlength=n)
        for k in names:
            pts = sweeps[k].points(test.quality, test.cost, weights)
            costs, quals = pts["cost"], pts["quality"]
            aiq[k][b] = ref.aiq(costs, quals)
            saving[k][b] = ref.saving(costs, quals)
    lo, hi = (1 - level) / 2, (1 + level) / 2
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in names:
            reached = np.isfinite(saving[k])
            diff = aiq[k] - aiq[reference]
            out.append(
                {
                    "router": k,
                    "AIQ low": _quantile(aiq[k], lo),
                    "AIQ high": _quantile(aiq[k], hi),
                    f"AIQ - {reference} low": _quantile(diff, lo),
                    f"AIQ - {reference} high": _quantile(diff, hi),
                    "reaches best quality": float(reached.mean()),
                    "cost saving low": _quantile(saving[k], lo),
                    "cost saving high": _quantile(saving[k], hi),
                }
            )
    return pd.DataFrame(out)
