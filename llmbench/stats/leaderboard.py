"""A leaderboard from per-prompt preferences against one baseline: win rate, standard error, discrete win rate,
length-controlled win rate and its standard error, in percent, and Bradley-Terry ratings with and without style
control (the baseline at 1000), next to a published leaderboard when one is given.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llmbench.errors import DataError
from llmbench.imports.alpacaeval import read_alpacaeval_leaderboard, read_alpacaeval_pairs
from llmbench.stats.ratings import arena_ratings
from llmbench.stats.winrate import length_controlled_win_rates, win_rates

__all__ = ["COLUMNS", "alpacaeval_leaderboard", "leaderboard"]

COLUMNS = [
    "win_rate",
    "standard_error",
    "discrete_win_rate",
    "lc_win_rate",
    "lc_standard_error",
    "n_total",
    "avg_length",
    "rating",
    "style_rating",
]
_PUBLISHED = {
    "win_rate": "win_rate",
    "standard_error": "standard_error",
    "length_controlled_winrate": "lc_win_rate",
    "lc_standard_error": "lc_standard_error",
}


def leaderboard(pairs: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Per model against `baseline` (default: the model every comparison shares), rates in percent."""
    if baseline is None:
        counts = pd.concat([pairs["model_a"], pairs["model_b"]]).value_counts()
        baseline = str(counts.index[0])
    board = win_rates(pairs, baseline=baseline)
    board[["win_rate", "standard_error", "discrete_win_rate"]] *= 100
    lengths = [c for c in ("len_a", "len_b") if c in pairs.columns]
    known = pairs[lengths].notna().all(axis=1) if len(lengths) == 2 else pd.Series(False, index=pairs.index)
    if known.any():
        lc = length_controlled_win_rates(pairs[known], baseline) * 100
        board = board.join(lc)
    # never drop or thin the length-controlled columns silently
    note = None
    if not known.any():
        which = "the baseline's" if "len_a" in lengths else "the answers'"
        note = (
            f"no length-controlled columns: {which} answer lengths are missing (give the baseline's outputs, "
            "baseline_outputs_<baseline>.jsonl, or the baseline's own rows against itself)"
        )
    elif not known.all():
        note = (
            f"length-controlled columns from {int(known.sum())} of {len(known)} comparisons: "
            f"{int((~known).sum())} lack an answer length"
        )
    # Arena-style ratings beside the win rates, with the answers' length held fixed where lengths are known
    graded = not pairs["outcome"].dropna().isin([0.0, 0.5, 1.0]).all()
    ratings, _ = arena_ratings(
        pairs[known] if known.any() else pairs,
        ties="half" if graded else "davidson",
        n_bootstrap=0,
        anchor=baseline,
    )
    board = board.join(
        ratings.rename(columns={"style rating": "style_rating"}).drop(
            columns=["lower", "upper"], errors="ignore"
        )
    )
    sides = pairs[pairs["model_b"] == baseline]
    if "len_a" in pairs.columns:
        board["avg_length"] = sides.groupby("model_a")["len_a"].mean().round()
    board = board.reindex(columns=[c for c in COLUMNS if c in board.columns])
    board.attrs["baseline"] = baseline
    if note:
        board.attrs["lc_note"] = note
    return board.sort_values("win_rate", ascending=False)


def alpacaeval_leaderboard(
    path: str | Path, annotator: str | None = None, baseline: str | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Our leaderboard of an AlpacaEval folder or file, joined with its published one when the folder has it;
    returns (table, agreement figures: max and median absolute differences per published column)."""
    board = leaderboard(read_alpacaeval_pairs(path, annotator), baseline)
    figures: dict[str, float] = {"models": float(len(board))}
    try:
        published = read_alpacaeval_leaderboard(path, annotator)
    except DataError:
        return board, figures
    cols = {k: v for k, v in _PUBLISHED.items() if k in published.columns and v in board.columns}
    joined = board.join(published[list(cols)].rename(columns={k: f"published_{v}" for k, v in cols.items()}))
    figures["models_published"] = float(
        joined[[f"published_{v}" for v in cols.values()]].notna().any(axis=1).sum()
    )
    for ours in cols.values():
        diff = (joined[ours] - joined[f"published_{ours}"]).abs().dropna()
        if len(diff):
            figures[f"{ours}_max_abs_diff"] = float(diff.max())
            figures[f"{ours}_median_abs_diff"] = float(diff.median())
            figures[f"{ours}_compared"] = float(len(diff))
    joined.attrs.update(board.attrs)
    return joined, figures
