"""The fake API's batch endpoints, for the official SDKs: OpenAI's files + batches and Anthropic's message batches.

Each request of a batch is answered like an interactive call of the same fake. A batch is `in_progress` for
`polls` retrievals, then ends; a request whose last user message contains "FAIL" errors and one containing
"EXPIRE" expires, so partial failure is easy to produce. OpenAI errors go to an error file, Anthropic's to the
results with their type. "GARBLE" makes the request's result line valid JSON of the wrong shape (a server bug);
"FLAKY" puts an error line for the request before its answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from typing import Any

from llmbench.testing.cassettes import Interaction, RecordedRequest
from llmbench.testing.fake_replies import prompt_words

__all__ = ["FakeBatches"]

Answer = Callable[
    [dict[str, Any], str], dict[str, Any]
]  # (request body, "openai" | "anthropic") -> response body


@dataclass
class _Batch:
    id: str
    flavour: str
    requests: list[tuple[str, dict[str, Any]]]  # (custom_id, body)
    created: int
    metadata: dict[str, Any] = field(default_factory=dict)
    input_file_id: str = ""
    polls_left: int = 1
    status: str = "in_progress"
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    cancelled_at: int | None = None


class FakeBatches:
    """Batch state of one fake server; `respond` answers the batch routes (None: not a batch route)."""

    def __init__(self, answer: Answer, base_url: Callable[[], str], polls: int = 1) -> None:
        self.answer, self.base_url, self.polls = answer, base_url, polls
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.created: list[str] = []  # batch ids in creation order (what a test counts)
        # what became of ended batches' results: "kept"; "deleted" (a 404 on the download, as after OpenAI's 30
        # days or Anthropic's 29); "unlisted" (the batch names no result file / results_url)
        self.results = "kept"
        # finishing a batch (under the lock) allocates file ids (also under it)
        self._lock = threading.RLock()
        self._n = 0

    def _id(self, prefix: str) -> str:
        with self._lock:
            self._n += 1
            return f"{prefix}{self._n:06d}"

    def respond(self, req: RecordedRequest) -> Interaction | None:
        """The answer to a batch route, or None when `req` is not one."""
        path, method = req.path, req.method
        routes: list[tuple[str, str, Callable[..., Interaction]]] = [
            ("POST", r"/v1/files", self._upload),
            ("GET", r"/v1/files/([^/]+)/content", self._content),
            ("POST", r"/v1/batches", self._create_openai),
            ("GET", r"/v1/batches", self._list_openai),
            ("GET", r"/v1/batches/([^/]+)", self._retrieve),
            ("POST", r"/v1/batches/([^/]+)/cancel", self._cancel),
            ("POST", r"/v1/messages/batches", self._create_anthropic),
            ("GET", r"/v1/messages/batches", self._list_anthropic),
            ("GET", r"/v1/messages/batches/([^/]+)", self._retrieve),
            ("POST", r"/v1/messages/batches/([^/]+)/cancel", self._cancel),
            ("GET", r"/v1/messages/batches/([^/]+)/results", self._results),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(req, *match.groups())
        return None

    # -- OpenAI ---------------------------------------------------------------------------------------------
    def _upload(self, req: RecordedRequest) -> Interaction:
        head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=default).parsebytes(head + req.body)
        content = next((p.get_payload(decode=True) for p in message.iter_parts() if p.get_filename()), b"")
        fid = self._id("file-")
        self.files[fid] = content if isinstance(content, bytes) else b""
        body = {
            "id": fid,
            "object": "file",
            "bytes": len(self.files[fid]),
            "created_at": int(time.time()),
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }
        return Interaction.json(body, path=req.path)

    def _content(self, req: RecordedRequest, fid: str) -> Interaction:
        if fid not in self.files or (self.results == "deleted" and fid not in self._inputs()):
            return Interaction.error(404, path=req.path, method="GET")
        return Interaction(
            method="GET", path=req.path, headers={"content-type": "application/jsonl"}, body=self.files[fid]
        )

    def _inputs(self) -> set[str]:
        return {b.input_file_id for b in self.batches.values() if b.input_file_id}

    def _create_openai(self, req: RecordedRequest) -> Interaction:
        body = req.json or {}
        lines = self.files.get(body.get("input_file_id", ""), b"").decode().splitlines()
        requests = [(r["custom_id"], r["body"]) for r in map(json.loads, filter(None, lines))]
        if (bad := _bad_ids(requests)) is not None:
            return Interaction.error(
                400, {"error": {"message": bad, "type": "invalid_request_error"}}, path=req.path
            )
        batch = self._new("openai", requests, body.get("metadata") or {})
        batch.input_file_id = body.get("input_file_id", "")
        return Interaction.json(self._openai_view(batch), path=req.path)

    def _list_openai(self, req: RecordedRequest) -> Interaction:
        data = [self._openai_view(b) for b in self.batches.values() if b.flavour == "openai"]
        return Interaction.json(
            {"object": "list", "data": data[::-1], "has_more": False}, path=req.path, method="GET"
        )

    def _openai_view(self, b: _Batch) -> dict[str, Any]:
        return {
            "id": b.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": b.input_file_id,
            "completion_window": "24h",
            "status": b.status,
            "output_file_id": None if self.results == "unlisted" else b.output_file_id,
            "error_file_id": None if self.results == "unlisted" else b.error_file_id,
            "created_at": b.created,
            "metadata": b.metadata,
            "request_counts": {
                "total": len(b.requests),
                "completed": b.counts.get("succeeded", 0),
                "failed": b.counts.get("errored", 0) + b.counts.get("expired", 0),
            },
        }

    # -- Anthropic ------------------------------------------------------------------------------------------
    def _create_anthropic(self, req: RecordedRequest) -> Interaction:
        requests = [(r["custom_id"], r["params"]) for r in (req.json or {}).get("requests", [])]
        if (bad := _bad_ids(requests)) is not None:
            return Interaction.error(
                400,
                {"type": "error", "error": {"type": "invalid_request_error", "message": bad}},
                path=req.path,
            )
        return Interaction.json(self._anthropic_view(self._new("anthropic", requests, {})), path=req.path)

    def _list_anthropic(self, req: RecordedRequest) -> Interaction:
        data = [self._anthropic_view(b) for b in self.batches.values() if b.flavour == "anthropic"][::-1]
        body = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
        return Interaction.json(body, path=req.path, method="GET")

    def _anthropic_view(self, b: _Batch) -> dict[str, Any]:
        ended = b.status not in ("in_progress", "cancelling")
        counts = {
            "processing": 0 if ended else len(b.requests),
            "succeeded": b.counts.get("succeeded", 0),
            "errored": b.counts.get("errored", 0),
            "canceled": b.counts.get("canceled", 0),
            "expired": b.counts.get("expired", 0),
        }
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(b.created))
        return {
            "id": b.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else b.status,
            "request_counts": counts,
            "created_at": stamp,
            "expires_at": stamp,
            "ended_at": stamp if ended else None,
            "archived_at": None,
            "cancel_initiated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(b.cancelled_at))
            if b.cancelled_at
            else None,
            "results_url": f"{self.base_url()}/v1/messages/batches/{b.id}/results"
            if ended and self.results != "unlisted"
            else None,
        }

    def _results(self, req: RecordedRequest, bid: str) -> Interaction:
        b = self.batches.get(bid)
        if b is None or b.output_file_id is None or self.results != "kept":
            return Interaction.error(404, path=req.path, method="GET")
        return Interaction(
            method="GET",
            path=req.path,
            headers={"content-type": "application/binary"},
            body=self.files[b.output_file_id],
        )

    # -- both -------------------------------------------------------------------------------------------------
    def _new(
        self, flavour: str, requests: list[tuple[str, dict[str, Any]]], metadata: dict[str, Any]
    ) -> _Batch:
        prefix = "batch_" if flavour == "openai" else "msgbatch_"
        b = _Batch(self._id(prefix), flavour, requests, int(time.time()), metadata, polls_left=self.polls)
        with self._lock:
            self.batches[b.id] = b
            self.created.append(b.id)
        return b

    def _retrieve(self, req: RecordedRequest, bid: str) -> Interaction:
        b = self.batches.get(bid)
        if b is None:
            return Interaction.error(404, path=req.path, method="GET")
        with self._lock:
            if b.status == "in_progress":
                b.polls_left -= 1
                if b.polls_left < 0:
                    self._finish(b)
        view = self._openai_view(b) if b.flavour == "openai" else self._anthropic_view(b)
        return Interaction.json(view, path=req.path, method="GET")

    def cancel(self, bid: str) -> bool:
        """Cancel a batch still in progress, as a request would (or someone in the vendor's console); False when
        it has ended already."""
        b = self.batches[bid]
        with self._lock:
            if b.status != "in_progress":
                return False
            b.status = "cancelled" if b.flavour == "openai" else "ended"
            b.cancelled_at = int(time.time())
            b.counts = {"canceled": len(b.requests)}
            self._write(b, cancelled=True)
        return True

    def _cancel(self, req: RecordedRequest, bid: str) -> Interaction:
        b = self.batches.get(bid)
        if b is None:
            return Interaction.error(404, path=req.path)
        if not self.cancel(bid) and b.cancelled_at is None:  # the vendors refuse to cancel an ended batch
            return Interaction.error(400, path=req.path)
        view = self._openai_view(b) if b.flavour == "openai" else self._anthropic_view(b)
        return Interaction.json(view, path=req.path)

    def finish(self, bid: str) -> None:
        """End a batch now (its results written), as the provider does when the batch is done."""
        with self._lock:
            if self.batches[bid].status == "in_progress":
                self._finish(self.batches[bid])

    def _finish(self, b: _Batch) -> None:
        b.status = "completed" if b.flavour == "openai" else "ended"
        self._write(b, cancelled=False)

    def _write(self, b: _Batch, cancelled: bool) -> None:
        ok: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for custom_id, body in b.requests:
            _, last = prompt_words(body)
            outcome = (
                "canceled"
                if cancelled
                else "errored"
                if "FAIL" in last
                else "expired"
                if "EXPIRE" in last
                else "succeeded"
            )
            b.counts[outcome] = b.counts.get(outcome, 0) + 1
            if outcome == "succeeded" and "GARBLE" in last:
                garbled = {"status_code": 200, "body": {"choices": "none"}} if b.flavour == "openai" else None
                ok.append(
                    {"custom_id": custom_id, "response": garbled}
                    if b.flavour == "openai"
                    else {"custom_id": custom_id, "result": {"type": "succeeded", "message": {"content": 7}}}
                )
                continue
            if outcome == "succeeded" and "FLAKY" in last:  # an error line for it first, then its answer
                ok.append(
                    {
                        "custom_id": custom_id,
                        "response": None,
                        "error": {"code": "server_error", "message": "fake transient error"},
                    }
                    if b.flavour == "openai"
                    else {
                        "custom_id": custom_id,
                        "result": {
                            "type": "errored",
                            "error": {
                                "type": "error",
                                "error": {"type": "api_error", "message": "fake transient error"},
                            },
                        },
                    }
                )
            if b.flavour == "openai":
                if outcome == "succeeded":
                    ok.append(
                        {
                            "id": f"batch_req_{custom_id[:8]}",
                            "custom_id": custom_id,
                            "error": None,
                            "response": {
                                "status_code": 200,
                                "request_id": f"req_{custom_id[:8]}",
                                "body": self.answer(body, "openai"),
                            },
                        }
                    )
                else:
                    code = {
                        "errored": "server_error",
                        "expired": "batch_expired",
                        "canceled": "batch_cancelled",
                    }[outcome]
                    errors.append(
                        {
                            "id": f"batch_req_{custom_id[:8]}",
                            "custom_id": custom_id,
                            "response": None,
                            "error": {"code": code, "message": f"fake {outcome} request"},
                        }
                    )
            else:
                result: dict[str, Any] = {"type": outcome}
                if outcome == "succeeded":
                    result["message"] = self.answer(body, "anthropic")
                elif outcome == "errored":
                    result["error"] = {
                        "type": "error",
                        "error": {"type": "api_error", "message": "fake errored request"},
                    }
                ok.append({"custom_id": custom_id, "result": result})
        b.output_file_id = self._id("file-")
        self.files[b.output_file_id] = "".join(json.dumps(r) + "\n" for r in ok).encode()
        if errors:
            b.error_file_id = self._id("file-")
            self.files[b.error_file_id] = "".join(json.dumps(r) + "\n" for r in errors).encode()


_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # Anthropic's documented pattern, the stricter of the two


def _bad_ids(requests: list[tuple[str, dict[str, Any]]]) -> str | None:
    """What the vendors answer 400 for: a custom_id outside the pattern, or one used twice in a batch."""
    ids = [cid for cid, _ in requests]
    wrong = next((cid for cid in ids if not _CUSTOM_ID.fullmatch(str(cid))), None)
    if wrong is not None:
        return f"requests: custom_id {wrong!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$"
    if len(set(ids)) != len(ids):
        return "requests: custom_id values must be unique within a batch"
    return None
