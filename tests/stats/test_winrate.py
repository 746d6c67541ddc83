"""Win rates, win-rate matrices, Bradley-Terry ratings, length control and the pairwise LLM judge."""

from __future__ import annotations

import math
import statistics
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.scorers.pairwise import judge_pair, judge_pairs, parse_verdict, response_pairs
from llmbench.stats.winrate import (
    bradley_terry,
    length_controlled_win_rates,
    pairs_from_runs,
    pairwise_win_rates,
    win_rate_matrix,
    win_rates,
)


def _runs(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"item_id": i, "task": "t", "model": m, "epoch": 0, "score": s, "prompt": f"q{i}", "response": f"{m}:{i}"}
         for i, m, s in rows]
    )  # fmt: skip


def _pairs(a: str, b: str, outcomes: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": [str(i) for i in range(len(outcomes))], "model_a": a, "model_b": b, "outcome": outcomes}
    )


def test_pairs_from_runs_compares_item_by_item() -> None:
    runs = _runs(
        [("1", "a", 1.0), ("1", "b", 0.0), ("1", "c", 1.0),
         ("2", "a", 0.0), ("2", "b", 0.0), ("2", "c", 1.0),
         ("3", "a", 0.5), ("3", "b", 0.4), ("3", "c", None)]
    )  # fmt: skip
    pairs = pairs_from_runs(runs).set_index(["model_a", "model_b", "item_id"])["outcome"]
    assert pairs[("a", "b", "1")] == 1.0 and pairs[("a", "b", "2")] == 0.5 and pairs[("a", "b", "3")] == 1.0
    assert pairs[("a", "c", "1")] == 0.5 and pairs[("a", "c", "2")] == 0.0
    assert ("a", "c", "3") not in pairs.index  # c has no score on item 3: not comparable
    # With a tie margin of 0.2, 0.5 vs 0.4 is a tie.
    loose = pairs_from_runs(runs, tie_margin=0.2).set_index(["model_a", "model_b", "item_id"])["outcome"]
    assert loose[("a", "b", "3")] == 0.5
    only = pairs_from_runs(runs, baseline="b")
    assert set(zip(only["model_a"], only["model_b"], strict=True)) == {("a", "b"), ("c", "b")}


def test_pairs_from_runs_averages_epochs() -> None:
    runs = _runs([("1", "a", 1.0), ("1", "a", 0.0), ("1", "b", 0.4)])
    pairs = pairs_from_runs(runs)
    assert pairs["outcome"].tolist() == [1.0]  # mean 0.5 beats 0.4


def test_win_rates_mean_and_standard_error() -> None:
    outcomes = [1.0, 1.0, 0.0, 0.5, 1.0]
    table = win_rates(_pairs("a", "b", outcomes), baseline="b")
    row = table.loc["a"]
    assert row["win_rate"] == pytest.approx(statistics.mean(outcomes))
    assert row["standard_error"] == pytest.approx(statistics.stdev(outcomes) / math.sqrt(len(outcomes)))
    assert (row["n_wins"], row["n_losses"], row["n_ties"], row["n_total"]) == (3, 1, 1, 5)
    # From b's side the outcomes flip.
    assert win_rates(_pairs("a", "b", outcomes)).loc["b", "win_rate"] == pytest.approx(
        1 - statistics.mean(outcomes)
    )


def test_matrix_is_complementary_and_has_intervals() -> None:
    pairs = pd.concat(
        [_pairs("a", "b", [1, 1, 1, 0]), _pairs("b", "c", [1, 0.5]), _pairs("c", "a", [0, 0, 1])]
    )
    matrix = win_rate_matrix(pairs)
    assert matrix.loc["a", "b"] == pytest.approx(0.75) and matrix.loc["b", "a"] == pytest.approx(0.25)
    assert matrix.loc["a", "c"] == pytest.approx(2 / 3)
    assert np.isnan(matrix.loc["a", "a"])
    for x in matrix.index:
        for y in matrix.columns:
            if x != y:
                assert matrix.loc[x, y] + matrix.loc[y, x] == pytest.approx(1.0)
    long = pairwise_win_rates(pairs)
    assert ((long["lower"] <= long["win_rate"]) & (long["win_rate"] <= long["upper"])).all()


def test_bradley_terry_two_players_matches_closed_form() -> None:
    # Two players, w wins, l losses, t ties (ties = half a win each): the MLE has P(a wins) = (w + t/2) / n,
    # so r_a - r_b = 400 * log10(p / (1 - p)).
    outcomes = [1.0] * 30 + [0.0] * 10 + [0.5] * 20
    bt = bradley_terry(_pairs("a", "b", outcomes), n_bootstrap=50, seed=1)
    p = (30 + 10) / 60
    assert bt.loc["a", "rating"] - bt.loc["b", "rating"] == pytest.approx(
        400 * math.log10(p / (1 - p)), abs=0.5
    )
    assert bt["rating"].mean() == pytest.approx(1000.0)
    assert (bt["lower"] <= bt["rating"]).all() and (bt["rating"] <= bt["upper"]).all()
    anchored = bradley_terry(_pairs("a", "b", outcomes), n_bootstrap=0, anchor="b")
    assert anchored.loc["b", "rating"] == pytest.approx(1000.0)


