"""pass@k and epoch stability (`llmbench.stats.repeats`)."""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.stats.repeats import pass_at_k, repeats


@pytest.mark.parametrize(("n", "c"), [(1, 0), (1, 1), (5, 2), (10, 3), (10, 10), (7, 0)])
def test_pass_at_k_is_the_share_of_k_subsets_holding_a_pass(n: int, c: int) -> None:
    answers = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(combinations(answers, k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / comb(n, k), abs=1e-12)


def test_pass_at_k_stays_finite_for_many_answers() -> None:
    assert pass_at_k(2000, 1, 1) == pytest.approx(1 / 2000)
    assert 0 < pass_at_k(2000, 3, 100) < 1


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, 1, 0), (3, 1, 4)])
def test_impossible_counts_are_refused(n: int, c: int, k: int) -> None:
    with pytest.raises(DataError):
        pass_at_k(n, c, k)


def test_repeats_per_model() -> None:
    runs = pd.DataFrame(
        {
            "model": ["a"] * 6 + ["b"] * 4,
            "item_id": ["x", "x", "x", "y", "y", "y", "x", "x", "y", "y"],
            "score": [1, 0, 0, 1, 1, 1, 0, 0, 0, np.nan],
        }
    )
    table = repeats(runs, ks=(1, 2, 3)).set_index("model")
    a = table.loc["a"]
    assert a["pass@1"] == pytest.approx((1 / 3 + 1) / 2) and a["pass@3"] == 1.0
    assert a["verdict changes"] == 0.5 and a["score variance"] == pytest.approx((1 / 3) / 2)
    b = table.loc["b"]
    assert b["answers per item"] == 1 and "pass@2" not in table.columns[table.loc["b"].notna()]
    assert b["verdict changes"] == 0.0  # only x has two answers, and they agree
