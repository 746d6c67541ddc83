"""Pairwise win rates, win-rate matrices and Bradley-Terry ratings.

Everything works on a *pairs frame*: one row per comparison with columns `item_id`, `model_a`, `model_b`
and `outcome` (1.0 = A better, 0.0 = B better, 0.5 = tie; fractions allowed, e.g. a judge's probability).
Optional columns: `task`, `len_a`, `len_b` (response lengths, for the length-controlled win rate).
Pairs come from reference scores (`pairs_from_runs`), from an LLM judge (`llmbench.tracking.judge`) or from
imported preference data (`llmbench.tracking.alpacaeval`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = [
    "PAIR_COLUMNS",
    "bradley_terry",
    "length_controlled_win_rates",
    "pairs_from_runs",
    "pairwise_win_rates",
    "win_rate_matrix",
    "win_rates",
]

PAIR_COLUMNS = ["item_id", "model_a", "model_b", "outcome"]


def _check_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise DataError(
            f"pairs frame lacks columns {missing}; expected {PAIR_COLUMNS} "
            "(build one with pairs_from_runs or judge_pairs)"
        )
    out = pairs.dropna(subset=["outcome"])
    bad = out[(out["outcome"] < 0) | (out["outcome"] > 1)]
    if len(bad):
        raise DataError(
            f"pairs frame has {len(bad)} outcomes outside 0..1 (1 = A wins, 0 = B wins, 0.5 = tie)"
        )
    return out


def pairs_from_runs(
    runs: pd.DataFrame,
    models: list[str] | None = None,
    *,
    baseline: str | None = None,
    tie_margin: float = 0.0,
) -> pd.DataFrame:
    """Compare models item by item on their reference scores (mean over epochs); a gap <= tie_margin is a tie."""
    for col in ("item_id", "model", "score"):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r}; see the runs-frame contract")
    keys = ["task", "item_id"] if "task" in runs.columns else ["item_id"]
    scored = runs.dropna(subset=["score"])
    wide = scored.pivot_table(index=keys, columns="model", values="score", aggfunc="mean")
    names = list(models) if models is not None else sorted(wide.columns)
    unknown = [m for m in names + ([baseline] if baseline else []) if m not in wide.columns]
    if unknown:
        raise DataError(f"models {unknown} have no scored rows; models with scores: {sorted(wide.columns)}")
    if baseline:
        combos = [(m, baseline) for m in names if m != baseline]
    else:
        combos = list(itertools.combinations(names, 2))
    frames = []
    for a, b in combos:
        both = wide[[a, b]].dropna()
        diff = both[a] - both[b]
        outcome = np.where(diff > tie_margin, 1.0, np.where(diff < -tie_margin, 0.0, 0.5))
        frame = both.reset_index()[keys].assign(model_a=a, model_b=b, outcome=outcome)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*keys, "model_a", "model_b", "outcome"])
    out = pd.concat(frames, ignore_index=True)
    return out[[*keys, "model_a", "model_b", "outcome"]]


def _oriented(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each comparison twice: once from A's side, once from B's (outcome flipped)."""
    pairs = _check_pairs(pairs)
    a_side = pd.DataFrame(
        {"model": pairs["model_a"], "opponent": pairs["model_b"], "outcome": pairs["outcome"]}
    )
    b_side = pd.DataFrame(
        {"model": pairs["model_b"], "opponent": pairs["model_a"], "outcome": 1.0 - pairs["outcome"]}
    )
    return pd.concat([a_side, b_side], ignore_index=True)


