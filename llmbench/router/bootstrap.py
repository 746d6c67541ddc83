"""How much of an evaluation is noise: bootstrap intervals over the test prompts.

Every router's decisions per lambda are fixed by training; only which test prompts are drawn varies.
Each replicate resamples the test prompts with replacement and recomputes every figure the same way as
`evaluate_router` (cost range, best single model, hulls), so the intervals cover the whole measurement.
The AIQ difference to a reference router is paired: both are measured on the same resample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbench.errors import ConfigError
from llmbench.router import metrics
from llmbench.router.evaluate import Evaluation, realised

__all__ = ["bootstrap_intervals"]


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
    test, chosen = ev.extras["test"], ev.extras["picks"]
    if reference not in chosen:
        raise ConfigError(f"reference must be one of {sorted(chosen)}, got {reference!r}")
    rng = np.random.default_rng(seed)
    n = len(test)
    names = list(chosen)
    aiq = {k: np.empty(n_boot) for k in names}
    saving = {k: np.empty(n_boot) for k in names}
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        q, c = test.quality[idx], test.cost[idx]
        mean_q, mean_c = q.mean(axis=0), c.mean(axis=0)
        best = int(np.argmax(mean_q))
        c_min, c_max = float(mean_c.min()), float(mean_c.max())
        for k in names:
            costs, quals = realised(chosen[k][:, idx], q, c)
            aiq[k][b] = metrics.aiq(costs, quals, c_min, c_max)
            saving[k][b] = metrics.cost_saving(costs, quals, float(mean_q[best]), float(mean_c[best]))
    lo, hi = (1 - level) / 2, (1 + level) / 2
    out = []
    for k in names:
        reached = np.isfinite(saving[k])
        diff = aiq[k] - aiq[reference]
        row = {
            "router": k,
            "AIQ low": np.quantile(aiq[k], lo),
            "AIQ high": np.quantile(aiq[k], hi),
            f"AIQ - {reference} low": np.quantile(diff, lo),
            f"AIQ - {reference} high": np.quantile(diff, hi),
            "reaches best quality": float(reached.mean()),
            "cost saving low": np.quantile(saving[k][reached], lo) if reached.any() else np.nan,
            "cost saving high": np.quantile(saving[k][reached], hi) if reached.any() else np.nan,
        }
        out.append(row)
    return pd.DataFrame(out)
