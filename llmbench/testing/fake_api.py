"""A generative OpenAI/Anthropic-compatible fake API on loopback, in-thread or in a child process.

`FakeOpenAIServer` answers every POST `/v1/chat/completions` (OpenAI) and `/v1/messages` (Anthropic)
deterministically, streaming included, with a seeded fault plan; GET `/_stats` returns its counts.
`llmbench.testing.fake_process.FakeServerProcess` runs one in a child process so that a benchmark's client
event loop does not share its process (and GIL) with the server.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

from llmbench.errors import ConfigError
from llmbench.testing.cassettes import Interaction, RecordedRequest
from llmbench.testing.fake_batches import FakeBatches
from llmbench.testing.fake_replies import echo_reply, example_args, forced_tool, prompt_words
from llmbench.testing.server import LoopbackServer, not_found

__all__ = ["FakeOpenAIServer", "check_faults"]

_CREATED = 1_700_000_000  # fixed timestamp keeps responses deterministic


_FAULT_NAMES = ("timeout", "cut")


def check_faults(faults: Mapping[str, float] | None) -> dict[str, float]:
    plan = {str(k): float(v) for k, v in (faults or {}).items()}
    for name, p in plan.items():
        if not (name in _FAULT_NAMES or (name.isdigit() and 400 <= int(name) <= 599)):
            raise ConfigError(
                f"unknown fault {name!r}: use an HTTP status 400-599 (e.g. '429') or one of {_FAULT_NAMES}"
            )
        if not 0 <= p <= 1:
            raise ConfigError(f"fault {name!r} has probability {p}; it must be between 0 and 1")
    if sum(plan.values()) > 1:
        raise ConfigError(f"fault probabilities sum to {sum(plan.values()):.3f} > 1; lower them")
    return plan


class FakeOpenAIServer(LoopbackServer):
    """Deterministic OpenAI chat-completions and Anthropic messages endpoint with a seeded fault plan.

    Reply: the text `replies` maps the last user message to, else "Echo:" followed by the last user message's
    words (at most 64), cut to `max_tokens` words
    (finish "length" / "max_tokens"). Usage counts whitespace words: prompt = words of system + all messages
    (at least 1), completion = reply words. With `tools` and a forcing tool_choice ("required", a named
    function; Anthropic "any"/"tool") it answers with a tool call whose arguments fill the required properties.
    Faults are drawn per request number n from `random.Random(f"{seed}:{n}")`, so a run of N requests gets
    the same faults at the same request numbers whatever the concurrency. Statuses (e.g. "429", "500") answer
    an error in the provider's shape ("429" with `retry-after: retry_after_s`); "timeout" hangs `hang_s`;
    "cut" drops the connection halfway through the body.
    """

    def __init__(
        self,
        latency_s: float = 0.05,
        *,
        faults: Mapping[str, float] | None = None,
        seed: int = 0,
        chunk_delay_s: float = 0.0,
        retry_after_s: float = 0.0,
        hang_s: float = 30.0,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        replies: Mapping[str, str] | None = None,
        batch_polls: int = 1,
    ) -> None:
        super().__init__(host=host, port=port, record=record)
        self.batches = FakeBatches(self._answer_body, lambda: self.url, polls=batch_polls)
        self.replies = dict(replies or {})  # last user message -> the exact reply text (instead of the echo)
        self.latency_s, self.seed, self.chunk_delay_s = latency_s, seed, chunk_delay_s
        self.retry_after_s, self.hang_s = retry_after_s, hang_s
        self.faults = check_faults(faults)
        self.counts: Counter[str] = Counter()
        self._n = 0

    def stats(self) -> dict[str, int]:
        """Counts so far: "requests" plus one entry per outcome ("ok", "429", "timeout", "cut", "bad_request", ...)."""
        with self._lock:
            return {"requests": self._n, **self.counts}

    def _draw(self, n: int) -> str | None:
        u = random.Random(f"{self.seed}:{n}").random()
        for name, p in self.faults.items():
            if u < p:
                return name
            u -= p
        return None

    def handle(self, request: RecordedRequest) -> Interaction:
        if request.method == "GET" and request.path == "/_stats":
            return Interaction.json(self.stats(), method="GET", path="/_stats")
        return super().handle(request)

    def respond(self, request: RecordedRequest) -> Interaction:
        batch = self.batches.respond(request)
        if batch is not None:
            return batch
        with self._lock:
            n = self._n
            self._n += 1
        if request.path.endswith("/chat/completions"):
            flavour = "openai"
        elif request.path.endswith("/messages"):
            flavour = "anthropic"
        else:
            self._count("not_found")
            return not_found(
                f"FakeOpenAIServer serves POST /v1/chat/completions and /v1/messages, not {request.path}"
            )
        body = request.json
        problem = self._problem(flavour, body)
        if problem:
            self._count("bad_request")
            return self._error(flavour, 400, problem, n)
        fault = self._draw(n)
        self._count(fault or "ok")
        if fault and fault.isdigit():
            return self._error(flavour, int(fault), f"injected fault {fault} on request {n}", n)
        build = self._openai if flavour == "openai" else self._anthropic
        ix = build(body, n).with_faults(delay_s=self.latency_s, chunk_delay_s=self.chunk_delay_s)
        if fault == "timeout":
            return ix.with_faults(delay_s=self.hang_s)
        if fault == "cut":
            return ix.with_faults(cut_after_bytes=max(1, len(ix.body) // 2))
        return ix

    def _answer_body(self, body: dict[str, Any], flavour: str) -> dict[str, Any]:
        """The JSON an interactive call with `body` gets (a batch request's answer)."""
        with self._lock:
            n = self._n
            self._n += 1
        build = self._openai if flavour == "openai" else self._anthropic
        return dict(json.loads(build(body, n).body))

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1

    @staticmethod
    def _problem(flavour: str, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "the request body must be a JSON object"
        if not isinstance(body.get("model"), str):
            return "model: field required"
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return "messages: a non-empty list is required"
        if flavour == "anthropic" and not isinstance(body.get("max_tokens"), int):
            return "max_tokens: field required"
        return None

    def _error(self, flavour: str, status: int, message: str, n: int) -> Interaction:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        kind = kinds.get(status, "api_error")
        headers = {
            "x-request-id": f"req_fake_{n}",
            "request-id": f"req_fake_{n}",
            "x-should-retry": "true" if status in (408, 409, 429) or status >= 500 else "false",
        }
        if status == 429:
            headers["retry-after"] = f"{self.retry_after_s:g}"
            headers["retry-after-ms"] = str(int(self.retry_after_s * 1000))
        if flavour == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            body = {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
        return Interaction.json(body, status=status, headers=headers)

    def _reply(self, body: Mapping[str, Any], limit_keys: tuple[str, ...]) -> tuple[int, list[str], bool]:
        prompt, last_user = prompt_words(body)
        if last_user in self.replies:  # the reply verbatim: " ".join of its space-split parts is the text
            return prompt, self.replies[last_user].split(" "), False
        limit = next((body[k] for k in limit_keys if isinstance(body.get(k), int)), None)
        words, truncated = echo_reply(last_user, limit)
        return prompt, words, truncated

    def _openai(self, body: Mapping[str, Any], n: int) -> Interaction:
        prompt, words, truncated = self._reply(body, ("max_completion_tokens", "max_tokens"))
        model, cid = body["model"], f"chatcmpl-fake{n}"
        headers = {"x-request-id": f"req_fake_{n}"}
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
        tool = forced_tool(body.get("tools"), body.get("tool_choice"), anthropic=False)
        finish = "tool_calls" if tool else ("length" if truncated else "stop")
        text = " ".join(words)
        call: dict[str, Any] | None = None
        if tool:
            fn = tool.get("function") or {}
            args = json.dumps(example_args(fn.get("parameters") or {}))
            call = {
                "id": f"call_fake{n}",
                "type": "function",
                "function": {"name": fn.get("name", ""), "arguments": args},
            }
        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None if call else text,
                "refusal": None,
            }
            if call:
                message["tool_calls"] = [call]
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            out = {
                "id": cid,
                "object": "chat.completion",
                "created": _CREATED,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            return Interaction.json(out, headers=headers)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
        }
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }

        events: list[Any] = [chunk({"role": "assistant", "content": "" if not call else None})]
        if call:
            head = {**call, "index": 0, "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append(chunk({"tool_calls": [head]}))
            events.append(
                chunk(
                    {"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]}
                )
            )
        else:
            events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
        events.append(chunk({}, finish))
        if include_usage:
            events.append({**base, "choices": [], "usage": usage})
        return Interaction.sse(events, done=True, headers=headers)

    def _anthropic(self, body: Mapping[str, Any], n: int) -> Interaction:
        prompt, words, truncated = self._reply(body, ("max_tokens",))
        headers = {"request-id": f"req_fake_{n}"}
        tool = forced_tool(body.get("tools"), body.get("tool_choice"), anthropic=True)
        stop = "tool_use" if tool else ("max_tokens" if truncated else "end_turn")
        text = " ".join(words)
        usage = {
            "input_tokens": prompt,
            "output_tokens": len(words),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        if tool:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": f"toolu_fake{n}",
                "name": tool.get("name", ""),
                "input": example_args(tool.get("input_schema") or {}),
            }
        else:
            block = {"type": "text", "text": text}
        message = {
            "id": f"msg_fake{n}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return Interaction.json(message, headers=headers)
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        events: list[Any] = [("message_start", {"type": "message_start", "message": start})]
        if tool:
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": 0, "content_block": {**block, "input": {}}},
                )
            )
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        else:
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            deltas = [{"type": "text_delta", "text": w if i == 0 else " " + w} for i, w in enumerate(words)]
        events.append(("ping", {"type": "ping"}))
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": len(words)},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return Interaction.sse(events, headers=headers, path="/v1/messages")
