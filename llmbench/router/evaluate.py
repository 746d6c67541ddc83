"""Held-out evaluation of the learned router against every baseline, measured in the same run.

`evaluate_router(train, test)` fits the router and the baselines on `train` and reports, on `test` only:
the deferral curve over a lambda sweep, AIQ over the fixed cost range [cheapest, dearest single model],
cost saving at the best single model's quality, peak quality, and for two models APGR and CPT(50%/80%).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from llmbench.errors import DataError
from llmbench.router import metrics
from llmbench.router.baselines import knn_estimates, oracle_estimates, random_choice, task_prior_estimates
from llmbench.router.data import RoutingData
from llmbench.router.decision import rank, utilities
from llmbench.router.model import TaskRouter

__all__ = ["Evaluation", "curve_of", "evaluate_router", "lambda_grid", "picks", "realised"]


def lambda_grid(cost: np.ndarray, n: int = 160) -> np.ndarray:
    """0 plus a geometric grid wide enough to go from 'best quality' to 'cheapest model' for these costs."""
    mean_c = np.nanmean(cost, axis=0)
    lo = 1e-3 / np.nanmax(mean_c)
    hi = 1e3 / max(np.nanmin(mean_c), 1e-12)
    return np.r_[0.0, np.geomspace(lo, hi, n - 1)]


def picks(q_hat: np.ndarray, c_hat: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """The chosen model index per lambda (rows) and prompt (columns) of argmax(q_hat - lambda c_hat)."""
    return np.array([rank(utilities(q_hat, c_hat, lam))[:, 0] for lam in lambdas])


def realised(chosen: np.ndarray, quality: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean realised cost and quality of each row of picks (one row per lambda, one column per prompt)."""
    rows = np.arange(quality.shape[0])
    return cost[rows, chosen].mean(axis=1), quality[rows, chosen].mean(axis=1)


def curve_of(chosen: np.ndarray, test: RoutingData, lambdas: np.ndarray) -> pd.DataFrame:
    """Deferral curve: realised mean cost, quality and strong-model share on `test` of the picks per lambda."""
    cost, quality = realised(chosen, test.quality, test.cost)
    return pd.DataFrame(
        {
            "lambda": lambdas.astype(float),
            "cost": cost,
            "quality": quality,
            "strong_share": (chosen == _best_model(test)).mean(axis=1),
        }
    )


def _best_model(data: RoutingData) -> int:
    return int(np.argmax(data.quality.mean(axis=0)))


@dataclass
class Evaluation:
    """The measured tables of one evaluation (all on the held-out split)."""

    table: pd.DataFrame  # one row per router/baseline
    curves: dict[str, pd.DataFrame]  # deferral curves (cost, quality) per router
    per_task: pd.DataFrame
    best_model: str
    n_train: int
    n_test: int
    n_test_dropped: int
    extras: dict = field(default_factory=dict)


def evaluate_router(
    train: RoutingData,
    test: RoutingData,
    router: TaskRouter | None = None,
    knn_k: int = 25,
    seed: int = 0,
) -> Evaluation:
    """Fit router and baselines on `train`; report every figure from `test` (prompts with full data only)."""
    full = test.complete()
    dropped = len(test) - len(full)
    test = full
    if len(test) < 2:
        raise DataError("the test split has fewer than 2 prompts with a score and cost for every model")
    router = (router or TaskRouter()).fit(train)
    if router.models_ != test.models:
        raise DataError("train and test splits must have the same models in the same order")
    _, q_r, c_r = router.estimate(test.prompts)
    _, q_l, c_l = router.estimate(test.prompts, list(test.tasks))
    x_tr = router.features_.transform(train.prompts)
    x_te = router.features_.transform(test.prompts)
    estimates = {
        "router": (q_r, c_r),
        "router + task label": (q_l, c_l),
        "task prior": task_prior_estimates(train, test),
        f"kNN (k={knn_k})": knn_estimates(x_tr, train.subset(np.arange(len(train))), x_te, knn_k),
        "oracle": oracle_estimates(test),
    }
    lambdas = lambda_grid(train.cost)
    chosen = {name: picks(q, c, lambdas) for name, (q, c) in estimates.items()}
    curves = {name: curve_of(chosen[name], test, lambdas) for name in estimates}
    mean_q, mean_c = test.quality.mean(axis=0), test.cost.mean(axis=0)
    c_min, c_max = float(mean_c.min()), float(mean_c.max())
    best = _best_model(test)
    q_best, c_best = float(mean_q[best]), float(mean_c[best])
    rows = []
    two = len(test.models) == 2
    strong, weak = router.strong_idx_, router.weak_idx_
    gain_true = test.quality[:, strong] - test.quality[:, weak]

    def row(name: str, kind: str, costs: np.ndarray, quals: np.ndarray, score: np.ndarray | None) -> None:
        r = {
            "router": name,
            "kind": kind,
            "AIQ": metrics.aiq(costs, quals, c_min, c_max),
            "peak quality": float(np.max(quals)),
            "cost at best-model quality": metrics.cost_at_quality(costs, quals, q_best),
            "cost saving": metrics.cost_saving(costs, quals, q_best, c_best),
        }
        if two and mean_q[strong] > mean_q[weak]:
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
    row("zero router", "baseline", mean_c, mean_q, None)
    for name, (q, _c) in estimates.items():
        curve = curves[name]
        score = gain_true if name == "oracle" else q[:, strong] - q[:, weak]
        kind = "learned" if name.startswith("router") else ("upper bound" if name == "oracle" else "baseline")
        row(name, kind, curve["cost"].to_numpy(), curve["quality"].to_numpy(), score)
    table = pd.DataFrame(rows)
    per_task = _per_task(test, estimates, lambdas, curves, q_best, best)
    return Evaluation(
        table=table,
        curves=curves,
        per_task=per_task,
        best_model=test.models[best],
        n_train=len(train),
        n_test=len(test),
        n_test_dropped=dropped,
        extras={
            "router": router,
            "cost_range": (c_min, c_max),
            "best_quality": q_best,
            "best_cost": c_best,
            "test": test,
            "picks": chosen,
            "random_pick": pick,
        },
    )


def _per_task(
    test: RoutingData,
    estimates: dict[str, tuple[np.ndarray, np.ndarray]],
    lambdas: np.ndarray,
    curves: dict[str, pd.DataFrame],
    q_best: float,
    best: int,
) -> pd.DataFrame:
    """Per task, at the cheapest lambda where each router reaches the best single model's overall quality."""
    out = []
    chosen = {}
    for name in ("router", "task prior"):
        curve = curves[name]
        ok = curve["quality"].to_numpy() >= q_best - 1e-12
        # the cheapest operating point that matches the best model (or the best point when none does)
        i = int(curve["cost"].where(ok).idxmin()) if ok.any() else int(curve["quality"].idxmax())
        q, c = estimates[name]
        chosen[name] = rank(utilities(q, c, lambdas[i]))[:, 0]
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
