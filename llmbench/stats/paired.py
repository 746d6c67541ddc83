"""Is model A really better than model B here? Paired comparisons on the items two models share.

The unit of resampling is the item (a prompt): epochs of one item are averaged first, so repeated answers to one
prompt never count as independent evidence. For each measure (score, cost, latency) the difference A - B gets a
paired bootstrap interval over items (BCa, `scipy.stats.bootstrap`). The p-value of the score difference comes
from an exact McNemar test when scores are 0/1 with one epoch (`scipy.stats.binomtest` on the discordant items),
else from a sign-flip permutation test of the per-item differences (`scipy.stats.permutation_test`). Comparing
many pairs at once, `compare_models` adds Holm's step-down adjustment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from llmbench.errors import DataError

__all__ = ["PairedComparison", "compare_models", "holm", "paired_comparison", "versus_best"]

DELTAS = {"cost_usd": "cost", "latency_s": "latency"}  # measured beside the score, with their own intervals


@dataclass(frozen=True)
class PairedComparison:
    """A - B on the items both answered: each measure's mean difference with its interval, and the score test."""

    a: str
    b: str
    items: int
    level: float
    score_diff: float
    score_low: float
    score_high: float
    test: str
    p_value: float
    cost_diff: float = float("nan")
    cost_low: float = float("nan")
    cost_high: float = float("nan")
    latency_diff: float = float("nan")
    latency_low: float = float("nan")
    latency_high: float = float("nan")
    p_holm: float = float("nan")

    def sentence(self) -> str:
        """The comparison in words: never a bare mean."""
        verb = "beats" if self.score_diff > 0 else ("trails" if self.score_diff < 0 else "ties")
        p = self.p_value if np.isnan(self.p_holm) else self.p_holm
        which = "p" if np.isnan(self.p_holm) else "Holm-adjusted p"
        return (
            f"{self.a} {verb} {self.b} by {abs(self.score_diff):.3f} [{self.score_low:+.3f}, {self.score_high:+.3f}]"
            f" ({self.level:.0%} interval of A - B), {which} = {p:.3g} ({self.test}), on {self.items} shared items"
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _per_item(runs: pd.DataFrame, model: str, column: str) -> pd.Series:
    rows = runs[(runs["model"] == model) & runs[column].notna()]
    return rows.groupby("item_id")[column].mean()


def _interval(d: np.ndarray, level: float, n_boot: int, seed: int) -> tuple[float, float]:
    if len(d) < 2 or np.ptp(d) == 0:  # no spread: the interval is the point (BCa cannot resample a constant)
        return float(d.mean()) if len(d) else float("nan"), float(d.mean()) if len(d) else float("nan")
    res = stats.bootstrap(
        (d,), np.mean, confidence_level=level, n_resamples=n_boot, method="BCa", random_state=seed
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _score_test(
    runs: pd.DataFrame, a: str, b: str, d: np.ndarray, n_perm: int, seed: int
) -> tuple[str, float]:
    """Exact McNemar for 0/1 scores with one answer per item; a sign-flip permutation test otherwise."""
    if not len(d) or not d.any():
        return "no difference", 1.0
    if len(d) < 2:  # one item: its sign flipped is as likely as kept
        return "one item", 1.0
    pair = runs[runs["model"].isin([a, b]) & runs["score"].notna()]
    binary = pair["score"].isin([0.0, 1.0]).all()
    single = not pair.duplicated(["item_id", "model"]).any()
    if binary and single:
        a_only, b_only = int((d > 0).sum()), int((d < 0).sum())
        return "McNemar exact", float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)
    res = stats.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=n_perm, random_state=seed
    )
    return "sign-flip permutation", float(res.pvalue)


def paired_comparison(
    runs: pd.DataFrame,
    a: str,
    b: str,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    n_perm: int = 9999,
    seed: int = 0,
) -> PairedComparison:
    """Compare models `a` and `b` of a runs frame on the items both have a score for."""
    for col in ("item_id", "model", "score"):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r} for a paired comparison")
    models = set(runs["model"].astype(str))
    for m in (a, b):
        if m not in models:
            raise DataError(f"model {m!r} is not in the runs (they have {sorted(models)})")
    if a == b:
        raise DataError(f"a model compared with itself ({a!r}) says nothing")
    sa, sb = _per_item(runs, a, "score"), _per_item(runs, b, "score")
    shared = sa.index.intersection(sb.index)
    if len(shared) == 0:
        raise DataError(f"{a!r} and {b!r} share no scored item: nothing to compare")
    d = (sa[shared] - sb[shared]).to_numpy(dtype=float)
    low, high = _interval(d, level, n_boot, seed)
    test, p = _score_test(runs[runs["item_id"].isin(shared)], a, b, d, n_perm, seed)
    extra: dict[str, float] = {}
    for col, name in DELTAS.items():
        if col not in runs.columns:
            continue
        ca, cb = _per_item(runs, a, col), _per_item(runs, b, col)
        both = ca.index.intersection(cb.index).intersection(shared)
        if len(both):
            dc = (ca[both] - cb[both]).to_numpy(dtype=float)
            lo, hi = _interval(dc, level, n_boot, seed)
            extra |= {f"{name}_diff": float(dc.mean()), f"{name}_low": lo, f"{name}_high": hi}
    return PairedComparison(a, b, len(shared), level, float(d.mean()), low, high, test, p, **extra)


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control for many comparisons at once)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def compare_models(
    runs: pd.DataFrame, models: list[str] | None = None, *, level: float = 0.95, seed: int = 0, **kwargs: int
) -> pd.DataFrame:
    """Every pair of `models` (default: all in the runs, in order of first appearance), with Holm-adjusted
    p-values over the pairs; one row per pair, A the first of the two."""
    names = models or list(dict.fromkeys(runs["model"].astype(str)))
    if len(names) < 2:
        raise DataError(f"a comparison needs two models, got {names}")
    found = [
        paired_comparison(runs, a, b, level=level, seed=seed, **kwargs) for a, b in combinations(names, 2)
    ]
    return _family(found)


def _family(found: list[PairedComparison]) -> pd.DataFrame:
    """Comparisons made together: Holm-adjusted over the family, one row each with its sentence."""
    done = [replace(c, p_holm=float(h)) for c, h in zip(found, holm([c.p_value for c in found]), strict=True)]
    return pd.DataFrame([{**c.to_dict(), "summary": c.sentence()} for c in done])


def versus_best(runs: pd.DataFrame, *, level: float = 0.95, seed: int = 0, **kwargs: int) -> pd.DataFrame:
    """The model with the highest mean score against each other model (Holm-adjusted over those comparisons):
    how sure the table's ranking at the top is."""
    scored = runs[runs["score"].notna()]
    means = scored.groupby("model")["score"].mean().sort_values(ascending=False)
    if len(means) < 2:
        raise DataError(f"a comparison needs two scored models, got {list(means.index)}")
    best = str(means.index[0])
    return _family(
        [paired_comparison(runs, best, str(m), level=level, seed=seed, **kwargs) for m in means.index[1:]]
    )
