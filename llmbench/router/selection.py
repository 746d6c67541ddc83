"""Which candidates a router serves, and with which weights per task, chosen by cross-fitting inside the training
split (the test split is never touched here).

The blend weights are fitted per task on the candidates' out-of-fold estimates (non-negative least squares, shrunk
towards the pooled weights for small tasks). Routing is judged by the bet AIQ of out-of-fold estimates. The start
is the task prior with the task mean costs (the per-task baseline, shrunk towards each model's overall mean where
a task has few prompts); every pair of quality estimate and cost model, simplest first, replaces the one kept so
far only when the lower confidence bound of its gain (paired bootstrap, corrected for the number of contenders)
is above zero: on small or noisy data the router serves what it can show it knows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.stats import norm

from llmbench.router.candidates import Candidate, Training
from llmbench.router.candidates.task_prior import TaskPrior
from llmbench.router.costs import LINES, MODEL_MEANS, NEIGHBOURS, TASK_MEANS
from llmbench.router.data import RoutingData
from llmbench.router.decision import blend

__all__ = ["Selection", "blend_weights", "in_words", "routing_score", "select"]

_POOL = 200  # prompts: a task's own weights count like this many prompts of the pooled ones


@dataclass
class Selection:
    """The outcome: weights per task of each candidate considered (tasks,), out-of-fold scores, the choice."""

    weights: dict[str, np.ndarray]
    scores: dict[str, float]
    choice: str
    estimate: np.ndarray | None = None  # the chosen quality estimate, out of fold
    cost: str = ""  # the cost model chosen with it ("" when costs were not part of the choice)

    @property
    def served(self) -> list[str]:
        """The candidates with any weight, in the order they were considered (simplest first)."""
        return [name for name, w in self.weights.items() if w.any()]


def blend_weights(
    oof: list[np.ndarray], quality: np.ndarray, task_idx: np.ndarray, n_tasks: int
) -> np.ndarray:
    """Non-negative weights (tasks x candidates) that best combine out-of-fold estimates into the true quality; the
    first estimate (the task prior) fills the others' gaps."""
    known = np.isfinite(quality)
    prior = oof[0]

    def fit(rows: np.ndarray) -> np.ndarray:
        mask = known[rows]
        cols = [np.where(np.isnan(e[rows]), prior[rows], e[rows])[mask] for e in oof]
        if mask.sum() < len(oof):
            return np.asarray(np.eye(len(oof))[0])
        w = nnls(np.column_stack(cols), quality[rows][mask])[0]
        return np.asarray(w if w.sum() > 0 else np.eye(len(oof))[0])

    pooled = fit(np.arange(len(quality)))
    out = np.tile(pooled, (n_tasks, 1))
    for t in range(n_tasks):
        rows = np.flatnonzero(task_idx == t)
        if len(rows):
            out[t] = (len(rows) * fit(rows) + _POOL * pooled) / (len(rows) + _POOL)
    return out


def routing_score(data: RoutingData, estimate: np.ndarray, mode: str) -> float:
    """How well routing on `estimate` does on the rows with every score and cost: in threshold mode APGR of the
    strong-minus-weak ranking, else the bet AIQ of the exact sweep over lambda (`metrics.bet_aiq`: a hull over
    the judged outcomes would reward noisy estimates for their lucky points; true mean costs as the cost
    estimate, so candidates differ only in their quality estimates)."""
    return float(_Judge(data, mode, 0).scores(estimate)[0])


