"""What the fake API says: word counts as tokens, echo replies, example tool arguments from a JSON schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["echo_reply", "example_args", "forced_tool", "prompt_words", "word_count"]

_WORD = re.compile(r"\S+")


def word_count(text: str) -> int:
    """The fake servers' token count: whitespace-separated words."""
    return len(_WORD.findall(text))


def _texts(content: Any) -> list[str]:
    """Text pieces of an OpenAI/Anthropic message content (a string or a list of parts)."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for part in content or []:
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            elif "content" in part:  # tool results
                out += _texts(part["content"])
    return out


def prompt_words(body: Mapping[str, Any]) -> tuple[int, str]:
    """(prompt word count over system + all messages, text of the last user message)."""
    total, last_user = 0, ""
    system = body.get("system")
    if system:
        total += sum(word_count(t) for t in _texts(system))
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        text = " ".join(_texts(msg.get("content")))
        total += word_count(text)
        if msg.get("role") == "user":
            last_user = text
    return max(total, 1), last_user


def echo_reply(last_user_text: str, max_tokens: int | None) -> tuple[list[str], bool]:
    """The fake reply's words ("Echo:" + the user's words, at most 64) and whether max_tokens cut it."""
    words = ["Echo:", *_WORD.findall(last_user_text)[:64]]
    if max_tokens is not None and max_tokens < len(words):
        return words[: max(max_tokens, 0)], True
    return words, False


def example_args(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Smallest arguments satisfying a flat JSON-Schema object's required properties."""
    simple = {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    args: dict[str, Any] = {}
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        prop = props.get(name) or {}
        if "enum" in prop:
            args[name] = prop["enum"][0]
        else:
            kind = prop.get("type", "string")
            args[name] = simple.get(kind[0] if isinstance(kind, list) else kind, "x")
    return args


def forced_tool(tools: Any, choice: Any, *, anthropic: bool) -> dict[str, Any] | None:
    """The tool a forcing tool_choice selects, else None (the fake never calls tools on its own)."""
    if not isinstance(tools, list) or not tools:
        return None
    named = None
    if anthropic and isinstance(choice, dict):
        if choice.get("type") == "any":
            return dict(tools[0])
        named = choice.get("name") if choice.get("type") == "tool" else None
    elif not anthropic:
        if choice == "required":
            return dict(tools[0])
        if isinstance(choice, dict):
            named = (choice.get("function") or {}).get("name")
    if named is None:
        return None
    for tool in tools:
        name = tool.get("name") if anthropic else (tool.get("function") or {}).get("name")
        if name == named:
            return dict(tool)
    return None
