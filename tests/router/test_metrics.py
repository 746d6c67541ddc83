"""Router metrics against small examples worked out by hand (see the comments for each derivation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmbench.router.metrics import (
    Sweep,
    aiq,
    apgr,
    bet_aiq,
    cost_at_quality,
    cpt,
    pgr_curve,
    share_curve,
    upper_hull,
)


def test_upper_hull_drops_dominated_and_concave_violating_points() -> None:
    # (2, .6) lies below the chord (1,.5)-(3,.9) (0.7 at cost 2); (2.5,.4) and (4,.85) are dominated.
    hc, hq = upper_hull(np.array([1, 2, 3, 2.5, 4]), np.array([0.5, 0.6, 0.9, 0.4, 0.85]))
    assert hc.tolist() == [1.0, 3.0]
    assert hq.tolist() == [0.5, 0.9]


def test_aiq_of_a_known_hull() -> None:
    # Hull (1,.5)-(3,.9), flat 0.9 after cost 3, 0 before cost 1. Over [0, 4]:
    # [0,1): 0;  [1,3]: mean 0.7 x 2 = 1.4;  [3,4]: 0.9 x 1 = 0.9;  total 2.3 / 4 = 0.575.
    assert aiq(np.array([1, 2, 3]), np.array([0.5, 0.6, 0.9]), 0.0, 4.0) == pytest.approx(0.575)
    # Only the part inside the range counts: over [2, 3] the hull goes 0.7 -> 0.9, mean 0.8.
    assert aiq(np.array([1, 3]), np.array([0.5, 0.9]), 2.0, 3.0) == pytest.approx(0.8)
    # A single model is a single point: over [1, 2] with the point at cost 2 the area is 0.
    assert aiq(np.array([2.0]), np.array([0.7]), 1.0, 2.0) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        aiq(np.array([1.0]), np.array([0.5]), 2.0, 2.0)


def test_bet_aiq_counts_every_point_in_the_order_given() -> None:
    # Rising costs: the trapezoid integral of the path. (1,.5)-(2,.4)-(3,.9) over [1, 3]: pieces of mean 0.45
    # and 0.65, total 1.1 / 2 = 0.55, where the hull skips the dip at cost 2 (0.7).
    c, q = np.array([1.0, 2, 3]), np.array([0.5, 0.4, 0.9])
    assert bet_aiq(c, q, 1.0, 3.0) == pytest.approx(0.55)
    assert aiq(c, q, 1.0, 3.0) == pytest.approx(0.7)
    # Points on a concave path: both figures agree (0 left of the first point, flat right of the last).
    c, q = np.array([1.0, 2, 3]), np.array([0.5, 0.8, 0.9])
    assert bet_aiq(c, q, 0.0, 4.0) == pytest.approx(aiq(c, q, 0.0, 4.0))
    # A path that spends less again: each budget takes the quality where the path first reaches it.
    # (1,.5)-(3,.7)-(2,.9)-(4,1) over [0, 4]: [0,1) 0; [1,3] mean .6 x 2; at 3 the step (2,.9)-(4,1) is at .95,
    # so [3,4] has mean .975: (1.2 + .975) / 4.
    assert bet_aiq(np.array([1.0, 3, 2, 4]), np.array([0.5, 0.7, 0.9, 1.0]), 0.0, 4.0) == pytest.approx(0.54375)
    assert bet_aiq(np.array([2.0]), np.array([0.7]), 1.0, 3.0) == pytest.approx(0.35)
    with pytest.raises(ValueError):
        bet_aiq(np.array([1.0]), np.array([0.5]), 2.0, 2.0)


def test_noise_estimates_gain_with_hindsight_and_not_as_a_bet() -> None:
    """Estimates that are pure noise: the hull over the judged outcomes keeps their lucky points (above the
    straight line between the two models), the bet figure does not (on average the line itself)."""
    rng = np.random.default_rng(0)
    n, hindsight, bet = 500, [], []
    cost = np.tile([1.0, 2.0], (n, 1))
    for _ in range(40):
        quality = (rng.random((n, 2)) < [0.5, 0.7]).astype(float)
        line = aiq(cost.mean(axis=0), quality.mean(axis=0), 1.0, 2.0)
        noise = np.column_stack([np.zeros(n), 1 + rng.random(n)])  # the dearer is better, in a random order
        pts = Sweep.of(noise, cost).points(quality, cost)
        hindsight.append(aiq(pts["cost"], pts["quality"], 1.0, 2.0) - line)
        bet.append(bet_aiq(pts["cost"], pts["quality"], 1.0, 2.0) - line)
    assert np.mean(hindsight) > 0.005 and min(hindsight) >= 0
    assert abs(np.mean(bet)) < 3 * np.std(bet) / np.sqrt(len(bet))


def test_cost_at_quality_interpolates_on_the_hull() -> None:
    c, q = np.array([1, 2, 3]), np.array([0.5, 0.6, 0.9])
    # on the segment (1,.5)-(3,.9): 0.8 is reached at 1 + (0.3 / 0.4) x 2 = 2.5
    assert cost_at_quality(c, q, 0.8) == pytest.approx(2.5)
    assert cost_at_quality(c, q, 0.4) == pytest.approx(1.0)
    assert math.isnan(cost_at_quality(c, q, 0.95))


def test_apgr_and_cpt_on_a_toy_two_model_case() -> None:
    # Strong right on prompts 0,1,2; weak right on prompt 1 only: gain = [1, 0, 1, 0], gap = 0.75 - 0.25 = 0.5.
    strong, weak = np.array([1, 1, 1, 0.0]), np.array([0, 1, 0, 0.0])
    score = np.array([0.9, 0.1, 0.8, 0.2])  # ranks 0, 2 (both gain 1) before 3, 1
    pgr = pgr_curve(score, strong, weak)
    # PGR rises linearly from 0 at 0% strong calls to 1 at 50%, then stays 1:
    # APGR = 0.5 x 0.5 x 1 + 0.5 x 1 = 0.75; PGR 50% at 25% calls, 80% at 40%.
    assert pgr[0] == 0 and pgr[25] == pytest.approx(0.5) and pgr[50] == pytest.approx(1.0) and pgr[100] == 1
    assert apgr(pgr) == pytest.approx(0.75)
    assert cpt(pgr, 0.5) == pytest.approx(0.25)
    assert cpt(pgr, 0.8) == pytest.approx(0.40)


def test_random_order_gives_the_diagonal() -> None:
    # A constant score is one big tie: the expected gain grows linearly, PGR(p) = p, APGR = 0.5, CPT(50%) = 50%.
    strong, weak = np.array([1, 1, 1, 0.0]), np.array([0, 1, 0, 0.0])
    pgr = pgr_curve(np.zeros(4), strong, weak)
    assert np.allclose(pgr, np.linspace(0, 1, 101))
    assert apgr(pgr) == pytest.approx(0.5)
    assert cpt(pgr, 0.5) == pytest.approx(0.5)


def test_ties_are_split_by_expectation() -> None:
    # Scores tie for prompts 0 and 1 (gains 1 and 0): sending one of the two gives an expected gain of 0.5.
    gain = np.array([1.0, 0.0, 1.0, 0.0])
    curve = share_curve(np.array([1, 1, 0, 0.0]), gain, np.array([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert curve.tolist() == pytest.approx([0, 0.5 / 4, 1 / 4, 1.5 / 4, 2 / 4])


def test_pgr_needs_a_real_gap() -> None:
    with pytest.raises(ValueError):
        pgr_curve(np.zeros(2), np.array([0.0, 1.0]), np.array([1.0, 0.0]))


def _brute_force(q_hat: np.ndarray, c_hat: np.ndarray, lam: float) -> np.ndarray:
    from llmbench.router.decision import rank, utilities

    return rank(utilities(q_hat, c_hat, lam))[:, 0]


@pytest.mark.parametrize("seed", range(6))
def test_the_sweep_holds_every_decision_any_lambda_makes(seed: int) -> None:
    """Every lambda's argmax decisions are one of the sweep's operating points, and a dense grid finds no point
    the sweep lacks: AIQ from the sweep is never below the grid's (the grid's points are a subset)."""
    from llmbench.router.metrics import Sweep

    rng = np.random.default_rng(seed)
    n, m = 60, 2 + seed % 4
    q_hat, c_hat = rng.random((n, m)), rng.random((n, m)) * rng.choice([1e-3, 1.0, 50.0])
    quality, cost = rng.integers(0, 2, (n, m)).astype(float), c_hat * rng.uniform(0.5, 1.5, (n, m))
    sweep = Sweep.of(q_hat, c_hat)
    pts = sweep.points(quality, cost, strong=0)
    rows = np.arange(n)
    for lam, c, q, share in zip(pts["lambda"], pts["cost"], pts["quality"], pts["strong_share"], strict=True):
        chosen = sweep.decisions(lam)
        assert np.array_equal(chosen, _brute_force(q_hat, c_hat, lam)) or lam == 0.0
        assert c == pytest.approx(cost[rows, chosen].mean()) and q == pytest.approx(
            quality[rows, chosen].mean()
        )
        assert share == pytest.approx(np.mean(chosen == 0))
    grid = np.r_[0.0, np.geomspace(1e-4, 1e4, 400) / c_hat.mean()]
    grid_points = [
        (cost[rows, d].mean(), quality[rows, d].mean()) for d in (_brute_force(q_hat, c_hat, g) for g in grid)
    ]
    gc, gq = map(np.array, zip(*grid_points, strict=True))
    lo, hi = float(cost.mean(axis=0).min()), float(cost.mean(axis=0).max())
    assert aiq(pts["cost"], pts["quality"], lo, hi) >= aiq(gc, gq, lo, hi) - 1e-12
    seen = {(round(c, 12), round(q, 12)) for c, q in zip(pts["cost"], pts["quality"], strict=True)}
    assert all((round(c, 12), round(q, 12)) in seen for c, q in grid_points[1:])  # lambda 0: ties may differ
