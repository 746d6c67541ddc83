"""Recorded HTTP interactions: load VCR cassettes, write synthetic ones, replay them through httpx2.

An `Interaction` is one request/response pair plus optional fault injection (`delay_s`, `cut_after_bytes`).
`mock_transport` replays a list of them in-process for an SDK's `http_client`; `llmbench.testing.server`
serves the same objects over a real loopback socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import yaml

from llmbench.errors import DataError

__all__ = [
    "CassetteMismatch",
    "Interaction",
    "RecordedRequest",
    "Recorder",
    "load_cassette",
    "mock_transport",
    "sse_body",
]

# Headers that describe one hop's framing, not the payload: the replaying side sets its own.
_DROPPED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
    }
)


def _clean_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Lower-case names, join VCR's list values, drop hop-by-hop and length/encoding headers."""
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        key = str(name).lower()
        if key in _DROPPED_HEADERS:
            continue
        out[key] = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return out


def sse_body(events: Iterable[Any], *, done: bool = False) -> bytes:
    """Frame events as a Server-Sent Events body.

    Each event is a dict (sent as `data: <json>`), a str (sent as `data: <str>`, e.g. "[DONE]"), or an
    `(event_name, dict)` tuple (sent as `event: name` + `data: <json>`, Anthropic style).
    `done=True` appends OpenAI's `data: [DONE]` terminator.
    """
    parts: list[str] = []
    for event in events:
        if isinstance(event, tuple):
            name, data = event
            payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            parts.append(f"event: {name}\ndata: {payload}\n\n")
        elif isinstance(event, str):
            parts.append(f"data: {event}\n\n")
        else:
            parts.append(f"data: {json.dumps(event, separators=(',', ':'))}\n\n")
    if done:
        parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


@dataclass(frozen=True)
class Interaction:
    """One expected request (method + path) and the response to give it, with optional faults.

    `delay_s` waits before answering (a client read timeout shorter than it raises `httpx2.ReadTimeout` in
    the mock transport and times out for real against the server); `chunk_delay_s` waits between the pieces
    of a stream (one per SSE event); `cut_after_bytes` sends only that many body bytes, then drops the
    connection.
    """

    method: str = "POST"
    path: str = "/v1/chat/completions"
    query: str = ""
    request_json: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    cut_after_bytes: int | None = None
    source: str = ""

    # -- constructors for synthetic interactions ---------------------------------------------------------
    @classmethod
    def json(
        cls,
        body: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        path: str = "/v1/chat/completions",
        method: str = "POST",
        **faults: Any,
    ) -> Interaction:
        """A JSON response (`faults`: delay_s, chunk_delay_s, cut_after_bytes)."""
        hdrs = {"content-type": "application/json", **_clean_headers(headers)}
        return cls(
            method=method, path=path, status=status, headers=hdrs, body=json.dumps(body).encode(), **faults
        )

    @classmethod
    def sse(
        cls,
        events: Iterable[Any],
        *,
        done: bool = False,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        path: str = "/v1/chat/completions",
        method: str = "POST",
        **faults: Any,
    ) -> Interaction:
        """A `text/event-stream` response built with `sse_body(events, done=done)`."""
        hdrs = {"content-type": "text/event-stream; charset=utf-8", **_clean_headers(headers)}
        return cls(
            method=method, path=path, status=status, headers=hdrs, body=sse_body(events, done=done), **faults
        )

    @classmethod
    def error(
        cls,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        path: str = "/v1/chat/completions",
        method: str = "POST",
        **faults: Any,
    ) -> Interaction:
        """An error response; `body` defaults to an OpenAI-style `{"error": {...}}` object."""
        if body is None:
            body = {"error": {"message": f"synthetic error {status}", "type": "error", "code": str(status)}}
        return cls.json(body, status=status, headers=headers, path=path, method=method, **faults)

    # -- views --------------------------------------------------------------------------------------------
    @property
    def is_sse(self) -> bool:
        """Whether the response is a Server-Sent Events stream."""
        return self.headers.get("content-type", "").startswith("text/event-stream")

    def response_json(self) -> Any:
        """The response body parsed as JSON."""
        return json.loads(self.body)

    def chunks(self) -> list[bytes]:
        """The body split into the pieces a server writes separately: one per SSE event, else one piece."""
        if not self.is_sse:
            return [self.body]
        pieces = self.body.split(b"\n\n")
        out = [p + b"\n\n" for p in pieces[:-1] if p.strip()]
        if pieces[-1].strip():
            out.append(pieces[-1])
        return out

    def with_faults(self, **changes: Any) -> Interaction:
        """A copy with changed fields, e.g. `ix.with_faults(delay_s=2, headers={...})`."""
        return replace(self, **changes)


def load_cassette(path: str | Path) -> list[Interaction]:
    """Read a VCR YAML cassette (pydantic-ai format) into interactions, in recorded order."""
    path = Path(path)
    try:
        doc = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except OSError as exc:
        raise DataError(f"cannot read cassette {path}: {exc}. Check the path.") from exc
    except yaml.YAMLError as exc:
        raise DataError(f"cassette {path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
        raise DataError(f"cassette {path} has no `interactions:` list; expected the VCR format.")
    out = []
    for i, item in enumerate(doc["interactions"]):
        try:
            out.append(_interaction_from_vcr(item, source=f"{path.name}#{i}"))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"cassette {path} interaction {i} is malformed ({exc!r}); expected VCR fields."
            ) from exc
    return out


