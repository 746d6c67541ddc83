"""Real loopback HTTP servers for offline tests and benchmarks.

* `RecordedServer` serves queued `Interaction`s (from cassettes or synthetic), matched by method + path.
* `llmbench.testing.fake_api.FakeOpenAIServer` (re-exported here) answers every OpenAI chat-completions and
  Anthropic messages request deterministically, with streaming and a seeded fault plan.
* `python -m llmbench.testing.server --port 0 --latency 0.05` runs a FakeOpenAIServer in its own process
  (its URL is the first stdout line); `FakeServerProcess` starts and stops one.

Everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from llmbench.testing.cassettes import Interaction, RecordedRequest

__all__ = ["LoopbackServer", "RecordedServer", "not_found"]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler sleeping through an injected hang must not block close()
    request_queue_size = 512  # listen backlog: bursts of ~100 new connections must not be refused
    allow_reuse_address = True

    def __init__(self, owner: LoopbackServer, host: str, port: int) -> None:
        self.owner = owner
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    disable_nagle_algorithm = True  # headers and body go out as separate writes; no 40 ms delayed-ACK stalls
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request stderr lines
        pass

    def handle(self) -> None:
        # Clients that time out or cancel close their end; that is expected here, not an error.
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            super().handle()

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        try:
            answer = self.server.owner.handle(request)
        except Exception as exc:  # a bug in the fake must show up in the test, not as a dropped connection
            body = {"error": {"message": f"fake server failed: {exc!r}", "type": "fake_server_error"}}
            answer = Interaction.json(body, status=500, headers={"x-should-retry": "false"})
        self._write(answer)

    def _write(self, ix: Interaction) -> None:
        if ix.delay_s:
            time.sleep(ix.delay_s)
        self.send_response(ix.status)
        for name, value in ix.headers.items():
            self.send_header(name, value)
        cut = ix.cut_after_bytes
        if ix.is_sse:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            for i, piece in enumerate(ix.chunks()):
                if i and ix.chunk_delay_s:
                    time.sleep(ix.chunk_delay_s)
                if cut is not None and sent + len(piece) >= cut:
                    self._chunk(piece[: cut - sent])
                    return self._drop()
                self._chunk(piece)
                sent += len(piece)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        else:
            self.send_header("Content-Length", str(len(ix.body)))
            self.end_headers()
            if self.command == "HEAD":
                return None
            self.wfile.write(ix.body[:cut] if cut is not None else ix.body)
            self.wfile.flush()
            if cut is not None and cut < len(ix.body):
                return self._drop()
        return None

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the socket mid-body, as a crashed upstream or proxy would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a background thread; subclasses decide the answers."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, record: bool = True) -> None:
        self._host, self._port, self._record = host, port, record
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("server is not started; use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> LoopbackServer:
        """Bind and start serving in a daemon thread."""
        if self._httpd is None:
            self._httpd = _HTTPServer(self, self._host, self._port)
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
            self._thread.daemon = True
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def handle(self, request: RecordedRequest) -> Interaction:
        """Record the request and choose its answer."""
        if self._record:
            with self._lock:
                self.requests.append(request)
        return self.respond(request)

    def respond(self, request: RecordedRequest) -> Interaction:
        """The answer to one request (subclasses override; may be called from many threads at once)."""
        raise NotImplementedError


def not_found(message: str) -> Interaction:
    """A 404 answer in the providers' error shape."""
    body = {"error": {"message": message, "type": "not_found_error"}}
    return Interaction.json(body, status=404)


class RecordedServer(LoopbackServer):
    """Serves queued interactions: each request takes the next unused one with the same method and path."""

    def __init__(
        self, interactions: Iterable[Interaction] = (), *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(host=host, port=port)
        self.remaining: list[Interaction] = list(interactions)

    def add(self, *interactions: Interaction) -> RecordedServer:
        """Queue more interactions (after those already queued)."""
        with self._lock:
            self.remaining.extend(interactions)
        return self

    def respond(self, request: RecordedRequest) -> Interaction:
        with self._lock:
            for i, ix in enumerate(self.remaining):
                if ix.method == request.method and ix.path == request.path:
                    return self.remaining.pop(i)
            queued = ", ".join(f"{ix.method} {ix.path}" for ix in self.remaining) or "none"
        return not_found(
            f"RecordedServer: no unused interaction for {request.method} {request.path} (queued: {queued})"
        )

    def assert_all_used(self) -> None:
        """Fail when a queued interaction was never requested."""
        if self.remaining:
            names = ", ".join(f"{ix.method} {ix.path} ({ix.source or 'synthetic'})" for ix in self.remaining)
            raise AssertionError(f"unused interactions: {names}")
