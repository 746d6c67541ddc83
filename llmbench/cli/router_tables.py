"""The tables `llmbench router eval` prints: the held-out comparison, its bootstrap intervals, per-task figures."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from llmbench.cli.options import fmt

__all__ = ["candidate_table", "interval_table", "per_task_table", "results_table"]


def results_table(table: Any, title: str) -> Table:
    """The baseline comparison as a rich table. A single model's AIQ is not shown: it is one point, whose area
    counts only budgets from its own cost up (the dearest model's is 0), so it reads as a score it is not."""
    t = Table(
        title=title,
        caption="AIQ: the area under a router's cost/quality curve; a single model, one point, has none",
    )
    cols = [c for c in table.columns if c != "kind"]
    for c in cols:
        t.add_column(c, justify="left" if c == "router" else "right", no_wrap=c == "router")
    specs = {
        "AIQ": ".4f",
        "AIQ (bet)": ".4f",
        "peak quality": ".4f",
        "cost at best-model quality": ".6f",
        "cost saving": ".1%",
        "APGR": ".3f",
        "CPT(50%)": ".1%",
        "CPT(80%)": ".1%",
    }
    for rec in table.to_dict("records"):
        style = "bold" if rec["router"] == "router" else ("dim" if rec["kind"] == "upper bound" else None)
        point = rec["kind"] == "single model"
        t.add_row(
            *[
                str(rec[c])
                if c == "router"
                else fmt(None if point and c.startswith("AIQ") else rec[c], specs.get(c, ".4f"))
                for c in cols
            ],
            style=style,
        )
    return t


def interval_table(intervals: Any, n_boot: int) -> Table:
    """Bootstrap intervals of the learned routers and baselines as a rich table."""
    t = Table(title=f"90% intervals over {n_boot} resamples of the test prompts (how much is noise)")
    for c in intervals.columns:
        t.add_column(c, justify="left" if c == "router" else "right", no_wrap=c == "router")
    for rec in intervals.to_dict("records"):
        t.add_row(
            *[
                str(rec[c])
                if c == "router"
                else fmt(rec[c], ".1%" if "saving" in c or "reaches" in c else ".4f")
                for c in intervals.columns
            ]
        )
    return t


def per_task_table(per_task: Any) -> Table:
    """Per-task breakdown at the cheapest operating point that matches the best single model."""
    t = Table(
        title="Per task (router and task prior at their cheapest point matching the best model's quality)"
    )
    for c in per_task.columns:
        t.add_column(c, justify="left" if c == "task" else "right")
    for rec in per_task.to_dict("records"):
        t.add_row(
            *[
                str(rec[c]) if c in ("task", "n") else fmt(rec[c], ".6f" if "cost" in c else ".4f")
                for c in per_task.columns
            ]
        )
    return t


def candidate_table(router: Any) -> Table:
    """The candidate estimators' out-of-fold AIQ on the training split, the choice, and its weights per task."""
    names = list(router.blend_)
    title = f"Candidates, cross-fitted inside the training split: chosen {router.choice_}"
    table = Table(title=title)
    table.add_column("task", no_wrap=True)
    for name in names:
        table.add_column(f"{name} weight", justify="right")
    scores = router.candidate_scores_
    table.add_row("out-of-fold score", *[fmt(scores.get(n), ".4f") for n in names], style="dim")
    for t, task in enumerate(router.classes_):
        table.add_row(str(task), *[fmt(float(router.blend_[n][t]), ".2f") for n in names])
    if "blend" in scores:
        table.caption = f"blend out-of-fold score {scores['blend']:.4f}"
    return table


def robustness_table(kept: Any) -> Table:
    """`llmbench.router.robustness.robustness` as a rich table."""
    t = Table(title="Decisions kept when the test prompts are perturbed (seeded)")
    for c in ("perturbation", "prompts", "changed", "decision kept", "models used"):
        t.add_column(c, justify="left" if c == "perturbation" else "right")
    for rec in kept.to_dict("records"):
        shown = (
            str(rec["prompts"]),
            str(rec["changed"]),
            fmt(rec["decision kept"], ".1%"),
            str(rec["models used"]),
        )
        t.add_row(rec["perturbation"], *shown)
    return t
