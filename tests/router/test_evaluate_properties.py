"""Router metrics and the held-out evaluation on random quality/cost matrices: no exception, and the invariants.

Real logged runs have two models, one task, the best model being the cheapest, every model costing the same,
constant quality, ties and float noise; hypothesis draws all of those shapes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llmbench.json_safe import dumps
from llmbench.router import metrics
from llmbench.router.bootstrap import bootstrap_intervals
from llmbench.router.data import RoutingData
from llmbench.router.estimator import RouterEstimator
from llmbench.router.evaluate import evaluate_router

SLACK = 1e-9


@st.composite
def matrices(draw: st.DrawFn, min_models: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(quality, cost) of n prompts x m models: 0/1, coarse or continuous scores; costs with ties and zeros."""
    n = draw(st.integers(1, 30))
    m = draw(st.integers(min_models, 5))
    kind = draw(st.sampled_from(["binary", "coarse", "continuous", "constant"]))
    if kind == "binary":
        q = draw(arrays(float, (n, m), elements=st.sampled_from([0.0, 1.0])))
    elif kind == "coarse":
        q = draw(arrays(float, (n, m), elements=st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.7, 1.0])))
    elif kind == "constant":
        q = np.full((n, m), draw(st.floats(0, 1)))
    else:
        q = draw(arrays(float, (n, m), elements=st.floats(0, 1)))
    per_model = draw(arrays(float, (m,), elements=st.sampled_from([0.0, 1e-6, 3e-4, 3e-4, 0.002, 0.03])))
    jitter = draw(arrays(float, (n, m), elements=st.floats(0.5, 2.0)))
    return q, per_model[None, :] * jitter


def _aiq_or_none(costs: np.ndarray, quals: np.ndarray, lo: float, hi: float) -> float | None:
    try:
        return metrics.aiq(costs, quals, lo, hi)
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(matrices())
@pytest.mark.slow
def test_metric_invariants_hold_on_any_matrix(data: tuple[np.ndarray, np.ndarray]) -> None:
    q, c = data
    mean_q, mean_c = q.mean(axis=0), c.mean(axis=0)
    hc, hq = metrics.upper_hull(mean_c, mean_q)
    assert np.all(np.diff(hc) > 0) and np.all(np.diff(hq) > 0)  # the hull only climbs
    oc, oq = metrics.oracle_frontier(q, c)
    assert np.all(np.diff(oc) >= -SLACK) and np.all(np.diff(oq) >= -SLACK)
    lo, hi = float(mean_c.min()), float(mean_c.max())
    zero = _aiq_or_none(mean_c, mean_q, lo, hi)
    if zero is None:  # every model costs the same: AIQ is n/a, never a crash
        assert hi <= lo + metrics.TOLERANCE * max(1.0, abs(lo))  # the metric's own "same cost" rule
        return
    oracle = _aiq_or_none(oc, oq, lo, hi)
    singles = [_aiq_or_none(mean_c[[j]], mean_q[[j]], lo, hi) for j in range(q.shape[1])]
    assert oracle is not None and 0 - SLACK <= oracle <= 1 + SLACK and 0 - SLACK <= zero <= 1 + SLACK
    assert oracle >= zero - SLACK
    assert all(s is not None and zero >= s - SLACK for s in singles)
    # every quality the zero router reaches has a finite cost, and asking for it never raises
    for target in (*mean_q, mean_q.max() * (1 + 1e-12), float(mean_q.max()) + 0.0):
        value = metrics.cost_at_quality(mean_c, mean_q, target)
        assert math.isnan(value) or lo - SLACK <= value <= hi + SLACK


def test_float_noise_below_the_target_still_reaches_it() -> None:
    # the hull tops out at 0.3 and the target is 0.1 + 0.2 = 0.30000000000000004
    assert metrics.cost_at_quality(np.array([1.0, 2.0]), np.array([0.1, 0.3]), 0.1 + 0.2) == 2.0
    assert metrics.cost_saving(np.array([1.0, 2.0]), np.array([0.1, 0.3]), 0.1 + 0.2, 2.0) == 0.0


