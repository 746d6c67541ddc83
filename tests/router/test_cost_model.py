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
from llmbench.router.costs import LINES, NEIGHBOURS, TASK_MEANS
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
            # words of one length: the prompt's length says nothing about which kind it is
            rng.choice(["essay", "story", "poems"]) if essay else rng.choice(["facts", "dates", "names"])
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


def test_task_mean_costs_stay_where_nothing_richer_adds() -> None:
    """Costs that are a flat price per model: prompt lengths and neighbours can only add noise."""
    train, _ = split_by_prompt(routing_data(synthetic_frame()), test_size=0.3, seed=7)
    router = RouterEstimator().fit(train)
    assert router.cost_model_ == TASK_MEANS and router.cost_knn_ is None
    assert not router.task_cost_[1].any()  # served as lines without a slope


def _long_and_short(n: int = 600, seed: int = 5) -> pd.DataFrame:
    """One task; the strong model's cost grows with the prompt's length, its gain over the cheap one does not:
    short prompts are where the strong model is worth its price."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = int(rng.integers(5, 800))
        prompt = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"], size=words)) + f" #{i}"
        for model, acc, price in (("strong", 0.9, 1.0), ("cheap", 0.6, 0.01)):
            cost = price * len(prompt) / 1000 * (1 + 0.05 * rng.random())
            score = float(rng.random() < acc)
            row = {"experiment": "e", "item_id": f"p{i}", "prompt": prompt, "task": "only", "model": model}
            rows.append({**row, "epoch": 0, "score": score, "cost_usd": cost * 1e-3})
    return pd.DataFrame(rows)


def test_cost_lines_are_chosen_where_the_prompt_length_sets_the_cost() -> None:
    router = RouterEstimator().fit(routing_data(_long_and_short()))
    assert router.cost_model_ == LINES and router.task_cost_[1].any()
    scores = router.candidate_scores_
    assert scores[f"model prior + {LINES}"] > scores["model prior"]


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
    fact = np.median([d.expected_cost for p, d in strong.items() if p.split()[0] in ("facts", "names")])
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


def test_a_policy_names_its_table_cost_model_and_refuses_one_it_does_not_know(tmp_path: Path) -> None:
    router = RouterEstimator().fit(routing_data(_long_and_short()))
    router.export(tmp_path / "p.json")
    raw, _ = read_policy(tmp_path / "p.json")
    assert raw["candidates"]["cost"] == {"kind": "table", "model": LINES}
    assert RouterPolicy.load(tmp_path / "p.json").cost_model == LINES
    raw["candidates"]["cost"] = {}  # a policy from before cost models were named routes on the task cost lines
    write_policy(raw, tmp_path / "old.json")
    assert RouterPolicy.load(tmp_path / "old.json").cost_model == LINES
    raw["candidates"]["cost"] = {"kind": "table", "model": "per-token guess"}
    write_policy(raw, tmp_path / "bad.json")
    with pytest.raises(DataError, match="per-token guess"):
        RouterPolicy.load(tmp_path / "bad.json")
