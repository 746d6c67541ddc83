"""Server-sent events framing for answers read as bytes: the `data` of each complete event, however the bytes were
cut (an event may span reads, a read may hold many events; lines end in LF, CRLF or CR, as the SSE spec allows)."""

from __future__ import annotations

import re

__all__ = ["SSEReader"]

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE_END = re.compile(rb"\r\n|\n|\r")


class SSEReader:
    """Feed it bytes as they arrive; it returns the data of every event completed so far."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, piece: bytes) -> list[bytes]:
        """The `data` payloads (multi-line data joined by LF) of the events `piece` completes."""
        buf = self._pending + piece
        out: list[bytes] = []
        start = 0
        for end in _EVENT_END.finditer(buf):
            data = [
                line[5:].removeprefix(b" ")
                for line in _LINE_END.split(buf[start : end.start()])
                if line.startswith(b"data:")
            ]
            if data:
                out.append(b"\n".join(data))
            start = end.end()
        self._pending = buf[start:]
        return out
