"""`llmbench eval --batch`: an experiment's calls through the providers' batch APIs, resumable like a live run.

Each pass (one `llmbench eval`, or each poll with `--wait`):
1. every open batch of the experiment is looked at: one left `submitting` by a crash is found at the provider
   (OpenAI: by the token in its metadata; Anthropic: the oldest unknown batch of the same size created since) or
   marked abandoned; an ended one is collected: answers priced at the batch rate, scored, and written together
   with its `collected` state in one transaction;
2. due requests are submitted: new ones, and those that failed once (again, or live with `batch_fallback: live`);
   each batch is recorded with its requests before the provider is asked, so nothing is submitted twice;
3. models without a batch API run live, through a `Runner` (its public methods only).
`max_cost` counts each open batch at its estimate (a full `max_tokens` answer per request) until it is collected.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from llmbench.errors import BatchRequestError, BatchResultsGone, ConfigError, ProviderError
from llmbench.evaluation.batch_rows import result_rows, unix_seconds
from llmbench.evaluation.batch_submit import Submission
from llmbench.evaluation.config import ExperimentConfig
from llmbench.evaluation.plan import Task, plan_fingerprint
from llmbench.evaluation.report import RunReport
from llmbench.evaluation.runner import Runner
from llmbench.providers import Completion, get_provider
from llmbench.providers.batch_api import BatchAPI, BatchOutcome, BatchStatus, batch_api
from llmbench.store import CallRecord, ScoreRecord, Store, call_records
from llmbench.store.batches import BatchLog, update_sql
from llmbench.store.rows import BatchRow

__all__ = ["BatchRunner"]

_SCORE_CHUNK = 256  # answers scored concurrently while collecting


class BatchRunner(Submission):
    """Runs an experiment's batched models through provider batch APIs, and the others live through a `Runner`
    (`live`, built from `runner_options` when not given); see the module doc. Both write one report."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        store: Store,
        *,
        live: Runner | None = None,
        wait: bool = False,
        poll_interval: float = 30.0,
        max_requests: int | None = None,
        **runner_options: Any,
    ) -> None:
        self.live = live if live is not None else Runner(cfg, store, **runner_options)
        self.cfg, self.store = cfg, store
        self.report, self.providers = self.live.report, self.live.providers
        self.wait, self.poll_interval, self.max_requests = wait, poll_interval, max_requests
        self.log = BatchLog(store)
        self.apis: dict[str, BatchAPI] = {}
        # batch keys a crash left that may be at the provider: the user decides
        self._undecided: set[str] = set()
        for model in cfg.models:
            api = batch_api(self.providers[model]) if cfg.batched(model) else None
            limits = cfg.providers.get(cfg.ref(model).provider)
            if api is None and limits is not None and limits.batch:
                raise ConfigError(
                    f"{model}: its provider has no batch API (OpenAI, Anthropic and servers "
                    "compatible with them do); set providers.<name>.batch: false for it"
                )
            if api is not None:
                self.apis[model] = api

    @property
    def live_models(self) -> list[str]:
        """The experiment's models that run live (no batch API, or batch mode off for them)."""
        return [m for m in self.cfg.models if m not in self.apis]

    async def run(self) -> RunReport:
        """Collect what ended, submit what is due, run the live models; with `wait`, until nothing is open."""
        started, name = time.monotonic(), self.cfg.name
        fingerprint = plan_fingerprint(self.cfg)
        live = self.live
        if fingerprint is not None and live.items is None and live.finished_before(fingerprint):
            return live.nothing_left(started)
        try:
            tasks = {t.key: t for t in live.start(fingerprint)}
            self.report.spent_usd += sum(b.est_cost_usd for b in self.log.open(name))
            while True:
                await self._settle(tasks)
                unbatched = await self._submit_due(tasks)
                if unbatched:
                    await live.run_live(iter(unbatched))
                    for task in unbatched:  # live runs are not repeated within one invocation, as in `Runner`
                        tasks.pop(task.key, None)
                waiting = [b for b in self.log.open(name) if b.batch_key not in self._undecided]
                if not (self.wait and waiting) or self.report.interrupted or self.report.stopped_by:
                    break
                await asyncio.sleep(self.poll_interval)
        except asyncio.CancelledError:
            self.report.interrupted = True
        finally:
            still = self.log.open(name)
            self.report.pending = sum(b.requests for b in still)
            self.report.pending_usd = sum(b.est_cost_usd for b in still)
            await live.close()
            self.report.elapsed_s = time.monotonic() - started
        if self.report.complete and not self.report.pending:
            self.store.set_plan(name, fingerprint, self.report.planned)
        return self.report

    # -- open batches ------------------------------------------------------------------------------------

    def _api(self, model_id: str) -> BatchAPI:
        """The batch API of a model (one no longer in the experiment too: its batches are still collected)."""
        if model_id not in self.apis:
            provider = get_provider(model_id, timeout=self.cfg.timeout, retry=self.cfg.max_attempts)
            api = batch_api(provider)
            if api is None:
                raise ConfigError(f"{model_id} has a batch in the store but no batch API")
            self.providers.setdefault(model_id, provider)
            self.apis[model_id] = api
        return self.apis[model_id]

    async def _settle(self, tasks: dict[str, Task]) -> None:
        """Find batches a crash left `submitting`, poll the open ones and collect those that ended."""
        for batch in self.log.open(self.cfg.name):
            api = self._api(batch.model_id)
            try:
                if batch.state == "submitting" and not await self._resolve(api, batch):
                    continue
                assert batch.batch_id is not None
                status = await api.status(batch.batch_id)
                self.log.update(self.cfg.name, batch.batch_key, provider_status=status.status)
                if status.ended:
                    await self._collect(api, batch, status, tasks)
            except BatchResultsGone as exc:
                self._results_gone(batch, exc)
            except ProviderError as exc:  # the batch stays open: the next pass looks again
                self.report.errors[type(exc).__name__] += 1
                # another account or endpoint, or deleted
                if exc.status_code == 404 and batch.batch_id is not None:
                    self._forget(
                        batch,
                        f"the provider has no batch {batch.batch_id} (404): another API key, "
                        "account or base URL than at submission? Its requests are submitted anew",
                    )
                    continue
                if exc.fatal_for_run:
                    self.report.stopped_by = f"{type(exc).__name__}: {exc}"
                    return
            if self.live.over_budget() and not self.report.stopped_by_budget:
                self.report.stopped_by_budget = True
                await self.cancel_open("the budget (max_cost) was reached on collected answers")

    async def _resolve(self, api: BatchAPI, batch: BatchRow) -> bool:
        """Whether a batch a crash left `submitting` reached the provider (adopted) or not (abandoned)."""
        since = unix_seconds(batch.created_at)
        known = self.log.known_ids()
        found = [b for b in await api.candidates(batch.batch_key, since, batch.requests) if b not in known]
        # same size and time is no proof: another user's batch fits too
        if found and not api.identifies_batches:
            self._undecided.add(batch.batch_key)
            self.log.update(
                self.cfg.name,
                batch.batch_key,
                detail=(
                    f"a crash cut this submission short; {api.provider.provider} batches carry no metadata, so whether "
                    f"{' or '.join(found)} is this one cannot be told. If it is: `llmbench batches --adopt "
                    f"{batch.batch_key}={found[0]}`; if not: `llmbench batches --abandon {batch.batch_key}` (its requests "
                    "are then submitted again). Until then they are held."
                ),
            )
            return False
        if found:
            batch.batch_id, batch.state = found[0], "submitted"
            self.log.update(
                self.cfg.name,
                batch.batch_key,
                batch_id=found[0],
                state="submitted",
                detail="found at the provider after an interrupted submission",
            )
            return True
        self._forget(batch, "no such batch at the provider: the submission never reached it")
        return False

    def _results_gone(self, batch: BatchRow, exc: BatchResultsGone) -> None:
        """An ended batch whose results the provider no longer has: final. Its requests ran and were billed, so
        each gets a row at its estimate; they are not submitted again unless the user says so."""
        requests = self.log.requests(self.cfg.name, batch.batch_key)
        why = (
            f"{exc}; `llmbench batches --resubmit {batch.batch_key}` submits its {len(requests)} request(s) again "
            "(billed again)"
        )
        calls: list[CallRecord] = []
        for r in requests:
            rows = call_records(exc, run_key=r.run_key, item_id=r.item_id, model_id=r.model_id, epoch=r.epoch)
            rows[-1].cost_usd, rows[-1].cost_basis = r.est_cost_usd, "estimated"
            calls += rows
        self.store.write_results(
            self.cfg.name,
            calls,
            then=lambda con, eid: update_sql(
                con,
                eid,
                batch.batch_key,
                {
                    "state": "collected",
                    "results_gone": True,
                    "failed": len(requests),
                    "succeeded": 0,
                    "cost_usd": batch.est_cost_usd,
                    "detail": why,
                },
            ),
        )
        self.report.count(batch.model_id, failed=len(requests))
        self.report.errors[type(exc).__name__] += len(requests)

    def _forget(self, batch: BatchRow, why: str) -> None:
        """Mark a batch the provider does not have as abandoned: its requests are due again."""
        self.report.spent_usd -= batch.est_cost_usd
        self.log.update(self.cfg.name, batch.batch_key, state="abandoned", detail=why)

    async def _collect(
        self, api: BatchAPI, batch: BatchRow, status: BatchStatus, tasks: dict[str, Task]
    ) -> None:
        """Price, score and store every result of an ended batch, and mark it collected, in one transaction."""
        assert batch.batch_id is not None
        requests = {r.run_key: r for r in self.log.requests(self.cfg.name, batch.batch_key)}
        provider = self.providers[batch.model_id]
        calls: list[CallRecord] = []
        scores: list[ScoreRecord] = []
        graded: list[tuple[Task, Completion, CallRecord]] = []
        chosen: dict[str, BatchOutcome] = {}
        cost, ok, stray = 0.0, 0, 0
        started = unix_seconds(batch.created_at)
        async for outcome in api.results(batch.batch_id):
            earlier = chosen.get(outcome.custom_id)
            if outcome.custom_id not in requests or (earlier is not None and earlier.completion is not None):
                stray += 1
                continue
            # an answer wins over an error line before it
            if earlier is None or outcome.completion is not None:
                chosen[outcome.custom_id] = outcome
        seen = set(chosen)
        for outcome in chosen.values():
            request = requests[outcome.custom_id]
            rows, completion = result_rows(outcome, request, provider, batch.round, started)
            calls += rows
            cost += rows[-1].cost_usd or 0.0
            task = tasks.get(outcome.custom_id)
            if completion is not None:
                ok += 1
                if task is not None:
                    graded.append((task, completion, rows[-1]))
            if len(graded) >= _SCORE_CHUNK:
                scores += await self._grade_all(graded)
        scores += await self._grade_all(graded)
        why = status.detail or f"the batch ended as {status.status} without this request's result"
        for key in requests.keys() - seen:
            missing = BatchOutcome(
                key, error=BatchRequestError(f"{batch.model_id}: {why}", provider=provider.provider)
            )
            calls += result_rows(missing, requests[key], provider, batch.round, started)[0]
        failed = len(requests) - ok
        cancelled = status.cancelled or batch.provider_status in ("cancelling", "canceling")
        state = "cancelled" if cancelled else "collected"
        detail = (
            f"{stray} result(s) for requests not in this batch, or repeated, were ignored" if stray else None
        )
        self.store.write_results(
            self.cfg.name,
            calls,
            scores,
            then=lambda con, eid: update_sql(
                con,
                eid,
                batch.batch_key,
                {
                    "state": state,
                    "succeeded": ok,
                    "failed": failed,
                    "cost_usd": cost,
                    "provider_status": status.status,
                    "detail": detail,
                },
            ),
        )
        for score in scores:
            tasks.pop(score.run_key, None)
        self.report.count(batch.model_id, finished=len(scores), failed=failed)
        self.report.spend(batch.model_id, cost)
        self.report.spent_usd -= batch.est_cost_usd  # the estimate it was counted at while open
        for row in calls:
            if row.error_class:
                self.report.errors[row.error_class] += 1
        if self.live.on_progress is not None:
            self.live.on_progress(self.report, len(requests))

    async def _grade_all(self, graded: list[tuple[Task, Completion, CallRecord]]) -> list[ScoreRecord]:
        out = list(await asyncio.gather(*(self.live.grade(t, c, row) for t, c, row in graded)))
        graded.clear()
        return out

    async def close(self) -> None:
        """Write what is pending and close every provider's client (see `Runner.close`)."""
        await self.live.close()

    async def cancel_open(self, why: str) -> int:
        """Ask the provider to cancel every open batch of the experiment; returns how many were asked. A batch
        the provider will not cancel (it ended meanwhile) is left to be collected by the next pass."""
        asked = 0
        for batch in self.log.open(self.cfg.name):
            if batch.batch_id is None:
                continue
            try:
                await self._api(batch.model_id).cancel(batch.batch_id)
            except ProviderError as exc:
                self.report.errors[type(exc).__name__] += 1
                self.log.update(self.cfg.name, batch.batch_key, detail=f"{why}; not cancelled: {exc}")
                continue
            self.log.update(self.cfg.name, batch.batch_key, provider_status="cancelling", detail=why)
            asked += 1
        return asked