class _Judge:
    """Routing scores of estimates on the training prompts: the point figure and `n_boot` paired resamples of the
    prompts (the same resamples for every estimate, so their differences are paired)."""

    def __init__(self, data: RoutingData, mode: str, n_boot: int, seed: int = 0) -> None:
        ok = np.isfinite(data.quality).all(axis=1) & np.isfinite(data.cost).all(axis=1)
        self.ok, self.mode = ok, mode
        self.q, self.c = data.quality[ok], data.cost[ok]
        rng = np.random.default_rng(seed)
        n = len(self.q)
        self.draws = [np.arange(n)] + [rng.integers(0, n, size=n) for _ in range(n_boot if n else 0)]

    def scores(self, estimate: np.ndarray, cost: np.ndarray | None = None) -> np.ndarray:
        """[the point score, then one per resample]; routing on `cost` as the cost estimate (default: each model's
        mean cost, so estimates are judged on quality alone)."""
        from llmbench.router import metrics

        q_hat = estimate[self.ok]
        if not len(q_hat):
            return np.zeros(len(self.draws))
        out = np.empty(len(self.draws))
        if self.mode == "threshold":
            for i, idx in enumerate(self.draws):
                q, mean_q, mean_c = self.q[idx], self.q[idx].mean(axis=0), self.c[idx].mean(axis=0)
                s, w = int(np.argmax(mean_q)), int(np.argmin(mean_c))
                ok = s != w and mean_q[s] > mean_q[w]
                out[i] = (
                    metrics.apgr(metrics.pgr_curve(q_hat[idx, s] - q_hat[idx, w], q[:, s], q[:, w]))
                    if ok
                    else 0.0
                )
            return out
        c_hat = np.tile(self.c.mean(axis=0), (len(q_hat), 1)) if cost is None else cost[self.ok]
        sweep = metrics.Sweep.of(q_hat, c_hat)
        for i, idx in enumerate(self.draws):
            weights = np.bincount(idx, minlength=len(q_hat))
            pts = sweep.points(self.q, self.c, weights)
            means_c = weights @ self.c / weights.sum()
            try:
                out[i] = metrics.bet_aiq(
                    pts["cost"], pts["quality"], float(means_c.min()), float(means_c.max())
                )
            except ValueError:  # every model costs the same: routing is by quality alone
                out[i] = float(pts["quality"][-1])
        return out


LEVEL = 0.9  # a richer estimator is kept when this one-sided lower confidence bound of its gain is above zero


def _nanmean(estimates: list[np.ndarray]) -> np.ndarray:
    stack = np.stack(estimates)
    seen = np.isfinite(stack)
    total = np.where(seen, stack, 0.0).sum(axis=0)
    return np.asarray(np.where(seen.any(axis=0), total / np.maximum(seen.sum(axis=0), 1), np.nan))