def _interaction_from_vcr(item: dict[str, Any], *, source: str) -> Interaction:
    req, resp = item["request"], item["response"]
    url = urlsplit(req["uri"])
    if "parsed_body" in resp:
        body = json.dumps(resp["parsed_body"]).encode()
    else:
        raw = (resp.get("body") or {}).get("string", "")
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
    return Interaction(
        method=req["method"].upper(),
        path=url.path or "/",
        query=url.query,
        request_json=req.get("parsed_body"),
        status=int(resp["status"]["code"]),
        headers=_clean_headers(resp.get("headers")),
        body=body,
        source=source,
    )


# -- in-process replay --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the fake side received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class CassetteMismatch(AssertionError):
    """A request arrived that the queued interactions do not expect."""


class Recorder:
    """Keeps every request a mock transport received and the interactions still unused."""

    def __init__(self, interactions: Iterable[Interaction]) -> None:
        self.requests: list[RecordedRequest] = []
        self.remaining: list[Interaction] = list(interactions)
        self.mismatches: list[str] = []

    @property
    def last(self) -> RecordedRequest:
        """The most recent request."""
        if not self.requests:
            raise AssertionError("no request was received")
        return self.requests[-1]

    def assert_all_used(self) -> None:
        """Fail when a request did not match or a queued interaction was never requested."""
        problems = list(self.mismatches)
        problems += [
            f"unused interaction {ix.method} {ix.path} ({ix.source or 'synthetic'})" for ix in self.remaining
        ]
        if problems:
            raise CassetteMismatch("; ".join(problems))

    def take(self, method: str, path: str, *, strict: bool) -> Interaction:
        """Pop the interaction for this request: the next one (strict) or the next with this method+path."""
        for i, ix in enumerate(self.remaining):
            if ix.method == method and ix.path == path:
                if strict and i != 0:
                    break
                return self.remaining.pop(i)
            if strict:
                break
        expected = f"{self.remaining[0].method} {self.remaining[0].path}" if self.remaining else "nothing"
        msg = f"unexpected request {method} {path}; next queued: {expected}"
        self.mismatches.append(msg)
        raise CassetteMismatch(msg)


def _headers_dict(headers: httpx2.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _record(recorder_list: list[RecordedRequest], request: httpx2.Request) -> RecordedRequest:
    """Append an httpx2 request to `recorder_list` as a RecordedRequest."""
    rec = RecordedRequest(
        method=request.method,
        path=request.url.path,
        query=request.url.query.decode() if isinstance(request.url.query, bytes) else str(request.url.query),
        headers=_headers_dict(request.headers),
        body=request.content,
    )
    recorder_list.append(rec)
    return rec


class _CutStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Body pieces that stop after `limit` bytes with a dropped-connection error."""

    def __init__(self, pieces: list[bytes], limit: int | None, gap_s: float = 0.0) -> None:
        self._pieces, self._limit, self._gap_s = pieces, limit, gap_s

    def _plan(self) -> Iterator[bytes]:
        sent = 0
        for piece in self._pieces:
            if self._limit is not None and sent + len(piece) >= self._limit:
                if self._limit > sent:
                    yield piece[: self._limit - sent]
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            sent += len(piece)
            yield piece

    def __iter__(self) -> Iterator[bytes]:
        for i, piece in enumerate(self._plan()):
            if i and self._gap_s:
                time.sleep(self._gap_s)
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self._plan()):
            if i and self._gap_s:
                await asyncio.sleep(self._gap_s)
            yield piece


def _read_timeout(request: httpx2.Request) -> float | None:
    return (request.extensions.get("timeout") or {}).get("read")


class _ReplayTransport(httpx2.MockTransport):
    """MockTransport whose delays sleep the right way for sync and async clients and honour read timeouts."""

    def __init__(self, recorder: Recorder, strict: bool) -> None:
        super().__init__(self._respond)
        self.recorder, self.strict = recorder, strict

    def _pick(self, request: httpx2.Request) -> Interaction:
        _record(self.recorder.requests, request)
        return self.recorder.take(request.method, request.url.path, strict=self.strict)

    def _respond(self, request: httpx2.Request, ix: Interaction | None = None) -> httpx2.Response:
        ix = ix or self._pick(request)
        stream = _CutStream(ix.chunks(), ix.cut_after_bytes, ix.chunk_delay_s)
        headers = dict(ix.headers)
        if not ix.is_sse:
            headers["content-length"] = str(len(ix.body))
        return httpx2.Response(ix.status, headers=headers, stream=stream, request=request)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        ix = self._pick(request)
        timeout = _read_timeout(request)
        if ix.delay_s:
            time.sleep(min(ix.delay_s, timeout) if timeout is not None else ix.delay_s)
            if timeout is not None and ix.delay_s > timeout:
                raise httpx2.ReadTimeout("timed out (mock delay_s exceeds the read timeout)", request=request)
        return self._respond(request, ix)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        ix = self._pick(request)
        timeout = _read_timeout(request)
        if ix.delay_s:
            await asyncio.sleep(min(ix.delay_s, timeout) if timeout is not None else ix.delay_s)
            if timeout is not None and ix.delay_s > timeout:
                raise httpx2.ReadTimeout("timed out (mock delay_s exceeds the read timeout)", request=request)
        return self._respond(request, ix)


def mock_transport(
    interactions: Iterable[Interaction], *, strict: bool = True
) -> tuple[httpx2.MockTransport, Recorder]:
    """A transport replaying `interactions` and the Recorder of what it received.

    strict=True: requests must arrive in exactly the queued order; strict=False: each request takes the next
    unused interaction with the same method and path. A request nothing matches raises `CassetteMismatch`
    (an AssertionError; openai 3.x lets it through, anthropic 2.x wraps it in APIConnectionError with it as
    `__cause__`; it is also kept in `recorder.mismatches`). Call `recorder.assert_all_used()` at the end to catch unrequested ones.
    """
    recorder = Recorder(interactions)
    return _ReplayTransport(recorder, strict), recorder
