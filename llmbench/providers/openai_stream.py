"""A streamed chat completion accumulated in linear time, for `OpenAIProvider._stream`.

The SDK's `ChatCompletionStreamState` dumps and rebuilds the whole message snapshot on every chunk, so a long
answer costs time quadratic in its length (a 20 MB streamed answer kept the gateway CPU-bound for minutes).
Here each piece is appended to a list and joined once at the end; strings concatenate as the SDK's
`accumulate_delta` does (ids and names too), so the result is the same completion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

__all__ = ["StreamAccumulator"]


@dataclass
class _Call:
    id: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    type: str = "function"


@dataclass
class StreamAccumulator:
    """Chunks in, one completion out (the first choice, as `completion_from_openai` reads it)."""

    chunks: int = 0
    id: str | None = None
    model: str | None = None
    usage: Any = None
    finish_reason: str | None = None
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)

    def add(self, chunk: Any) -> None:
        """Take one chunk."""
        self.chunks += 1
        self.id = self.id or chunk.id
        self.model = self.model or chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage  # some servers send usage before a final empty chunk
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                self.content.append(delta.content)
            if getattr(delta, "refusal", None):
                self.refusal.append(delta.refusal)
            reasoning = getattr(delta, "reasoning_content", None) or (delta.model_extra or {}).get(
                "reasoning_content"
            )
            if reasoning:
                self.reasoning.append(reasoning)
            for tc in delta.tool_calls or []:
                call = self.calls.setdefault(tc.index, _Call())
                if tc.id:
                    call.id.append(tc.id)
                if tc.type:
                    call.type = tc.type
                if tc.function is not None:
                    if tc.function.name:
                        call.name.append(tc.function.name)
                    if tc.function.arguments:
                        call.arguments.append(tc.function.arguments)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def completion(self) -> Any:
        """The accumulated answer, shaped like a ChatCompletion for `completion_from_openai`."""
        calls = [
            SimpleNamespace(
                id="".join(c.id) or None,
                type=c.type,
                function=SimpleNamespace(name="".join(c.name), arguments="".join(c.arguments)),
            )
            for _, c in sorted(self.calls.items())
        ]
        message = SimpleNamespace(
            content="".join(self.content) or None,
            refusal="".join(self.refusal) or None,
            reasoning_content="".join(self.reasoning) or None,
            tool_calls=calls or None,
            model_extra={},
        )
        choice = SimpleNamespace(index=0, message=message, finish_reason=self.finish_reason)
        return SimpleNamespace(
            id=self.id, model=self.model, choices=[choice], usage=self.usage, _request_id=None
        )
