"""The report's tables as people read them: plain-language headers with units, numbers formatted per column
(no `1.98e-05` beside `0.0004`, no `<NA>`), models grouped under their provider, tasks against models."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "fmt_usd", "per_task_table", "table_html"]


def _missing(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def fmt_usd(v: Any) -> str:
    """Dollars with three significant digits and no exponent ($0.0000152, $1.23, $1,234)."""
    if _missing(v):
        return "–"
    v = float(v)
    if v == 0:
        return "$0"
    if abs(v) >= 100:
        return f"${v:,.0f}"
    return "$" + np.format_float_positional(v, precision=3, unique=False, fractional=False, trim="-")


def _fixed(digits: int) -> Callable[[Any], str]:
    return lambda v: "–" if _missing(v) else f"{float(v):,.{digits}f}"


def _count(v: Any) -> str:
    return "–" if _missing(v) else f"{round(float(v)):,}"


def _pct(v: Any) -> str:
    return "–" if _missing(v) else f"{100 * float(v):.1f}%"


# column -> (header, formatter); columns not listed keep their name and a plain rendering
COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "experiment": ("experiment", str),
    "model": ("model", str),
    "task": ("task", str),
    "provider": ("provider", str),
    "runs": ("runs", _count),
    "scored": ("scored", _count),
    "score_mean": ("score", _fixed(3)),
    "score_se": ("± s.e.", _fixed(3)),
    "correct": ("correct", _fixed(1)),
    "cost_usd": ("cost", fmt_usd),
    "cost_per_item": ("cost / item", fmt_usd),
    "cost_per_correct": ("cost / correct", fmt_usd),
    "latency_p50": ("latency p50 (s)", _fixed(2)),
    "latency_p95": ("latency p95 (s)", _fixed(2)),
    "errors": ("failed runs", _count),
    "error_rate": ("failed", _pct),
    "input_tokens": ("input tokens", _count),
    "output_tokens": ("output tokens", _count),
    "attempts": ("attempts", _count),
    "failed_attempts": ("failed attempts", _count),
    "rating": ("rating", _fixed(0)),
    "lower": ("95% low", _fixed(0)),
    "upper": ("95% high", _fixed(0)),
    "count": ("count", _count),
    "error": ("error", str),
    "example message": ("example message", str),
    "n": ("items", _count),
    "cost": ("cost / item", fmt_usd),
    "quality": ("score", _fixed(3)),
}
_LEFT = {"experiment", "model", "task", "provider", "error", "example message"}


def _render(column: str, value: Any) -> str:
    _, formatter = COLUMNS.get(column, (column, None))
    if formatter is None:
        if _missing(value):
            return "–"
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return "–" if _missing(value) else formatter(value)


def table_html(frame: pd.DataFrame, *, group_by: str | None = None, css: str = "data") -> str:
    """An HTML table with readable headers and formatted cells; rows grouped under a header row per `group_by`
    value (e.g. the provider) when given. Wrapped so a wide table scrolls instead of widening the page."""
    columns = [c for c in frame.columns if c != group_by]
    head = "".join(
        f"<th class='{'l' if c in _LEFT else 'r'}'>{html.escape(COLUMNS.get(c, (c,))[0])}</th>"
        for c in columns
    )
    rows: list[str] = []
    groups = frame.groupby(group_by, sort=False) if group_by else [(None, frame)]
    for key, part in groups:
        if group_by:
            rows.append(f"<tr class='group'><th colspan='{len(columns)}'>{html.escape(str(key))}</th></tr>")
        for record in part.to_dict("records"):
            cells = "".join(
                f"<td class='{'l' if c in _LEFT else 'r'}'>{html.escape(_render(c, record[c]))}</td>"
                for c in columns
            )
            rows.append(f"<tr>{cells}</tr>")
    return (
        f"<div class='scroll'><table class='{css}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def per_task_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean score per task (rows) and model (columns), with each task's item count."""
    scores = runs.pivot_table(index="task", columns="model", values="score", aggfunc="mean")
    scores.columns = [str(c) for c in scores.columns]
    items = runs.groupby("task")["item_id"].nunique().rename("n").to_frame()
    return items.join(scores, how="left").reset_index()  # a task without any score keeps its row


def score_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-task scores formatted to three places (model columns have no entry in COLUMNS)."""
    out = frame.copy()
    for col in out.columns:
        if col not in ("task", "n"):
            out[col] = out[col].map(
                lambda v: "–" if _missing(v) or math.isnan(float(v)) else f"{float(v):.3f}"
            )
    return out


def route_mix(runs: pd.DataFrame, calls: pd.DataFrame | None) -> pd.DataFrame:
    """For routed models (`router:...`): which model answered how often, per task and overall, and its share of
    the cost; one row per (router, task, answering model). Empty when nothing was routed."""
    cols = ["router", "task", "answered by", "answers", "share", "cost share"]
    if calls is None or "route_policy" not in calls.columns or calls["route_policy"].isna().all():
        return pd.DataFrame(columns=cols)
    routed = calls[calls["route_policy"].notna() & calls["final"].astype(bool)]
    routed = routed.assign(answered=routed["attempt_model"].fillna(routed["route_chosen"]))
    tasks = runs[["experiment", "item_id", "task"]].drop_duplicates(["experiment", "item_id"])
    routed = routed.merge(tasks, on=["experiment", "item_id"], how="left")
    routed["task"] = routed["task"].fillna("unknown")
    parts = []
    for scope in (["model_id"], ["model_id", "task"]):
        g = routed.groupby([*scope, "answered"], dropna=False)
        part = g.agg(answers=("run_key", "size"), cost=("cost_usd", "sum")).reset_index()
        totals = part.groupby(scope)[["answers", "cost"]].transform("sum")
        part["share"] = part["answers"] / totals["answers"]
        part["cost share"] = part["cost"] / totals["cost"].where(totals["cost"] > 0)
        parts.append(part.assign(task="all") if "task" not in scope else part)
    out = pd.concat(parts, ignore_index=True).rename(
        columns={"model_id": "router", "answered": "answered by"}
    )
    return out.sort_values(["router", "task", "answers"], ascending=[True, True, False])[cols].reset_index(
        drop=True
    )


def route_mix_section(runs: pd.DataFrame, calls: pd.DataFrame | None) -> list[str]:
    """The report's route-mix block (nothing when no model was routed)."""
    mix = route_mix(runs, calls)
    if not len(mix):
        return []
    shown = mix.assign(
        share=mix["share"].map("{:.1%}".format), **{"cost share": mix["cost share"].map(_share)}
    )
    return ["<h2 id='route-mix'>Route mix</h2>", table_html(shown)]


def _share(v: Any) -> str:
    return "–" if _missing(v) or math.isnan(float(v)) else f"{float(v):.1%}"
