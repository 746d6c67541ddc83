"""One self-contained HTML dashboard of an experiment (plotly's JavaScript inlined once, no network needed)."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmbench.errors import DataError
from llmbench.providers.registry import provider_label
from llmbench.tracking.report_tables import per_task_table, route_mix_section, score_cells, table_html

__all__ = ["build_report", "write_report"]

MAX_TASK_CURVES = 12

_STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; } h3 { margin-top: 1.5rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table.data { border-collapse: collapse; font-size: 0.85rem; font-variant-numeric: tabular-nums; }
table.data th, table.data td { border: 1px solid #ddd; padding: 3px 8px; } .r { text-align: right; } .l { text-align: left; }
table.data thead th { background: #f4f4f4; } table.data tr.group th { background: #eef3fa; text-align: left; }
.meta { color: #666; } .note { color: #666; font-size: 0.85rem; } nav a { margin-right: 1rem; }
.js-plotly-plot, .plotly-graph-div { max-width: 100%; }
"""


def _table(frame: pd.DataFrame, group_by: str | None = None) -> str:
    return table_html(frame, group_by=group_by)


def _figure(fig: Any, div_id: str) -> str:
    fig.update_layout(autosize=True, width=None)
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            default_width="100%",
            config={"displaylogo": False, "responsive": True},
        )
    )


def _cell(rate: pd.Series) -> str:
    """One heatmap cell: the win rate and its interval."""
    return f"{float(rate['win_rate']):.0%}<br>[{float(rate['lower']):.0%}, {float(rate['upper']):.0%}]"


