"""The batch evaluation engine behind `llmbench eval`: async, rate-limited, budgeted and resumable.

Resume: each (item, model, epoch) has a deterministic run key over what was sent (prompt and parameter hashes).
Keys whose final call and score are in the store are skipped, so a re-run, or a run after Ctrl-C or `kill -9`,
never pays twice for a finished item. Results are written in small batches (every `flush_every` results or
`flush_interval` seconds), each batch one transaction; a crash loses at most the unwritten batch, whose items
are simply run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiolimiter import AsyncLimiter

from llmbench.datasets import Item, load_dataset
from llmbench.errors import ConfigError, ProviderError
from llmbench.evaluation.config import ExperimentConfig
from llmbench.providers import Completion, Message, Provider, StopEvent, get_provider
from llmbench.scorers import Score, get_scorer
from llmbench.store import ScoreRecord, Store, call_records, run_key, stable_hash
from llmbench.tools.bfcl_eval import answer_output, bfcl_source_dataset, item_tools


@dataclass
class Task:
    """One (item, model, epoch) to run."""

    item: Item
    model_id: str
    epoch: int
    key: str


@dataclass
class RunReport:
    """What a run did: counts, spend and whether it stopped early."""

    experiment: str
    planned: int = 0
    skipped: int = 0
    finished: int = 0
    failed: int = 0
    spent_usd: float = 0.0
    spent_before_usd: float = 0.0
    stopped_by_budget: bool = False
    interrupted: bool = False
    elapsed_s: float = 0.0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def item_messages(item: Item, system_prompt: str | None) -> list[Message]:
    """The messages sent for an item (system prompt first when configured)."""
    msgs = item.messages()
    return [Message.system(system_prompt), *msgs] if system_prompt else msgs


def load_items(cfg: ExperimentConfig) -> list[Item]:
    """All items of the experiment's datasets (ids made unique per dataset when several are given)."""
    items: list[Item] = []
    for path in cfg.datasets:
        ds = bfcl_source_dataset(path) or load_dataset(path)  # `bfcl:parallel?limit=20` or a file
        chosen = ds.items[: cfg.limit] if cfg.limit else ds.items
        if len(cfg.datasets) > 1:
            chosen = [i.model_copy(update={"id": f"{ds.name}/{i.id}"}) for i in chosen]
        items.extend(chosen)
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ConfigError("two datasets share an item id; give the datasets different names")
    return items


