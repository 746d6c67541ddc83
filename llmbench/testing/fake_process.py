"""A `FakeOpenAIServer` in a child process (`python -m llmbench.testing.fake_process`), so a benchmark's or a
kill -9 test's client loop never shares a process with the server."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping

import httpx2

from llmbench.errors import ConfigError
from llmbench.testing.fake_api import FakeOpenAIServer, check_faults

__all__ = ["FakeServerProcess", "main"]


class FakeServerProcess:
    """A FakeOpenAIServer in a child process (keeps the client's event loop free of server work)."""

    def __init__(
        self,
        latency_s: float = 0.05,
        *,
        faults: Mapping[str, float] | None = None,
        seed: int = 0,
        chunk_delay_s: float = 0.0,
        retry_after_s: float = 0.0,
        hang_s: float = 30.0,
        batch_polls: int = 1,
        startup_timeout_s: float = 15.0,
    ) -> None:
        self._args = [
            "--latency",
            str(latency_s),
            "--seed",
            str(seed),
            "--chunk-delay",
            str(chunk_delay_s),
            "--batch-polls",
            str(batch_polls),
            "--retry-after",
            str(retry_after_s),
            "--hang",
            str(hang_s),
            "--faults",
            json.dumps(check_faults(faults)),
        ]
        self._startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> FakeServerProcess:
        """Start the child and wait for its URL line."""
        cmd = [
            sys.executable,
            "-m",
            "llmbench.testing.fake_process",
            "--port",
            "0",
            "--exit-on-stdin-eof",
            *self._args,
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self._startup_timeout_s)
        if not line or not line[0].startswith("http://"):
            self.stop()
            raise RuntimeError(
                f"fake server process did not report its URL within {self._startup_timeout_s}s: {line!r}"
            )
        self.url = line[0].strip()
        return self

    @property
    def pid(self) -> int:
        """The child's process id (e.g. to pin it to a CPU)."""
        if self._proc is None:
            raise RuntimeError("the fake server process is not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stats(self) -> dict[str, int]:
        """The child's request counts (GET /_stats)."""
        return dict(httpx2.get(self.url + "/_stats", timeout=5).json())

    def stop(self) -> None:
        """Terminate the child (kill after 5 s)."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> FakeServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run a FakeOpenAIServer until SIGTERM/SIGINT; print its URL as the first stdout line."""
    ap = argparse.ArgumentParser(prog="python -m llmbench.testing.fake_process", description=main.__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds before each answer")
    ap.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed events")
    ap.add_argument(
        "--faults", default="{}", help='JSON, e.g. {"429": 0.1, "500": 0.05, "timeout": 0.02, "cut": 0.02}'
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retry-after", type=float, default=0.0, help="Retry-After seconds on injected 429s")
    ap.add_argument("--hang", type=float, default=30.0, help="seconds an injected timeout hangs")
    ap.add_argument("--batch-polls", type=int, default=1, help="retrievals a batch stays in progress for")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent gone)")
    ns = ap.parse_args(argv)
    try:
        faults = json.loads(ns.faults)
        server = FakeOpenAIServer(
            ns.latency,
            faults=faults,
            seed=ns.seed,
            chunk_delay_s=ns.chunk_delay,
            retry_after_s=ns.retry_after,
            hang_s=ns.hang,
            record=False,
            port=ns.port,
            batch_polls=ns.batch_polls,
        )
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ns.exit_on_stdin_eof:

        def wait_for_eof() -> None:
            sys.stdin.read()
            stop.set()

        threading.Thread(target=wait_for_eof, daemon=True).start()
    with server:
        print(server.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