def _heatmap(pairs: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    from llmbench.stats.winrate import pairwise_win_rates, win_rate_matrix

    matrix = win_rate_matrix(pairs)
    long = pairwise_win_rates(pairs).set_index(["model", "opponent"])
    text = [
        ["" if (a, b) not in long.index else _cell(long.loc[(a, b)]) for b in matrix.columns]
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
        # a failed attempt that was retried is not a failed run: the summary's failed column counts only these
        final = failed["final"].fillna(False).astype(bool) if "final" in failed.columns else True
        failed = failed.assign(outcome=np.where(final, "the run failed", "retried"))
    else:
        failed = runs[runs["error"].notna()] if "error" in runs.columns else runs.iloc[0:0]
        failed = failed.assign(outcome="the run failed")
    if failed.empty:
        return pd.DataFrame(), None
    group = failed.groupby(["model", "error", "outcome"])
    table = group.size().rename("count").reset_index()
    if "error_message" in failed.columns:
        example = group["error_message"].agg(
            lambda s: next((str(m)[:300] for m in s if isinstance(m, str)), "")
        )
        table = table.merge(example.rename("example message").reset_index(), on=["model", "error", "outcome"])
    fig = px.bar(
        table,
        x="model",
        y="count",
        color="error",
        pattern_shape="outcome",
        category_orders={"outcome": ["the run failed", "retried"]},
        title="failed attempts by error class: retried, or the run failed",
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
    items: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
    notes: list[str] | None = None,
) -> str:
    """The dashboard as one HTML string: models by provider, per-task scores, win rates, cost/quality curves,
    latency, errors with their messages, and the per-sample viewer. Several experiments are shown side by side,
    never pooled. `pairs` defaults to reference-score comparisons; `router_curve` (cost, quality[, task]) is drawn
    on the curves; `calls` (every attempt) feeds the error section and the viewer's attempts, `scores` the viewer's
    explanations; `notes` (e.g. how well a judge agrees with people) go under the models table."""
    from plotly.offline import get_plotlyjs

    from llmbench.stats.summary import summarize_runs
    from llmbench.tracking.viewer import sample_records, viewer_section

    if runs is None or len(runs) == 0:
        raise DataError("the runs frame is empty: nothing to report (check the experiment name)")
    runs = runs.copy()
    if "experiment" not in runs.columns:
        runs["experiment"] = "runs"
    experiments = list(dict.fromkeys(runs["experiment"].astype(str)))
    if summary is None or "experiment" not in summary.columns:
        summary = pd.concat(
            [
                summarize_runs(g).reset_index().assign(experiment=e)
                for e, g in runs.groupby("experiment", sort=False)
            ]
        )
    table = summary.reset_index(drop=True)
    table["provider"] = table["model"].astype(str).map(provider_label)
    table = table.sort_values(["experiment", "provider", "score_mean"], ascending=[True, True, False])
    keep = [
        "experiment",
        "provider",
        "model",
        "runs",
        "score_mean",
        "score_se",
        "cost_usd",
        "cost_per_item",
        "cost_per_correct",
        "latency_p50",
        "latency_p95",
        "error_rate",
        "input_tokens",
        "output_tokens",
    ]
    table = table[[c for c in keep if c in table.columns]]
    models = sorted(runs["model"].astype(str).unique())
    tasks = sorted(runs["task"].dropna().astype(str).unique()) if "task" in runs.columns else []
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f"<p class='meta'>{len(experiments)} experiment(s): {html.escape(', '.join(experiments))} · {len(runs):,} runs · "
        f"{len(models)} models · {len(tasks)} tasks · generated {dt.datetime.now().isoformat(timespec='seconds')}</p>"
        "<nav><a href='#models'>models</a><a href='#tasks'>tasks</a><a href='#winrates'>win rates</a>"
        "<a href='#curves'>cost and quality</a><a href='#latency'>latency</a><a href='#errors'>errors</a>"
        "<a href='#samples'>samples</a></nav>"
    )
    if any(m.startswith("sim:") for m in models):
        parts.append(
            "<p><strong>SIMULATED:</strong> models named <code>sim:*</code> are llmbench's offline simulator "
            "(seeded answers, real list prices); their scores are demo data, not real model quality.</p>"
        )
    batched = (
        0
        if calls is None or "cost_basis" not in calls.columns
        else int(calls["cost_basis"].isin(["batch_rate", "batch_discount"]).sum())
    )
    if batched:
        parts.append(
            f"<p class='note'>{batched:,} calls were answered through provider batch APIs: priced at batch "
            "rates (the price file's, else 50% of list) and without a per-request latency.</p>"
        )
    parts.append("<h2 id='models'>Models by provider</h2>")
    for experiment, part in table.groupby("experiment", sort=False):
        if len(experiments) > 1:
            parts.append(f"<h3>{html.escape(str(experiment))}</h3>")
        parts.append(_table(part.drop(columns="experiment"), group_by="provider"))
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in notes or []]
    parts += route_mix_section(runs, calls)
    parts.append("<h2 id='tasks'>Score per task</h2>")
    for experiment, group in runs.groupby("experiment", sort=False):
        if len(experiments) > 1:
            parts.append(f"<h3>{html.escape(str(experiment))}</h3>")
        if "task" in group.columns and group["task"].notna().any():
            parts.append(table_html(score_cells(per_task_table(group))))
        else:
            parts.append("<p class='note'>No task labels.</p>")
    parts += _per_experiment(runs, experiments, pairs, router_curve, n_bootstrap)
    parts.append("<h2 id='latency'>Latency</h2>")
    labelled = runs.assign(model=_labels(runs, experiments))
    if "latency_s" in runs.columns and runs["latency_s"].notna().any():
        parts.append(_figure(_latency(labelled), "latency"))
    else:
        parts.append("<p class='note'>No latencies recorded.</p>")
    parts.append("<h2 id='errors'>Errors</h2>")
    parts += _error_section(labelled, calls, experiments)
    parts.append("<h2 id='samples'>Samples</h2>")
    parts.append(
        "<p class='note'>Every item with each model's answer, score, cost and attempts (`llmbench view` "
        "writes this viewer on its own).</p>"
    )
    parts.append(viewer_section(sample_records(runs, calls, items, scores=scores, limit=20_000)))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def _labels(runs: pd.DataFrame, experiments: list[str]) -> pd.Series:
    """Model names, prefixed by the experiment when there are several (so nothing is pooled across them)."""
    if len(experiments) == 1:
        return runs["model"].astype(str)
    return runs["experiment"].astype(str) + " · " + runs["model"].astype(str)


