"""Ratings the way Arena-style leaderboards compute them: Bradley-Terry with style control and a tie model.

One likelihood covers both conventions. With d = theta_A - theta_B + beta . z (z: the pair's style differences),
- ties="half" (the half-win convention): P(A wins) = sigmoid(d), a tie counting half a win and half a loss;
- ties="davidson" (Davidson, 1970): P(A) = e^(d/2) / D, P(B) = e^(-d/2) / D, P(tie) = nu / D with
  D = e^(d/2) + e^(-d/2) + nu, so that a tie is evidence the two are close, not half of two opposite outcomes.
Style control (as LMSYS's Chatbot Arena does) adds, per pair, the normalised differences of the answers' length
and markdown density, (s_A - s_B) / (s_A + s_B), as covariates: a model's rating is then its skill at equal style,
and beta says how much style alone sways the judge. Ratings are on an Elo-like scale (400 / ln 10 per logit unit)
centred on 1000, with percentile bootstrap intervals over prompts.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from llmbench.errors import DataError
from llmbench.stats.pairs import check_pairs

__all__ = ["STYLE_FEATURES", "arena_ratings", "style_of"]

STYLE_FEATURES = ("length", "headers", "list items", "bold")
_MARKDOWN = {
    "headers": re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE),
    "list items": re.compile(r"^\s*(?:[-*+]|\d+[.)])\s", re.MULTILINE),
    "bold": re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),
}


def style_of(text: object) -> dict[str, float]:
    """An answer's style: its length in characters and its markdown elements (headers, list items, bold)."""
    s = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return {"length": float(len(s)), **{k: float(len(p.findall(s))) for k, p in _MARKDOWN.items()}}


def _style_columns(pairs: pd.DataFrame) -> tuple[list[str], np.ndarray] | None:
    """The pairs' style differences: from the answers' texts (`response_a`/`response_b`) when present, else from
    their lengths (`len_a`/`len_b`); None when the pairs carry neither."""
    if {"response_a", "response_b"} <= set(pairs.columns):
        a = pd.DataFrame([style_of(t) for t in pairs["response_a"]])
        b = pd.DataFrame([style_of(t) for t in pairs["response_b"]])
        names = list(STYLE_FEATURES)
    elif {"len_a", "len_b"} <= set(pairs.columns):
        a, b = pairs[["len_a"]].set_axis(["length"], axis=1), pairs[["len_b"]].set_axis(["length"], axis=1)
        names = ["length"]
    else:
        return None
    sa, sb = a[names].to_numpy(dtype=float), b[names].to_numpy(dtype=float)
    if np.isnan(sa).any() or np.isnan(sb).any():
        row = int(np.flatnonzero(np.isnan(sa).any(axis=1) | np.isnan(sb).any(axis=1))[0])
        raise DataError(f"pairs row {row}: a style value is missing (len_a/len_b or the responses)")
    total = sa + sb
    z = np.divide(sa - sb, total, out=np.zeros_like(total), where=total > 0)
    return names, z


def _fit(x: np.ndarray, z: np.ndarray, y: np.ndarray, w: np.ndarray, ties: str, ridge: float) -> np.ndarray:
    """Maximum likelihood (theta, beta[, log nu]) with a small ridge on theta: it fixes the scale's origin and
    keeps a perfect record finite."""
    m, k = x.shape[1], z.shape[1]
    tie = np.isclose(y, 0.5)

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, beta = params[:m], params[m : m + k]
        d = x @ theta + z @ beta
        if ties == "half":
            p = 1 / (1 + np.exp(-d))
            eps = 1e-12
            loss = -(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).sum()
            g_d = -(w * (y - p))
            grad = np.concatenate([x.T @ g_d, z.T @ g_d])
        else:
            log_nu = params[-1]
            nu, a = math.exp(log_nu), d / 2
            big = np.logaddexp(np.logaddexp(a, -a), log_nu)  # log D
            share = (np.exp(a - big) - np.exp(-a - big)) / 2  # d log D / d d
            log_p = np.where(tie, log_nu, np.where(y > 0.5, a, -a)) - big
            loss = -(w * log_p).sum()
            g_d = -w * (np.where(tie, 0.0, np.where(y > 0.5, 0.5, -0.5)) - share)
            g_nu = -(w * (tie - nu * np.exp(-big))).sum()
            grad = np.concatenate([x.T @ g_d, z.T @ g_d, [g_nu]])
        loss += ridge * theta @ theta
        grad[:m] += 2 * ridge * theta
        return float(loss), grad

    start = np.zeros(m + k + (1 if ties == "davidson" else 0))
    res = minimize(nll, start, jac=True, method="L-BFGS-B")
    return np.asarray(res.x)


