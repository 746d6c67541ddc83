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
