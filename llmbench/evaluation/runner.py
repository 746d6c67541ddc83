"""The batch evaluation engine behind `llmbench eval`: async, rate-limited, budgeted and resumable.

Resume: each (item, model, epoch) has a deterministic run key over what was sent (prompt and parameter hashes).
Keys whose final call and score are in the store are skipped, so a re-run, or a run after Ctrl-C or `kill -9`,
never pays twice for a finished item.

Money: before each attempt is sent, an intent row (with the attempt's estimated cost) is committed, and the
answer replaces it in the same transaction that stores the result; results are committed by a writer thread
in batches, at the latest `flush_interval` seconds after they arrive. So a crash at any moment leaves every
sent attempt in the store, answered or "sent, outcome unknown", and both count in the spend and the budget.
Nothing is sent before everything that can be checked is checked (`Runner.preflight`); an error that retrying
cannot heal (a bad key, an unknown model) stops the run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from llmbench.datasets import Item
from llmbench.errors import ConfigError, ProviderError, ScorerError
from llmbench.evaluation.config import ExperimentConfig
from llmbench.evaluation.items import item_messages, item_tools, load_items
from llmbench.evaluation.limits import Limits
from llmbench.evaluation.plan import Task, build_providers, plan_fingerprint
from llmbench.evaluation.report import ModelProgress, RunReport
from llmbench.providers import Completion, Message, Provider, StopEvent, UnknownPriceWarning
from llmbench.providers.pricing import call_tokens
from llmbench.providers.sim import SIM_ITEM, sim_item
from llmbench.scorers import SCORERS, Answer, Score, Scorer
from llmbench.store import CallRecord, IntentRecord, ScoreRecord, Store, call_records, run_key, stable_hash
from llmbench.store.writer import StoreWriter


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
        self._scorers: dict[str, Scorer] = {}
        self._flush = (flush_every, flush_interval)
        self._writer: StoreWriter | None = None
        self._pending: dict[str, tuple[list[str], float]] = {}  # run key -> (intent ids, estimated USD)
        self._reserved = 0.0  # estimated USD of the calls in flight
        self.report = RunReport(cfg.name)

    # Planning ------------------------------------------------------------------------------------------

    def plan(self, items: list[Item]) -> Iterator[Task]:
        """Every (item, model, epoch) of the experiment with its resume key, generated as needed."""
        params_hash = stable_hash(self.cfg.call_params())
        hashes = {}
        for epoch in range(self.cfg.epochs):
            for item in items:
                if item.id not in hashes:
                    hashes[item.id] = stable_hash(
                        [m.model_dump() for m in item_messages(item, self.cfg.system_prompt)]
                    )
                for model in self.cfg.models:
                    key = run_key(self.cfg.name, item.id, model, epoch, hashes[item.id], params_hash)
                    yield Task(item, model, epoch, key)

    def scorer_for(self, item: Item) -> Scorer:
        """The scorer of an item: the experiment's, else the item's own, else exact match."""
        kind = SCORERS.get(self.cfg.scorer or item.scorer or "exact_match")
        if kind.name not in self._scorers:
            options = self.cfg.scorer_options.get(kind.name, {})
            try:
                self._scorers[kind.name] = kind.from_experiment(self.cfg, **options)
            except TypeError as exc:
                raise ConfigError(f"scorer_options.{kind.name} {sorted(options)}: {exc}") from None
        return self._scorers[kind.name]

    def preflight(self, items: list[Item]) -> None:
        """Everything that can be checked before the first paid call: every item is one its scorer and provider
        accept, each scorer can work here (the code scorer needs its sandbox), and a budget can be enforced."""
        for item in items:
            scorer = self.scorer_for(item)
            item_tools(item)  # a bad metadata.tools is an error now, not on item 3 after two paid calls
            scorer.check_item(item)
        for scorer in {id(s): s for s in self._scorers.values()}.values():
            scorer.preflight()
        for provider in self.providers.values():
            provider.prepare()  # e.g. no API key: said now, before the experiment or a call is recorded
            note = provider.price_note()
            if note is not None:
                warnings.warn(note, UnknownPriceWarning, stacklevel=2)
        if self.cfg.max_cost is not None and not self.cfg.allow_unpriced:
            unpriced = [m for m, p in self.providers.items() if not p.is_priced()]
            if unpriced:
                raise ConfigError(
                    f"--max-cost {self.cfg.max_cost:g} cannot be enforced: no price is known for "
                    f"{', '.join(unpriced)}, so their calls would count as $0. Price them in a price file "
                    "(price_file in llmbench.toml: models: {'<id>': {input: USD/Mtok, output: USD/Mtok}}), or "
                    "pass --allow-unpriced (allow_unpriced: true) to run them uncounted"
                )

    # Running -------------------------------------------------------------------------------------------

    async def run(self) -> RunReport:
        """Run every unfinished task; returns the report (also on budget stop, a fatal error or Ctrl-C)."""
        started = time.monotonic()
        fingerprint = plan_fingerprint(self.cfg)
        if fingerprint is not None and self.items is None and self.finished_before(fingerprint):
            return self.nothing_left(started)  # the same plan ran to completion: no item is read or hashed
        try:
            todo = self.start(fingerprint)
            await self.run_live(todo)
        finally:
            await self.close()
            self.report.elapsed_s = time.monotonic() - started
        if self.report.complete:
            self.store.set_plan(self.cfg.name, fingerprint, self.report.planned)
        return self.report

    def start(self, fingerprint: str | None) -> Iterator[Task]:
        """Check everything, record the experiment and its items, count the spend so far; returns the unfinished
        tasks (generated lazily when nothing is finished yet)."""
        cfg = self.cfg
        items = self.items if self.items is not None else load_items(cfg)
        self.preflight(items)
        previous = self.store.get_experiment(cfg.name)
        self.store.create_experiment(
            cfg.name, config=cfg.model_dump(), source="simulated" if cfg.simulated else "native"
        )
        if previous is None or previous.plan is None or previous.plan != fingerprint:
            self.store.add_items(cfg.name, items)  # unchanged dataset files: their items are stored already
        done = self.store.finished_keys(cfg.name)
        self.report.planned = len(items) * len(cfg.models) * cfg.epochs
        stored, unknown, unknown_cost = self.store.spent(cfg.name)
        self.report.spent_usd = self.report.spent_before_usd = stored + unknown_cost
        self.report.unknown_outcome = unknown
        if not done:
            self.report.models = {m: ModelProgress(total=len(items) * cfg.epochs) for m in cfg.models}
            return self.plan(items)
        left = [t for t in self.plan(items) if t.key not in done]  # one pass over the plan: keys hashed once
        self.report.skipped = self.report.planned - len(left)
        per_model = Counter(t.model_id for t in left)
        self.report.models = {m: ModelProgress(total=per_model[m]) for m in cfg.models}
        return iter(left)

    async def run_live(self, todo: Iterator[Task]) -> None:
        """Run tasks through the providers' interactive APIs, `concurrency` at a time, writing as they finish."""
        limits = Limits(self.cfg)
        if self._writer is None:
            self._writer = StoreWriter(
                self.store, self.cfg.name, max_keys=self._flush[0], max_wait_s=self._flush[1]
            )
        workers = [asyncio.create_task(self._worker(todo, limits)) for _ in range(self.cfg.concurrency)]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.report.interrupted = True
        finally:
            for w in workers:
                w.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*workers, return_exceptions=True)

    async def close(self) -> None:
        """Write what is pending and close every provider's client."""
        if self._writer is not None:
            self._writer.close()
            self.report.unrecorded = list(self._writer.failures)
        for p in self.providers.values():
            with contextlib.suppress(Exception):
                await p.aclose()

    def finished_before(self, fingerprint: str) -> bool:
        """Whether this very plan (same files, models, settings) already ran to completion in the store."""
        exp = self.store.get_experiment(self.cfg.name)
        return bool(
            exp
            and exp.plan == fingerprint
            and exp.planned is not None
            and self.store.finished_count(self.cfg.name) >= exp.planned
        )

    def nothing_left(self, started: float) -> RunReport:
        """The report of a plan that already ran to completion (see `finished_before`): nothing is run."""
        exp = self.store.get_experiment(self.cfg.name)
        assert exp is not None and exp.planned is not None
        self.report.planned = self.report.skipped = exp.planned
        stored, unknown, unknown_cost = self.store.spent(self.cfg.name)
        self.report.spent_usd = self.report.spent_before_usd = stored + unknown_cost
        self.report.unknown_outcome = unknown
        self.report.elapsed_s = time.monotonic() - started
        return self.report

    def _stopping(self) -> bool:
        if self.report.stopped_by:
            return True
        if self.cfg.max_cost is not None and self.report.spent_usd >= self.cfg.max_cost:
            self.report.stopped_by_budget = True  # stop taking work; calls in flight finish and are recorded
            return True
        return False

    async def _admitted(self) -> bool:
        """Whether the next call may go: not while the budget is spent, and not while it is only reserved by
        calls in flight (their answers may leave room, so wait for them rather than stop)."""
        while not self._stopping():
            if not self.over_budget():
                return True
            await asyncio.sleep(0.01)
        return False

    async def _worker(self, todo: Iterator[Task], limits: Limits) -> None:
        for task in todo:  # one shared generator: each task is taken by exactly one worker
            if self._stopping():
                return
            if not self.store.claim(self.cfg.name, task.key):  # a shared store: another process runs it
                self.report.skipped += 1
                continue
            provider = self.providers[task.model_id]
            messages, params = self.call_inputs(provider, task)
            async with limits.slot(provider.provider, sum(call_tokens(messages, params))):
                # Check again: while this worker waited for a slot, finished calls may have used up the budget.
                if not await self._admitted():
                    return
                # Reserved until its cost is known, so calls in flight count against the budget: the spend
                # passes it by one call's estimate at most, whatever the concurrency.
                estimate = provider.estimate_call(messages, params)
                self._reserved += estimate
                try:
                    result = await self._call(provider, task, messages, params, estimate)
                except asyncio.CancelledError:
                    self._record_cancelled(task)
                    raise
                finally:
                    self._reserved -= estimate
                self._add_spend(task, result)
            await self._record(task, result)
            if isinstance(result, ProviderError) and result.fatal_for_run:
                self.report.stopped_by = f"{type(result).__name__}: {result}"

    def call_inputs(self, provider: Provider, task: Task) -> tuple[list[Message], dict[str, Any]]:
        """The messages and parameters of a task's call to `provider` (a batch request is built from them too)."""
        item, cfg = task.item, self.cfg
        params = dict(cfg.params)
        if provider.simulated:  # the answers the item's scorer grades right and wrong, to answer with
            params[SIM_ITEM] = sim_item(item, task.epoch, self.scorer_for(item).examples(item))
        params["tools"] = item_tools(item)  # tool specs in the item's metadata (e.g. BFCL), else None
        return item_messages(item, cfg.system_prompt), params

    async def _call(
        self, provider: Provider, task: Task, messages: list[Message], params: dict[str, Any], estimate: float
    ) -> Completion | ProviderError:
        item, cfg = task.item, self.cfg
        intents = self._pending.setdefault(task.key, ([], 0.0))[0]

        async def before_attempt(number: int) -> None:
            assert self._writer is not None
            record = IntentRecord(
                uuid.uuid4().hex, task.key, item.id, task.model_id, task.epoch, number, time.time(), estimate
            )
            await self._writer.intent(record)
            intents.append(record.intent_id)
            self._pending[task.key] = (intents, self._pending[task.key][1] + estimate)

        try:
            if cfg.stream:
                final = None
                async for event in provider.astream(messages, before_attempt=before_attempt, **params):
                    if isinstance(event, StopEvent):
                        final = event.completion
                assert final is not None
                return final
            return await provider.acomplete(messages, before_attempt=before_attempt, **params)
        except ProviderError as exc:
            return exc

    def _record_cancelled(self, task: Task) -> None:
        """A call cut off by Ctrl-C gets a row at its estimated cost: the request may have reached (and be billed
        by) the provider, and the item stays unfinished so a resume runs it again."""
        intents, estimate = self._pending.pop(task.key, ([], 0.0))
        cut = asyncio.CancelledError(
            "interrupted (Ctrl-C) before an answer; the provider may still bill this call"
        )
        rows = call_records(
            cut, run_key=task.key, item_id=task.item.id, model_id=task.model_id, epoch=task.epoch
        )
        if intents:
            rows[-1].cost_usd, rows[-1].cost_basis = estimate, "estimated"
        if self._writer is not None:
            self._writer.result(rows, resolved=intents)

    async def _record(self, task: Task, result: Completion | ProviderError) -> None:
        calls = call_records(
            result, run_key=task.key, item_id=task.item.id, model_id=task.model_id, epoch=task.epoch
        )
        scores: list[ScoreRecord] = []
        if isinstance(result, Completion):
            scores.append(await self.grade(task, result, calls[-1]))
            self.report.count(task.model_id, finished=1)
        else:
            self.report.count(task.model_id, failed=1)
            self.report.errors[type(result).__name__] += 1
        intents, _ = self._pending.pop(task.key, ([], 0.0))
        assert self._writer is not None
        self._writer.result(calls, scores, resolved=intents)
        if self.on_progress is not None:
            self.on_progress(self.report, 1)

    async def grade(self, task: Task, completion: Completion, final: CallRecord) -> ScoreRecord:
        """Score an answer; its final call row gets the stored answer (text, or tool calls as JSON)."""
        scorer = self.scorer_for(task.item)
        answer = Answer(completion.text, tuple(completion.tool_calls or ()))  # blind: no model id
        final.response = answer.stored()
        value: float | None = None
        for attempt in range(SCORER_ATTEMPTS):
            try:
                verdict: Score = await scorer.score(answer, task.item)
                value, why = verdict.value, verdict.explanation
                break
            except (
                ScorerError
            ) as exc:  # the scorer's own trouble (an overloaded machine): try again, then unscored
                why = f"no verdict after {attempt + 1} tries: {exc}"
                await asyncio.sleep(SCORER_BACKOFF_S * (attempt + 1))
            except Exception as exc:  # a broken scorer must not lose the paid-for answer
                why = f"scorer failed: {type(exc).__name__}: {exc}"
                break
        return ScoreRecord(task.key, task.item.id, task.model_id, task.epoch, scorer.name, value, why)

    def _add_spend(self, task: Task, result: Completion | ProviderError) -> None:
        """Count every attempt's cost at once, before the slot frees, so no waiting worker misses it."""
        attempts = result.attempts or []
        cost = sum(a.cost_usd or 0.0 for a in attempts)
        if isinstance(result, Completion) and not attempts:
            cost += result.cost_usd or 0.0
        self.report.spend(task.model_id, cost)

    def over_budget(self) -> bool:
        """Whether the spend so far (answered, estimated for calls of unknown outcome, and reserved for calls in
        flight) reached `max_cost`."""
        return self.cfg.max_cost is not None and self.report.spent_usd + self._reserved >= self.cfg.max_cost


SCORER_ATTEMPTS, SCORER_BACKOFF_S = (
    3,
    2.0,
)  # a scorer that reached no verdict is asked again, then left unscored


async def run_experiment(cfg: ExperimentConfig, store: Store, **kwargs: Any) -> RunReport:
    """Run an experiment into a store (see `Runner`)."""
    return await Runner(cfg, store, **kwargs).run()
