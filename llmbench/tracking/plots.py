"""Cost/quality plots: models, the Pareto frontier, the zero-router hull and a router's deferral curve, drawn with
matplotlib (headless, no pyplot) or plotly; the figures themselves come from `llmbench.stats.curves`."""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from llmbench.stats.curves import for_task, pareto_frontier, zero_router_hull

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _split_live(points: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(single models, routers measured live): a `router:` model's point is a result, not a model the frontier
    and the zero-router hull are built from."""
    live = points["model"].astype(str).str.match(r"^router(:|$)")
    return points[~live], points[live]


__all__ = ["plot_cost_quality", "plotly_cost_quality", "save_cost_quality"]


@functools.cache
def _shown_figure_class() -> type[Figure]:
    from matplotlib.figure import Figure

    class ShownFigure(Figure):
        """A Figure that Jupyter draws inline by itself (`_repr_png_`), with or without `%matplotlib inline`."""

        def _repr_png_(self) -> bytes:
            out = io.BytesIO()
            self.savefig(out, format="png", bbox_inches="tight")
            return out.getvalue()

    return ShownFigure


def shown_figure(**options: Any) -> Figure:
    """A new matplotlib Figure (no pyplot) that displays itself in a notebook."""
    return _shown_figure_class()(**options)


def plot_cost_quality(
    points: pd.DataFrame, router: pd.DataFrame | None = None, *, task: str | None = None, title: str = ""
) -> Figure:
    """Matplotlib figure: models, Pareto frontier, zero-router hull and the router's deferral curve."""
    wide = _log_cost_axis(points)  # decided on every task's points: the per-task plots share one kind of axis
    points, live = _split_live(for_task(points, task))
    router = for_task(router, task)
    fig = shown_figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    ax.scatter(points["cost"], points["quality"], color="tab:blue", zorder=3, label="models")
    if len(live):
        ax.scatter(
            live["cost"], live["quality"], color="tab:red", marker="*", s=140, zorder=4, label="router (live)"
        )
    for _, row in pd.concat([points, live]).iterrows():
        ax.annotate(
            str(row["model"]),
            (row["cost"], row["quality"]),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    front, hull, same = _front_and_hull(points)
    label = "Pareto frontier = zero-router hull" if same else "Pareto frontier"
    ax.plot(front["cost"], front["quality"], color="tab:green", ls=":", lw=2.5 if same else 1.5, label=label)
    if not same:  # drawn once when they coincide, so neither hides the other
        ax.plot(hull["cost"], hull["quality"], color="tab:gray", ls="--", label="zero router")
    if router is not None and len(router):
        curve = router.sort_values("cost")
        ax.plot(curve["cost"], curve["quality"], color="tab:red", marker=".", label="router")
    ax.set_xlabel("mean cost per item (USD)")
    ax.set_ylabel("mean score")
    if wide:
        ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:.2g}"))  # dollars, not 1e-4 or "10µ"
    ax.set_title(title or (f"cost vs quality — {task}" if task else "cost vs quality"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plotly_cost_quality(
    points: pd.DataFrame, router: pd.DataFrame | None = None, *, task: str | None = None, title: str = ""
) -> Any:
    """Interactive plotly figure of the same curves (hover shows model, cost, score and router label)."""
    import plotly.graph_objects as go

    wide = _log_cost_axis(points)  # decided on every task's points: the per-task plots share one kind of axis
    points, live = _split_live(for_task(points, task))
    router = for_task(router, task)
    fig = go.Figure()
    if len(live):
        fig.add_trace(
            go.Scatter(
                x=live["cost"],
                y=live["quality"],
                mode="markers+text",
                text=live["model"],
                name="router (live)",
                textposition="bottom center",
                marker={"symbol": "star", "size": 16, "color": "red"},
                hovertemplate="%{text}<br>cost $%{x:.6f}<br>score %{y:.3f}<extra>live router</extra>",
            )
        )
    ordered = points.sort_values("cost").reset_index(drop=True)
    positions = ["top center", "bottom center", "middle right", "middle left"]  # neighbours' labels alternate
    places = [positions[i % len(positions)] for i in range(len(ordered))]
    if len(places) > 1:  # the outermost labels point inwards, so the plot edge does not clip them
        places[0], places[-1] = "top right", "bottom left"
    fig.add_trace(
        go.Scatter(
            x=ordered["cost"],
            y=ordered["quality"],
            mode="markers+text",
            text=ordered["model"],
            textposition=places,
            textfont={"size": 10},
            name="models",
            hovertemplate="%{text}<br>cost $%{x:.6f}<br>score %{y:.3f}<extra></extra>",
        )
    )
    front, hull, same = _front_and_hull(points)
    fig.add_trace(
        go.Scatter(
            x=front["cost"],
            y=front["quality"],
            mode="lines",
            name="Pareto frontier = zero-router hull" if same else "Pareto frontier",
            line={"dash": "dot", "color": "green", "width": 3 if same else 2},
        )
    )
    if not same:  # drawn once when they coincide, so neither hides the other
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
        xaxis_title="mean cost per item (USD" + (", log scale)" if wide else ")"),
        xaxis_type="log" if wide else "linear",
        xaxis_tickformat="$.2~g",  # dollars, not SI prefixes ("10µ" reads as micro-something)
        yaxis_title="mean score",
        yaxis_range=_score_range(points, router),
        template="plotly_white",
        height=450,
        margin={"l": 60, "r": 30, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _log_cost_axis(points: pd.DataFrame) -> bool:
    """Whether costs span enough (over 50x, all positive) to be drawn on a log axis."""
    positive = points["cost"].dropna()
    return bool(len(positive) and (positive > 0).all() and positive.max() / positive.min() > 50)


def _front_and_hull(points: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """The Pareto frontier, the zero-router hull, and whether they are the same line (then drawn once)."""
    front, hull = pareto_frontier(points), zero_router_hull(points)
    columns = ["cost", "quality"]
    same = front[columns].reset_index(drop=True).equals(hull[columns].reset_index(drop=True))
    return front, hull, same


def _score_range(points: pd.DataFrame, router: pd.DataFrame | None) -> list[float] | None:
    """[0, 1] with a margin when every score is in it (the scale of llmbench scores); else plotly's own choice."""
    values = pd.concat([points["quality"], router["quality"] if router is not None and len(router) else None])
    values = values.dropna()
    if len(values) and values.between(0, 1).all():
        return [-0.05, 1.05]
    return None


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
