"""One self-contained HTML dashboard of an experiment (plotly's JavaScript inlined once, no network needed)."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["build_report", "write_report"]

MAX_TASK_CURVES = 12

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table.data { border-collapse: collapse; font-size: 0.85rem; }
table.data th, table.data td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.data th { background: #f4f4f4; } .meta { color: #666; } .note { color: #666; font-size: 0.85rem; }
"""


def _table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(classes="data", index=index, float_format=lambda v: f"{v:.4g}", na_rep="–", border=0)


def _figure(fig: Any, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})


def _cell(rate: pd.Series) -> str:
    """One heatmap cell: the win rate and its interval."""
    return f"{float(rate['win_rate']):.0%}<br>[{float(rate['lower']):.0%}, {float(rate['upper']):.0%}]"


def _heatmap(pairs: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    from llmbench.stats.winrate import pairwise_win_rates, win_rate_matrix

    matrix = win_rate_matrix(pairs)
    long = pairwise_win_rates(pairs).set_index(["model", "opponent"])
    text = [
        [
            ""
            if (a, b) not in long.index
            else _cell(long.loc[(a, b)])
            for b in matrix.columns
        ]
        for a in matrix.index
    ]
    counts = [
        [long.at[(a, b), "n_total"] if (a, b) in long.index else 0 for b in matrix.columns]
        for a in matrix.index
    ]
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            text=text,
            customdata=counts,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmin=0,
            zmax=1,
            hovertemplate="%{y} vs %{x}<br>win rate %{z:.1%}<br>%{customdata} comparisons<extra></extra>",
        )
    )
    fig.update_layout(
        title="win rate of row model against column model (ties count half; 95% interval)",
        yaxis={"autorange": "reversed"},
        template="plotly_white",
        height=max(350, 60 * len(matrix) + 150),
    )
    return fig


def _ratings(bt: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Scatter(
            x=bt["rating"],
            y=list(bt.index),
            mode="markers",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": bt["upper"] - bt["rating"],
                "arrayminus": bt["rating"] - bt["lower"],
            },
        )
    )
    fig.update_layout(
        title="Bradley-Terry rating (95% bootstrap interval)",
        yaxis={"autorange": "reversed"},
        template="plotly_white",
        height=max(300, 40 * len(bt) + 120),
    )
    return fig


