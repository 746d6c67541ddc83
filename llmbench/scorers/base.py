"""What every scorer is: `await scorer.score(output, item) -> Score`, with `score_sync` for plain code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from llmbench.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Score:
    """A verdict: `value` in 0..1 (1 = fully correct), why, and what the scoring itself cost (LLM judges)."""

    value: float
    explanation: str = ""
    cost_usd: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"a score value must lie in 0..1, got {self.value}")


def reference_of(item: Any) -> Any:
    """The reference of an `Item`, of a dict with a "reference" key, or `item` itself (a bare reference)."""
    if hasattr(item, "reference"):
        return item.reference
    if isinstance(item, dict) and "reference" in item:
        return item["reference"]
    return item


class Scorer:
    """Base class. Cheap scorers implement `score_sync`; scorers that wait on I/O override `score`."""

    name: ClassVar[str] = "scorer"

    def score_sync(self, output: str, item: Any) -> Score:
        """Score synchronously (async scorers run their coroutine here when no event loop is running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.score(output, item))
        raise ConfigError(
            f"scorer {self.name!r} is asynchronous; inside an event loop use `await scorer.score(...)`."
        )

    def preflight(self) -> None:
        """Raise ConfigError when this scorer cannot work here; called before any paid call."""

    def check_item(self, item: Any) -> None:
        """Raise DataError when this scorer could not score `item` (e.g. a bad regex); called before any paid
        call, so a broken item is found before money is spent on it."""

    async def score(self, output: str, item: Any) -> Score:
        """Score asynchronously."""
        if type(self).score_sync is Scorer.score_sync:
            raise NotImplementedError(f"{type(self).__name__} must implement score or score_sync")
        return self.score_sync(output, item)

    def __call__(self, output: str, item: Any) -> Score:
        return self.score_sync(output, item)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
