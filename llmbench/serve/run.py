"""Running a gateway on uvicorn: bind, report the URL once listening, shut down gracefully on SIGTERM/SIGINT;
or in a background thread of this process (`running`, for notebooks and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

import uvicorn

from llmbench.serve.config import GatewayConfig
from llmbench.serve.gateway import Gateway
from llmbench.serve.protocol import guarded_protocol

__all__ = ["running", "serve"]


def _server(config: GatewayConfig) -> tuple[Gateway, uvicorn.Server]:
    gateway = Gateway(config)
    gateway.build()  # a bad policy or model id fails here, before the port opens
    settings = uvicorn.Config(
        gateway.app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        limit_concurrency=config.max_concurrency * 4,  # beyond this uvicorn answers 503 at once
        http=guarded_protocol(config.header_timeout_s, config.max_connections_per_client),
        timeout_graceful_shutdown=15,
        lifespan="on",
    )
    return gateway, uvicorn.Server(settings)


async def _serve(server: uvicorn.Server, on_ready: Callable[[str], None]) -> None:
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        on_ready(f"http://{host}:{port}")
    await task


def serve(config: GatewayConfig, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until stopped; `on_ready(url)` is called once the port is open (default: print the URL)."""
    _, server = _server(config)
    asyncio.run(_serve(server, on_ready or _print_url))


@contextlib.contextmanager
def running(config: GatewayConfig, *, timeout_s: float = 30.0) -> Iterator[tuple[str, Gateway]]:
    """Serve in a background thread; yields (base URL, gateway) and stops the server (flushing its log) on exit."""
    gateway, server = _server(config)
    ready = threading.Event()
    url: list[str] = []
    failure: list[BaseException] = []

    def started(address: str) -> None:
        url.append(address)
        ready.set()

    def run() -> None:
        try:
            asyncio.run(_serve(server, started))
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="llmbench-gateway", daemon=True)
    thread.start()
    ready.wait(timeout_s)
    if not url:
        server.should_exit = True
        raise RuntimeError(f"the gateway did not start: {failure[0] if failure else 'timed out'}")
    try:
        yield url[0], gateway
    finally:
        server.should_exit = True
        thread.join(timeout_s)


def _print_url(url: str) -> None:
    print(url, flush=True)
    print(f"llmbench gateway on {url}/v1 (OpenAI-compatible); Ctrl-C stops it", file=sys.stderr, flush=True)
