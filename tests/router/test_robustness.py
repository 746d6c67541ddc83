"""Decisions under small prompt perturbations (`llmbench.router.robustness`)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import synthetic_frame

from llmbench.router import RouterEstimator
from llmbench.router.robustness import PERTURBATIONS, robustness

PROMPT = "Write a python function that returns the sorted list of integers"


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_each_perturbation_changes_the_text_but_not_its_words(name: str) -> None:
    rng = np.random.default_rng(0)
    changed = PERTURBATIONS[name](PROMPT, rng)
    assert changed != PROMPT
    assert PERTURBATIONS[name](PROMPT, np.random.default_rng(0)) == changed  # seeded
    if name in ("whitespace", "case"):
        assert changed.split() == PROMPT.split() or changed.lower().split() == PROMPT.lower().split()
    if name == "typo":
        assert sorted(changed) == sorted(PROMPT) and len(changed.split()) == len(PROMPT.split())
        assert sum(a != b for a, b in zip(changed, PROMPT, strict=True)) == 2
    if name == "paraphrase template":
        assert PROMPT in changed


@pytest.mark.parametrize("text", ["", "a b c", "ok!", "\u00e9\u00e8 12 34"])
def test_a_typo_in_text_without_long_words_leaves_it_alone(text: str) -> None:
    assert PERTURBATIONS["typo"](text, np.random.default_rng(0)) == text


def test_a_router_on_word_features_keeps_most_decisions_and_a_length_rule_does_not() -> None:
    frame = synthetic_frame(60)
    router = RouterEstimator(lambda_=10.0).fit(frame)
    prompts = list(synthetic_frame(20, seed=1)["prompt"].unique())
    kept = robustness(router, prompts).set_index("perturbation")["decision kept"]
    assert kept["case"] >= 0.9 and kept["whitespace"] >= 0.9  # the features lower-case and split on space

    class ByLength:  # a router that decides on the prompt's length parity: any edit of the length flips it
        def predict(self, texts: list[str]) -> np.ndarray:
            return np.array(["a" if len(t) % 2 else "b" for t in texts])

    fragile = robustness(ByLength(), prompts).set_index("perturbation")["decision kept"]
    assert fragile["typo"] == 1.0  # a swap keeps the length
    assert fragile["paraphrase template"] < 0.9 or fragile["whitespace"] < 0.9
