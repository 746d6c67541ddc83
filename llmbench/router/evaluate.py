"""Held-out evaluation of the learned router against every baseline, measured in the same run.

`evaluate_router(train, test)` fits the router and the baselines on `train` and reports, on `test` only:
the deferral curve over every lambda, AIQ over the fixed cost range [cheapest, dearest single model], cost
saving at the best single model's quality, peak quality, and for two models APGR and CPT(50%/80%). Every curve,
the oracle's included, is exact (`metrics.Sweep`: every change of decision), not sampled on a lambda grid.

"AIQ" is RouterBench's: the hull of each curve's points as measured on the test prompts, i.e. with hindsight
(so is its zero router, mixing the models best on the test split). "AIQ (bet)" is the figure of a choice made
before the test outcomes are seen (`metrics.bet_aiq`: every operating point counts, lucky or not), and the
"model prior" row is the zero router as a bet: the models mixed by their training means. Compare routers as
bets; the hindsight figures are there to compare with published numbers.

Every figure is defined on any real data, or is NaN with its reason in `Evaluation.notes`: one task, two
models, the best model being the cheapest, every model costing the same, constant quality, ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from llmbench.errors import DataError
from llmbench.router import metrics
from llmbench.router.baselines import (
    knn_estimates,
    model_prior_estimates,
    oracle_estimates,
    random_choice,
    task_prior_estimates,
)
from llmbench.router.data import RoutingData
from llmbench.router.estimator import RouterEstimator

__all__ = ["Evaluation", "evaluate_router", "realised"]

ORACLE = "oracle"
MODEL_PRIOR = "model prior"


def realised(chosen: np.ndarray, quality: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean realised cost and quality of each row of picks (one row per setting, one column per prompt)."""
    rows = np.arange(quality.shape[0])
    return cost[rows, chosen].mean(axis=1), quality[rows, chosen].mean(axis=1)


@dataclass(frozen=True)
class Reference:
    """What every figure of one test sample is measured against: the cost range and the best single model."""

    c_min: float
    c_max: float
    best: int
    q_best: float
    c_best: float

    @classmethod
    def of(cls, quality: np.ndarray, cost: np.ndarray) -> Reference:
        """The reference of a (prompts x models) quality and cost matrix; the best model is the best by mean
        quality, and among models within float noise of it, the cheapest."""
        mean_q, mean_c = quality.mean(axis=0), cost.mean(axis=0)
        top = mean_q.max()
        near = np.flatnonzero(mean_q >= top - metrics.TOLERANCE * max(1.0, abs(top)))
        best = int(near[np.argmin(mean_c[near])])
        return cls(float(mean_c.min()), float(mean_c.max()), best, float(mean_q[best]), float(mean_c[best]))

    def aiq(self, costs: np.ndarray, quals: np.ndarray) -> float:
        """AIQ over this cost range (NaN when every model costs the same)."""
        try:
            return metrics.aiq(costs, quals, self.c_min, self.c_max)
        except ValueError:
            return float("nan")

    def bet_aiq(self, costs: np.ndarray, quals: np.ndarray) -> float:
        """AIQ of the operating points as they come, no hull over the outcomes (NaN as `aiq`)."""
        try:
            return metrics.bet_aiq(costs, quals, self.c_min, self.c_max)
        except ValueError:
            return float("nan")

    def saving(self, costs: np.ndarray, quals: np.ndarray) -> float:
        """Cost saving at the best model's quality (NaN when never reached or the best model is free)."""
        if self.c_best <= 0:
            return float("nan")
        return metrics.cost_saving(costs, quals, self.q_best, self.c_best)


@dataclass
class Evaluation:
    """The measured tables of one evaluation (all on the held-out split), and what they were computed from."""

    table: pd.DataFrame  # one row per router/baseline
    curves: dict[str, pd.DataFrame]  # deferral curves (cost, quality) per router
    per_task: pd.DataFrame
    best_model: str
    n_train: int
    n_test: int
    n_test_dropped: int
    router: RouterEstimator
    test: RoutingData
    reference: Reference
    sweeps: dict[str, metrics.Sweep]  # every decision of each router (and the oracle) over all lambdas
    random_pick: np.ndarray
    oracle: metrics.OracleChains
    notes: dict[str, str] = field(default_factory=dict)  # metric -> why it is n/a on this data