def _latency(runs: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for model, frame in runs.dropna(subset=["latency_s"]).groupby("model"):
        fig.add_trace(go.Box(x=frame["latency_s"], name=str(model), boxpoints="outliers"))
    fig.update_layout(
        title="latency per call (s)",
        xaxis_title="seconds",
        template="plotly_white",
        showlegend=False,
        height=max(300, 45 * runs["model"].nunique() + 120),
    )
    return fig


def _errors(runs: pd.DataFrame, calls: pd.DataFrame | None) -> tuple[pd.DataFrame, object | None]:
    """Failed attempts (retries included when the calls frame is given) by model and error, with a message."""
    import plotly.express as px

    if calls is not None and "error_class" in calls.columns:
        failed = calls[calls["error_class"].notna()].rename(
            columns={"model_id": "model", "error_class": "error"}
        )
    else:
        failed = runs[runs["error"].notna()] if "error" in runs.columns else runs.iloc[0:0]
    if failed.empty:
        return pd.DataFrame(), None
    group = failed.groupby(["model", "error"])
    table = group.size().rename("count").reset_index()
    if "error_message" in failed.columns:
        example = group["error_message"].agg(
            lambda s: next((str(m)[:300] for m in s if isinstance(m, str)), "")
        )
        table = table.merge(example.rename("example message").reset_index(), on=["model", "error"])
    fig = px.bar(
        table,
        x="model",
        y="count",
        color="error",
        title="failed calls by error class",
        template="plotly_white",
        height=400,  # without a height plotly sizes the div to 100% of an unsized parent: a collapsed plot
    )
    return table, fig


def build_report(
    runs: pd.DataFrame,
    summary: pd.DataFrame | None = None,
    *,
    title: str = "llmbench report",
    router_curve: pd.DataFrame | None = None,
    pairs: pd.DataFrame | None = None,
    n_bootstrap: int = 100,
    calls: pd.DataFrame | None = None,
) -> str:
    """The dashboard as one HTML string: model table, win-rate heatmap, curves, latency, errors.

    `pairs` defaults to reference-score comparisons from `runs`; `router_curve` (cost, quality[, task]) is
    drawn on the cost/quality figures when given; `calls` (every attempt) lets the error section count retries
    and show the errors' messages.
    """
    from plotly.offline import get_plotlyjs

    from llmbench.stats.curves import ALL_TASKS, cost_quality_points
    from llmbench.stats.summary import summarize_runs
    from llmbench.stats.winrate import bradley_terry, pairs_from_runs
    from llmbench.tracking.plots import plotly_cost_quality

    if runs is None or len(runs) == 0:
        raise DataError("the runs frame is empty: nothing to report (check the experiment name)")
    if summary is None:
        summary = summarize_runs(runs)
    table = summary.reset_index() if "model" not in summary.columns else summary.copy()
    if "provider" in table.columns:
        table = table.sort_values(["provider", "model"])
    parts: list[str] = []
    models = sorted(runs["model"].astype(str).unique())
    if any(m.startswith("sim:") for m in models):
        parts.append(
            "<p><strong>SIMULATED:</strong> models named <code>sim:*</code> are llmbench's offline simulator "
            "(seeded answers, real list prices); their scores are demo data, not real model quality.</p>"
        )
    tasks = sorted(runs["task"].dropna().astype(str).unique()) if "task" in runs.columns else []
    experiments = sorted(runs["experiment"].astype(str).unique()) if "experiment" in runs.columns else []
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts.append(
        f"<p class='meta'>experiments: {html.escape(', '.join(experiments) or '–')} · {len(runs)} rows · "
        f"{len(models)} models · {len(tasks)} tasks · generated {dt.datetime.now().isoformat(timespec='seconds')}</p>"
    )
    parts.append("<h2 id='models'>Models by provider</h2>" + _table(table))

    parts.append("<h2 id='winrates'>Win rates</h2>")
    if pairs is None and len(models) > 1 and runs["score"].notna().any():
        pairs = pairs_from_runs(runs)
    if pairs is not None and len(pairs.dropna(subset=["outcome"])):
        parts.append(_figure(_heatmap(pairs), "winrate-heatmap"))
        bt = bradley_terry(pairs, n_bootstrap=n_bootstrap)
        if "lower" in bt.columns:
            parts.append(_figure(_ratings(bt), "bt-ratings"))
        parts.append(_table(bt.reset_index()))
        parts.append("<p class='note'>Pairwise comparisons on the same item; equal scores are ties.</p>")
    else:
        parts.append("<p class='note'>Fewer than two models with scores: no comparisons.</p>")

    parts.append("<h2 id='curves'>Cost and quality</h2>")
    if "cost_usd" in runs.columns and runs["cost_usd"].notna().any():
        points = cost_quality_points(runs, by_task=True)
        shown = [ALL_TASKS, *[t for t in tasks if t != ALL_TASKS][:MAX_TASK_CURVES]]
        for i, task in enumerate(shown):
            parts.append(_figure(plotly_cost_quality(points, router_curve, task=task), f"curve-{i}"))
        if len(tasks) > MAX_TASK_CURVES:
            parts.append(f"<p class='note'>{len(tasks) - MAX_TASK_CURVES} more tasks in the table below.</p>")
            parts.append(_table(points[points["task"] != ALL_TASKS]))
    else:
        ok = runs["error"].isna() if "error" in runs.columns else pd.Series(True, index=runs.index)
        if not ok.any():
            why = "no call succeeded (see the errors below)"
        else:
            unpriced = sorted(runs.loc[ok, "model"].astype(str).unique())
            why = f"no price is known for {', '.join(unpriced)} (add them to a price file)"
        parts.append(f"<p class='note'>No costs recorded: {html.escape(why)}; no cost/quality curve.</p>")

    parts.append("<h2 id='latency'>Latency</h2>")
    if "latency_s" in runs.columns and runs["latency_s"].notna().any():
        parts.append(_figure(_latency(runs), "latency"))
    else:
        parts.append("<p class='note'>No latencies recorded.</p>")

    parts.append("<h2 id='errors'>Errors</h2>")
    error_table, error_fig = _errors(runs, calls)
    if error_fig is None:
        parts.append("<p class='note'>No failed calls or attempts.</p>")
    else:
        parts.append(_figure(error_fig, "errors"))
        parts.append(_table(error_table))
        rate = runs.groupby("model")["error"].apply(lambda s: float(np.mean(s.notna())))
        parts.append(_table(rate.rename("error_rate").reset_index()))

    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_report(
    path: str | Path, runs: pd.DataFrame, summary: pd.DataFrame | None = None, **options: Any
) -> Path:
    """Write `build_report(runs, summary, **options)` to `path`; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(runs, summary, **options), encoding="utf-8")
    return out