class Runner:
    """Runs one experiment into a store."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        store: Store,
        *,
        providers: dict[str, Provider] | None = None,
        items: list[Item] | None = None,
        on_progress: Callable[[RunReport, int], None] | None = None,
        flush_every: int = 64,
        flush_interval: float = 0.5,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.on_progress = on_progress
        self.providers = build_providers(cfg, providers)
        self.items = items
        self._scorers: dict[str, Any] = {}
        self._buffer = store.buffer(cfg.name, max_keys=flush_every, max_wait_s=flush_interval)
        self.report = RunReport(cfg.name)

    # Planning ------------------------------------------------------------------------------------------

    def plan(self, items: list[Item]) -> list[Task]:
        """Every (item, model, epoch) of the experiment with its resume key."""
        params_hash = stable_hash(self.cfg.call_params())
        tasks = []
        for epoch in range(self.cfg.epochs):
            for item in items:
                prompt_hash = stable_hash(
                    [m.model_dump() for m in item_messages(item, self.cfg.system_prompt)]
                )
                for model in self.cfg.models:
                    key = run_key(self.cfg.name, item.id, model, epoch, prompt_hash, params_hash)
                    tasks.append(Task(item, model, epoch, key))
        return tasks

    def scorer_for(self, item: Item) -> Any:
        """The scorer of an item: the experiment's, else the item's own, else exact match."""
        name = self.cfg.scorer or item.scorer or "exact"
        if name not in self._scorers:
            judged = name in ("judge", "llm_judge") and self.cfg.judge_model
            opts = {"model": self.cfg.judge_model} if judged else {}
            self._scorers[name] = get_scorer(name, **opts)
        return self._scorers[name]

    # Running -------------------------------------------------------------------------------------------

    async def run(self) -> RunReport:
        """Run every unfinished task; returns the report (also on budget stop or Ctrl-C)."""
        started = time.monotonic()
        cfg = self.cfg
        items = self.items if self.items is not None else load_items(cfg)
        self.store.create_experiment(
            cfg.name, config=cfg.model_dump(), source="simulated" if cfg.simulated else "native"
        )
        self.store.add_items(cfg.name, items)
        done = self.store.finished_keys(cfg.name)
        tasks = self.plan(items)
        todo = [t for t in tasks if t.key not in done]
        self.report.planned, self.report.skipped = len(tasks), len(tasks) - len(todo)
        self.report.spent_usd = self.report.spent_before_usd = self._spent_so_far()

        limits = _Limits(cfg)
        queue: asyncio.Queue[Task] = asyncio.Queue()
        for t in todo:
            queue.put_nowait(t)
        workers = [
            asyncio.create_task(self._worker(queue, limits)) for _ in range(min(cfg.concurrency, len(todo)))
        ]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.report.interrupted = True
        finally:
            for w in workers:
                w.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*workers, return_exceptions=True)
            self._buffer.flush()
            for p in self.providers.values():
                with contextlib.suppress(Exception):
                    await p.aclose()
            self.report.elapsed_s = time.monotonic() - started
        return self.report

    async def _worker(self, queue: asyncio.Queue[Task], limits: _Limits) -> None:
        while True:
            try:
                task = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if self.over_budget():
                # Stop taking work; calls already in flight finish and are recorded.
                self.report.stopped_by_budget = True
                return
            provider = self.providers[task.model_id]
            async with limits.slot(provider.provider, _estimate_tokens(task.item)):
                # Check again: while this worker waited for a slot, finished calls may have used up the budget.
                if self.over_budget():
                    self.report.stopped_by_budget = True
                    return
                try:
                    result = await self._call(provider, task)
                except asyncio.CancelledError:
                    self._record_cancelled(task)
                    raise
                self._add_spend(result)
            await self._record(task, result)

    def _record_cancelled(self, task: Task) -> None:
        """A call cut off by Ctrl-C still gets a row: the request may have reached (and be billed by) the
        provider, and the item stays unfinished so a resume runs it again."""
        cut = asyncio.CancelledError(
            "interrupted (Ctrl-C) before an answer; the provider may still bill this call"
        )
        self._buffer.add(
            call_records(
                cut, run_key=task.key, item_id=task.item.id, model_id=task.model_id, epoch=task.epoch
            )
        )

    async def _call(self, provider: Provider, task: Task) -> Completion | ProviderError:
        item, cfg = task.item, self.cfg
        params = dict(cfg.params)
        if provider.provider == "sim":
            params["sim_item"] = {
                "item_id": item.id,
                "epoch": task.epoch,
                "task": item.task,
                "difficulty": item.difficulty if item.difficulty is not None else 0.5,
                "reference": item.reference,
                "scorer": cfg.scorer or item.scorer,
                "metadata": item.metadata,
            }
        messages = item_messages(item, cfg.system_prompt)
        params["tools"] = item_tools(item)  # tool specs in the item's metadata (e.g. BFCL), else None
        try:
            if cfg.stream:
                final = None
                async for event in provider.astream(messages, **params):
                    if isinstance(event, StopEvent):
                        final = event.completion
                assert final is not None
                return final
            return await provider.acomplete(messages, **params)
        except ProviderError as exc:
            return exc

    async def _record(self, task: Task, result: Completion | ProviderError) -> None:
        calls = call_records(
            result, run_key=task.key, item_id=task.item.id, model_id=task.model_id, epoch=task.epoch
        )
        scores: list[ScoreRecord] = []
        if isinstance(result, Completion):
            scorer = self.scorer_for(task.item)
            output = answer_output(result)  # the text, or the tool calls as JSON when it called tools
            calls[-1].response = output
            try:
                verdict: Score = await scorer.score(output, task.item)
                value, why = verdict.value, verdict.explanation
            except Exception as exc:  # a broken scorer must not lose the paid-for answer
                value, why = None, f"scorer failed: {type(exc).__name__}: {exc}"
            scores.append(
                ScoreRecord(task.key, task.item.id, task.model_id, task.epoch, scorer.name, value, why)
            )
            self.report.finished += 1
        else:
            self.report.failed += 1
            self.report.errors[type(result).__name__] += 1
        self._buffer.add(calls, scores)
        if self.on_progress is not None:
            self.on_progress(self.report, 1)

    def _add_spend(self, result: Completion | ProviderError) -> None:
        """Count every attempt's cost at once, before the slot frees, so no waiting worker misses it."""
        attempts = result.attempts or []
        self.report.spent_usd += sum(a.cost_usd or 0.0 for a in attempts)
        if isinstance(result, Completion) and not attempts:
            self.report.spent_usd += result.cost_usd or 0.0

    def _spent_so_far(self) -> float:
        frame = self.store.sql(
            "SELECT coalesce(sum(c.cost_usd), 0) AS s FROM calls c JOIN experiments e ON c.experiment_id = e.id "
            "WHERE e.name = ?",
            [self.cfg.name],
        )
        return float(frame["s"].iloc[0])

    def over_budget(self) -> bool:
        """Whether the spend so far has reached `max_cost`."""
        return self.cfg.max_cost is not None and self.report.spent_usd >= self.cfg.max_cost