def _pgr_pair(router: RouterEstimator, train: RoutingData, test: RoutingData) -> tuple[int, int] | str:
    """(strong, weak) for APGR/CPT with two models, or the reason they are not defined here."""
    if len(test.models) != 2:
        return "APGR and CPT are defined for two models (RouteLLM's strong/weak pair)"
    mean_q = np.nanmean(train.quality, axis=0)
    mean_c = np.nanmean(train.cost, axis=0)
    strong = int(np.argmax(mean_q))
    weak = 1 - strong
    if not mean_q[strong] > mean_q[weak] + metrics.TOLERANCE:
        return "the two models have the same mean quality on the training split: there is no gap to recover"
    if not mean_c[strong] > mean_c[weak]:
        return (
            f"the better model ({test.models[strong]}) is not dearer than the other: always calling it is best, "
            "so the share of calls to it measures no cost"
        )
    gap = test.quality[:, strong].mean() - test.quality[:, weak].mean()
    if not gap > metrics.TOLERANCE:
        return f"on the test split {test.models[strong]} does not beat {test.models[weak]}: no gap to recover"
    return strong, weak


def _notes(ref: Reference, test: RoutingData, pair: tuple[int, int] | str) -> dict[str, str]:
    notes = {}
    if not ref.c_max > ref.c_min + metrics.TOLERANCE * max(1.0, abs(ref.c_min)):
        notes["AIQ"] = (
            "every model has the same mean cost on the test split: there is no cost range to average over"
        )
    if ref.c_best <= 0:
        notes["cost saving"] = f"the best model ({test.models[ref.best]}) is free: there is no cost to save"
    if isinstance(pair, str) and len(test.models) == 2:
        notes["APGR"] = notes["CPT"] = pair
    return notes


