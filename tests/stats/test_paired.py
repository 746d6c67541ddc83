"""Paired comparisons (`llmbench.stats.paired`), validated by simulation where the truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.stats.paired import compare_models, holm, paired_comparison


def _runs(rng: np.random.Generator, n_items: int, epochs: int, p_a: float, p_b: float) -> pd.DataFrame:
    """Binary scores with a per-item difficulty shared by both models (so items cluster) and epochs inside items."""
    rows = []
    for i in range(n_items):
        hard = rng.normal(0, 1.0)
        for model, p in (("a", p_a), ("b", p_b)):
            q = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + hard)))
            for e in range(epochs):
                rows.append(
                    {
                        "item_id": f"q{i}",
                        "model": model,
                        "epoch": e,
                        "score": float(rng.random() < q),
                        "cost_usd": (2.0 if model == "a" else 1.0) * (1 + rng.random()),
                    }
                )
    return pd.DataFrame(rows)


def _true_diff(p_a: float, p_b: float, draws: int = 400_000) -> float:
    hard = np.random.default_rng(99).normal(0, 1.0, draws)
    sig = lambda p: 1 / (1 + np.exp(-(np.log(p / (1 - p)) + hard)))  # noqa: E731
    return float(np.mean(sig(p_a) - sig(p_b)))


@pytest.mark.slow
def test_intervals_cover_the_true_difference_at_their_nominal_rate() -> None:
    rng = np.random.default_rng(0)
    truth = _true_diff(0.7, 0.6)
    covered = []
    for k in range(1000):
        c = paired_comparison(_runs(rng, 60, 3, 0.7, 0.6), "a", "b", n_boot=500, n_perm=199, seed=k)
        covered.append(c.score_low <= truth <= c.score_high)
    assert abs(np.mean(covered) - 0.95) <= 0.02, np.mean(covered)


@pytest.mark.slow
@pytest.mark.parametrize("epochs", [1, 3], ids=["McNemar", "permutation"])
def test_p_values_are_uniform_when_the_models_are_alike(epochs: int) -> None:
    rng = np.random.default_rng(1)
    found = [
        paired_comparison(_runs(rng, 80, epochs, 0.6, 0.6), "a", "b", n_boot=100, n_perm=499, seed=k)
        for k in range(1000)
    ]
    p = np.array([c.p_value for c in found])
    assert {c.test for c in found} == {"McNemar exact" if epochs == 1 else "sign-flip permutation"}
    # never more true nulls rejected than the level allows; 0/1 scores make the p-values discrete, so an exact
    # test rejects somewhat fewer (measured: 0.8%, 4.0%, 6.7%, 12.6% McNemar; 0.5%, 3.3%, 7.4%, 15.8% sign-flip)
    for alpha in (0.05, 0.1, 0.2):
        assert 0.55 * alpha <= np.mean(p <= alpha) <= alpha + 0.015, (alpha, np.mean(p <= alpha))


def test_a_real_difference_is_found_and_said_in_words() -> None:
    runs = _runs(np.random.default_rng(2), 300, 1, 0.8, 0.5)
    c = paired_comparison(runs, "a", "b")
    assert c.test == "McNemar exact" and c.p_value < 1e-6 and c.items == 300
    assert 0 < c.score_low < c.score_diff < c.score_high
    assert c.cost_low > 0  # a costs about twice as much per call
    assert c.sentence().startswith("a beats b by ") and "on 300 shared items" in c.sentence()


def test_only_shared_items_count_and_epochs_are_averaged_first() -> None:
    runs = pd.DataFrame(
        {
            "item_id": ["x", "x", "x", "y", "z"],
            "model": ["a", "a", "b", "a", "b"],
            "epoch": [0, 1, 0, 0, 0],
            "score": [1.0, 0.0, 0.0, 1.0, 1.0],
        }
    )
    c = paired_comparison(runs, "a", "b")
    assert c.items == 1 and c.score_diff == pytest.approx(0.5)


def test_holm_matches_the_step_down_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4*0.01, max(.04, 3*.03), max(.09, 2*.04), max(.09, .2)
    np.testing.assert_allclose(holm(p), [0.04, 0.09, 0.09, 0.2])
    assert holm([]).shape == (0,)


def test_compare_models_adjusts_every_pair() -> None:
    rng = np.random.default_rng(3)
    runs = pd.concat(
        [_runs(rng, 100, 1, 0.8, 0.5), _runs(rng, 100, 1, 0.5, 0.5).replace({"a": "c", "b": "d"})]
    )
    runs = pd.concat(
        [
            runs[runs["model"].isin(["a", "b"])],
            runs[runs["model"] == "c"].assign(item_id=lambda f: f["item_id"]),
        ]
    )
    table = compare_models(runs)
    assert len(table) == 3 and (table["p_holm"] >= table["p_value"]).all()
    assert table["summary"].str.contains("Holm-adjusted p").all()


@pytest.mark.parametrize(
    ("a", "b", "message"), [("a", "zz", "not in the runs"), ("a", "a", "itself"), ("a", "lonely", "share no")]
)
def test_comparisons_that_say_nothing_are_refused_by_name(a: str, b: str, message: str) -> None:
    runs = pd.DataFrame({"item_id": ["x", "y"], "model": ["a", "lonely"], "score": [1.0, 0.0]})
    with pytest.raises(DataError, match=message):
        paired_comparison(runs, a, b)
