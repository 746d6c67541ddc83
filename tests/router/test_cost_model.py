"""Routing on the neighbours' logged costs: chosen only when it earns its place out of fold, exported with the
policy, served identically, and refused when the policy's cost section is not one this llmbench can serve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_frame

from llmbench.errors import DataError
from llmbench.router import RouterEstimator, RouterPolicy, routing_data, split_by_prompt
from llmbench.router.costs import LINES, NEIGHBOURS
from llmbench.router.policy_file import read_policy, write_policy


def _essays(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """One task, a strong and a cheap model; the strong one writes 30x longer (and dearer) answers to
    prompts asking for an essay, which no task label or prompt length reveals, only the prompt's words."""
    rng = np.random.default_rng(seed)
    topics = ["river", "castle", "market", "forest", "harbour", "mountain", "library", "garden"]
    rows = []
    for i in range(n):
        essay = i % 2 == 0
        # each asking word is in under a fifth of the prompts: the kNN index leaves out words more common than that
        verb = (
            rng.choice(["essay", "composition", "story"]) if essay else rng.choice(["fact", "date", "name"])
        )
        prompt = f"{verb} {verb} about the {rng.choice(topics)} {rng.choice(topics)} number {i}"
        for model, acc, price in (("strong", 0.95, 1.0), ("cheap", 0.5, 0.4)):
            cost = price * (30.0 if essay and model == "strong" else 1.0) * (1 + 0.05 * rng.random())
            rows.append(
                {
                    "experiment": "e",
                    "item_id": f"p{i}",
                    "prompt": prompt,
                    "task": "only",
                    "model": model,
                    "epoch": 0,
                    "score": float(rng.random() < acc),
                    "cost_usd": cost * 1e-3,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def essays():
    return split_by_prompt(routing_data(_essays()), test_size=0.3, seed=1)


def test_neighbour_costs_are_chosen_where_only_the_words_predict_cost(essays) -> None:
    train, _ = essays
    router = RouterEstimator().fit(train)
    assert router.cost_model_ == NEIGHBOURS and router.cost_knn_ is not None
    with_lines, with_neighbours = router.candidate_scores_["model prior"], router.candidate_scores_
    assert any(k.endswith(f"+ {NEIGHBOURS}") and v > with_lines for k, v in with_neighbours.items())


def test_cost_lines_stay_where_neighbours_add_nothing() -> None:
    """Costs that are a flat price per model: the neighbours can only add noise, so the lines are kept."""
    train, _ = split_by_prompt(routing_data(synthetic_frame()), test_size=0.3, seed=7)
    router = RouterEstimator().fit(train)
    assert router.cost_model_ == LINES and router.cost_knn_ is None


def test_a_policy_routing_on_neighbour_costs_serves_like_the_trained_router(essays, tmp_path: Path) -> None:
    train, test = essays
    router = RouterEstimator().fit(train)
    router.export(tmp_path / "p.json")
    policy = RouterPolicy.load(tmp_path / "p.json")
    assert policy.cost_knn is not None
    trained, served = router.decide(test.prompts), policy.route_many(test.prompts)
    for a, b in zip(trained, served, strict=True):
        assert a.model == b.model
        assert a.expected_cost == pytest.approx(b.expected_cost, rel=1e-12)
    # quality alone (lambda 0) picks the strong model; what it is expected to cost depends on what is asked
    strong = {p: policy.route(p, lambda_=0.0) for p in test.prompts}
    assert {d.model for d in strong.values()} == {"strong"}
    essay = np.median([d.expected_cost for p, d in strong.items() if p.split()[0] in ("essay", "story")])
    fact = np.median([d.expected_cost for p, d in strong.items() if p.split()[0] in ("fact", "name")])
    assert essay > 4 * fact  # the task cost lines would give both the same


def _edit_cost(tmp_path: Path, essays: Any, edit: Any) -> Path:
    router = RouterEstimator().fit(essays[0])
    router.export(tmp_path / "p.json")
    raw, _ = read_policy(tmp_path / "p.json")
    edit(raw["candidates"]["cost"])
    write_policy(raw, tmp_path / "q.json")
    return tmp_path / "q.json"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(kind="forest"), "cost model 'forest'"),
        (lambda c: c["index"].pop("cost"), "holds no costs"),
        (lambda c: c["index"]["cost"].update(shape=[1, 2]), "cost"),
    ],
)
def test_a_policy_cost_section_it_cannot_serve_is_refused(
    essays, tmp_path: Path, edit: Any, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        RouterPolicy.load(_edit_cost(tmp_path, essays, edit))
