"""AlpacaEval 1.0 per-prompt preferences as a pairs frame, and its published leaderboard.

AlpacaEval encodes a judgment as `preference` 2.0 (model wins), 1.0 (baseline wins), 1.5 or 0.0 (draw: 0.0
is the old draw code, which AlpacaEval still maps to 1.5) and NaN (no judgment: dropped). Its win rate is
mean(preference - 1) * 100 and its standard error pandas' `sem` of the same values * 100.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llmbench.errors import DataError

__all__ = ["EXCLUDED", "GENERATOR_ALIASES", "read_alpacaeval_leaderboard", "read_alpacaeval_pairs"]

PREFERENCES = "preferences_alpaca_eval_gpt4.compact.csv.gz"
LEADERBOARD = "leaderboard_alpaca_eval_gpt4.csv"
# Generator names in the annotation files that differ from the leaderboard's model names (see MANIFEST.md).
GENERATOR_ALIASES = {
    "llama7B_freelb_lr5e-5_AdvLr0_InitAdvMax10_AdvStep1_Projl2_MaxNorm0_yuxinRun": "alpaca-7b-neft",
}
# Adversarial "cheat the judge" entries named in MANIFEST.md.
EXCLUDED = {"example", "NullModel", "gpt4_gamed"}


def read_alpacaeval_pairs(directory: str | Path) -> pd.DataFrame:
    """Pairs frame (model_a = the model, model_b = the baseline) with output lengths in `len_a`."""
    path = Path(directory) / PREFERENCES
    if not path.exists():
        raise DataError(f"{path} not found: point at the alpacaeval data folder (see its MANIFEST.md)")
    raw = pd.read_csv(path)
    needed = {"idx", "generator", "baseline", "preference", "output_len_chars"}
    if not needed <= set(raw.columns):
        raise DataError(f"{path} lacks columns {sorted(needed - set(raw.columns))}")
    raw = raw[~raw["generator"].isin(EXCLUDED)]
    # falcon-7b-instruct was stored under generator falcon-40b-instruct with identical rows: keep one copy.
    raw = raw.drop_duplicates(["idx", "generator"])
    raw = raw.dropna(subset=["preference"])
    bad = raw[~((raw["preference"] == 0.0) | raw["preference"].between(1.0, 2.0))]
    if len(bad):
        raise DataError(f"{path}: {len(bad)} preferences outside AlpacaEval's codes 0, 1..2")
    preference = raw["preference"].replace({0.0: 1.5})
    return pd.DataFrame(
        {
            "item_id": raw["idx"].astype(str),
            "model_a": raw["generator"].replace(GENERATOR_ALIASES),
            "model_b": raw["baseline"],
            "outcome": preference - 1.0,
            "len_a": raw["output_len_chars"].astype(float),
        }
    ).reset_index(drop=True)


def read_alpacaeval_leaderboard(directory: str | Path) -> pd.DataFrame:
    """The published AlpacaEval 1.0 leaderboard, indexed by model name (win rates in percent)."""
    path = Path(directory) / LEADERBOARD
    if not path.exists():
        raise DataError(f"{path} not found: point at the alpacaeval data folder (see its MANIFEST.md)")
    board = pd.read_csv(path, index_col=0)
    board.index.name = "model"
    return board