def _routing_data(q: np.ndarray, c: np.ndarray, n_tasks: int) -> RoutingData:
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"]
    prompts = [f"{words[i % 8]} {words[(i * 3) % 8]} question {i}" for i in range(len(q))]
    tasks = np.array([f"t{i % n_tasks}" for i in range(len(q))], dtype=object)
    models = [f"m{j}" for j in range(q.shape[1])]
    return RoutingData(prompts, tasks, np.array([str(i) for i in range(len(q))], dtype=object), models, q, c)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=matrices(min_models=2), n_tasks=st.integers(1, 3))
@pytest.mark.slow
def test_evaluation_and_intervals_never_crash(data: tuple[np.ndarray, np.ndarray], n_tasks: int) -> None:
    q, c = data
    if len(q) < 4:
        q, c = np.tile(q, (4, 1)), np.tile(c, (4, 1))
    full = _routing_data(q, c, n_tasks)
    half = len(full) // 2
    train, test = full.subset(np.arange(half)), full.subset(np.arange(half, len(full)))
    ev = evaluate_router(train, test, RouterEstimator(cv=0))
    table = ev.table.set_index("router")
    aiq = table["AIQ"]
    if "AIQ" in ev.notes:
        assert aiq.isna().all()
    else:
        assert aiq.between(-SLACK, 1 + SLACK).all()
        assert aiq["oracle"] >= aiq["zero router"] - SLACK
        assert (aiq["zero router"] >= aiq[list(test.models)] - SLACK).all()
    if len(test.models) == 2:
        assert table["APGR"].notna().all() or "APGR" in ev.notes
    intervals = bootstrap_intervals(ev, n_boot=20)
    parsed = json.loads(dumps({"table": ev.table, "intervals": intervals, "notes": ev.notes}))
    assert "NaN" not in json.dumps(parsed)


@pytest.mark.parametrize("case", ["best is cheapest", "same cost", "one task", "two models"])
def test_named_edge_shapes(case: str) -> None:
    rng = np.random.default_rng(3)
    n = 40
    q = (rng.random((n, 3)) < [0.5, 0.7, 0.9]).astype(float)
    c = np.tile([0.002, 0.01, 0.03], (n, 1))
    n_tasks = 2
    if case == "best is cheapest":
        c = c[:, ::-1].copy()
    elif case == "same cost":
        c = np.full((n, 3), 0.01)
    elif case == "one task":
        n_tasks = 1
    else:
        q, c = q[:, 1:], c[:, 1:]
    data = _routing_data(q, c, n_tasks)
    ev = evaluate_router(data.subset(np.arange(20)), data.subset(np.arange(20, n)), RouterEstimator(cv=0))
    if case == "best is cheapest":
        # the best model is also the cheapest: nothing to save, and that is said, not crashed on
        assert ev.table.set_index("router").loc["oracle", "AIQ"] >= 0
    if case == "same cost":
        assert "AIQ" in ev.notes and "same mean cost" in ev.notes["AIQ"]
    if case == "two models":
        assert {"APGR", "CPT(50%)"} <= set(ev.table.columns)
    bootstrap_intervals(ev, n_boot=20)


def test_apgr_is_na_when_the_better_model_is_cheaper() -> None:
    rng = np.random.default_rng(5)
    q = (rng.random((60, 2)) < [0.9, 0.5]).astype(float)
    c = np.tile([0.001, 0.02], (60, 1))  # the better model is the cheap one
    data = _routing_data(q, c, 2)
    ev = evaluate_router(data.subset(np.arange(30)), data.subset(np.arange(30, 60)), RouterEstimator(cv=0))
    assert ev.table["APGR"].isna().all() and "not dearer" in ev.notes["APGR"]
