"""How much narrower intervals are when comparisons on one prompt are wrongly treated as independent.

    .venv/bin/python benchmarks/clustered_intervals.py [--data ../shared/data] [--bootstrap 200]

On a multi-model run (RouterBench, 11 models, every pair compared item by item) it prints, per model, the win
rate's standard error and the Bradley-Terry 95% interval width two ways: treating every comparison as
independent (what llmbench did before: `sem` over comparisons, battles resampled), and clustered by prompt
(cluster-robust SE, prompts resampled). The ratio is how much the old intervals overstated the certainty.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from llmbench.imports import read_routerbench
from llmbench.stats.winrate import _oriented, bradley_terry, pairs_from_runs, win_rates
from llmbench.testing import shared_data_dir  # $LLMBENCH_SHARED_DATA, else beside the repo

DEFAULT = shared_data_dir() or Path("../shared/data")  # absent: the reader says how to fetch it


def _battle_bootstrap(pairs: pd.DataFrame, n_boot: int, seed: int = 0) -> pd.DataFrame:
    """The old bootstrap: every comparison resampled on its own (a prompt's comparisons split apart)."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        sample = pairs.iloc[rng.integers(0, len(pairs), len(pairs))].copy()
        sample["item_id"] = np.arange(len(sample)).astype(str)  # each comparison its own cluster
        draws.append(bradley_terry(sample, n_bootstrap=0)["rating"])
    frame = pd.DataFrame(draws)
    return pd.DataFrame({"lower": frame.quantile(0.025), "upper": frame.quantile(0.975)})


def compare(data: Path, n_boot: int) -> pd.DataFrame:
    """Per model: naive and clustered SE of the overall win rate, and BT interval widths both ways."""
    runs = read_routerbench(data / "routerdc" / "datasets" / "routerbench_zs")
    pairs = pairs_from_runs(runs)
    sides = _oriented(pairs)
    naive = sides.groupby("model")["outcome"].sem()
    clustered = win_rates(pairs)["standard_error"]
    new = bradley_terry(pairs, n_bootstrap=n_boot)
    old = _battle_bootstrap(pairs, n_boot)
    table = pd.DataFrame(
        {
            "win_rate": win_rates(pairs)["win_rate"],
            "se_naive": naive,
            "se_clustered": clustered,
            "bt_width_battles": old["upper"] - old["lower"],
            "bt_width_prompts": new["upper"] - new["lower"],
        }
    )
    table["se_ratio"] = table["se_clustered"] / table["se_naive"]
    table["bt_ratio"] = table["bt_width_prompts"] / table["bt_width_battles"]
    return table.sort_values("win_rate", ascending=False)


def main() -> None:
    """Print the table and the ratio range."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    table = compare(args.data, args.bootstrap)
    with pd.option_context("display.width", 200):
        print(table.round(4).to_string())
    print(f"\nclustered / naive SE: {table['se_ratio'].min():.2f}-{table['se_ratio'].max():.2f}x; "
          f"BT width prompts / battles: {table['bt_ratio'].min():.2f}-{table['bt_ratio'].max():.2f}x "
          f"({time.perf_counter() - start:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