def arena_ratings(
    pairs: pd.DataFrame,
    *,
    style: bool = True,
    ties: str = "davidson",
    n_bootstrap: int = 200,
    ci: float = 0.95,
    seed: int = 0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    anchor: str | None = None,
    c: float = 1e4,
) -> tuple[pd.DataFrame, pd.Series]:
    """(ratings, style coefficients): per model its `rating` (with `lower` and `upper`, a bootstrap interval over
    prompts) and, when the pairs carry answers or their lengths, its `style rating` (`style lower`, `style upper`)
    under style control; the coefficients say how much each style
    difference sways the outcome (logit units), and `nu` / `style nu` the tie propensity under Davidson.
    P(A beats B) = 1 / (1 + base ** ((r_B - r_A) / scale)); ratings are centred on `init`, or pinned so that
    `anchor` has rating `init`. `c` is an inverse ridge strength on the skills (scikit-learn's convention for this
    fit): large, so a model that wins every comparison stays finite and the estimate otherwise barely moves."""
    if ties not in ("davidson", "half"):
        raise DataError(f"ties must be 'davidson' or 'half', got {ties!r}")
    pairs = check_pairs(pairs).reset_index(drop=True)
    if pairs.empty:
        raise DataError("no outcomes to rate")
    y = pairs["outcome"].to_numpy(dtype=float)
    if ties == "davidson" and not np.isin(y, (0.0, 0.5, 1.0)).all():
        row = int(np.flatnonzero(~np.isin(y, (0.0, 0.5, 1.0)))[0])
        raise DataError(
            f"pairs row {row}: outcome {y[row]} is neither a win, a tie nor a loss (Davidson needs "
            "0, 0.5 or 1; use ties='half' for graded preferences)"
        )
    models = sorted(set(pairs["model_a"].astype(str)) | set(pairs["model_b"].astype(str)))
    if anchor is not None and anchor not in models:
        raise DataError(f"anchor model {anchor!r} is not in the pairs frame")
    index = {name: i for i, name in enumerate(models)}
    x = np.zeros((len(pairs), len(models)))
    x[np.arange(len(pairs)), pairs["model_a"].astype(str).map(index)] += 1.0
    x[np.arange(len(pairs)), pairs["model_b"].astype(str).map(index)] -= 1.0
    styled = _style_columns(pairs) if style else None
    variants = {"": np.zeros((len(pairs), 0))}
    if styled is not None:
        variants["style "] = styled[1]
    factor, ridge = scale / math.log(base), 1 / (4 * c)
    prompt = pd.factorize(pairs["item_id"].astype(str))[0]
    n_prompts = int(prompt.max()) + 1
    rng = np.random.default_rng(seed)
    draws = [
        np.bincount(rng.integers(0, n_prompts, n_prompts), minlength=n_prompts)[prompt]
        for _ in range(n_bootstrap)
    ]
    out = pd.DataFrame(index=pd.Index(models, name="model"))
    coefs: dict[str, float] = {}
    tail = (1 - ci) / 2
    for name, z in variants.items():
        fits = [_fit(x, z, y, w.astype(float), ties, ridge) for w in [np.ones(len(y)), *draws]]
        skills = np.array([f[: len(models)] for f in fits])
        origin = skills[:, models.index(anchor)] if anchor is not None else skills.mean(axis=1)
        theta = (skills - origin[:, None]) * factor + init
        out[f"{name}rating"] = theta[0]
        if n_bootstrap:
            out[f"{name}lower"] = np.quantile(theta[1:], tail, axis=0)
            out[f"{name}upper"] = np.quantile(theta[1:], 1 - tail, axis=0)
        if ties == "davidson":
            coefs[f"{name}nu"] = float(math.exp(fits[0][-1]))
        if styled is not None and z.shape[1]:
            coefs |= dict(
                zip(styled[0], map(float, fits[0][len(models) : len(models) + z.shape[1]]), strict=True)
            )
    return out.sort_values(out.columns[0], ascending=False), pd.Series(coefs, dtype=float)
