"""RouterBench in every accepted format, the pickle guard, price-table costs, and `llmbench import` into a store."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from llmbench.errors import ConfigError
from llmbench.imports import read_routellm, read_routerbench
from llmbench.store import Store


@pytest.fixture(scope="module")
def wide(shared_data: Path) -> pd.DataFrame:
    """The first 40 rows of the real RouterBench mbpp test file (wide layout, with costs)."""
    return pd.read_csv(shared_data / "routerdc" / "datasets" / "routerbench_zs" / "mbpp_test.csv.gz").head(40)


@pytest.mark.slow
def test_csv_parquet_and_trusted_pickle_read_the_same(wide: pd.DataFrame, tmp_path: Path) -> None:
    wide.to_csv(tmp_path / "rb.csv", index=False)
    wide.to_parquet(tmp_path / "rb.parquet")
    wide.to_pickle(tmp_path / "rb.pkl")
    frames = [
        read_routerbench(tmp_path / "rb.csv"),
        read_routerbench(tmp_path / "rb.parquet"),
        read_routerbench(tmp_path / "rb.pkl", trust_pickle=True),
    ]
    models = [c[: -len("|total_cost")] for c in wide.columns if c.endswith("|total_cost")]
    assert len(frames[0]) == 40 * len(models)
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0].drop(columns="split"), other.drop(columns="split"))
    gpt4 = frames[0][frames[0]["model"] == "gpt-4-1106-preview"]
    assert gpt4["cost_usd"].tolist() == pytest.approx(wide["gpt-4-1106-preview|total_cost"].tolist())


def test_pickle_needs_explicit_trust(wide: pd.DataFrame, tmp_path: Path) -> None:
    wide.to_pickle(tmp_path / "rb.pkl")
    with pytest.raises(ConfigError, match="trust-pickle"):
        read_routerbench(tmp_path / "rb.pkl")


def test_missing_costs_come_from_the_price_table(wide: pd.DataFrame, tmp_path: Path) -> None:
    """GPT-4-1106 at $10/$30 per 1M tokens: the estimate from text length lands near RouterBench's own cost."""
    bare = wide.drop(columns=[c for c in wide.columns if c.endswith("|total_cost")])
    bare.to_csv(tmp_path / "nocost.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # open models have no snapshot price: their cost is None, with a warning
        frame = read_routerbench(tmp_path / "nocost.csv")
    gpt4 = frame[frame["model"] == "gpt-4-1106-preview"].reset_index(drop=True)
    prompt, response = wide["prompt"].iloc[0], wide["gpt-4-1106-preview|model_response"].iloc[0]
    # ceil(chars/4) tokens each way at $10 and $30 per million (the literal-list text is unwrapped first)
    assert gpt4["cost_usd"].iloc[0] > 0
    assert gpt4["cost_usd"].mean() == pytest.approx(wide["gpt-4-1106-preview|total_cost"].mean(), rel=0.25)
    assert len(prompt) and len(response)
    llama = frame[frame["model"] == "meta/llama-2-70b-chat"]
    assert llama["cost_usd"].isna().all()  # unknown price stays unknown, never 0


def test_routellm_costs_use_the_price_table(shared_data: Path) -> None:
    """A GSM8K call on GPT-4-1106: ceil(len/4) input and output tokens at $10/$30 per 1M."""
    frame = read_routellm(shared_data / "routellm", benchmarks=("gsm8k",))
    row = frame[frame["model"] == "gpt-4-1106-preview"].iloc[0]
    expected = (row["input_tokens"] * 10 + row["output_tokens"] * 30) / 1e6
    assert row["cost_usd"] == pytest.approx(expected)
    mixtral = frame[frame["model"] != "gpt-4-1106-preview"].iloc[0]
    assert mixtral["cost_usd"] == pytest.approx(
        (mixtral["input_tokens"] + mixtral["output_tokens"]) * 0.6 / 1e6
    )


def test_cli_import_lands_in_the_store(wide: pd.DataFrame, tmp_path: Path, cli) -> None:
    wide.to_parquet(tmp_path / "rb.parquet")
    store = tmp_path / "runs.duckdb"
    done = cli("import", "routerbench", tmp_path / "rb.parquet", "--name", "rb", "--store", store)
    assert done.returncode == 0, done.stderr
    refused = cli("import", "routerbench", tmp_path / "missing.pkl", "--store", store)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    with Store.open(store, read_only=True) as st:
        runs = st.runs_frame("rb")
        assert st.get_experiment("rb").source == "imported"
    assert len(runs) == len(read_routerbench(tmp_path / "rb.parquet"))
    assert set(runs["task"]) == {"mbpp"}