def build_providers(cfg: ExperimentConfig, given: dict[str, Provider] | None = None) -> dict[str, Provider]:
    """One provider per model of the experiment (those in `given` are used as they are); raises ConfigError."""
    providers = dict(given or {})
    for m in cfg.models:
        if m not in providers:
            providers[m] = get_provider(m, timeout=cfg.timeout, retry=cfg.max_attempts, seed=cfg.seed)
    return providers


def _estimate_tokens(item: Item) -> int:
    """Prompt tokens for the token-rate limiter (about four characters a token, plus room for the answer)."""
    text = item.input if isinstance(item.input, str) else str(item.input)
    return len(text) // 4 + 256


def _per_second(per_minute: float) -> AsyncLimiter:
    """A limiter allowing `per_minute / 60` a second (a burst of at most one second's worth, at least 1)."""
    per_second = per_minute / 60
    if per_second >= 1:
        return AsyncLimiter(per_second, 1)
    return AsyncLimiter(1, 1 / per_second)  # slower than one a second: one at a time, evenly spaced


class _Limits:
    """Global and per-provider concurrency plus request and token rate limits."""

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self._sem: dict[str, asyncio.Semaphore] = {}
        self._rpm: dict[str, AsyncLimiter] = {}
        self._tpm: dict[str, AsyncLimiter] = {}
        for name, lim in cfg.providers.items():
            if lim.concurrency:
                self._sem[name] = asyncio.Semaphore(lim.concurrency)
            # Per-second buckets: AsyncLimiter(rpm, 60) would let a whole minute's quota out at once, and
            # providers enforce their per-minute limits over shorter windows (429s on such a burst).
            if lim.requests_per_minute:
                self._rpm[name] = _per_second(lim.requests_per_minute)
            if lim.tokens_per_minute:
                self._tpm[name] = _per_second(lim.tokens_per_minute)

    @contextlib.asynccontextmanager
    async def slot(self, provider: str, tokens: int) -> Any:
        sem = self._sem.get(provider)
        if sem is not None:
            await sem.acquire()
        try:
            if provider in self._rpm:
                await self._rpm[provider].acquire()
            if provider in self._tpm:
                limiter = self._tpm[provider]
                await limiter.acquire(min(tokens, limiter.max_rate))
            yield
        finally:
            if sem is not None:
                sem.release()


async def run_experiment(cfg: ExperimentConfig, store: Store, **kwargs: Any) -> RunReport:
    """Run an experiment into a store (see `Runner`)."""
    return await Runner(cfg, store, **kwargs).run()
