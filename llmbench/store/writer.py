"""One writer thread per run: the event loop hands it rows and never waits on DuckDB, except for intents.

- `await writer.intent(record)` returns once the attempt's intent row is committed: only then may the request
  be sent, so a crash at any moment leaves each sent attempt either answered or "sent, outcome unknown".
- `writer.result(calls, scores, resolved)` queues a finished run; it is committed with others in one
  transaction (a commit costs an fsync) within `max_wait_s` of arriving, or as soon as `max_keys` are waiting,
  whatever the event loop is doing.
- `close()` commits the rest and stops the thread; an error while writing is raised there (and by later calls).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from llmbench.errors import StoreError
from llmbench.store.rows import CallRecord, IntentRecord, ScoreRecord
from llmbench.store.store import Store

__all__ = ["StoreWriter"]


_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]


@dataclass
class _Batch:
    intents: list[IntentRecord] = field(default_factory=list)
    intent_waiters: list[_Waiter] = field(default_factory=list)
    waiters: list[_Waiter] = field(default_factory=list)  # callers of `committed`: their results go at once
    calls: list[CallRecord] = field(default_factory=list)
    scores: list[ScoreRecord] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    runs: int = 0
    since: float | None = None


_STOP = object()


class StoreWriter:
    """Commits a run's intents at once and its results in batches, from a thread of its own."""

    def __init__(self, store: Store, experiment: str, *, max_keys: int = 64, max_wait_s: float = 0.5) -> None:
        self.store, self.experiment = store, experiment
        self.max_keys, self.max_wait_s = max_keys, max_wait_s
        self.written = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="llmbench-store-writer", daemon=True)
        self._thread.start()

    async def intent(self, record: IntentRecord) -> None:
        """Store `record` and return once it is committed (group-committed with whatever else is waiting)."""
        self._check()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(("intent", record, (loop, done)))
        await done

    def result(
        self, calls: Sequence[CallRecord], scores: Sequence[ScoreRecord] = (), resolved: Sequence[str] = ()
    ) -> None:
        """Queue one run's attempts, scores and the intent ids they resolve (committed within max_wait_s)."""
        self._check()
        self._queue.put(("result", (list(calls), list(scores), list(resolved)), None))

    async def committed(self, calls: Sequence[CallRecord], scores: Sequence[ScoreRecord] = ()) -> None:
        """Store one run's rows and return once they are committed (group-committed with whatever is waiting):
        for callers that must not answer before their record is durable, such as the gateway."""
        self._check()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(("result", (list(calls), list(scores), []), (loop, done)))
        await done

    def close(self) -> int:
        """Commit everything queued, stop the thread; returns the run keys newly finished in all."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._check()
        return self.written

    def _check(self) -> None:
        if self._error is not None:
            raise StoreError(f"writing to the run store failed: {self._error}") from self._error

    def _loop(self) -> None:
        batch = _Batch()
        while True:
            timeout = None
            if batch.since is not None:
                timeout = max(0.0, batch.since + self.max_wait_s - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            stop = False
            while item is not None:
                if item is _STOP:
                    stop = True
                else:
                    self._take(batch, item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            due = batch.since is not None and time.monotonic() - batch.since >= self.max_wait_s
            if batch.waiters or batch.runs >= self.max_keys or due or stop:
                batch = self._commit(batch)
            elif batch.intent_waiters:  # results wait for their batch: a wide insert per commit costs ~2 ms
                batch = self._commit_intents(batch)
            if stop:
                return

    @staticmethod
    def _take(batch: _Batch, item: object) -> None:
        kind, payload, waiter = cast(tuple[str, Any, Any], item)
        if kind == "intent":
            batch.intents.append(payload)
            batch.intent_waiters.append(waiter)
            return
        if waiter is not None:
            batch.waiters.append(waiter)
        calls, scores, resolved = payload
        batch.calls += calls
        batch.scores += scores
        batch.resolved += resolved
        batch.runs += 1
        if batch.since is None:
            batch.since = time.monotonic()

    def _commit(self, batch: _Batch) -> _Batch:
        if batch.intents or batch.calls or batch.scores or batch.resolved:
            self._write(batch.waiters + batch.intent_waiters, batch.calls, batch.scores, batch.intents, batch.resolved)
        else:
            self._wake(batch.waiters + batch.intent_waiters, None)
        return _Batch()

    def _commit_intents(self, batch: _Batch) -> _Batch:
        """Commit only the intents (their requests are waiting to be sent); the results stay queued."""
        self._write(batch.intent_waiters, [], [], batch.intents, [])
        batch.intents, batch.intent_waiters = [], []
        return batch

    def _write(self, waiters: list[_Waiter], calls: list[CallRecord], scores: list[ScoreRecord],
               intents: list[IntentRecord], resolved: list[str]) -> None:  # fmt: skip
        """One transaction, then every waiter is told how it went."""
        error: BaseException | None = None
        try:
            self.written += self.store.write_results(self.experiment, calls, scores, intents=intents,
                                                     resolved=resolved)  # fmt: skip
        except BaseException as exc:  # reported to every waiter and by the next call on the writer
            error = self._error = exc
        self._wake(waiters, error)

    @staticmethod
    def _wake(waiters: list[_Waiter], error: BaseException | None) -> None:
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_settle, fut, error)


def _settle(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(StoreError(f"could not record to the run store: {error}"))
