"""The offline simulator (`sim:` models): seeded, deterministic stand-ins for real models. SIMULATED DATA.

Each simulated model has a per-task skill; an item has a difficulty in [0, 1]. The chance of a correct answer is
`sigmoid(SHARPNESS * (skill[task] - difficulty))`, drawn from a hash of (seed, model, item, epoch), so reruns
give the same answers. Tokens follow the prompt and answer lengths times the model's verbosity, and cost uses
the real list price of the model it stands for. An eval passes each item's hint (`SIM_ITEM`): the answers the item's
scorer grades right and wrong (`Scorer.examples`), so the ordinary scorers grade what the simulator says. Without an item (plain prompts) the simulator answers with a canned, labelled text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from llmbench import errors
from llmbench.providers.base import ItemLike, Provider
from llmbench.providers.model_ref import ModelRef
from llmbench.providers.pricing import estimate_tokens
from llmbench.providers.sim_tools import answer_from_results, sim_tool_calls
from llmbench.providers.types import (
    Completion,
    ContentBlock,
    Message,
    StopEvent,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolSpec,
    Usage,
)

SHARPNESS = 8.0
SIM_ITEM = "sim_item"  # the call parameter that carries an eval item's hint to a simulated model
TASKS = ("arithmetic", "code", "extraction", "classification", "factual")


@dataclass(frozen=True)
class SimModel:
    """A simulated model: the real model whose price it uses, skills per task, verbosity, latency."""

    price_ref: ModelRef  # the real model whose list price a simulated call costs
    skill: dict[str, float]
    verbosity: float
    latency_s: float
    notes: str = ""
    default_skill: float = field(default=0.0)

    def skill_for(self, task: str | None) -> float:
        """Skill on a task; unknown tasks get the model's mean skill."""
        if task is not None and task in self.skill:
            return self.skill[task]
        return self.default_skill or sum(self.skill.values()) / len(self.skill)


