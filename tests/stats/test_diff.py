"""Per-item run diffs (`llmbench.stats.diff`)."""

from __future__ import annotations

import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.stats.diff import CHANGES, diff


def _runs() -> pd.DataFrame:
    rows = [  # item, model, epoch, score, error
        ("flip-down", "a", 0, 1.0, None),
        ("flip-down", "b", 0, 0.0, None),
        ("flip-up", "a", 0, 0.0, None),
        ("flip-up", "b", 0, 1.0, None),
        ("broke", "a", 0, 1.0, None),
        ("broke", "b", 0, None, "timeout"),
        ("fixed", "a", 0, None, "rate limited"),
        ("fixed", "b", 0, 0.0, None),
        ("graded", "a", 0, 0.6, None),
        ("graded", "b", 0, 0.9, None),
        ("steady", "a", 0, 1.0, None),
        ("steady", "a", 1, 1.0, None),
        ("steady", "b", 0, 1.0, None),
        ("epochs", "a", 0, 1.0, None),
        ("epochs", "a", 1, 0.0, None),
        ("epochs", "b", 0, 0.5, None),
        ("gone", "a", 0, 1.0, None),
        ("new", "b", 0, 0.0, None),
    ]
    frame = pd.DataFrame(rows, columns=["item_id", "model", "epoch", "score", "error"])
    return frame.assign(experiment="e", cost_usd=0.001, latency_s=1.0, prompt=frame["item_id"] + "?")


def test_every_kind_of_change_is_named_once() -> None:
    table = diff(_runs(), "a", "b").set_index("item_id")
    assert table["change"].to_dict() == {
        "flip-down": "right to wrong",
        "flip-up": "wrong to right",
        "broke": "new failure",
        "fixed": "fixed failure",
        "graded": "score changed",
        "steady": "same",
        "epochs": "same",
        "gone": "only in A",
        "new": "only in B",
    }
    assert table.loc["graded", "score_delta"] == pytest.approx(0.3)
    assert table.loc["flip-down", "prompt"] == "flip-down?"
    assert list(diff(_runs(), "a", "b")["change"].cat.categories) == list(CHANGES)


def test_two_experiments_diff_each_model_with_itself() -> None:
    before = _runs()
    after = before.assign(experiment="f", score=before["score"].where(before["item_id"] != "steady", 0.0))
    table = diff(pd.concat([before, after]), "e", "f", by="experiment")
    steady = table[table["item_id"] == "steady"].set_index("model")["change"]
    assert steady.to_dict() == {"a": "right to wrong", "b": "right to wrong"}
    assert (table[table["item_id"] != "steady"]["change"] == "same").all()


@pytest.mark.parametrize(
    ("a", "b", "message"), [("a", "zz", "no runs with model 'zz'"), ("a", "a", "itself")]
)
def test_a_diff_that_shows_nothing_is_refused(a: str, b: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        diff(_runs(), a, b)


def test_two_runs_of_one_model_each_are_diffed_item_by_item() -> None:
    runs = _runs()
    before, after = (
        runs[runs["model"] == "a"].assign(experiment="e"),
        runs[runs["model"] == "b"].assign(experiment="f"),
    )
    table = diff(pd.concat([before, after]), "e", "f", by="experiment").set_index("item_id")
    assert "model" not in table.columns and table.loc["flip-down", "change"] == "right to wrong"
    several = pd.concat([before, before.assign(model="c"), after, after.assign(model="d")])
    with pytest.raises(DataError, match="share no model and run several each"):
        diff(several, "e", "f", by="experiment")
