"""Statistics over runs: win rates (discrete, length-controlled, prompt-clustered errors), Bradley-Terry ratings,
leaderboards, cost/quality points with their Pareto frontier and zero-router hull, per-model summaries.

Pure pandas/numpy/scikit-learn: nothing here logs, plots or calls a model (see `llmbench.tracking` for MLflow,
plots and the HTML report, and `llmbench.scorers.pairwise` for the LLM judge that produces preference pairs).
"""

from llmbench.stats.curves import ALL_TASKS, cost_quality_points, pareto_frontier, zero_router_hull
from llmbench.stats.leaderboard import alpacaeval_leaderboard, leaderboard
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
    "alpacaeval_leaderboard",
    "bradley_terry",
    "clustered_se",
    "cost_quality_points",
    "leaderboard",
    "length_controlled_win_rates",
    "pairs_from_runs",
    "pairwise_win_rates",
    "pareto_frontier",
    "summarize_runs",
    "win_rate_matrix",
    "win_rates",
    "zero_router_hull",
]
