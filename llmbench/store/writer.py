"""A finished call's way into the store: `call_records` makes its rows, one writer thread per run commits them
(the event loop never waits on DuckDB, except for intents).

- `await writer.intent(record)` returns once the attempt's intent row is committed: only then may the request
  be sent, so a crash at any moment leaves each sent attempt either answered or "sent, outcome unknown".
- `writer.result(calls, scores, resolved)` queues a finished run; it is committed with others in one
  transaction (a commit costs an fsync) within `max_wait_s` of arriving, or as soon as `max_keys` are waiting,
  whatever the event loop is doing.
- `close()` commits the rest and stops the thread. A write that fails fails alone (see `StoreWriter`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from llmbench.errors import StoreError, redact
from llmbench.store.rows import CallRecord, IntentRecord, ScoreRecord
from llmbench.store.store import Store

if TYPE_CHECKING:
    from llmbench.providers.types import Completion, Usage

__all__ = ["StoreWriter", "call_records"]

log = logging.getLogger(__name__)


_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]


@dataclass
class _Unit:
    """What one caller handed over: an intent, or one run's results; it commits whole or fails alone."""

    calls: list[CallRecord] = field(default_factory=list)
    scores: list[ScoreRecord] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    intents: list[IntentRecord] = field(default_factory=list)
    waiter: _Waiter | None = None

    def describe(self) -> str:
        rows = self.intents or self.calls or self.scores
        first = rows[0] if rows else None
        if first is None:
            return "an empty write"
        kind = "intent" if self.intents else "result"
        return f"the {kind} of run {first.run_key[:12]} (item {first.item_id!r}, model {first.model_id!r})"


@dataclass
class _Batch:
    intents: list[_Unit] = field(default_factory=list)
    results: list[_Unit] = field(default_factory=list)
    since: float | None = None

    @property
    def waited(self) -> bool:
        """Whether a caller is waiting on one of the results (they go at once)."""
        return any(u.waiter is not None for u in self.results)


_STOP = object()


class StoreWriter:
    """Commits a run's intents at once and its results in batches, from a thread of its own.

    A group commit that fails is retried one unit at a time, so one bad row fails alone: its caller is told
    (or, with nobody waiting, it is logged and listed in `failures`) and everything else commits. The writer
    itself keeps going."""

    def __init__(self, store: Store, experiment: str, *, max_keys: int = 64, max_wait_s: float = 0.5) -> None:
        self.store, self.experiment = store, experiment
        self.max_keys, self.max_wait_s = max_keys, max_wait_s
        self.written = 0
        self.failures: list[str] = []  # units no caller waited for that could not be written, in words
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="llmbench-store-writer", daemon=True)
        self._thread.start()

    async def intent(self, record: IntentRecord) -> None:
        """Store `record` and return once it is committed (group-committed with whatever else is waiting)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Unit(intents=[record], waiter=(loop, done)))
        await done

    def result(
        self, calls: Sequence[CallRecord], scores: Sequence[ScoreRecord] = (), resolved: Sequence[str] = ()
    ) -> None:
        """Queue one run's attempts, scores and the intent ids they resolve (committed within max_wait_s)."""
        self._queue.put(_Unit(list(calls), list(scores), list(resolved)))

    async def committed(
        self, calls: Sequence[CallRecord], scores: Sequence[ScoreRecord] = (), resolved: Sequence[str] = ()
    ) -> None:
        """Store one run's rows and return once they are committed (group-committed with whatever is waiting):
        for callers that must not answer before their record is durable, such as the gateway."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Unit(list(calls), list(scores), list(resolved), waiter=(loop, done)))
        await done

    def close(self) -> int:
        """Commit everything queued, stop the thread; returns the run keys newly finished in all."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        return self.written

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
                    self._take(batch, cast(_Unit, item))
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            due = batch.since is not None and time.monotonic() - batch.since >= self.max_wait_s
            if batch.waited or len(batch.results) >= self.max_keys or due or stop:
                self._write(batch.intents + batch.results)
                batch = _Batch()
            elif batch.intents:  # results wait for their batch: a wide insert per commit costs ~2 ms
                self._write(batch.intents)
                batch.intents = []
            if stop:
                return

    @staticmethod
    def _take(batch: _Batch, unit: _Unit) -> None:
        if unit.intents:
            batch.intents.append(unit)
            return
        batch.results.append(unit)
        if batch.since is None:
            batch.since = time.monotonic()

    def _write(self, units: list[_Unit]) -> None:
        """One transaction for all; if it fails, one per unit, so a bad unit fails alone."""
        if not units:
            return
        try:
            self._commit(units)
        except Exception as exc:
            if len(units) == 1:
                self._failed(units[0], exc)
                return
            log.warning("a group commit of %d writes failed (%s); writing them one by one", len(units), exc)
            for unit in units:
                try:
                    self._commit([unit])
                except Exception as one:
                    self._failed(unit, one)
                else:
                    self._wake(unit, None)
            return
        for unit in units:
            self._wake(unit, None)

    def _commit(self, units: list[_Unit]) -> None:
        self.written += self.store.write_results(
            self.experiment,
            [c for u in units for c in u.calls],
            [s for u in units for s in u.scores],
            intents=[i for u in units for i in u.intents],
            resolved=[r for u in units for r in u.resolved],
        )

    def _failed(self, unit: _Unit, error: BaseException) -> None:
        what = f"could not record {unit.describe()} to the run store: {type(error).__name__}: {error}"
        log.error("%s", what)
        if unit.waiter is None:
            self.failures.append(what)
        self._wake(unit, StoreError(what))

    @staticmethod
    def _wake(unit: _Unit, error: BaseException | None) -> None:
        if unit.waiter is not None:
            loop, fut = unit.waiter
            loop.call_soon_threadsafe(_settle, fut, error)


