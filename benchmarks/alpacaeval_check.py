"""Check llmbench's win rates against the published AlpacaEval 1.0 leaderboard (GPT-4 judge, text-davinci-003 baseline).

    .venv/bin/python benchmarks/alpacaeval_check.py [--data ../shared/data/alpacaeval] [--bootstrap 200]

Imports the per-prompt preferences as pairwise outcomes, recomputes each model's win rate and standard error
with `llmbench.tracking.win_rates`, compares them with the leaderboard's `win_rate` and `standard_error`
columns, checks that Bradley-Terry ratings order the models as the leaderboard does, and reports how far our
length-controlled win rates (`llmbench.tracking.length_controlled_win_rates`) are from the published column.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from scipy.stats import kendalltau, spearmanr

from llmbench.imports.alpacaeval import read_alpacaeval_leaderboard, read_alpacaeval_pairs
from llmbench.stats.leaderboard import alpacaeval_leaderboard
from llmbench.stats.winrate import bradley_terry, win_rates
from llmbench.testing import shared_data_dir  # $LLMBENCH_SHARED_DATA, else beside the repo

BASELINE = "text_davinci_003"
DEFAULT_DATA = (
    shared_data_dir() or Path("../shared/data")
) / "alpacaeval"  # absent: the reader says how to fetch


def compare(directory: Path, n_bootstrap: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-model table (ours vs published) and summary figures."""
    pairs = read_alpacaeval_pairs(directory)
    board = read_alpacaeval_leaderboard(directory)
    ours = win_rates(pairs, baseline=BASELINE)
    ours[["win_rate", "standard_error"]] *= 100  # the leaderboard is in percent
    bt = bradley_terry(pairs, n_bootstrap=n_bootstrap, anchor=BASELINE).drop(BASELINE)
    published = board.rename(columns=lambda c: f"{c}_published" if c in ours.columns else c)
    table = ours.join(published, how="inner").join(bt, how="inner")
    table["win_rate_diff"] = (table["win_rate"] - table["win_rate_published"]).abs()
    table["se_diff"] = (table["standard_error"] - table["standard_error_published"]).abs()
    mismatched = (
        (table["n_wins"] != table["n_wins_published"])
        | (table["n_ties"] != table["n_draws"])
        | (table["n_losses"] != table["n_wins_base"])
        | (table["n_total"] != table["n_total_published"])
    )
    _, lc = alpacaeval_leaderboard(directory, baseline=BASELINE)
    figures = {
        "lc_max_abs_diff_points": lc.get("lc_win_rate_max_abs_diff", float("nan")),
        "lc_median_abs_diff_points": lc.get("lc_win_rate_median_abs_diff", float("nan")),
        "lc_models_compared": lc.get("lc_win_rate_compared", 0.0),
        "models_in_data": float(len(ours)),
        "models_matched": float(len(table)),
        "max_win_rate_diff": float(table["win_rate_diff"].max()),
        "max_se_diff": float(table["se_diff"].max()),
        "count_mismatches": float(mismatched.sum()),
        "spearman_bt_vs_published": float(spearmanr(table["rating"], table["win_rate_published"]).statistic),
        "kendall_bt_vs_published": float(kendalltau(table["rating"], table["win_rate_published"]).statistic),
    }
    return table.sort_values("win_rate_published", ascending=False), figures


def main() -> None:
    """Print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap draws for the BT intervals")
    args = parser.parse_args()
    start = time.perf_counter()
    table, figures = compare(args.data, args.bootstrap)
    elapsed = time.perf_counter() - start
    columns = ["win_rate", "win_rate_published", "standard_error", "standard_error_published", "n_total",
               "rating", "lower", "upper"]  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table[[c for c in columns if c in table.columns]].round(4).to_string())
    print()
    for name, value in figures.items():
        print(f"{name:28s} {value:.3g}")
    print(f"{'seconds':28s} {elapsed:.1f}")


if __name__ == "__main__":
    main()
