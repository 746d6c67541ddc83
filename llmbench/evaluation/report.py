"""What one `llmbench eval` did, as the runners report it and the CLI prints it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["ModelProgress", "RunReport"]


@dataclass
class ModelProgress:
    """One model's part of a run: the (item, epoch) runs left to do when it started, and how they ended."""

    total: int = 0
    finished: int = 0
    failed: int = 0
    spent_usd: float = 0.0  # what its calls in this run cost


@dataclass
class RunReport:
    """What a run did: counts, spend and whether it stopped early (and why)."""

    experiment: str
    planned: int = 0
    skipped: int = 0
    finished: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    spent_before_usd: float = 0.0
    unknown_outcome: int = 0  # attempts sent in earlier runs whose outcome never arrived (counted in spend)
    stopped_by_budget: bool = False
    stopped_by: str | None = None  # an error no retry can heal, in one line
    interrupted: bool = False
    submitted: int = 0  # requests handed to provider batch APIs in this run
    pending: int = 0  # requests in provider batches not collected yet
    pending_usd: float = 0.0  # their estimated cost (in spent_usd until collected)
    gave_up: int = 0  # batch requests that failed twice (not submitted again)
    results_gone: int = 0  # batch requests whose batch ended but whose results the provider no longer has
    elapsed_s: float = 0.0
    unrecorded: list[str] = field(default_factory=list)  # results the store refused (each alone), in words
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    models: dict[str, ModelProgress] = field(default_factory=dict)  # per model, in the experiment's order

    def spend(self, model: str, usd: float) -> None:
        """Count what a call of `model` cost."""
        self.spent_usd += usd
        self.models.setdefault(model, ModelProgress()).spent_usd += usd

    def count(self, model: str, *, finished: int = 0, failed: int = 0) -> None:
        """Count runs of `model` that ended (answered and scored, or failed for good)."""
        self.finished += finished
        self.failed += failed
        progress = self.models.setdefault(model, ModelProgress())
        progress.finished += finished
        progress.failed += failed

    @property
    def complete(self) -> bool:
        """Whether every planned item finished (the only case `llmbench eval` exits 0)."""
        return self.finished + self.skipped == self.planned and not (
            self.interrupted or self.stopped_by_budget or self.stopped_by or self.unrecorded
        )
