"""How a simulated model uses tools, so that every tool path runs offline: offered tools on a user turn, it calls the
one whose name and description share the most words with the prompt (the first on a tie), once per proper noun in
the prompt ("Weather in Paris and Rome?" -> two calls, in parallel), with arguments made from the tool's JSON
Schema; given the results, it answers in text from them. Deterministic: the same conversation, the same calls.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from llmbench.providers.types import Message, ToolCall, ToolResult, ToolSpec

__all__ = ["answer_from_results", "sim_tool_calls"]

_WORD = re.compile(r"[a-z0-9]+")
_NAME = re.compile(r"\b[A-Z][a-z]+\b")  # a capitalised word: a name (not an all-caps one)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_MAX_CALLS = 5


def sim_tool_calls(messages: list[Message], tools: list[ToolSpec] | None) -> list[ToolCall]:
    """The calls a simulated model makes now: none without tools, or when the last turn carries tool results
    (then it answers from them)."""
    if not tools or not messages or _results(messages[-1]):
        return []
    prompt = messages[-1].text
    words = set(_WORD.findall(prompt.lower()))
    tool = max(
        tools,
        key=lambda t: len(words & set(_WORD.findall(f"{t.name} {t.description}".lower().replace("_", " ")))),
    )
    first = prompt.split(maxsplit=1)[0] if prompt.split() else ""
    names = list(dict.fromkeys(n for n in _NAME.findall(prompt) if n != first))[:_MAX_CALLS]
    if not _string_property(tool.parameters):
        names = names[:1]
    digest = hashlib.sha1(f"{tool.name}\n{prompt}".encode()).hexdigest()[:10]
    return [
        ToolCall(
            id=f"call_sim_{digest}_{i}", name=tool.name, arguments=_arguments(tool.parameters, prompt, name)
        )
        for i, name in enumerate(names or [None])
    ]


def answer_from_results(model: str, message: Message) -> str | None:
    """The text answer to a turn of tool results (None when the turn carries none)."""
    results = _results(message)
    if not results:
        return None
    said = "; ".join(("error: " if r.is_error else "") + r.content for r in results)
    return f"[simulated {model}] From the tools: {said}"


def _results(message: Message) -> list[ToolResult]:
    return [b for b in message.content if isinstance(b, ToolResult)]


def _string_property(schema: dict[str, Any]) -> str | None:
    props = schema.get("properties") or {}
    return next(
        (k for k in schema.get("required", list(props)) if (props.get(k) or {}).get("type") == "string"), None
    )


def _arguments(schema: dict[str, Any], prompt: str, name: str | None) -> dict[str, Any]:
    """A value for every required property (all of them when none is marked required) of its type."""
    props: dict[str, Any] = schema.get("properties") or {}
    named = _string_property(schema)
    numbers = _NUMBER.findall(prompt)
    out: dict[str, Any] = {}
    for key in schema.get("required", list(props)):
        spec = props.get(key) or {}
        kind = spec.get("type")
        if spec.get("enum"):
            out[key] = spec["enum"][0]
        elif kind == "string":
            out[key] = name if key == named and name else str(spec.get("default", "example"))
        elif kind == "integer":
            out[key] = int(float(numbers[0])) if numbers else 1
        elif kind == "number":
            out[key] = float(numbers[0]) if numbers else 1.0
        elif kind == "boolean":
            out[key] = True
        elif kind == "array":
            out[key] = []
        elif kind == "object":
            out[key] = {}
    return out
