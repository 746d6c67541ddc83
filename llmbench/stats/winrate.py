"""Pairwise win rates, win-rate matrices and Bradley-Terry ratings.

Everything works on a *pairs frame*: one row per comparison with columns `item_id`, `model_a`, `model_b`
and `outcome` (1.0 = A better, 0.0 = B better, 0.5 = tie; fractions allowed, e.g. a judge's probability).
Optional columns: `task`, `len_a`, `len_b` (response lengths, for the length-controlled win rate).
Pairs come from reference scores (`pairs_from_runs`), from an LLM judge (`llmbench.scorers.pairwise`) or from
imported preference data (`llmbench.imports.alpacaeval`).

Uncertainty is measured over prompts, not comparisons: the comparisons made on one prompt share its difficulty,
so standard errors are cluster-robust by `item_id` and bootstrap intervals resample prompts. With one comparison
per prompt (a model against a fixed baseline) this is exactly the usual standard error of the mean.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from llmbench.errors import DataError
from llmbench.stats.pairs import PAIR_COLUMNS, check_pairs

__all__ = [
    "PAIR_COLUMNS",
    "bradley_terry",
    "clustered_se",
    "length_controlled_win_rates",
    "pairs_from_runs",
    "pairwise_win_rates",
    "win_rate_matrix",
    "win_rates",
]


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
    pairs = check_pairs(pairs)
    a_side = pd.DataFrame(
        {
            "item_id": pairs["item_id"],
            "model": pairs["model_a"],
            "opponent": pairs["model_b"],
            "outcome": pairs["outcome"],
        }
    )
    b_side = pd.DataFrame(
        {
            "item_id": pairs["item_id"],
            "model": pairs["model_b"],
            "opponent": pairs["model_a"],
            "outcome": 1.0 - pairs["outcome"],
        }
    )
    return pd.concat([a_side, b_side], ignore_index=True)


def clustered_se(values: pd.Series, clusters: pd.Series) -> float:
    """Cluster-robust standard error of the mean of `values`, clusters (prompts) as the independent units.

    SE^2 = G / (G - 1) * sum_g (sum_{i in g} (y_i - mean))^2 / N^2; with one value per cluster this is the
    standard error of the mean (ddof=1), AlpacaEval's definition.
    """
    y = values.to_numpy(dtype=float)
    n = len(y)
    if n < 2:
        return float("nan")
    resid = pd.Series(y - y.mean()).groupby(clusters.to_numpy()).sum().to_numpy()
    g = len(resid)
    if g < 2:
        return float("nan")
    return float(np.sqrt(g / (g - 1) * np.sum(resid**2)) / n)


def _describe(sides: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group: mean outcome (ties = 0.5), its prompt-clustered standard error, the discrete win rate (each
    comparison rounded to a win, loss or exact tie, AlpacaEval's `discrete_win_rate`) and the counts."""
    rows = {}
    for key, g in sides.groupby(keys, sort=True):
        o = g["outcome"]
        discrete = np.where(o == 0.5, 0.5, np.round(o))
        rows[key[0] if len(keys) == 1 else key] = {
            "win_rate": float(o.mean()),
            "standard_error": clustered_se(o, g["item_id"]),
            "discrete_win_rate": float(discrete.mean()),
            "n_wins": int((o > 0.5).sum()),
            "n_losses": int((o < 0.5).sum()),
            "n_ties": int((o == 0.5).sum()),
            "n_total": len(o),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = (
        pd.MultiIndex.from_tuples(out.index, names=keys) if len(keys) > 1 else out.index.rename(keys[0])
    )
    return out


def win_rates(pairs: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Win rate (0..1, ties half) and its standard error per model, against `baseline` or against all others."""
    sides = _oriented(pairs)
    if baseline is not None:
        if baseline not in set(sides["model"]):
            raise DataError(f"baseline {baseline!r} does not appear in the pairs frame")
        sides = sides[(sides["opponent"] == baseline) & (sides["model"] != baseline)]
    out = _describe(sides, ["model"])
    return out.sort_values("win_rate", ascending=False)


def pairwise_win_rates(pairs: pd.DataFrame, z: float = 1.96) -> pd.DataFrame:
    """Long frame: win rate of `model` against `opponent`, its standard error and a normal-approximation interval."""
    sides = _oriented(pairs)
    out = _describe(sides, ["model", "opponent"]).reset_index()
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
    ranked = list(matrix.mean(axis=1).sort_values(ascending=False).index)
    return matrix.reindex(index=ranked, columns=ranked)


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
    """Plain Bradley-Terry ratings (ties as half a win, no style control) with bootstrap intervals over prompts:
    `llmbench.stats.ratings.arena_ratings` with ties="half" and style=False (one fit for every rating here)."""
    from llmbench.stats.ratings import arena_ratings

    if check_pairs(pairs).empty:
        raise DataError("cannot fit Bradley-Terry ratings: the pairs frame has no outcomes")
    table, _ = arena_ratings(
        pairs,
        style=False,
        ties="half",
        n_bootstrap=n_bootstrap,
        ci=ci,
        seed=seed,
        scale=scale,
        base=base,
        init=init,
        anchor=anchor,
        c=c,
    )
    return table


def length_controlled_win_rates(
    pairs: pd.DataFrame, baseline: str, *, c: float = 1.0, level_scale: float = 10.0, slope_scale: float = 0.3
) -> pd.DataFrame:
    """Win rate against `baseline` as if both answers had the same length: AlpacaEval's length-controlled GLM.

    One logistic model over every model's comparisons with the baseline (the paper's form of
    `length_controlled_v1`): logit P(model wins on x) = theta_m + (phi + phi_m) * tanh(delta / sd_m) + gamma_x,
    where delta is the baseline's answer length minus the model's, sd_m its standard deviation for model m, phi_m
    each model's own length slope (AlpacaEval fits one per model; here shrunk towards the shared phi, its column
    scaled by `slope_scale` so that a model seen only far from equal length is not extrapolated on its own slope;
    0 turns it off), and gamma_x the
    instruction difficulty shared by all models, estimated from these annotations themselves (AlpacaEval reads a
    published difficulty table and regularises with annotations of length-gamed baselines, neither reachable
    offline). The length-controlled win rate is the model's mean predicted preference at delta = 0, and its
    standard error a delta-method one from the prompt-clustered (sandwich) covariance of the fit.
    `c` is the L2 inverse strength on the instruction effects; model levels and the slope are barely penalised.
    """
    from sklearn.linear_model import LogisticRegression

    pairs = check_pairs(pairs)
    for col in ("len_a", "len_b"):
        if col not in pairs.columns:
            raise DataError(
                f"length-controlled win rates need column {col!r} (response lengths) in the pairs frame"
            )
    flip = pairs["model_a"] == baseline
    rows = pd.DataFrame(
        {
            "model": np.where(flip, pairs["model_b"], pairs["model_a"]),
            "item_id": pairs["item_id"].astype(str),
            "y": np.where(flip, 1.0 - pairs["outcome"], pairs["outcome"]),
            "delta": np.where(flip, pairs["len_a"] - pairs["len_b"], pairs["len_b"] - pairs["len_a"]),
        }
    )
    rows = rows[((pairs["model_a"] == baseline) | (pairs["model_b"] == baseline)).to_numpy()].dropna()
    if rows.empty:
        raise DataError(f"no comparisons with baseline {baseline!r} that have both answers' lengths")
    models = sorted(rows["model"].unique())
    model = rows["model"].map({m: i for i, m in enumerate(models)}).to_numpy()
    item, items = pd.factorize(rows["item_id"])
    sd = rows.groupby("model")["delta"].transform("std").replace(0.0, np.nan)
    length = np.tanh((rows["delta"] / sd).fillna(0.0).to_numpy())
    n, n_m, n_x = len(rows), len(models), len(items)
    idx = np.arange(n)
    design = sp.hstack(
        [
            sp.csr_matrix((np.full(n, level_scale), (idx, model)), shape=(n, n_m)),
            sp.csr_matrix(level_scale * length[:, None]),
            sp.csr_matrix((np.ones(n), (idx, item)), shape=(n, n_x)),
            *(
                [sp.csr_matrix((slope_scale * length, (idx, model)), shape=(n, n_m))]
                if slope_scale > 0
                else []
            ),
        ]
    ).tocsr()
    y = rows["y"].to_numpy(dtype=float)
    both = sp.vstack([design, design]).tocsr()
    labels = np.r_[np.ones(n), np.zeros(n)]
    weights = np.r_[y, 1.0 - y]
    keep = weights > 0
    if len(np.unique(labels[keep])) < 2:  # every comparison won (or lost): nothing to control for
        out = rows.groupby("model")["y"].mean().rename("lc_win_rate").to_frame()
        out["lc_standard_error"] = np.nan
        return out.rename_axis("model")
    fit = LogisticRegression(C=c, fit_intercept=False, tol=1e-10, max_iter=5000)
    fit.fit(both[keep], labels[keep], sample_weight=weights[keep])
    beta = fit.coef_[0]
    z = design @ beta
    p = 1.0 / (1.0 + np.exp(-z))
    # sandwich covariance, clustered by prompt: var(g.beta) = |S B^-1 g|^2 with B the penalised Hessian (bread)
    # and S the per-prompt score sums (meat); sparse, so thousands of prompts stay cheap
    bread = (design.T @ design.multiply((p * (1 - p))[:, None])).tocsc() + sp.identity(
        len(beta), format="csc"
    ) / c
    scores = design.multiply((y - p)[:, None]).tocsr()
    per_prompt = (sp.csr_matrix((np.ones(n), (item, idx)), shape=(n_x, n)) @ scores).tocsr()
    solve = splu(bread).solve
    level = beta[:n_m] * level_scale
    gamma = beta[n_m + 1 : n_m + 1 + n_x]
    result = {}
    for i, m in enumerate(models):
        xs = np.unique(item[model == i])
        q = 1.0 / (1.0 + np.exp(-(level[i] + gamma[xs])))
        grad = np.zeros(len(beta))
        dq = q * (1 - q) / len(xs)
        grad[i] = dq.sum() * level_scale
        grad[n_m + 1 + xs] = dq
        spread = per_prompt @ solve(grad)
        result[m] = (float(q.mean()), float(np.sqrt(spread @ spread)))
    out = pd.DataFrame.from_dict(result, orient="index", columns=["lc_win_rate", "lc_standard_error"])
    return out.rename_axis("model")
