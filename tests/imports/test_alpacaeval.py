"""Our win rates reproduce the published AlpacaEval 1.0 leaderboard from its per-prompt preferences."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmbench.errors import DataError
from llmbench.imports.alpacaeval import read_alpacaeval_pairs

pytestmark = pytest.mark.shared

# Differences in percentage points. AlpacaEval computes the same quantities (mean of preference - 1, pandas
# sem), so only floating-point rounding separates us; 1e-9 leaves room for summation order.
TOLERANCE = 1e-9


def _check_module():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "alpacaeval_check.py"
    spec = importlib.util.spec_from_file_location("alpacaeval_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def comparison(shared_data: Path):
    directory = shared_data / "alpacaeval"
    if not (directory / "preferences_alpaca_eval_gpt4.compact.csv.gz").exists():
        pytest.skip(f"{directory} lacks the AlpacaEval preferences (see its MANIFEST.md)")
    return _check_module().compare(directory, n_bootstrap=0)


@pytest.mark.slow
def test_win_rates_and_standard_errors_match_the_leaderboard(comparison) -> None:
    _, figures = comparison
    # 51 generators after the MANIFEST's exclusions; mistral-orpo-beta is not on the stored leaderboard.
    assert figures["models_matched"] >= 50
    assert figures["max_win_rate_diff"] < TOLERANCE
    assert figures["max_se_diff"] < TOLERANCE
    # Win, loss, draw and total counts agree too: draws are preference 1.5 or the legacy code 0.
    assert figures["count_mismatches"] == 0


def test_bradley_terry_orders_models_like_the_leaderboard(comparison) -> None:
    table, figures = comparison
    assert figures["spearman_bt_vs_published"] > 0.99
    assert figures["kendall_bt_vs_published"] > 0.99
    assert table.index[0] == "gpt4_1106_preview"


def test_reader_rejects_a_wrong_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="MANIFEST"):
        read_alpacaeval_pairs(tmp_path)


def _compact(folder: Path, *, baseline_rows: bool, baseline_file: bool, drop: int = 0) -> Path:
    """A compact preferences table: two models against `base` on 60 prompts, the longer answer preferred."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    base_len = rng.integers(200, 800, 60)
    rows = []
    for model, scale in (("wordy", 2.0), ("terse", 0.6)):
        for i in range(60):
            length = int(base_len[i] * scale * rng.uniform(0.8, 1.2))
            pref = 2.0 if rng.random() < (0.75 if length > base_len[i] else 0.35) else 1.0
            rows.append({"idx": i, "generator": model, "baseline": "base", "annotator": "judge",
                         "preference": pref, "output_len_chars": length})  # fmt: skip
    if baseline_rows:  # the baseline judged against itself, as a results folder holds it
        rows += [{"idx": i, "generator": "base", "baseline": "base", "annotator": "judge", "preference": 1.5,
                  "output_len_chars": int(base_len[i])} for i in range(60)]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "preferences_judge.compact.csv", index=False)
    if baseline_file:
        keep = range(drop, 60)
        pd.DataFrame({"idx": list(keep), "output_len_chars": [int(base_len[i]) for i in keep]}).to_json(
            folder / "baseline_outputs_base.jsonl", orient="records", lines=True)  # fmt: skip
    return folder


@pytest.mark.parametrize(
    ("baseline_rows", "baseline_file", "drop", "note"),
    [(False, True, 0, None), (True, False, 0, None), (False, False, 0, "answer lengths are missing"),
     (False, True, 10, "from 100 of 120 comparisons: 20 lack an answer length")],
    ids=["outputs file", "baseline's own rows", "neither", "some missing"],
)  # fmt: skip
def test_length_control_finds_the_baseline_lengths_or_says_why_not(tmp_path, baseline_rows, baseline_file, drop,
                                                                   note) -> None:  # fmt: skip
    import pandas as pd

    from llmbench.stats.leaderboard import alpacaeval_leaderboard

    folder = _compact(tmp_path / "ae", baseline_rows=baseline_rows, baseline_file=baseline_file, drop=drop)
    board, _ = alpacaeval_leaderboard(folder)
    assert ("lc_win_rate" in board.columns) == (note is None or "from" in note)
    if note is None:
        assert "lc_note" not in board.attrs and board["lc_win_rate"].notna().all()
        # wherever the baseline's lengths come from, they are the same lengths: the same controlled rates
        same_rows = _compact(tmp_path / "ref", baseline_rows=baseline_rows, baseline_file=True)
        reference, _ = alpacaeval_leaderboard(same_rows)
        pd.testing.assert_series_equal(board["lc_win_rate"], reference["lc_win_rate"].reindex(board.index))
    else:
        assert note in board.attrs["lc_note"]
