"""Adding a model to a trained router from a few probe prompts (`llmbench.router.added`)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_frame

from llmbench.errors import DataError
from llmbench.router import RouterEstimator, RouterPolicy

LAMBDA = 10.0  # quality per USD: at this weight the coder wins the code prompts, the big model the math ones


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training runs of every model, and fresh prompts of the same tasks to route."""
    return synthetic_frame(100, seed=0), synthetic_frame(40, seed=1)


def _probe(train: pd.DataFrame, per_task: int) -> pd.DataFrame:
    """Every model's runs on the first `per_task` prompts of each task."""
    number = train["item_id"].str.split("-").str[1].astype(int)
    return train[number < per_task]


def _trained(train: pd.DataFrame, without: str) -> RouterEstimator:
    return RouterEstimator(lambda_=LAMBDA).fit(train[train["model"] != without])


@pytest.fixture(scope="module")
def without_coder(frames) -> RouterEstimator:
    """Trained on every model but the coder; a refused add_model leaves a router unchanged, so tests share it."""
    return _trained(frames[0], "coder")


def test_an_added_model_routes_like_a_router_retrained_on_every_log(frames) -> None:
    train, fresh = frames
    prompts, tasks = list(fresh["prompt"].unique()), fresh.drop_duplicates("prompt")["task"].tolist()
    full = RouterEstimator(lambda_=LAMBDA).fit(train)
    added = _trained(train, "coder").add_model(_probe(train, 20), "coder")
    assert added.models_ == ["big", "cheap", "coder"]
    ours, theirs = added.predict(prompts), full.predict(prompts)
    assert np.mean(ours == theirs) >= 0.9
    code = np.array(tasks) == "code"
    assert np.mean(ours[code] == "coder") >= 0.9  # the new model takes the prompts it is best value on
    without = _trained(train, "coder").predict(prompts)
    assert not (without == "coder").any() and np.mean(without == theirs) < 0.7


def test_the_added_model_is_estimated_from_the_trained_model_it_behaves_like(frames) -> None:
    train, fresh = frames
    twin = train[train["model"] == "cheap"].assign(model="cheap twin")  # answers exactly as cheap does
    router = _trained(train, "coder").add_model(_probe(pd.concat([train, twin]), 30), "cheap twin")
    _, q, _ = router.estimate(list(fresh["prompt"].unique()))
    cheap, twin_col = router.models_.index("cheap"), router.models_.index("cheap twin")
    assert np.abs(q[:, twin_col] - q[:, cheap]).max() < 0.05


def test_a_policy_adds_the_model_as_the_trained_router_does(frames, tmp_path: Path) -> None:
    train, fresh = frames
    router = _trained(train, "coder")
    policy = RouterPolicy(router.to_policy())
    probe = _probe(train, 20)
    grown = policy.with_model(probe, "coder")
    grown.save(tmp_path / "grown.json")
    served = RouterPolicy.load(tmp_path / "grown.json")
    router.add_model(probe, "coder")
    prompts = list(fresh["prompt"].unique())
    assert [d.model for d in served.route_many(prompts)] == list(router.predict(prompts))
    _, q_served, c_served = served.estimate_many(prompts)
    _, q_trained, c_trained = router.estimate(prompts)
    np.testing.assert_allclose(q_served, q_trained, atol=1e-9)
    np.testing.assert_allclose(c_served, c_trained, rtol=1e-9)
    exported = RouterPolicy(router.to_policy())  # the estimator exports its added model the same way
    assert [d.model for d in exported.route_many(prompts)] == list(router.predict(prompts))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p, "already routed"),
        (lambda p: p[p["model"] != "coder"], "no rows of model 'coder'"),
        (lambda p: p.assign(task="poetry"), "not among the router's tasks"),
        (lambda p: p.assign(cost_usd=np.nan), "no logged cost"),
        (lambda p: p[p["item_id"] == "code-0"], "at least 2 probe prompts"),
    ],
    ids=["routed", "absent", "unknown task", "no cost", "one prompt"],
)
def test_a_probe_that_cannot_teach_the_model_is_refused_by_name(
    frames, without_coder, change, message: str
) -> None:
    train, _ = frames
    router = without_coder
    if message == "already routed":
        router = copy.deepcopy(router).add_model(_probe(train, 20), "coder")
    models = list(router.models_)
    with pytest.raises(DataError, match=message):
        router.add_model(change(_probe(train, 20)), "coder")
    assert router.models_ == models  # nothing half-added