# Skills are invented but shaped like public leaderboards: bigger models win on arithmetic and code, small
# ones are close on classification and extraction, which is where routing saves money.
SIM_MODELS: dict[str, SimModel] = {
    "gpt-4.1-nano": SimModel(
        ModelRef("openai", "gpt-4.1-nano"),
        {"arithmetic": 0.2, "code": 0.15, "extraction": 0.6, "classification": 0.8, "factual": 0.4},
        verbosity=0.9,
        latency_s=0.15,
    ),
    "gpt-4o-mini": SimModel(
        ModelRef("openai", "gpt-4o-mini"),
        {"arithmetic": 0.45, "code": 0.4, "extraction": 0.75, "classification": 0.88, "factual": 0.55},
        verbosity=1.1,
        latency_s=0.3,
    ),
    "claude-3-5-haiku": SimModel(
        ModelRef("anthropic", "claude-3-5-haiku-latest"),
        {"arithmetic": 0.4, "code": 0.6, "extraction": 0.8, "classification": 0.85, "factual": 0.5},
        verbosity=1.0,
        latency_s=0.35,
    ),
    "gpt-4o": SimModel(
        ModelRef("openai", "gpt-4o"),
        {"arithmetic": 0.75, "code": 0.7, "extraction": 0.88, "classification": 0.9, "factual": 0.8},
        verbosity=1.3,
        latency_s=0.6,
    ),
    "claude-sonnet-4": SimModel(
        ModelRef("anthropic", "claude-sonnet-4-0"),
        {"arithmetic": 0.85, "code": 0.92, "extraction": 0.9, "classification": 0.88, "factual": 0.82},
        verbosity=1.6,
        latency_s=0.8,
    ),
}


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts (stable across processes, unlike hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SimProvider(Provider):
    """A simulated model. Pass `sim_item=sim_item(item, epoch, scorer.examples(item))` to get graded answers."""

    provider = "sim"

    def __init__(
        self,
        model: str,
        *,
        seed: int = 0,
        time_scale: float = 0.1,
        fault_rate: float = 0.02,
        **options: Any,
    ) -> None:
        if model not in SIM_MODELS:
            raise errors.ConfigError(f"unknown simulated model {model!r}; choose one of {sorted(SIM_MODELS)}")
        super().__init__(model, seed=seed, **options)
        self.spec = SIM_MODELS[model]
        self.seed = seed
        self.time_scale = time_scale
        self.fault_rate = fault_rate
        self._calls: dict[str, int] = {}

    @classmethod
    def from_options(cls, model: str, **options: Any) -> Provider:
        """Build from the registry's options; the simulator has no server, key or HTTP client."""
        for key in ("base_url", "api_key", "http_client"):
            options.pop(key, None)
        return cls(model, **options)

    def latency_of(self, result: Completion, measured: float) -> float:
        """The seeded latency it simulated, not the measured one: a loaded machine's scheduling delays are not the
        model's, and would make two runs' latency columns differ."""
        return result.latency_s or measured

    def price_ref(self, result: Completion | None) -> ModelRef:
        return self.spec.price_ref

    def price_note(self) -> str | None:
        """None: a simulated call costs its model's list price or nothing, and is never billed."""
        return None

    @property
    def simulated(self) -> bool:
        """Answers are simulated: an eval passes each item's example answers (`SIM_ITEM`)."""
        return True

    def _answer(self, messages: list[Message], item: dict[str, Any] | None) -> tuple[str, bool | None]:
        if not item:
            from_tools = answer_from_results(self.model, messages[-1]) if messages else None
            if from_tools is not None:
                return from_tools, None
            prompt = messages[-1].text if messages else ""
            return f"[simulated {self.model}] I read your {len(prompt)}-character prompt.", None
        key = (self.seed, self.model, item.get("item_id"), item.get("epoch", 0))
        difficulty = float(item.get("difficulty", 0.5))
        p = 1.0 / (1.0 + math.exp(-SHARPNESS * (self.spec.skill_for(item.get("task")) - difficulty)))
        correct = _unit(*key, "correct") < p
        text = item["correct"] if correct else random.Random(_unit(*key, "wrong")).choice(item["wrong"])
        return str(text), correct

    async def _call(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        item = params.get(SIM_ITEM)
        call_key = json.dumps([item.get("item_id"), item.get("epoch", 0)] if item else messages[-1].text)
        n = self._calls[call_key] = self._calls.get(call_key, 0) + 1
        latency = self.spec.latency_s * self.time_scale * (0.7 + 0.6 * _unit(call_key, n))
        await asyncio.sleep(latency)
        # A first attempt sometimes meets a simulated rate limit, so retries show up in the logs.
        if n == 1 and _unit(self.seed, self.model, call_key, "fault") < self.fault_rate:
            raise errors.RateLimitError(
                f"sim:{self.model}: simulated rate limit (429)",
                provider="sim",
                status_code=429,
                retry_after=0.01,
            )
        # an eval item is answered in its scorer's format; a conversation offered tools calls them
        calls = [] if item else sim_tool_calls(messages, tools)
        text = "" if calls else self._answer(messages, item)[0]
        prompt_text = "".join(m.text for m in messages)
        written = text + "".join(c.name + c.arguments_json() for c in calls)
        out_tokens = max(1, round(estimate_tokens(written) * self.spec.verbosity))
        limit = params.get("max_tokens")
        stop = "tool_calls" if calls else "stop"
        if limit is not None and out_tokens > limit and not calls:
            out_tokens, text, stop = limit, text[: limit * 4], "length"
        content: list[ContentBlock] = list(calls) if calls else [TextBlock(text=text)]
        return Completion(
            model_id=self.model_id,
            provider="sim",
            model=f"{self.model} (simulated)",
            content=content,
            stop_reason=stop,  # type: ignore[arg-type]
            raw_stop_reason=stop,
            usage=Usage(input_tokens=estimate_tokens(prompt_text), output_tokens=out_tokens),
            request_id=f"sim-{hashlib.sha1(call_key.encode()).hexdigest()[:12]}-{n}",
            simulated=True,
            latency_s=latency,
        )

    async def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        completion = await self._call(messages, tools, params)
        calls = [b for b in completion.content if isinstance(b, ToolCall)]
        for index, call in enumerate(calls):
            yield ToolCallStart(index=index, id=call.id, name=call.name)
            yield ToolCallDelta(index=index, arguments_delta=call.arguments_json())
            yield ToolCallEnd(index=index, call=call)
        if not calls:
            for word in completion.text.split(" "):
                yield TextDelta(text=word + " ")
        yield StopEvent(stop_reason=completion.stop_reason, completion=completion)


def sim_item(item: ItemLike, epoch: int, examples: Any) -> dict[str, Any]:
    """The hint a simulated model answers an eval item from: its id, epoch, task and difficulty, and the answers
    its scorer grades right and wrong (`llmbench.scorers.Examples`)."""
    return {
        "item_id": item.id,
        "epoch": epoch,
        "task": item.task,
        "difficulty": item.difficulty if item.difficulty is not None else 0.5,
        "correct": examples.correct,
        "wrong": list(examples.wrong),
    }
