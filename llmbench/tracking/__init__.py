"""Tracking and showing results: MLflow runs (`log_eval_run`, `log_router_run`), cost/quality plots, the HTML
report and the MLflow UI server. The numbers they show come from `llmbench.stats`.

MLflow, matplotlib and plotly are imported inside the functions that need them, so importing this package
stays fast.
"""

from llmbench.tracking.mlflow_log import find_run, log_eval_run, log_router_run, tracking_uri
from llmbench.tracking.plots import plot_cost_quality, plotly_cost_quality, save_cost_quality
from llmbench.tracking.report import build_report, write_report
from llmbench.tracking.ui import start_ui, stop_ui

__all__ = [
    "build_report",
    "find_run",
    "log_eval_run",
    "log_router_run",
    "plot_cost_quality",
    "plotly_cost_quality",
    "save_cost_quality",
    "start_ui",
    "stop_ui",
    "tracking_uri",
    "write_report",
]
