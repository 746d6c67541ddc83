"""A streamed chat completion accumulated in linear time, for `OpenAIProvider._stream`.

The SDK's `ChatCompletionStreamState` dumps and rebuilds the whole message snapshot on every chunk, so a long
answer costs time quadratic in its length (a 20 MB streamed answer kept the gateway CPU-bound for minutes).
Here each piece is appended to a list and joined once at the end; strings concatenate as the SDK's
`accumulate_delta` does (ids and names too), so the result is the same completion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

    def add(self, chunk: Mapping[str, Any]) -> None:
        """Take one chunk (a parsed `chat.completion.chunk` object)."""
        self.chunks += 1
        self.id = self.id or chunk.get("id")
        self.model = self.model or chunk.get("model")
        if chunk.get("usage") is not None:
            self.usage = chunk["usage"]  # some servers send usage before a final empty chunk
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.content.append(delta["content"])
            if delta.get("refusal"):
                self.refusal.append(delta["refusal"])
            if delta.get("reasoning_content"):
                self.reasoning.append(delta["reasoning_content"])
            for tc in delta.get("tool_calls") or ():
                call = self.calls.setdefault(tc.get("index", 0), _Call())
                if tc.get("id"):
                    call.id.append(tc["id"])
                if tc.get("type"):
                    call.type = tc["type"]
                fn = tc.get("function")
                if fn:
                    if fn.get("name"):
                        call.name.append(fn["name"])
                    if fn.get("arguments"):
                        call.arguments.append(fn["arguments"])
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def completion(self) -> dict[str, Any]:
        """The accumulated answer as a `chat.completion` object (what `completion_from_openai` reads)."""
        calls = [
            {
                "id": "".join(c.id) or None,
                "type": c.type,
                "function": {"name": "".join(c.name), "arguments": "".join(c.arguments)},
            }
            for _, c in sorted(self.calls.items())
        ]
        message = {
            "role": "assistant",
            "content": "".join(self.content) or None,
            "refusal": "".join(self.refusal) or None,
            "reasoning_content": "".join(self.reasoning) or None,
            "tool_calls": calls or None,
        }
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        return {"id": self.id, "model": self.model, "choices": [choice], "usage": self.usage}
