"""uvicorn's HTTP protocol with two guards a gateway bound beyond loopback needs against slow or many clients.

- A request's headers must arrive within `header_timeout_s` of its first byte (or of the connection opening):
  a client trickling a header a byte at a time is disconnected instead of holding a connection forever.
- One client address holds at most `max_connections_per_client` connections; more are closed at once, so one
  address cannot use up `limit_concurrency` (past which uvicorn answers every request, /health too, with 503).

Many addresses at once are a job for a reverse proxy in front (SECURITY.md says so).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["guarded_protocol"]


def guarded_protocol(header_timeout_s: float, max_connections_per_client: int) -> type[HttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` with its own per-address counts (one per server)."""
    open_by_client: Counter[str] = Counter()

    class GuardedProtocol(HttpToolsProtocol):
        _address: str | None = None
        _headers_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._address = self.client[0] if self.client else None
            if self._address is not None:
                open_by_client[self._address] += 1
                if open_by_client[self._address] > max_connections_per_client:
                    transport.close()
                    return
            self._start_headers_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_headers_timer()
            if self._address is not None:
                open_by_client[self._address] -= 1
                if open_by_client[self._address] <= 0:
                    del open_by_client[self._address]
                self._address = None
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._headers_timer is None:  # the next request on a kept-alive connection
                self._start_headers_timer()

        def on_headers_complete(self) -> None:
            self._stop_headers_timer()
            super().on_headers_complete()

        def _start_headers_timer(self) -> None:
            self._headers_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _stop_headers_timer(self) -> None:
            if self._headers_timer is not None:
                self._headers_timer.cancel()
                self._headers_timer = None

        def _headers_too_slow(self) -> None:
            self._headers_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol
