"""Tracking and comparison: MLflow runs, win rates, Bradley-Terry ratings, cost/quality curves, HTML reports.

MLflow, scikit-learn, matplotlib and plotly are imported inside the functions that need them, so importing
this package stays fast.
"""

from llmbench.tracking.curves import (
    cost_quality_points,
    pareto_frontier,
    plot_cost_quality,
    plotly_cost_quality,
    save_cost_quality,
    zero_router_hull,
)
from llmbench.tracking.judge import judge_pair, judge_pairs, response_pairs
from llmbench.tracking.mlflow_log import find_run, log_eval_run, log_router_run, tracking_uri
from llmbench.tracking.report import build_report, write_report
from llmbench.tracking.summary import summarize_runs
from llmbench.tracking.ui import start_ui, stop_ui
from llmbench.tracking.winrate import (
    bradley_terry,
    length_controlled_win_rates,
    pairs_from_runs,
    pairwise_win_rates,
    win_rate_matrix,
    win_rates,
)

__all__ = [
    "bradley_terry",
    "build_report",
    "cost_quality_points",
    "find_run",
    "judge_pair",
    "judge_pairs",
    "length_controlled_win_rates",
    "log_eval_run",
    "log_router_run",
    "pairs_from_runs",
    "pairwise_win_rates",
    "pareto_frontier",
    "plot_cost_quality",
    "plotly_cost_quality",
    "response_pairs",
    "save_cost_quality",
    "start_ui",
    "stop_ui",
    "summarize_runs",
    "tracking_uri",
    "win_rate_matrix",
    "win_rates",
    "write_report",
    "zero_router_hull",
]
