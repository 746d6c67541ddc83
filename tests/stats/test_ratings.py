"""Arena-style ratings (`llmbench.stats.ratings`), checked on simulated battles with planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.stats.ratings import arena_ratings, style_of
from llmbench.stats.winrate import bradley_terry

SKILL = {"a": 0.6, "b": 0.2, "c": -0.2, "d": -0.6}  # logit units
VERBOSE = {"a": 1.0, "b": 1.0, "c": 3.0, "d": 1.0}  # c writes three times longer answers
LENGTH_EFFECT = 1.5  # logit units per unit of normalised length difference


def _battles(n: int = 8000, nu: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Davidson battles: skill plus a judge that likes long answers; ties as Davidson's model makes them."""
    rng = np.random.default_rng(seed)
    names = list(SKILL)
    rows = []
    for i in range(n):
        a, b = rng.choice(names, 2, replace=False)
        la, lb = 500 * VERBOSE[a] * rng.uniform(0.3, 1.7), 500 * VERBOSE[b] * rng.uniform(0.3, 1.7)
        d = SKILL[a] - SKILL[b] + LENGTH_EFFECT * (la - lb) / (la + lb)
        p = np.array([np.exp(d / 2), np.exp(-d / 2), nu])
        outcome = [1.0, 0.0, 0.5][rng.choice(3, p=p / p.sum())]
        rows.append(
            {"item_id": f"q{i}", "model_a": a, "model_b": b, "outcome": outcome, "len_a": la, "len_b": lb}
        )
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_style_control_recovers_planted_skill_and_style_effects() -> None:
    ratings, coefs = arena_ratings(_battles(), n_bootstrap=20)
    planted = pd.Series(SKILL) - np.mean(list(SKILL.values()))
    controlled = (ratings["style rating"] - 1000) * np.log(10) / 400
    raw = (ratings["rating"] - 1000) * np.log(10) / 400
    # tolerances about 2.3 standard deviations of the estimates over simulated data sets of this size
    assert np.abs(controlled[planted.index] - planted).max() < 0.15
    assert (
        raw["c"] - planted["c"] > 0.4
    )  # without style control the verbose model looks much better than it is
    assert coefs["length"] == pytest.approx(LENGTH_EFFECT, abs=0.3)
    assert coefs["style nu"] == pytest.approx(0.6, abs=0.08)
    lower, upper = ratings["style lower"], ratings["style upper"]
    assert (lower <= ratings["style rating"]).all() and (ratings["style rating"] <= upper).all()


def test_without_ties_and_style_half_wins_equal_the_plain_bradley_terry_fit() -> None:
    battles = _battles(2000, nu=0.0, seed=1)
    ours, _ = arena_ratings(battles, style=False, ties="half", n_bootstrap=0)
    plain = bradley_terry(battles, n_bootstrap=0)
    np.testing.assert_allclose(ours["rating"].sort_index(), plain["rating"].sort_index(), atol=0.5)


def test_markdown_density_is_counted_from_the_answers() -> None:
    text = "# Title\n\n- one\n- two\n1. three\n\nSome **bold** and __more__."
    assert style_of(text) == {"length": float(len(text)), "headers": 1.0, "list items": 3.0, "bold": 2.0}
    assert style_of(None)["length"] == 0.0
    pairs = pd.DataFrame(
        {
            "item_id": ["q1", "q2", "q3", "q4"],
            "model_a": ["x", "x", "y", "y"],
            "model_b": ["y", "y", "x", "x"],
            "outcome": [1.0, 1.0, 0.0, 0.5],
            "response_a": [text, text, "plain", "plain"],
            "response_b": ["plain"] * 2 + [text] * 2,
        }
    )
    _, coefs = arena_ratings(pairs, n_bootstrap=0)
    assert {"length", "headers", "list items", "bold"} <= set(coefs.index)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.assign(outcome=0.7), "row 0: outcome 0.7 is neither"),
        (lambda p: p.assign(outcome=1.5), r"outside 0\.\.1"),
        (lambda p: p.drop(columns="model_b"), "model_b"),
        (lambda p: p.assign(outcome=np.nan), "no outcomes"),
        (lambda p: p.assign(len_a=np.nan), "row 0: a style value"),
    ],
)
def test_pairs_that_cannot_be_rated_are_refused_by_name(change, message: str) -> None:
    with pytest.raises(DataError, match=message):
        arena_ratings(change(_battles(20)), n_bootstrap=0)