def _settle(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


def _usage_fields(usage: Usage | None) -> dict[str, int | None]:
    if usage is None:
        return {}
    return {
        "input_tokens": usage.input_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
    }


def call_records(
    result: Completion | BaseException, *, run_key: str, item_id: str, model_id: str, epoch: int = 0
) -> list[CallRecord]:
    """One `CallRecord` per attempt of a finished call (a `Completion` or the exception it raised).

    The last record is `final`; for a completion it carries the answer text, the answering model and the
    completion's usage and cost; for an exception, its class name and redacted message.
    """

    def record(**fields: Any) -> CallRecord:
        return CallRecord(run_key=run_key, item_id=item_id, model_id=model_id, epoch=int(epoch), **fields)

    attempts = list(getattr(result, "attempts", None) or [])
    records = [
        record(
            attempt=a.number,
            started_at=a.started_at,
            latency_s=a.latency_s,
            cost_usd=a.cost_usd,
            error_class=None if a.ok else (a.error_type or "Error"),
            error_message=redact(a.error_message) if a.error_message else None,
            status_code=a.status_code,
            request_id=a.request_id,
            attempt_model=a.model_id,
            cost_basis=a.cost_basis,
            **_usage_fields(a.usage),
        )
        for a in attempts
    ]
    if isinstance(result, BaseException):
        if not records:
            records.append(record(started_at=time.time()))
        last = records[-1]
        last.error_class = type(result).__name__
        last.error_message = redact(str(result))
        last.status_code = getattr(result, "status_code", None) or last.status_code
        last.request_id = getattr(result, "request_id", None) or last.request_id
    else:
        if not records or not records[-1].ok:
            records.append(
                record(
                    attempt=len(records) + 1,
                    started_at=time.time() - result.latency_s,
                    latency_s=result.latency_s,
                )
            )
        last = records[-1]
        for name, value in _usage_fields(result.usage).items():
            setattr(last, name, value)
        if result.cost_usd is not None:
            last.cost_usd = result.cost_usd
        last.request_id = result.request_id or last.request_id
        last.answered_model = result.model
        last.stop_reason = result.stop_reason
        last.response = result.text
        for r in records:
            r.simulated = result.simulated
        if result.route is not None:
            route = result.route
            last.attempt_model = last.attempt_model or route.answered_by
            last.route_policy, last.route_chosen, last.route_fallback = (
                route.policy,
                route.chosen,
                route.fallback,
            )
            last.route_expected_quality, last.route_expected_cost = (
                route.expected_quality,
                route.expected_cost,
            )
    last.final = True
    return records
