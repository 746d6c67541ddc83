"""How far an LLM judge can be trusted: its verdicts against human (gold) labels on the same items.

Pairwise judges (which of two answers is better, asked in both presentation orders): accuracy per order, in both
orders at once, positional agreement (the same winner when the answers are swapped, the position-bias check),
Cohen's kappa against the gold labels per order (`sklearn.metrics.cohen_kappa_score`) with a bootstrap interval
over items, and the confusion of verdicts (an unparsed verdict is its own column) against gold labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["JudgeCalibration", "calibrate_pairwise", "calibration_note", "kappa_interval"]

NO_VERDICT = "none"


@dataclass(frozen=True)
class JudgeCalibration:
    """One judge's agreement with the gold labels on `items` items."""

    items: int
    correct_first: int
    correct_swapped: int
    correct_both: int
    positional_agreement: int
    kappa_first: float
    kappa_first_low: float
    kappa_first_high: float
    kappa_swapped: float
    confusion: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # gold -> verdict (first order) -> count

    @property
    def accuracy(self) -> float:
        """Mean accuracy over the two orders."""
        return (self.correct_first + self.correct_swapped) / (2 * self.items)

    def sentence(self) -> str:
        return (
            f"agrees with the gold labels on {self.correct_first / self.items:.1%} (first order) and "
            f"{self.correct_swapped / self.items:.1%} (swapped), on both orders for {self.correct_both / self.items:.1%}; "
            f"same verdict when the answers swap on {self.positional_agreement / self.items:.1%}; Cohen's kappa "
            f"{self.kappa_first:.3f} [{self.kappa_first_low:.3f}, {self.kappa_first_high:.3f}] over {self.items} items"
        )

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "accuracy": self.accuracy}


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score  # the reference implementation; loaded only when used

    if len(set(a) | set(b)) < 2:  # one label everywhere: agreement beyond chance is undefined
        return float("nan")
    return float(cohen_kappa_score(a, b))


def _as_text(column: pd.Series) -> np.ndarray:
    """Verdicts as labels; a missing verdict (None, NaN) is a label of its own, as unparsed answers are."""
    return np.array([NO_VERDICT if v is None or v != v else str(v) for v in column], dtype=object)


def kappa_interval(
    verdicts: np.ndarray, gold: np.ndarray, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa over items (each resample's kappa from its confusion
    counts, the same formula as scikit-learn's, in one pass over all resamples)."""
    labels, codes = np.unique(np.concatenate([verdicts, gold]).astype(str), return_inverse=True)
    k, n = len(labels), len(gold)
    v, g = codes[:n], codes[n:]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_boot, n))
    cells = (v[idx] * k + g[idx]) + (np.arange(n_boot) * k * k)[:, None]
    confusion = np.bincount(cells.ravel(), minlength=n_boot * k * k).reshape(n_boot, k, k) / n
    observed = np.trace(confusion, axis1=1, axis2=2)
    expected = np.einsum("bi,bi->b", confusion.sum(axis=2), confusion.sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = (observed - expected) / (1 - expected)
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def calibrate_pairwise(
    verdicts: pd.DataFrame, *, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> JudgeCalibration:
    """`verdicts` has one row per item: `gold` and `first` (the judge's winner as presented), and optionally
    `swapped` (its winner with the answers swapped, in the original numbering); missing verdicts are None."""
    for col in ("gold", "first"):
        if col not in verdicts.columns:
            raise DataError(f"verdicts lack column {col!r} (need gold, first and optionally swapped)")
    if verdicts.empty:
        raise DataError("no verdicts to calibrate a judge on")
    if verdicts["gold"].isna().any():
        row = int(np.flatnonzero(verdicts["gold"].isna().to_numpy())[0])
        raise DataError(f"verdicts row {row}: gold label is missing")
    gold, first = _as_text(verdicts["gold"]), _as_text(verdicts["first"])
    swapped = _as_text(verdicts["swapped"]) if "swapped" in verdicts.columns else first
    low, high = kappa_interval(first, gold, level, n_boot, seed)
    confusion: dict[str, dict[str, int]] = {}
    for g, v in zip(gold, first, strict=True):
        confusion.setdefault(g, {}).setdefault(v, 0)
        confusion[g][v] += 1
    return JudgeCalibration(
        items=len(gold),
        correct_first=int((first == gold).sum()),
        correct_swapped=int((swapped == gold).sum()),
        correct_both=int(((first == gold) & (swapped == gold)).sum()),
        positional_agreement=int((first == swapped).sum()),
        kappa_first=_kappa(first, gold),
        kappa_first_low=low,
        kappa_first_high=high,
        kappa_swapped=_kappa(swapped, gold),
        confusion=confusion,
    )


def calibration_note(judge: str | None, calibration: dict[str, object] | None) -> str | None:
    """The line every table of judge scores carries: how well the judge agrees with people, or that nobody checked."""
    if judge is None:
        return None
    if not calibration:
        return (
            f"judge {judge} is not calibrated against human labels: its scores are unchecked "
            "(`llmbench judge calibrate --save FILE`, then judge_calibration: FILE in the experiment)"
        )
    try:
        items = int(str(calibration["items"]))
        kappa, low, high = (
            float(str(calibration[k])) for k in ("kappa_first", "kappa_first_low", "kappa_first_high")
        )
        agree = int(str(calibration["correct_first"])) / items
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return f"judge {judge}: its calibration record is unreadable; run `llmbench judge calibrate --save` again"
    who = calibration.get("judge")
    other = f" (calibrated as {who})" if who and who != judge else ""
    return (
        f"judge {judge}{other}: agrees with human labels on {agree:.1%} of {items} items, Cohen's kappa "
        f"{kappa:.2f} [{low:.2f}, {high:.2f}]"
    )