def evaluate_router(
    train: RoutingData,
    test: RoutingData,
    router: RouterEstimator | None = None,
    knn_k: int = 25,
    seed: int = 0,
) -> Evaluation:
    """Fit router and baselines on `train`; report every figure from `test` (prompts with full data only)."""
    full = test.complete()
    dropped = len(test) - len(full)
    test = full
    if len(test) < 2:
        raise DataError("the test split has fewer than 2 prompts with a score and cost for every model")
    router = (router or RouterEstimator()).fit(train)
    if router.models_ != test.models:
        raise DataError("train and test splits must have the same models in the same order")
    _, q_r, c_r = router.objective(test.prompts)  # as the router ranks: latency term applied
    _, q_l, c_l = router.objective(test.prompts, list(test.tasks))
    x_tr = router.features_.transform(train.prompts)
    x_te = router.features_.transform(test.prompts)
    estimates = {
        "router": (q_r, c_r),
        "router + task label": (q_l, c_l),
        "task prior": task_prior_estimates(train, test),
        MODEL_PRIOR: model_prior_estimates(train, test),
        f"kNN (k={knn_k})": knn_estimates(x_tr, train.subset(np.arange(len(train))), x_te, knn_k),
        ORACLE: oracle_estimates(test),
    }
    ref = Reference.of(test.quality, test.cost)
    sweeps = {name: metrics.Sweep.of(q, c) for name, (q, c) in estimates.items()}
    curves = {
        name: pd.DataFrame(sweep.points(test.quality, test.cost, strong=ref.best))
        for name, sweep in sweeps.items()
    }
    mean_q, mean_c = test.quality.mean(axis=0), test.cost.mean(axis=0)
    pair = _pgr_pair(router, train, test)
    rows = []

    def row(
        name: str, kind: str, costs: np.ndarray, quals: np.ndarray, score: np.ndarray | None, bet: bool = True
    ) -> None:
        r = {
            "router": name,
            "kind": kind,
            "AIQ": ref.aiq(costs, quals),
            "AIQ (bet)": ref.bet_aiq(costs, quals) if bet else np.nan,
            "peak quality": float(np.max(quals)),
            "cost at best-model quality": metrics.cost_at_quality(costs, quals, ref.q_best),
            "cost saving": ref.saving(costs, quals),
        }
        if len(test.models) == 2:
            r.update({"APGR": np.nan, "CPT(50%)": np.nan, "CPT(80%)": np.nan})
        if not isinstance(pair, str):
            strong, weak = pair
            if score is None:  # a point or a mixture: random order, i.e. the straight line
                score = np.zeros(len(test))
            pgr = metrics.pgr_curve(score, test.quality[:, strong], test.quality[:, weak])
            r.update(
                {
                    "APGR": metrics.apgr(pgr),
                    "CPT(50%)": metrics.cpt(pgr, 0.5),
                    "CPT(80%)": metrics.cpt(pgr, 0.8),
                }
            )
        rows.append(r)

    for j, m in enumerate(test.models):
        row(m, "single model", mean_c[[j]], mean_q[[j]], None)
    pick = random_choice(len(test), len(test.models), seed)
    idx = np.arange(len(test))
    row(
        "random",
        "baseline",
        np.array([test.cost[idx, pick].mean()]),
        np.array([test.quality[idx, pick].mean()]),
        None,
    )
    # chosen with hindsight (the models on the test split's hull): a reference figure, not a bet
    row("zero router", "baseline", mean_c, mean_q, None, bet=False)
    for name, (q, _c) in estimates.items():
        score = None
        if not isinstance(pair, str):
            strong, weak = pair
            score = (
                test.quality[:, strong] - test.quality[:, weak]
                if name == ORACLE
                else q[:, strong] - q[:, weak]
            )
        costs, quals = curves[name]["cost"].to_numpy(), curves[name]["quality"].to_numpy()
        kind = "learned" if name.startswith("router") else ("upper bound" if name == ORACLE else "baseline")
        row(name, kind, costs, quals, score)
    table = pd.DataFrame(rows)
    per_task = _per_task(test, sweeps, curves, ref.q_best, ref.best)
    return Evaluation(
        table=table,
        curves=curves,
        per_task=per_task,
        best_model=test.models[ref.best],
        n_train=len(train),
        n_test=len(test),
        n_test_dropped=dropped,
        router=router,
        test=test,
        reference=ref,
        sweeps=sweeps,
        random_pick=pick,
        oracle=sweeps[ORACLE],
        notes=_notes(ref, test, pair),
    )


def _per_task(
    test: RoutingData,
    sweeps: dict[str, metrics.Sweep],
    curves: dict[str, pd.DataFrame],
    q_best: float,
    best: int,
) -> pd.DataFrame:
    """Per task, at the cheapest lambda where each router reaches the best single model's overall quality."""
    out = []
    chosen = {}
    goal = q_best - metrics.TOLERANCE * max(1.0, abs(q_best))
    for name in ("router", "task prior"):
        curve = curves[name]
        ok = curve["quality"].to_numpy() >= goal
        # the cheapest operating point that matches the best model (or the best point when none does)
        cost, quality = curve["cost"].to_numpy(), curve["quality"].to_numpy()
        i = int(np.argmin(np.where(ok, cost, np.inf))) if ok.any() else int(np.nanargmax(quality))
        chosen[name] = sweeps[name].decisions(float(curve["lambda"].iloc[i]))
    for task in np.unique(test.tasks):
        rows = np.flatnonzero(test.tasks == task)
        r = {"task": task, "n": len(rows)}
        r["best model quality"] = float(test.quality[rows, best].mean())
        r["best model cost"] = float(test.cost[rows, best].mean())
        for name, pick in chosen.items():
            r[f"{name} quality"] = float(test.quality[rows, pick[rows]].mean())
            r[f"{name} cost"] = float(test.cost[rows, pick[rows]].mean())
        r["oracle quality"] = float(test.quality[rows].max(axis=1).mean())
        out.append(r)
    return pd.DataFrame(out)
