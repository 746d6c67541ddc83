"""Statistics over runs: win rates (discrete, length-controlled, prompt-clustered errors), Bradley-Terry ratings,
leaderboards, paired comparisons and per-item diffs, cost/quality points with their Pareto frontier and zero-router hull, per-model summaries.

Pure pandas/numpy/scikit-learn: nothing here logs, plots or calls a model (see `llmbench.tracking` for MLflow,
plots and the HTML report, and `llmbench.scorers.pairwise` for the LLM judge that produces preference pairs).
"""

from __future__ import annotations

import typing

from llmbench.lazy import lazy_exports

if typing.TYPE_CHECKING:
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

# Each name is imported from its module on first use: a command that needs one function (e.g. the judge
# calibration note `llmbench eval` prints) does not pay for scipy and every other module here.
_HOMES = {
    "ALL_TASKS": "llmbench.stats.curves",
    "JudgeCalibration": "llmbench.stats.judge",
    "PairedComparison": "llmbench.stats.paired",
    "alpacaeval_leaderboard": "llmbench.stats.leaderboard",
    "arena_ratings": "llmbench.stats.ratings",
    "bradley_terry": "llmbench.stats.winrate",
    "calibrate_pairwise": "llmbench.stats.judge",
    "clustered_se": "llmbench.stats.winrate",
    "compare_models": "llmbench.stats.paired",
    "cost_quality_points": "llmbench.stats.curves",
    "diff": "llmbench.stats.diff",
    "holm": "llmbench.stats.paired",
    "leaderboard": "llmbench.stats.leaderboard",
    "length_controlled_win_rates": "llmbench.stats.winrate",
    "paired_comparison": "llmbench.stats.paired",
    "pairs_from_runs": "llmbench.stats.winrate",
    "pairwise_win_rates": "llmbench.stats.winrate",
    "pareto_frontier": "llmbench.stats.curves",
    "pass_at_k": "llmbench.stats.repeats",
    "repeats": "llmbench.stats.repeats",
    "style_of": "llmbench.stats.ratings",
    "summarize_runs": "llmbench.stats.summary",
    "versus_best": "llmbench.stats.paired",
    "win_rate_matrix": "llmbench.stats.winrate",
    "win_rates": "llmbench.stats.winrate",
    "zero_router_hull": "llmbench.stats.curves",
}

lazy_exports(__name__, _HOMES)

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