def _describe(group: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    # Same definition as AlpacaEval: mean outcome (ties = 0.5) and its standard error of the mean (ddof=1).
    return pd.DataFrame(
        {
            "win_rate": group.mean(),
            "standard_error": group.sem(),
            "n_wins": group.apply(lambda s: int((s > 0.5).sum())),
            "n_losses": group.apply(lambda s: int((s < 0.5).sum())),
            "n_ties": group.apply(lambda s: int((s == 0.5).sum())),
            "n_total": group.size(),
        }
    )


def win_rates(pairs: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Win rate (0..1, ties half) and its standard error per model, against `baseline` or against all others."""
    sides = _oriented(pairs)
    if baseline is not None:
        if baseline not in set(sides["model"]):
            raise DataError(f"baseline {baseline!r} does not appear in the pairs frame")
        sides = sides[(sides["opponent"] == baseline) & (sides["model"] != baseline)]
    out = _describe(sides.groupby("model")["outcome"])
    return out.sort_values("win_rate", ascending=False)


def pairwise_win_rates(pairs: pd.DataFrame, z: float = 1.96) -> pd.DataFrame:
    """Long frame: win rate of `model` against `opponent`, its standard error and a normal-approximation interval."""
    sides = _oriented(pairs)
    out = _describe(sides.groupby(["model", "opponent"])["outcome"]).reset_index()
    half = z * out["standard_error"].fillna(0.0)
    out["lower"] = (out["win_rate"] - half).clip(0.0, 1.0)
    out["upper"] = (out["win_rate"] + half).clip(0.0, 1.0)
    return out


def win_rate_matrix(pairs: pd.DataFrame, value: str = "win_rate") -> pd.DataFrame:
    """Square matrix: row model's win rate against column model (diagonal empty)."""
    long = pairwise_win_rates(pairs)
    matrix = long.pivot(index="model", columns="opponent", values=value)
    order = sorted(set(matrix.index) | set(matrix.columns))
    matrix = matrix.reindex(index=order, columns=order)
    # Most winning model first, so the heatmap reads from strong to weak.
    order = matrix.mean(axis=1).sort_values(ascending=False).index
    return matrix.reindex(index=order, columns=order)


def _design(pairs: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique (A, B) groups, their +-1 design rows, and each pair row's group code."""
    models = sorted(set(pairs["model_a"]) | set(pairs["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    groups = pairs.groupby(["model_a", "model_b"], sort=True).ngroup().to_numpy()
    keys = pairs[["model_a", "model_b"]].drop_duplicates().sort_values(["model_a", "model_b"])
    x = np.zeros((len(keys), len(models)))
    rows = np.arange(len(keys))
    x[rows, keys["model_a"].map(index).to_numpy()] = 1.0
    x[rows, keys["model_b"].map(index).to_numpy()] = -1.0
    outcome = pairs["outcome"].to_numpy(dtype=float)
    return models, x, groups, outcome, rows


def _fit_bt(x: np.ndarray, wins: np.ndarray, losses: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    # Each group appears as a "win" row and a "loss" row, mirrored so both classes always exist; ties were
    # split half/half into wins and losses. Weights carry the counts, so the fit is over groups, not battles.
    design = np.vstack([x, x, -x, -x])
    labels = np.concatenate([np.ones(len(x)), np.zeros(len(x)), np.ones(len(x)), np.zeros(len(x))])
    weights = np.concatenate([wins, losses, losses, wins])
    keep = weights > 0
    model = LogisticRegression(fit_intercept=False, C=c, tol=1e-8, max_iter=1000)
    model.fit(design[keep], labels[keep], sample_weight=weights[keep])
    return model.coef_[0]


def bradley_terry(
    pairs: pd.DataFrame,
    *,
    n_bootstrap: int = 200,
    ci: float = 0.95,
    seed: int = 0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    anchor: str | None = None,
    c: float = 1e4,
) -> pd.DataFrame:
    """Bradley-Terry ratings on an Elo-like scale with percentile bootstrap intervals (battles resampled).

    P(A beats B) = 1 / (1 + base ** ((r_B - r_A) / scale)). Ratings are centred on `init`, or pinned so that
    `anchor` has rating `init`. `c` is scikit-learn's inverse L2 strength: large, so the fit stays finite when
    a model wins every comparison but otherwise barely moves the maximum-likelihood estimate.
    """
    pairs = _check_pairs(pairs)
    if pairs.empty:
        raise DataError("cannot fit Bradley-Terry ratings: the pairs frame has no outcomes")
    models, x, groups, outcome, _ = _design(pairs)
    if anchor is not None and anchor not in models:
        raise DataError(f"anchor model {anchor!r} is not in the pairs frame")
    n_groups = len(x)
    factor = scale / math.log(base)

    def ratings(counts: np.ndarray) -> np.ndarray:
        wins = np.bincount(groups, weights=outcome * counts, minlength=n_groups)
        losses = np.bincount(groups, weights=(1.0 - outcome) * counts, minlength=n_groups)
        coef = _fit_bt(x, wins, losses, c)
        coef = coef - (coef[models.index(anchor)] if anchor is not None else coef.mean())
        return init + factor * coef

    point = ratings(np.ones(len(pairs)))
    out = pd.DataFrame({"rating": point}, index=pd.Index(models, name="model"))
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        draws = np.array(
            [
                ratings(rng.multinomial(len(pairs), np.full(len(pairs), 1.0 / len(pairs))))
                for _ in range(n_bootstrap)
            ]
        )
        alpha = (1.0 - ci) / 2.0
        out["lower"] = np.quantile(draws, alpha, axis=0)
        out["upper"] = np.quantile(draws, 1.0 - alpha, axis=0)
    return out.sort_values("rating", ascending=False)


def length_controlled_win_rates(pairs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Win rate against `baseline` as if both answers had the same length (a simplified AlpacaEval-2 LC GLM).

    Per model: logistic regression of the outcome on tanh(length difference / its std) with an intercept;
    the length-controlled win rate is the fitted probability at zero length difference.
    """
    from sklearn.linear_model import LogisticRegression

    pairs = _check_pairs(pairs)
    for col in ("len_a", "len_b"):
        if col not in pairs.columns:
            raise DataError(
                f"length-controlled win rates need column {col!r} (response lengths) in the pairs frame"
            )
    flip = pairs["model_a"] == baseline
    rows = pd.DataFrame(
        {
            "model": np.where(flip, pairs["model_b"], pairs["model_a"]),
            "outcome": np.where(flip, 1.0 - pairs["outcome"], pairs["outcome"]),
            "diff": np.where(flip, pairs["len_b"] - pairs["len_a"], pairs["len_a"] - pairs["len_b"]),
        }
    )
    rows = rows[(pairs["model_a"] == baseline) | (pairs["model_b"] == baseline)].dropna()
    results = {}
    for model, group in rows.groupby("model"):
        std = group["diff"].std()
        feature = np.tanh(group["diff"] / std).to_numpy()[:, None] if std > 0 else np.zeros((len(group), 1))
        design = np.vstack([feature, feature])
        labels = np.concatenate([np.ones(len(group)), np.zeros(len(group))])
        weights = np.concatenate([group["outcome"], 1.0 - group["outcome"]])
        keep = weights > 0
        if len(set(labels[keep])) < 2:  # the model always wins or always loses: nothing to control
            results[model] = float(group["outcome"].mean())
            continue
        fit = LogisticRegression(C=1e4, tol=1e-8, max_iter=1000).fit(
            design[keep], labels[keep], sample_weight=weights[keep]
        )
        results[model] = float(1.0 / (1.0 + math.exp(-fit.intercept_[0])))
    return pd.DataFrame({"lc_win_rate": pd.Series(results)}).rename_axis("model")