def select(
    trains: list[Training],
    kinds: list[type[Candidate]],
    fallback: str,
    mode: str,
    forced: bool = False,
    costs: dict[str, np.ndarray] | None = None,
) -> Selection:
    """The weights to serve, chosen on out-of-fold evidence with its uncertainty. Every candidate's out-of-fold
    estimate is averaged over the cross-fittings in `trains` (repeated where data is small); `fallback` (the task
    prior) fills their gaps and is the start (with the task mean costs). Every other contender (each candidate and
    the blend, each with each cost model), simplest first, replaces the one kept so far when it scores higher and
    the lower confidence bound of that gain (paired bootstrap of the prompts; 90% for all contenders together) is
    above zero. With `forced`, the richest candidate alone (its score reported).
    `kinds` come simplest first. `costs` (out-of-fold cost estimates by name, simplest first) makes the choice joint:
    each quality estimate is judged routing on each cost estimate, and a richer cost model must earn its place the
    same way; without them, estimates are judged on each model's mean cost."""
    train, n_t = trains[0], trains[0].n_tasks
    names = [k.name for k in kinds]
    oof = {k.name: _nanmean([k().out_of_fold(t) for t in trains]) for k in kinds}
    n = len(train.data)
    judge = _Judge(train.data, mode, 0 if forced else (200 if n <= 2000 else 60))
    cost_models: dict[str, np.ndarray | None] = dict(costs) if costs and mode == "cost" else {"": None}
    # the task prior's own cost model is the start's, and a contender's name says its cost model when it differs
    start_cost = TASK_MEANS if TASK_MEANS in cost_models else next(iter(cost_models))
    if forced:
        only = {name: np.zeros(n_t) for name in names}
        only[names[-1]] = np.ones(n_t)
        score = float(judge.scores(oof[names[-1]], cost_models[start_cost])[0])
        return Selection(only, {names[-1]: score}, names[-1], oof[names[-1]], start_cost)
    gap = oof[fallback]
    filled = dict(zip(names, (np.where(np.isnan(oof[k]), gap, oof[k]) for k in names), strict=True))
    weights = blend_weights(list(filled.values()), train.data.quality, train.task_idx, n_t)
    filled["blend"] = blend(np.eye(n_t)[train.task_idx], weights, list(filled.values()), gap)
    # contenders simplest first: by the sum of their quality estimate's and cost model's places in the order
    # of complexity (the task prior with task mean costs is simpler than the blend with model mean costs)
    pairs = [(q, c) for q in filled for c in cost_models]
    rank = {**{q: i for i, q in enumerate(filled)}, **{c: i for i, c in enumerate(cost_models)}}
    pairs.sort(key=lambda key: (rank[key[0]] + rank[key[1]], rank[key[0]]))
    runs = {(q, c): judge.scores(filled[q], cost_models[c]) for q, c in pairs}
    scores = {_label(q, c, start_cost): float(r[0]) for (q, c), r in runs.items()}
    # the start: the task prior (each task's means, shrunk towards the model's overall mean where a task has few
    # prompts) with the task mean costs, i.e. the per-task baseline; any other contender, simpler or richer, is
    # kept when it beats the one kept so far with a lower bound above zero
    best = (fallback, start_cost)
    # every contender is a chance of a lucky gain: the bound is corrected for how many there are (Bonferroni),
    # so the chance that any is kept for noise stays at most 1 - LEVEL
    # (a normal bound from the resamples' spread: a quantile this far out would rest on the few most extreme)
    z = float(norm.ppf(1 - (1 - LEVEL) / max(1, len(runs) - 1)))
    for key in runs:
        gain = runs[key] - runs[best]
        if gain[0] > 0 and gain[0] - z * np.std(gain[1:]) > 0:
            best = key
    quality, cost = best
    if quality == "blend":
        chosen = {name: weights[:, i] for i, name in enumerate(names)}
    else:
        chosen = {name: np.zeros(n_t) for name in names}
        chosen[quality] = np.ones(n_t)
    return Selection(chosen, scores, quality, filled[quality], cost)


def _label(quality: str, cost: str, start_cost: str) -> str:
    """A contender's name in the scores: the quality estimate, with the cost model when it is not the start's."""
    return quality if cost == start_cost else f"{quality} + {cost}"


_COSTS = {
    MODEL_MEANS: "each model's mean cost",
    TASK_MEANS: "the task mean costs (each task's mean cost per model)",
    LINES: "the task cost lines (a task's cost growing with the prompt's length)",
    NEIGHBOURS: "the neighbour costs (each prompt's nearest training prompts' logged costs)",
}


def in_words(choice: str, scores: dict[str, float], cost_model: str = TASK_MEANS) -> str:
    """What the router serves and why, for people: when nothing shows a gain over the task prior, that it serves
    the task prior."""
    shown = ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
    if choice == TaskPrior.name and cost_model in (TASK_MEANS, ""):
        return (
            "On these training prompts the router cannot show a gain over the task prior (each task's mean score "
            "and cost per model, shrunk towards the model's overall mean where a task has few prompts): no other "
            "contender's out-of-fold gain has a 90% lower bound above zero (for all contenders together), so it "
            f"serves the task prior (out-of-fold scores: {shown})."
        )
    what = "the blend of its candidates" if choice == "blend" else f"the {choice}"
    costs = f" routing on {_COSTS[cost_model]}" if cost_model in _COSTS else ""
    return (
        f"The router serves {what}{costs}: its out-of-fold gain over the task prior, and over each contender kept "
        f"before it, has a 90% lower bound above zero (for all contenders together; out-of-fold scores: {shown})."
    )
