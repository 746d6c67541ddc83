"""Cost/quality curves: models as points, the router's deferral curve, the zero-router hull, the Pareto frontier.

Inputs are plain frames: `points` has columns `model`, `cost`, `quality` (optionally `task`); a router curve
has `cost`, `quality` and optionally a label column such as `threshold` or `lambda` (optionally `task`).
Cost is the mean cost per item in USD; quality the mean score.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from llmbench.errors import DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ALL_TASKS",
    "cost_quality_points",
    "pareto_frontier",
    "plot_cost_quality",
    "plotly_cost_quality",
    "save_cost_quality",
    "zero_router_hull",
]

ALL_TASKS = "all"


def cost_quality_points(runs: pd.DataFrame, by_task: bool = False) -> pd.DataFrame:
    """Mean cost per item and mean score per model (and per task, plus task "all", when by_task)."""
    for col in ("model", "score", "cost_usd"):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r}; see the runs-frame contract")

    def summarise(frame: pd.DataFrame) -> pd.DataFrame:
        grouped = frame.groupby("model")
        return pd.DataFrame(
            {"cost": grouped["cost_usd"].mean(), "quality": grouped["score"].mean(), "n": grouped.size()}
        ).reset_index()

    overall = summarise(runs).assign(task=ALL_TASKS)
    if not by_task or "task" not in runs.columns:
        return overall[["task", "model", "cost", "quality", "n"]]
    per_task = [summarise(frame).assign(task=task) for task, frame in runs.groupby("task")]
    return pd.concat([overall, *per_task], ignore_index=True)[["task", "model", "cost", "quality", "n"]]


def _clean(points: pd.DataFrame) -> pd.DataFrame:
    for col in ("cost", "quality"):
        if col not in points.columns:
            raise DataError(f"points frame lacks column {col!r} (needs cost and quality)")
    return points.dropna(subset=["cost", "quality"]).sort_values(["cost", "quality"], ascending=[True, False])


def pareto_frontier(points: pd.DataFrame) -> pd.DataFrame:
    """Points no other point beats on both axes (cheaper or equal and better or equal), sorted by cost."""
    ordered = _clean(points)
    best = -np.inf
    keep = []
    for idx, quality in zip(ordered.index, ordered["quality"], strict=True):
        if quality > best:  # cheaper points come first, so a point survives only by being strictly better
            keep.append(idx)
            best = quality
    return ordered.loc[keep]


def zero_router_hull(points: pd.DataFrame) -> pd.DataFrame:
    """The zero router (RouterBench): the upper convex hull of the Pareto points, reached by mixing two models."""
    front = pareto_frontier(points)
    hull: list = []
    xy = front[["cost", "quality"]].to_numpy()
    for i, (x, y) in enumerate(xy):
        # Monotone chain, upper hull: drop the last point while it lies on or below the chord to the new one.
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = xy[hull[-2]], xy[hull[-1]]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return front.iloc[hull]


def _for_task(frame: pd.DataFrame | None, task: str | None) -> pd.DataFrame | None:
    if frame is None or task is None or "task" not in frame.columns:
        return frame
    return frame[frame["task"] == task]


def plot_cost_quality(
    points: pd.DataFrame, router: pd.DataFrame | None = None, *, task: str | None = None, title: str = ""
) -> Figure:
    """Matplotlib figure: models, Pareto frontier, zero-router hull and the router's deferral curve."""
    from matplotlib.figure import Figure  # no pyplot: works headless and does not touch global state

    points, router = _for_task(points, task), _for_task(router, task)
    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    ax.scatter(points["cost"], points["quality"], color="tab:blue", zorder=3, label="models")
    for _, row in points.iterrows():
        ax.annotate(
            str(row["model"]),
            (row["cost"], row["quality"]),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    front = pareto_frontier(points)
    ax.plot(front["cost"], front["quality"], color="tab:green", ls=":", label="Pareto frontier")
    hull = zero_router_hull(points)
    ax.plot(hull["cost"], hull["quality"], color="tab:gray", ls="--", label="zero router")
    if router is not None and len(router):
        curve = router.sort_values("cost")
        ax.plot(curve["cost"], curve["quality"], color="tab:red", marker=".", label="router")
    ax.set_xlabel("mean cost per item (USD)")
    ax.set_ylabel("mean score")
    positive = points["cost"].dropna()
    if len(positive) and (positive > 0).all() and positive.max() / positive.min() > 50:
        ax.set_xscale("log")
    ax.set_title(title or (f"cost vs quality — {task}" if task else "cost vs quality"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plotly_cost_quality(
    points: pd.DataFrame, router: pd.DataFrame | None = None, *, task: str | None = None, title: str = ""
):
    """Interactive plotly figure of the same curves (hover shows model, cost, score and router label)."""
    import plotly.graph_objects as go

    points, router = _for_task(points, task), _for_task(router, task)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=points["cost"],
            y=points["quality"],
            mode="markers+text",
            text=points["model"],
            textposition="top center",
            name="models",
            hovertemplate="%{text}<br>cost $%{x:.6f}<br>score %{y:.3f}<extra></extra>",
        )
    )
    front = pareto_frontier(points)
    fig.add_trace(
        go.Scatter(
            x=front["cost"],
            y=front["quality"],
            mode="lines",
            name="Pareto frontier",
            line={"dash": "dot", "color": "green"},
        )
    )
    hull = zero_router_hull(points)
    fig.add_trace(
        go.Scatter(
            x=hull["cost"],
            y=hull["quality"],
            mode="lines",
            name="zero router",
            line={"dash": "dash", "color": "gray"},
        )
    )
    if router is not None and len(router):
        curve = router.sort_values("cost")
        label = next((c for c in ("lambda", "threshold", "label") if c in curve.columns), None)
        fig.add_trace(
            go.Scatter(
                x=curve["cost"],
                y=curve["quality"],
                mode="lines+markers",
                name="router",
                text=curve[label].astype(str) if label else None,
                line={"color": "red"},
                hovertemplate=(f"{label} %{{text}}<br>" if label else "") + "cost $%{x:.6f}<br>score %{y:.3f}"
                "<extra>router</extra>",
            )
        )
    fig.update_layout(
        title=title or (f"cost vs quality — {task}" if task else "cost vs quality"),
        xaxis_title="mean cost per item (USD)",
        yaxis_title="mean score",
        template="plotly_white",
        height=450,
    )
    return fig


def save_cost_quality(
    points: pd.DataFrame,
    router: pd.DataFrame | None,
    out_dir: str | Path,
    *,
    task: str | None = None,
    stem: str = "cost_quality",
) -> tuple[Path, Path]:
    """Write the curve as PNG (matplotlib) and standalone HTML (plotly); returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, html = out / f"{stem}.png", out / f"{stem}.html"
    plot_cost_quality(points, router, task=task).savefig(png)
    plotly_cost_quality(points, router, task=task).write_html(html, include_plotlyjs=True, full_html=True)
    return png, html
