"""What repeated answers (epochs) say: pass@k, how much an item's score varies, how often its verdict flips."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["pass_at_k", "repeats"]

_RIGHT = 0.5  # a score at or above this is a pass (scores are 0..1)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of pass@k from `n` answers of which `c` passed: 1 - C(n-c, k) / C(n, k), as a
    product so that large n does not overflow (Chen et al., 2021)."""
    if not 0 <= c <= n or k < 1:
        raise DataError(f"pass@k needs 0 <= passed <= answers and k >= 1, got answers={n}, passed={c}, k={k}")
    if k > n:
        raise DataError(f"pass@{k} needs at least {k} answers per item, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def repeats(runs: pd.DataFrame, ks: tuple[int, ...] = (1, 2, 5, 10)) -> pd.DataFrame:
    """Per model: items, answers per item (fewest), pass@k for each k no larger than that (mean over items),
    the mean per-item variance of the score, and the share of items whose verdict differs between epochs."""
    for col in ("model", "item_id", "score"):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r}")
    scored = runs[runs["score"].notna()]
    if scored.empty:
        raise DataError("no scored runs: nothing repeats")
    rows = []
    for model, part in scored.groupby("model", sort=False):
        per_item = part.groupby("item_id")["score"]
        n = per_item.size()
        passed = part.assign(ok=part["score"] >= _RIGHT).groupby("item_id")["ok"].sum()
        row: dict[str, object] = {"model": model, "items": len(n), "answers per item": int(n.min())}
        for k in ks:
            if k <= n.min():
                row[f"pass@{k}"] = float(np.mean([pass_at_k(int(n[i]), int(passed[i]), k) for i in n.index]))
        many = n[n > 1].index
        row["score variance"] = float(per_item.var(ddof=1)[many].mean()) if len(many) else float("nan")
        flips = (passed[many] > 0) & (passed[many] < n[many])
        row["verdict changes"] = float(flips.mean()) if len(many) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
