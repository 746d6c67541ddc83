"""What every scorer is: `await scorer.score(answer, item) -> Score`, with `score_sync` for plain code."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from llmbench.errors import ConfigError
from llmbench.providers.types import ToolCall
from llmbench.registry import Registry


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


@dataclass(frozen=True)
class Answer:
    """What a scorer grades: the model's text and the tool calls it made (inspect_ai's `TaskState` in small)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    @classmethod
    def of(cls, value: Answer | str) -> Answer:
        """An `Answer` from itself or plain text. (The runner makes one from a completion's text and tool calls:
        a scorer never receives the completion, so it cannot see which model answered.)"""
        return value if isinstance(value, Answer) else cls(value)

    def stored(self) -> str:
        """The store's `response` text: the answer text, or JSON with the tool calls when it called tools."""
        if not self.tool_calls:
            return self.text
        calls = [c.model_dump(exclude={"type"}) for c in self.tool_calls]
        return json.dumps({"tool_calls": calls, "text": self.text}, ensure_ascii=False)

    @classmethod
    def from_stored(cls, response: str) -> Answer:
        """The `Answer` a stored `response` holds (the inverse of `stored`)."""
        try:
            data = json.loads(response)
        except ValueError:
            return cls(response)
        if not isinstance(data, dict) or not isinstance(data.get("tool_calls"), list):
            return cls(response)
        calls = tuple(ToolCall.model_validate(c) for c in data["tool_calls"])
        return cls(str(data.get("text") or ""), calls)


class Experiment(Protocol):
    """What a scorer may read of the experiment it scores (`llmbench.evaluation.ExperimentConfig` is one)."""

    @property
    def judge_model(self) -> str | None: ...

    @property
    def unsafe_code(self) -> bool: ...

    @property
    def simulated(self) -> bool: ...


@dataclass(frozen=True)
class Examples:
    """Answers this scorer grades as right and as wrong for an item: what the simulator answers with."""

    correct: str
    wrong: tuple[str, ...] = field(default=("I am not sure; possibly something else entirely.",))

    def pick(self, correct: bool, seed: float) -> str:
        """The correct answer, or one of the wrong ones chosen by `seed`."""
        return self.correct if correct else random.Random(seed).choice(self.wrong)


def metadata_of(item: Any) -> dict[str, Any]:
    """The metadata of an `Item` or of a dict with a "metadata" key (empty when it has none)."""
    meta = getattr(item, "metadata", None)
    if meta is None and isinstance(item, dict):
        meta = item.get("metadata")
    return dict(meta or {})


class Scorer:
    """Base class: `await scorer.score(answer, item)` or `scorer.score_sync(answer, item)`.

    Scorers implement `grade` (synchronous) or `agrade` (when they wait on I/O); both get an `Answer`, while
    `score`/`score_sync` also take plain text. A subclass registers itself with `@SCORERS.register`: its `name`
    and `aliases` find it, `from_experiment` builds it for an experiment, `examples` teaches the simulator.
    """

    name: ClassVar[str] = "scorer"
    aliases: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_experiment(cls, experiment: Experiment, **options: Any) -> Scorer:
        """This scorer as an experiment runs it (`options`: the user's own, which win)."""
        return cls(**options)

    def examples(self, item: Any) -> Examples:
        """An answer this scorer grades right for `item`, and plausible wrong ones (by the item's shape: a JSON
        reference loses a key, a number is off by a little, a label becomes another label)."""
        ref, meta = reference_of(item), metadata_of(item)
        correct = f"```json\n{json.dumps(ref)}\n```" if isinstance(ref, dict | list) else str(ref)
        if isinstance(ref, dict) and ref:
            return Examples(correct, tuple(_without(ref, key) for key in sorted(ref)))
        try:
            value = float(str(ref).replace(",", ""))
        except ValueError:
            pass
        else:
            return Examples(correct, tuple(_off_by(value, off) for off in (-3, -2, -1, 1, 2, 5, 10)))
        labels = [c for c in meta.get("choices", meta.get("labels", [])) if str(c) != str(ref)]
        return Examples(correct, tuple(map(str, labels))) if labels else Examples(correct)

    def grade(self, answer: Answer, item: Any) -> Score:
        """Grade synchronously (scorers that wait on I/O implement `agrade` instead)."""
        raise NotImplementedError(f"{type(self).__name__} must implement grade or agrade")

    async def agrade(self, answer: Answer, item: Any) -> Score:
        """Grade asynchronously (by default: `grade`)."""
        return self.grade(answer, item)

    async def score(self, answer: Answer | str, item: Any) -> Score:
        """Score an answer (or plain text) for `item`."""
        return await self.agrade(Answer.of(answer), item)

    def score_sync(self, answer: Answer | str, item: Any) -> Score:
        """Score from plain code; an asynchronous scorer refuses inside a running loop (its client is bound to
        the loop it was made in), pointing to `await scorer.score(...)`."""
        if type(self).agrade is Scorer.agrade:
            return self.grade(Answer.of(answer), item)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.score(answer, item))
        raise ConfigError(
            f"scorer {self.name!r} is asynchronous; inside an event loop use `await scorer.score(...)`."
        )

    def preflight(self) -> None:
        """Raise ConfigError when this scorer cannot work here; called before any paid call."""

    def check_item(self, item: Any) -> None:
        """Raise DataError when this scorer could not score `item` (e.g. a bad regex); called before any paid
        call, so a broken item is found before money is spent on it."""

    def __call__(self, answer: Answer | str, item: Any) -> Score:
        return self.score_sync(answer, item)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _without(ref: dict[str, Any], key: str) -> str:
    broken = {k: v for k, v in ref.items() if k != key}
    return f"```json\n{json.dumps(broken)}\n```"


def _off_by(value: float, off: int) -> str:
    wrong = value + off if value.is_integer() else round(value * (1 + off / 10), 4)
    return (
        f"Working through the steps, the final answer is {int(wrong) if float(wrong).is_integer() else wrong}"
    )


SCORERS: Registry[type[Scorer]] = Registry(
    "scorer", base=Scorer, package="llmbench.scorers", entry_points="llmbench.scorers"
)
