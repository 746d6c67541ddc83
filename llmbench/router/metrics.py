"""Router metrics: deferral curves, AIQ (RouterBench), APGR and CPT (RouteLLM), cost saving, peak quality.

Definitions used here (numpy only):
- A router's operating points are (mean cost per request, mean quality) pairs, one per lambda/threshold.
- `upper_hull` is the non-decreasing concave hull of those points: randomising between two operating
  points reaches every point on the segment between them, and spending more never has to lower quality.
- AIQ = (1 / (c_max - c_min)) * integral over [c_min, c_max] of the hull; the hull is flat right of its
  last point and 0 left of its first (no operating point is that cheap). RouterBench's definition, with
  [c_min, c_max] fixed by the caller (here: the cheapest and dearest single model on the same split).
- The hull is taken over the points' *measured* qualities, so it keeps the points that happened to do well on
  the very prompts that judge them: estimates that are pure noise score above the straight line between two
  models (about +0.01 AIQ on 660 test prompts). `bet_aiq` integrates the operating points in the order the
  setting moves instead (at each budget, the point where the path first spends it), so every point a router
  would be run at counts, lucky or not: the figure of a bet made before the outcomes are seen.
- PGR(p) = (quality(p) - q_weak) / (q_strong - q_weak) at a share p of calls to the strong model;
  APGR = trapezoid integral of PGR over the fixed grid p = 0, 1, ..., 100 %; CPT(x) = the smallest share on
  that grid (linearly interpolated between grid points) where PGR reaches x. RouteLLM's definitions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TOLERANCE",
    "OracleChains",
    "Sweep",
    "aiq",
    "apgr",
    "bet_aiq",
    "cost_at_quality",
    "cost_saving",
    "cpt",
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
    c, q = c[order], q[order]
    # only a point above every cheaper one can be a vertex: drop the rest at once (a realised sweep has
    # thousands of points and few vertices), then walk the survivors
    before = np.r_[-np.inf, np.maximum.accumulate(q)[:-1]]
    keep = q > before + TOLERANCE * np.maximum(1.0, np.abs(q))
    hull: list[tuple[float, float]] = []
    for x, y in zip(c[keep].tolist(), q[keep].tolist(), strict=True):
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


def bet_aiq(costs: np.ndarray, qualities: np.ndarray, c_min: float, c_max: float) -> float:
    """Average quality over [c_min, c_max] along the operating points in the order given (the setting moving
    from the cheapest end), no hull taken over the outcomes. At each budget the quality is the path's where it
    first reaches that cost (between points, the mix of the two); flat right of the dearest point and 0 left
    of the first, as in `aiq`. For points whose cost rises along the path it is the trapezoid integral.

    Raises ValueError when the range is empty (every model costs the same).
    """
    if not c_max > c_min + _tol(c_min):
        raise ValueError(f"AIQ needs c_max > c_min, got [{c_min}, {c_max}]")
    c, q = np.asarray(costs, dtype=float), np.asarray(qualities, dtype=float)
    keep = np.isfinite(c) & np.isfinite(q)
    c, q = c[keep], q[keep]
    if not len(c):
        raise ValueError("bet_aiq needs at least one finite point")
    reach = np.maximum.accumulate(c)  # the dearest cost reached so far
    # a piece of the function per step that spends more than ever before: from where it crosses the old
    # maximum to its end point
    new = np.flatnonzero(c[1:] > reach[:-1]) + 1
    xa, xb = reach[new - 1], c[new]
    t = (xa - c[new - 1]) / (xb - c[new - 1])
    ya, yb = q[new - 1] + t * (q[new] - q[new - 1]), q[new]
    lo, hi = np.clip(xa, c_min, c_max), np.clip(xb, c_min, c_max)
    slope = (yb - ya) / (xb - xa)
    area = float(np.sum((ya + slope * (lo - xa) + ya + slope * (hi - xa)) / 2 * (hi - lo)))
    top = float(reach[-1])
    tail_q = float(yb[-1]) if len(new) else float(q[0])
    area += tail_q * max(0.0, c_max - max(top, c_min))
    return area / (c_max - c_min)


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


def _hull_vertices(c: np.ndarray, q: np.ndarray) -> list[int]:
    """Indices of the vertices of the non-decreasing concave hull of one prompt's (cost, quality) points, by cost
    (the models argmax(q - lambda c) chooses as lambda goes from infinity to 0)."""
    hull: list[int] = []
    for j in np.lexsort((-q, c)).tolist():  # by cost, best quality first among equal costs
        x, y = c[j], q[j]
        if hull and y <= q[hull[-1]] + _tol(y):
            continue
        while len(hull) >= 2:
            x1, y1, x2, y2 = c[hull[-2]], q[hull[-2]], c[hull[-1]], q[hull[-1]]
            if (y2 - y1) * (x - x1) <= (y - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(j)
    return hull


@dataclass(frozen=True)
class Sweep:
    """Every decision of routing by argmax(q_hat - lambda c_hat) as lambda goes from infinity to 0, exactly.

    Each prompt walks along the hull of its own estimated points; a step (an edge) happens at the lambda equal to
    its estimated slope, so sorting all edges by decreasing slope lists every change of decision, and between two
    distinct slopes no decision changes: the operating points are the running sums of the edges' true effects
    (no lambda grid can miss one). With the true scores and costs as the estimates it is the oracle.
    """

    start: np.ndarray  # per prompt: the model chosen at lambda = infinity
    edge_prompt: np.ndarray
    edge_from: np.ndarray
    edge_to: np.ndarray
    edge_slope: np.ndarray  # decreasing

    @classmethod
    def of(cls, q_hat: np.ndarray, c_hat: np.ndarray) -> Sweep:
        """The sweep of a (prompts x models) pair of estimates."""
        q, c = np.asarray(q_hat, dtype=float), np.asarray(c_hat, dtype=float)
        if len(q) == 0:
            raise ValueError("a sweep needs at least one prompt")
        start = np.empty(len(q), dtype=np.int64)
        prompts, froms, tos, slopes = [], [], [], []
        for i in range(len(q)):
            hull = _hull_vertices(c[i], q[i])
            start[i] = hull[0]
            for a, b in itertools.pairwise(hull):
                prompts.append(i)
                froms.append(a)
                tos.append(b)
                slopes.append((q[i, b] - q[i, a]) / (c[i, b] - c[i, a]))
        order = np.argsort(-np.asarray(slopes, dtype=float), kind="stable")
        edges = [np.asarray(v, dtype=np.int64)[order] for v in (prompts, froms, tos)]
        return cls(start, edges[0], edges[1], edges[2], np.asarray(slopes, dtype=float)[order])

    def points(
        self,
        quality: np.ndarray,
        cost: np.ndarray,
        weights: np.ndarray | None = None,
        strong: int | None = None,
    ) -> dict[str, np.ndarray]:
        """The operating points on (true) `quality` and `cost`, from lambda = infinity to 0: "lambda" (a setting
        inside each stretch, 0 for the last), "cost", "quality" (means, weighted by `weights` per prompt: a
        bootstrap resample) and, given a `strong` model, "strong_share"."""
        w = np.ones(len(self.start)) if weights is None else np.asarray(weights, dtype=float)
        n, p, a, b = w.sum(), self.edge_prompt, self.edge_from, self.edge_to
        slope = self.edge_slope  # below: the last edge of each distinct lambda
        ends = np.flatnonzero(np.r_[slope[1:] != slope[:-1], True]) if len(slope) else np.zeros(0, np.int64)
        rows = np.arange(len(self.start))

        def running(values: np.ndarray) -> np.ndarray:
            first = w @ values[rows, self.start]
            return np.asarray(np.r_[first, first + np.cumsum(w[p] * (values[p, b] - values[p, a]))[ends]] / n)

        slopes = self.edge_slope[ends]
        lambdas = np.r_[2 * slopes[0] if len(slopes) else 1.0, (slopes + np.r_[slopes[1:], 0.0]) / 2]
        lambdas[-1] = 0.0  # with no step at all, the one point holds for every lambda
        out = {
            "lambda": lambdas,
            "cost": running(np.asarray(cost, float)),
            "quality": running(np.asarray(quality, float)),
        }
        if strong is not None:
            at = (np.arange(quality.shape[1]) == strong).astype(float)[None, :].repeat(len(rows), axis=0)
            out["strong_share"] = running(at)
        return out

    def decisions(self, setting: float) -> np.ndarray:
        """Each prompt's model at one lambda (the sweep's own tie rule: a step happens at lambdas below its slope)."""
        chosen = self.start.copy()
        for i in np.flatnonzero(
            self.edge_slope > setting
        ):  # in slope order: a prompt's later steps overwrite
            chosen[self.edge_prompt[i]] = self.edge_to[i]
        return chosen


OracleChains = Sweep  # the oracle is the sweep of the true scores and costs


def oracle_chains(quality: np.ndarray, cost: np.ndarray) -> Sweep:
    """The oracle's sweep (see `Sweep`)."""
    return Sweep.of(quality, cost)


def oracle_frontier(
    quality: np.ndarray,
    cost: np.ndarray,
    weights: np.ndarray | None = None,
    chains: Sweep | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact cost/quality frontier of the oracle that knows every prompt's true scores and costs: the
    Minkowski sum of every prompt's hull, so it dominates every single model and the zero router exactly.
    `weights` counts each prompt (a bootstrap resample); `chains` reuses the sweep of the same data."""
    pts = (chains or Sweep.of(quality, cost)).points(quality, cost, weights)
    return pts["cost"], pts["quality"]


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
