"""Latency as a router objective (`llmbench.router.latency`): a p95 cap and a weight per second of p50."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_frame

from llmbench.errors import DataError
from llmbench.router import RouterEstimator, RouterPolicy
from llmbench.router.data import train_test_split
from llmbench.router.evaluate import evaluate_router

SECONDS = {"big": 6.0, "coder": 1.0, "cheap": 0.5}  # typical latency; big is slow on every task


@pytest.fixture(scope="module")
def timed() -> pd.DataFrame:
    frame = synthetic_frame(60)
    rng = np.random.default_rng(5)
    return frame.assign(latency_s=frame["model"].map(SECONDS) * rng.lognormal(0.0, 0.2, len(frame)))


@pytest.fixture(scope="module")
def prompts() -> list[str]:
    return list(synthetic_frame(20, seed=1)["prompt"].unique())


def test_a_p95_cap_keeps_the_slow_model_out(timed, prompts) -> None:
    free = RouterEstimator().fit(timed).predict(prompts)
    capped = RouterEstimator(max_p95_latency=3.0).fit(timed)
    assert (free == "big").mean() > 0.5  # at lambda 0 the best model takes most prompts
    assert not (capped.predict(prompts) == "big").any()
    decision = capped.route(prompts[0])
    assert decision.model != "big" and decision.expected_quality == pytest.approx(
        capped.estimate([prompts[0]])[1][0][capped.models_.index(decision.model)]
    )  # shown quality stays honest


def test_every_model_too_slow_keeps_the_fastest(timed, prompts) -> None:
    router = RouterEstimator(max_p95_latency=0.01).fit(timed)
    assert set(router.predict(prompts)) == {"cheap"}


def test_a_latency_weight_trades_quality_for_speed(timed, prompts) -> None:
    shares = [
        np.mean(RouterEstimator(latency_weight=w).fit(timed).predict(prompts) == "big")
        for w in (0.0, 0.02, 1.0)
    ]
    assert shares[0] > shares[1] >= shares[2] == 0.0


def test_a_policy_routes_with_latency_as_the_trained_router_does(timed, prompts, tmp_path: Path) -> None:
    router = RouterEstimator(latency_weight=0.02, max_p95_latency=5.0).fit(timed)
    router.export(tmp_path / "p.json")
    served = RouterPolicy.load(tmp_path / "p.json")
    assert [d.model for d in served.route_many(prompts)] == list(router.predict(prompts))
    assert [served.route(p).model for p in prompts[:5]] == list(router.predict(prompts[:5]))


def test_evaluation_judges_the_router_as_it_ranks(timed) -> None:
    train, test = train_test_split(timed, 0.5, seed=0)
    ev = evaluate_router(train, test, router=RouterEstimator(max_p95_latency=3.0))
    assert test.models[int(np.argmax(test.quality.mean(axis=0)))] == "big"  # the curve's "strong" model
    assert (
        ev.curves["router"]["strong_share"] == 0
    ).all()  # at no cost weight does the capped router send to it
    assert (ev.curves["task prior"]["strong_share"] > 0).any()


def test_a_latency_objective_without_timings_is_refused_before_training(prompts) -> None:
    with pytest.raises(DataError, match="no latency"):
        RouterEstimator(max_p95_latency=3.0).fit(synthetic_frame(30))


def test_an_added_model_without_timings_is_neither_penalised_nor_excluded(timed, prompts) -> None:
    router = RouterEstimator(max_p95_latency=3.0).fit(timed[timed["model"] != "coder"])
    probe = synthetic_frame(60)
    router.add_model(probe[probe["item_id"].str.split("-").str[1].astype(int) < 20], "coder")
    assert "coder" in set(router.predict(prompts))  # untimed: the cap cannot speak for it
