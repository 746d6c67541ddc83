"""Statistics over runs: win rates (discrete, length-controlled, prompt-clustered errors), Bradley-Terry ratings,
leaderboards, paired comparisons and per-item diffs, cost/quality points with their Pareto frontier and zero-router hull, per-model summaries.

Pure pandas/numpy/scikit-learn: nothing here logs, plots or calls a model (see `llmbench.tracking` for MLflow,
plots and the HTML report, and `llmbench.scorers.pairwise` for the LLM judge that produces preference pairs).
"""

from llmbench.stats.curves import ALL_TASKS, cost_quality_points, pareto_frontier, zero_router_hull
from llmbench.stats.diff import diff
from llmbench.stats.judge import JudgeCalibration, calibrate_pairwise
from llmbench.stats.leaderboard import alpacaeval_leaderboard, leaderboard
from llmbench.stats.paired import PairedComparison, compare_models, holm, paired_comparison, versus_best
from llmbench.stats.ratings import arena_ratings, style_of
from llmbench.stats.repeats import pass_at_k, repeats
from llmbench.stats.summary import summarize_runs
from llmbench.stats.winrate import (
    bradley_terry,
    clustered_se,
    length_controlled_win_rates,
    pairs_from_runs,
    pairwise_win_rates,
    win_rate_matrix,
    win_rates,
)

__all__ = [
    "ALL_TASKS",
    "JudgeCalibration",
    "PairedComparison",
    "alpacaeval_leaderboard",
    "arena_ratings",
    "bradley_terry",
    "calibrate_pairwise",
    "clustered_se",
    "compare_models",
    "cost_quality_points",
    "diff",
    "holm",
    "leaderboard",
    "length_controlled_win_rates",
    "paired_comparison",
    "pairs_from_runs",
    "pairwise_win_rates",
    "pareto_frontier",
    "pass_at_k",
    "repeats",
    "style_of",
    "summarize_runs",
    "versus_best",
    "win_rate_matrix",
    "win_rates",
    "zero_router_hull",
]
