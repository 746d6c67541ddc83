"""Asyncio helpers with no knowledge of providers: a coroutine run from sync code (Jupyter included) and an
`asyncio.timeout` paused while its generator waits on its consumer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["paused", "run_sync"]

T = TypeVar("T")


@contextlib.contextmanager
def paused(clock: asyncio.Timeout) -> Iterator[None]:
    """Suspend an `asyncio.timeout` while the generator is suspended at a `yield`."""
    deadline = clock.when()
    if deadline is None:
        yield
        return
    loop = asyncio.get_running_loop()
    left = deadline - loop.time()
    clock.reschedule(None)
    try:
        yield
    finally:
        clock.reschedule(loop.time() + left)


_pool: concurrent.futures.ThreadPoolExecutor | None = None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop already runs in this thread."""
    global _pool
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Inside Jupyter: the loop is busy running the cell, so run ours in a worker thread.
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="llmbench-sync")
    return _pool.submit(asyncio.run, coro).result()
