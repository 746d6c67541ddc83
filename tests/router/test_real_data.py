"""The learned router on real public data, on held-out prompts only (skipped when ../shared/data is absent).

The claims checked here are the project's goals for the router: it must beat the per-task prior router, which routes
by each task's mean scores from the training split and is given the test prompts' true task, where it can show a
gain (RouterBench), and never be a worse bet than its baselines where it cannot (RouteLLM's two-model sets).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmbench.imports import read_routellm, read_routerbench
from llmbench.router import RouterEstimator, evaluate_router, routing_data, split_by_prompt
from llmbench.router.data import drop_shared_prompts

pytestmark = pytest.mark.shared


@pytest.mark.slow
def test_router_beats_task_prior_on_routerbench(shared_data: Path) -> None:
    frame = read_routerbench(shared_data / "routerdc" / "datasets" / "routerbench_zs")
    data = routing_data(frame)
    split = frame.drop_duplicates("item_id").set_index("item_id")["split"].reindex(data.item_ids).to_numpy()
    train = data.subset(split == "train")
    test = drop_shared_prompts(
        train, data.subset(split == "test")
    )  # RouterDC's split, minus 2 shared prompts
    assert not set(train.prompts) & set(test.prompts)
    table = evaluate_router(train, test, RouterEstimator()).table.set_index("router")
    others = table[(table["kind"] != "upper bound") & ~table.index.str.startswith("router")]
    # the best AIQ of all non-oracle routers (single models, random, zero router, task prior, kNN)
    assert table.loc["router", "AIQ"] > others["AIQ"].max()
    # it reaches GPT-4's quality for less; the task prior only reaches it by calling GPT-4 throughout
    assert table.loc["router", "cost saving"] > 0.05
    assert not table.loc["task prior", "cost saving"] > 0.0


@pytest.mark.parametrize("benchmark", ["mmlu", "gsm8k"])
@pytest.mark.slow
def test_router_is_never_a_worse_bet_than_its_baselines_on_routellm(shared_data: Path, benchmark: str) -> None:
    data = routing_data(read_routellm(shared_data / "routellm", benchmarks=(benchmark,)))
    train, test = split_by_prompt(data, test_size=0.5, seed=0)
    table = evaluate_router(train, test, RouterEstimator()).table.set_index("router")
    bets = table["AIQ (bet)"]
    assert bets["router"] >= bets[["task prior", "model prior", "kNN (k=25)"]].max() - 0.002
    # given the test prompts' true tasks, as the task prior is, it ranks the prompts as well (its task means are
    # shrunk a little towards each model's overall mean: 5 pseudo-prompts)
    assert table.loc["router + task label", "APGR"] >= table.loc["task prior", "APGR"] - 0.001
    assert table.loc["router", "APGR"] > table.loc["random", "APGR"]
    assert np.isclose(table.loc["random", "APGR"], 0.5)  # the straight line, as RouteLLM defines it