def test_bradley_terry_recovers_simulated_strengths() -> None:
    rng = np.random.default_rng(7)
    truth = {"w": 1300.0, "x": 1150.0, "y": 1000.0, "z": 850.0}
    frames = []
    for a, b in [("w", "x"), ("w", "y"), ("w", "z"), ("x", "y"), ("x", "z"), ("y", "z")]:
        p = 1.0 / (1.0 + 10 ** ((truth[b] - truth[a]) / 400))
        frames.append(_pairs(a, b, (rng.random(1500) < p).astype(float).tolist()))
    bt = bradley_terry(pd.concat(frames, ignore_index=True), n_bootstrap=100, anchor="y")
    assert list(bt.index) == ["w", "x", "y", "z"]
    for model, rating in truth.items():
        assert bt.loc[model, "rating"] == pytest.approx(rating, abs=35)
    # Interval width: a few tens of points for 1500 games per pair.
    width = (bt["upper"] - bt["lower"]).drop("y")
    assert (width > 5).all() and (width < 120).all()


def test_bradley_terry_survives_a_perfect_record() -> None:
    bt = bradley_terry(_pairs("a", "b", [1.0] * 20), n_bootstrap=0)
    assert np.isfinite(bt["rating"]).all() and bt.index[0] == "a"


def test_length_controlled_win_rate_removes_a_pure_length_effect() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    diff = rng.normal(300, 400, n)  # the model mostly answers longer than the baseline
    p_win = 1.0 / (1.0 + np.exp(-2.0 * np.tanh(diff / diff.std())))  # preference driven only by length
    pairs = pd.DataFrame(
        {"item_id": np.arange(n).astype(str), "model_a": "m", "model_b": "base",
         "outcome": (rng.random(n) < p_win).astype(float), "len_a": 1000 + diff, "len_b": 1000.0}
    )  # fmt: skip
    raw = win_rates(pairs, baseline="base").loc["m", "win_rate"]
    lc = length_controlled_win_rates(pairs, baseline="base").loc["m", "lc_win_rate"]
    assert raw > 0.65
    assert lc == pytest.approx(0.5, abs=0.05)
    with pytest.raises(DataError, match="len_a"):
        length_controlled_win_rates(pairs.drop(columns="len_a"), baseline="base")


def test_bad_pairs_raise_data_error() -> None:
    with pytest.raises(DataError, match="lacks columns"):
        win_rates(pd.DataFrame({"model_a": ["a"]}))
    with pytest.raises(DataError, match=r"outside 0\.\.1"):
        win_rates(_pairs("a", "b", [2.0]))
    with pytest.raises(DataError, match="baseline"):
        win_rates(_pairs("a", "b", [1.0]), baseline="zzz")
    with pytest.raises(DataError, match="no outcomes"):
        bradley_terry(_pairs("a", "b", [float("nan")]))
    with pytest.raises(DataError, match="no scored rows"):
        pairs_from_runs(_runs([("1", "a", 1.0)]), models=["a", "nope"])


# --- LLM judge -------------------------------------------------------------------------------------------


class ContentJudge:
    """Prefers the answer containing GOOD; both good or neither: TIE. Records every prompt it saw."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def acomplete(self, prompt: str, **params: object) -> SimpleNamespace:
        self.prompts.append(prompt)
        a = prompt.split("[Answer A]")[1].split("[Answer B]")[0]
        b = prompt.split("[Answer B]")[1]
        good_a, good_b = "GOOD" in a, "GOOD" in b.split("Which answer")[0]
        verdict = "TIE" if good_a == good_b else ("A" if good_a else "B")
        return SimpleNamespace(text=f"  {verdict.lower()}.")


class FirstPositionJudge:
    """Always picks whichever answer is shown first (pure position bias)."""

    async def acomplete(self, prompt: str, **params: object) -> SimpleNamespace:
        return SimpleNamespace(text="[[A]]")


class MumblingJudge:
    async def acomplete(self, prompt: str, **params: object) -> SimpleNamespace:
        return SimpleNamespace(text="I cannot decide")


def test_parse_verdict() -> None:
    assert parse_verdict("A") == "A"
    assert parse_verdict("[[B]]") == "B"
    assert parse_verdict("tie") == "TIE"
    assert parse_verdict("Verdict: b") == "B"
    assert parse_verdict("I cannot decide") is None  # "I" and "cannot" are not verdict words
    assert parse_verdict("") is None


async def test_judge_pair_asks_both_orders() -> None:
    judge = ContentJudge()
    outcome, v1, v2 = await judge_pair(judge, "Q?", "GOOD answer", "bad answer")
    assert (outcome, v1, v2) == (1.0, "A", "B")
    assert len(judge.prompts) == 2
    assert judge.prompts[0].index("GOOD") < judge.prompts[0].index("bad answer")
    assert judge.prompts[1].index("GOOD") > judge.prompts[1].index("bad answer")
    assert (await judge_pair(judge, "Q?", "bad", "GOOD"))[0] == 0.0
    assert (await judge_pair(judge, "Q?", "GOOD 1", "GOOD 2"))[0] == 0.5


async def test_position_bias_counts_as_tie_and_mumbling_as_missing() -> None:
    assert (await judge_pair(FirstPositionJudge(), "Q", "x", "y"))[0] == 0.5
    assert (await judge_pair(MumblingJudge(), "Q", "x", "y"))[0] is None


async def test_judge_pairs_from_runs_feeds_win_rates() -> None:
    runs = _runs([("1", "a", None), ("1", "b", None), ("2", "a", None), ("2", "b", None), ("3", "a", None)])
    runs["response"] = ["GOOD", "meh", "GOOD", "GOOD", "GOOD"]
    todo = response_pairs(runs)
    assert len(todo) == 2  # item 3 has no answer from b
    judged = await judge_pairs(ContentJudge(), todo, concurrency=2)
    assert judged["outcome"].tolist() == [1.0, 0.5]
    assert win_rates(judged).loc["a", "win_rate"] == pytest.approx(0.75)
    missing = await judge_pairs(MumblingJudge(), todo)
    assert missing["outcome"].isna().all()
    with pytest.raises(DataError, match="acomplete"):
        await judge_pairs(object(), todo)