def _per_experiment(
    runs: pd.DataFrame,
    experiments: list[str],
    pairs: pd.DataFrame | None,
    router_curve: pd.DataFrame | None,
    n_bootstrap: int,
) -> list[str]:
    """Win rates and cost/quality curves, each experiment on its own."""
    from llmbench.stats.curves import ALL_TASKS, cost_quality_points
    from llmbench.stats.paired import versus_best
    from llmbench.stats.ratings import arena_ratings
    from llmbench.stats.winrate import pairs_from_runs
    from llmbench.tracking.plots import plotly_cost_quality

    wins, curves = ["<h2 id='winrates'>Win rates</h2>"], ["<h2 id='curves'>Cost and quality</h2>"]
    for n, (experiment, group) in enumerate(runs.groupby("experiment", sort=False)):
        head = f"<h3>{html.escape(str(experiment))}</h3>" if len(experiments) > 1 else ""
        wins.append(head)
        models = group["model"].nunique()
        own = pairs if pairs is not None and len(experiments) == 1 else None
        if own is None and models > 1 and group["score"].notna().any():
            own = pairs_from_runs(group)
        if own is not None and len(own.dropna(subset=["outcome"])):
            wins.append(_figure(_heatmap(own), f"winrate-heatmap-{n}"))
            bt = arena_ratings(own, n_bootstrap=n_bootstrap)[0]
            if "lower" in bt.columns:
                wins.append(_figure(_ratings(bt), f"bt-ratings-{n}"))
            wins.append(_table(bt.reset_index()))
            if models > 1 and group["score"].notna().any():  # never a bare mean: the lead with its evidence
                paired = versus_best(group, n_boot=1000, n_perm=2999)
                wins.append(
                    "<h4>Is the top model really better? (paired over shared items, Holm-adjusted)</h4>"
                )
                wins.append(_table(paired[["summary", "score_low", "score_high", "p_holm", "cost_diff"]]))
            wins.append(
                "<p class='note'>Pairwise comparisons on the same item; equal scores are ties (Davidson's tie "
                "model). With the answers' lengths or texts, the style rating holds length and markdown fixed.</p>"
            )
        else:
            wins.append("<p class='note'>Fewer than two models with scores: no comparisons.</p>")
        curves.append(head)
        ok = group["error"].isna() if "error" in group.columns else pd.Series(True, index=group.index)
        if "cost_usd" in group.columns and group["cost_usd"].notna().any():
            points = cost_quality_points(group, by_task=True)
            tasks = sorted(t for t in points["task"].unique() if t != ALL_TASKS)
            for i, task in enumerate([ALL_TASKS, *tasks[:MAX_TASK_CURVES]]):
                curves.append(_figure(plotly_cost_quality(points, router_curve, task=task), f"curve-{n}-{i}"))
            if len(tasks) > MAX_TASK_CURVES:
                curves.append(
                    f"<p class='note'>{len(tasks) - MAX_TASK_CURVES} more tasks in the table below.</p>"
                )
                curves.append(_table(points[points["task"] != ALL_TASKS]))
        elif not ok.any():
            curves.append(
                "<p class='note'>No costs recorded: no call succeeded (see the errors below); no cost/quality curve.</p>"
            )
        else:
            unpriced = ", ".join(sorted(group.loc[ok, "model"].astype(str).unique()))
            curves.append(
                f"<p class='note'>No costs recorded: no price is known for {html.escape(unpriced)} (add them "
                "to a price file); no cost/quality curve.</p>"
            )
    return wins + curves


def _error_section(runs: pd.DataFrame, calls: pd.DataFrame | None, experiments: list[str]) -> list[str]:
    """How many attempts and runs failed, by model and error, with an example message each."""
    failed_runs = int(runs["error"].notna().sum()) if "error" in runs.columns else 0
    calls = (
        None
        if calls is None
        else calls.assign(model_id=_labels(calls.rename(columns={"model_id": "model"}), experiments))
    )
    failed_attempts = 0 if calls is None else int(calls["error_class"].notna().sum())
    if failed_runs == 0 and failed_attempts == 0:
        return ["<p class='note'>No failed calls and no failed attempts.</p>"]
    if calls is not None:
        final_ok = calls[calls["final"].astype(bool) & calls["error_class"].isna()]["run_key"]
        recovered = int((calls["error_class"].notna() & calls["run_key"].isin(final_ok)).sum())
        out = [
            f"<p>{failed_attempts:,} failed attempt(s), {recovered:,} of them followed by a successful retry; "
            f"{failed_runs:,} run(s) failed for good.</p>"
        ]
    else:
        out = [f"<p>{failed_runs:,} run(s) failed.</p>"]
    error_table, error_fig = _errors(runs, calls)
    if error_fig is not None:
        out.append(_figure(error_fig, "errors"))
        out.append(_table(error_table))
    return out


def write_report(
    path: str | Path, runs: pd.DataFrame, summary: pd.DataFrame | None = None, **options: Any
) -> Path:
    """Write `build_report(runs, summary, **options)` to `path`; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(runs, summary, **options), encoding="utf-8")
    return out
