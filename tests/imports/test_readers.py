"""Readers of public routing data into the runs frame: small hand-made files and the real shared data."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from llmbench.errors import DataError
from llmbench.imports import RUNS_COLUMNS, read_routellm, read_routerbench


def _routerbench_csv(path: Path) -> None:
    # RouterBench's wide layout: list-literal prompts/responses, one score and cost column per model,
    # a sample_id that occurs twice with different prompts, and a missing score.
    rows = [
        {"sample_id": "arc.1", "prompt": "['What is 2+2?']", "eval_name": "arc", "m1": 1.0, "m2": 0.0,
         "m1|model_response": "['4']", "m2|model_response": "['5']", "m1|total_cost": 0.002, "m2|total_cost": 0.0001},
        {"sample_id": "arc.2", "prompt": "['Part one', 'part two']", "eval_name": "arc", "m1": None, "m2": 1.0,
         "m1|model_response": None, "m2|model_response": "['B']", "m1|total_cost": 0.003, "m2|total_cost": 0.0002},
        {"sample_id": "arc.2", "prompt": "['Another prompt']", "eval_name": "arc", "m1": 0.0, "m2": 1.0,
         "m1|model_response": "['C']", "m2|model_response": "['C']", "m1|total_cost": 0.001, "m2|total_cost": 0.0001},
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(path)  # keeps the unnamed index column, as the real files do


def test_read_routerbench_small_file(tmp_path: Path) -> None:
    path = tmp_path / "arc_test.csv"
    _routerbench_csv(path)
    frame = read_routerbench(path)
    assert list(frame.columns) == [*RUNS_COLUMNS, "split"]
    assert len(frame) == 3 * 2  # 3 prompts x 2 models
    assert set(frame["split"]) == {"test"}
    first = frame[(frame["item_id"] == "arc.1") & (frame["model"] == "m1")].iloc[0]
    assert first["prompt"] == "What is 2+2?" and first["response"] == "4"
    assert first["score"] == 1.0 and first["cost_usd"] == pytest.approx(0.002) and first["task"] == "arc"
    # the duplicated sample_id becomes two distinct item ids; list prompts are joined by newlines
    dup = frame[frame["item_id"].str.startswith("arc.2@")]
    assert dup["item_id"].nunique() == 2
    assert "Part one\npart two" in set(dup["prompt"])
    missing = frame[(frame["prompt"] == "Part one\npart two") & (frame["model"] == "m1")].iloc[0]
    assert math.isnan(missing["score"]) and missing["cost_usd"] == pytest.approx(0.003)


def test_read_routerbench_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_routerbench(tmp_path / "nope.csv")
    other = tmp_path / "other.csv"
    pd.DataFrame({"a": [1]}).to_csv(other, index=False)
    with pytest.raises(DataError, match="not a RouterBench file"):
        read_routerbench(other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no RouterBench"):
        read_routerbench(tmp_path / "empty")


def test_read_routellm_small_folder(tmp_path: Path) -> None:
    strong, weak = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
    (tmp_path / "evals" / "mmlu" / "responses").mkdir(parents=True)
    (tmp_path / "evals" / "gsm8k").mkdir(parents=True)
    pd.DataFrame({"prompt": ["Q" * 40, "R" * 8], weak: [True, False], strong: [True, True]}).to_csv(
        tmp_path / "evals" / "mmlu" / "responses" / "mmlu_anatomy.csv", index=False
    )
    pd.DataFrame(
        {
            "prompt": ["x" * 10],
            weak: [False],
            strong: [True],
            f"{weak}_response": ["y" * 9],
            f"{strong}_response": ["z" * 400],
        }
    ).to_csv(tmp_path / "evals" / "gsm8k" / "gsm8k_responses.csv", index=False)
    frame = read_routellm(tmp_path)
    assert set(frame["experiment"]) == {"routellm-mmlu", "routellm-gsm8k"}
    mmlu = frame[(frame["experiment"] == "routellm-mmlu") & (frame["model"] == strong)]
    assert list(mmlu["task"]) == ["anatomy", "anatomy"] and list(mmlu["score"]) == [1.0, 1.0]
    # 40 chars -> 10 input tokens, 1 output token (an answer letter) at $10 / $30 per 1M tokens
    assert mmlu.iloc[0]["cost_usd"] == pytest.approx((10 * 10 + 1 * 30) / 1e6)
    gsm = frame[(frame["experiment"] == "routellm-gsm8k") & (frame["model"] == weak)].iloc[0]
    # 10 chars -> 3 tokens in, 9 chars -> 3 tokens out, $0.6 per 1M both ways
    assert gsm["input_tokens"] == 3 and gsm["output_tokens"] == 3
    assert gsm["cost_usd"] == pytest.approx(6 * 0.6 / 1e6) and gsm["score"] == 0.0
    with pytest.raises(DataError, match="no MMLU"):
        read_routellm(tmp_path / "evals" / "gsm8k")


@pytest.mark.shared
@pytest.mark.slow
def test_real_routerbench_matches_its_manifest(shared_data: Path) -> None:
    frame = read_routerbench(shared_data / "routerdc" / "datasets" / "routerbench_zs")
    assert frame["model"].nunique() == 11
    assert frame["item_id"].nunique() == 3178  # MANIFEST: 3,178 prompts
    arc_test = frame[(frame["task"] == "arc-challenge") & (frame["split"] == "test")]
    gpt4 = arc_test[arc_test["model"] == "gpt-4-1106-preview"]
    # MANIFEST: arc_challenge_test GPT-4 accuracy 0.957, mean cost $0.00507 per call
    assert gpt4["score"].mean() == pytest.approx(0.957, abs=6e-4)
    assert gpt4["cost_usd"].mean() == pytest.approx(0.00507, abs=6e-6)
    assert frame["score"].isna().sum() > 0  # the real missing values survive as nan


@pytest.mark.shared
@pytest.mark.slow
def test_real_routellm_matches_its_manifest(shared_data: Path) -> None:
    frame = read_routellm(shared_data / "routellm")
    acc = frame.groupby(["experiment", "model"])["score"].agg(["mean", "size"])
    # MANIFEST: MMLU 14,042 rows, Mixtral 0.681, GPT-4 0.806; GSM8K 1,319 rows, 0.638 / 0.857
    assert acc.loc[("routellm-mmlu", "gpt-4-1106-preview"), "size"] == 14042
    assert acc.loc[("routellm-mmlu", "gpt-4-1106-preview"), "mean"] == pytest.approx(0.806, abs=6e-4)
    assert acc.loc[("routellm-mmlu", "mistralai/Mixtral-8x7B-Instruct-v0.1"), "mean"] == pytest.approx(
        0.681, abs=6e-4
    )
    assert acc.loc[("routellm-gsm8k", "gpt-4-1106-preview"), "size"] == 1319
    assert acc.loc[("routellm-gsm8k", "gpt-4-1106-preview"), "mean"] == pytest.approx(0.857, abs=6e-4)
    assert frame["task"][frame["experiment"] == "routellm-mmlu"].nunique() == 57
    assert (frame["cost_usd"] > 0).all()
