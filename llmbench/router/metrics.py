"""Router metrics: deferral curves, AIQ (RouterBench), APGR and CPT (RouteLLM), cost saving, peak quality.

Definitions used here (numpy only):
- A router's operating points are (mean cost per request, mean quality) pairs, one per lambda/threshold.
- `upper_hull` is the non-decreasing concave hull of those points: randomising between two operating
  points reaches every point on the segment between them, and spending more never has to lower quality.
- AIQ = (1 / (c_max - c_min)) * integral over [c_min, c_max] of the hull; the hull is flat right of its
  last point and 0 left of its first (no operating point is that cheap). RouterBench's definition, with
  [c_min, c_max] fixed by the caller (here: the cheapest and dearest single model on the same split).
- PGR(p) = (quality(p) - q_weak) / (q_strong - q_weak) at a share p of calls to the strong model;
  APGR = trapezoid integral of PGR over the fixed grid p = 0, 1, ..., 100 %; CPT(x) = the smallest share on
  that grid (linearly interpolated between grid points) where PGR reaches x. RouteLLM's definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "TOLERANCE",
    "OracleChains",
    "aiq",
    "apgr",
    "cost_at_quality",
    "cost_saving",
    "cpt",
    "lambda_grid",
    "oracle_chains",
    "oracle_frontier",
    "pgr_curve",
    "share_curve",
    "upper_hull",
]

# Means of a few hundred 0/1 scores differ in the last bits depending on summation order: two qualities within
# this (relative) distance are the same quality, so "reaches the target" never hinges on float noise.
TOLERANCE = 1e-9


def _tol(value: float) -> float:
    return TOLERANCE * max(1.0, abs(value))


def upper_hull(costs: np.ndarray, qualities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (sorted by cost) of the non-decreasing concave hull of the points."""
    c = np.asarray(costs, dtype=float)
    q = np.asarray(qualities, dtype=float)
    ok = np.isfinite(c) & np.isfinite(q)
    c, q = c[ok], q[ok]
    if not len(c):
        raise ValueError("upper_hull needs at least one finite point")
    order = np.lexsort((-q, c))  # by cost, best quality first among equal costs
    hull: list[tuple[float, float]] = []
    for x, y in zip(c[order], q[order], strict=True):
        if hull and y <= hull[-1][1] + _tol(y):
            continue  # dominated: costs at least as much for no more quality (beyond float noise)
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # drop the middle point when it lies on or below the chord from hull[-2] to (x, y)
            if (y2 - y1) * (x - x1) <= (y - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append((float(x), float(y)))
    hc, hq = zip(*hull, strict=True)
    return np.array(hc), np.array(hq)


def aiq(costs: np.ndarray, qualities: np.ndarray, c_min: float, c_max: float) -> float:
    """Average quality under the non-decreasing convex hull over the fixed cost range [c_min, c_max].

    Raises ValueError when the range is empty (every model costs the same): there is nothing to average over.
    """
    if not c_max > c_min + _tol(c_min):
        raise ValueError(f"AIQ needs c_max > c_min, got [{c_min}, {c_max}]")
    hc, hq = upper_hull(costs, qualities)
    # Exact integral of the piecewise-linear hull between its breakpoints inside the range; hc[0] is a
    # breakpoint, so each piece lies wholly left of the first vertex (value 0) or wholly right of it.
    xs = np.unique(np.clip(np.concatenate([[c_min, c_max], hc]), c_min, c_max))
    ys_l, ys_r = np.interp(xs[:-1], hc, hq), np.interp(xs[1:], hc, hq)
    inside = xs[:-1] >= hc[0]
    area = np.sum(np.where(inside, (ys_l + ys_r) / 2, 0.0) * np.diff(xs))
    return float(area / (c_max - c_min))


def cost_at_quality(costs: np.ndarray, qualities: np.ndarray, target: float) -> float:
    """Least mean cost at which the hull reaches `target` quality (nan when it never does).

    A hull that ends within float noise of the target reaches it: 0.1 + 0.2 is reached by a point at 0.3.
    """
    hc, hq = upper_hull(costs, qualities)
    goal = target - _tol(target)
    if hq[-1] < goal:
        return float("nan")
    i = int(np.argmax(hq >= goal))  # the first vertex that reaches it; hq is strictly increasing
    if i == 0:
        return float(hc[0])
    x0, x1, y0, y1 = hc[i - 1], hc[i], hq[i - 1], hq[i]
    share = min(1.0, max(0.0, (target - y0) / (y1 - y0)))
    return float(x0 + share * (x1 - x0))


def cost_saving(costs: np.ndarray, qualities: np.ndarray, q_best: float, c_best: float) -> float:
    """Share of the best single model's cost (`c_best`) saved where the hull reaches its quality `q_best`
    (nan when it never does)."""
    c_at = cost_at_quality(costs, qualities, q_best)
    return 1 - c_at / c_best if np.isfinite(c_at) else float("nan")


@dataclass(frozen=True)
class OracleChains:
    """Every prompt's walk along its own upper hull, from its cheapest model to its best one.

    `start_cost`/`start_quality` are per prompt (its cheapest model, best quality among ties); each edge moves
    one prompt one step up its hull, and edges are sorted by decreasing slope (quality per dollar).
    """

    start_cost: np.ndarray
    start_quality: np.ndarray
    edge_prompt: np.ndarray
    edge_cost: np.ndarray
    edge_quality: np.ndarray


def oracle_chains(quality: np.ndarray, cost: np.ndarray) -> OracleChains:
    """The per-prompt hull chains of the oracle (see `oracle_frontier`)."""
    q = np.asarray(quality, dtype=float)
    c = np.asarray(cost, dtype=float)
    if len(q) == 0:
        raise ValueError("the oracle needs at least one prompt")
    starts = np.empty((2, len(q)))
    prompts, dcs, dqs = [], [], []
    for i in range(len(q)):
        hc, hq = upper_hull(c[i], q[i])
        starts[:, i] = hc[0], hq[0]
        prompts.append(np.full(len(hc) - 1, i))
        dcs.append(np.diff(hc))
        dqs.append(np.diff(hq))
    dc, dq = np.concatenate(dcs), np.concatenate(dqs)
    order = np.argsort(-(dq / dc), kind="stable")  # hull edges have dc > 0 and dq > 0: steepest first
    return OracleChains(starts[0], starts[1], np.concatenate(prompts)[order], dc[order], dq[order])


def oracle_frontier(
    quality: np.ndarray,
    cost: np.ndarray,
    weights: np.ndarray | None = None,
    chains: OracleChains | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact cost/quality frontier of the oracle that knows every prompt's true scores and costs.

    Sweeping lambda from infinity to 0, each prompt walks along its own hull; the mean over prompts is the
    Minkowski sum of those chains, whose vertices come from merging all hull edges by decreasing slope. No lambda
    grid can miss a vertex, so the oracle dominates every single model and the zero router exactly.
    `weights` counts each prompt (a bootstrap resample); `chains` reuses `oracle_chains` of the same data.
    """
    ch = chains or oracle_chains(quality, cost)
    w = np.ones(len(ch.start_cost)) if weights is None else np.asarray(weights, dtype=float)
    n = w.sum()
    ew = w[ch.edge_prompt]
    keep = ew > 0
    xs = np.r_[w @ ch.start_cost, w @ ch.start_cost + np.cumsum((ch.edge_cost * ew)[keep])] / n
    ys = np.r_[w @ ch.start_quality, w @ ch.start_quality + np.cumsum((ch.edge_quality * ew)[keep])] / n
    return xs, ys


def lambda_grid(cost: np.ndarray, n: int = 160) -> np.ndarray:
    """0 plus a geometric grid wide enough to go from 'best quality' to 'cheapest model' for these costs."""
    with np.errstate(all="ignore"):
        mean_c = np.nanmean(np.where(np.isfinite(cost), cost, np.nan), axis=0)
    known = mean_c[np.isfinite(mean_c)]
    positive = known[known > 0]
    if not len(positive):
        return np.array([0.0])  # every model is free: cost cannot change a decision
    return np.asarray(
        np.r_[0.0, np.geomspace(1e-3 / float(positive.max()), 1e3 / float(positive.min()), n - 1)]
    )


GRID = np.linspace(0.0, 1.0, 101)


def share_curve(score: np.ndarray, gain: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Mean quality gain over the weak model when the top share p of prompts (by `score`) go to the strong model.

    Ties in `score` are split fractionally, i.e. the expected gain under a random order within a tie.
    """
    score = np.asarray(score, dtype=float)
    gain = np.asarray(gain, dtype=float)
    n = len(score)
    order = np.argsort(-score, kind="stable")
    s, g = score[order], gain[order]
    # group equal scores; cumulative gain at group ends, linear inside a group (= expected value under ties)
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) + 1
    xs = np.r_[0, ends]
    ys = np.r_[0.0, np.cumsum(g)[ends - 1]]
    return np.asarray(np.interp(grid * n, xs, ys) / n)


def pgr_curve(
    score: np.ndarray, q_strong: np.ndarray, q_weak: np.ndarray, grid: np.ndarray = GRID
) -> np.ndarray:
    """Performance gap recovered at each share of strong calls on the grid."""
    q_strong = np.asarray(q_strong, dtype=float)
    q_weak = np.asarray(q_weak, dtype=float)
    gap = q_strong.mean() - q_weak.mean()
    if gap <= 0:
        raise ValueError("PGR needs the strong model to beat the weak one on average")
    return np.asarray(share_curve(score, q_strong - q_weak, grid) / gap)


def apgr(pgr: np.ndarray, grid: np.ndarray = GRID) -> float:
    """Area under the PGR curve over the share grid (trapezoid rule)."""
    pgr = np.asarray(pgr, dtype=float)
    return float(np.sum((pgr[1:] + pgr[:-1]) / 2 * np.diff(grid)))


def cpt(pgr: np.ndarray, target: float, grid: np.ndarray = GRID) -> float:
    """Smallest share of strong calls at which PGR reaches `target` (linear between grid points)."""
    pgr = np.asarray(pgr, dtype=float)
    hit = np.flatnonzero(pgr >= target - 1e-12)
    if not len(hit):
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(grid[0])
    x0, x1, y0, y1 = grid[i - 1], grid[i], pgr[i - 1], pgr[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))
