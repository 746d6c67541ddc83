"""Submitting an experiment's due requests to provider batch APIs: which requests are due (new, failed once, or
held), grouped within each provider's request and byte limits and the budget, each batch recorded with its
requests before the provider is asked (so nothing is submitted twice). A part of `BatchRunner`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmbench.errors import ProviderError
from llmbench.providers import Provider, Usage
from llmbench.providers.batch_api import BatchAPI
from llmbench.providers.pricing import call_tokens
from llmbench.store.rows import BatchRequestRow, BatchRow

if TYPE_CHECKING:
    from llmbench.evaluation.config import ExperimentConfig
    from llmbench.evaluation.plan import Task
    from llmbench.evaluation.report import RunReport
    from llmbench.evaluation.runner import Runner
    from llmbench.providers.types import Message
    from llmbench.store.batches import BatchLog

__all__ = ["Submission"]


class Submission:
    """The submitting half of `BatchRunner` (which provides these attributes)."""

    cfg: ExperimentConfig
    report: RunReport
    log: BatchLog
    apis: dict[str, BatchAPI]
    providers: dict[str, Provider]
    max_requests: int | None

    live: Runner  # runs the models without a batch API; builds every call's inputs

    async def _submit_due(self, tasks: dict[str, Task]) -> list[Task]:
        """Submit every due request of the batched models; returns the tasks to run live."""
        name = self.cfg.name
        open_keys, sent = self.log.open_keys(name), self.log.submissions(name)
        gone = self.log.gone_keys(name)
        live: list[Task] = []
        due: dict[tuple[str, int], list[Task]] = {}
        self.report.gave_up = self.report.results_gone = 0
        for task in tasks.values():
            # ran and billed, results lost: only `llmbench batches --resubmit` sends it again
            if task.key in gone:
                self.report.results_gone += 1
            elif task.model_id not in self.apis:
                live.append(task)
            elif task.key in open_keys:
                continue
            elif sent[task.key] == 0:
                due.setdefault((task.model_id, 1), []).append(task)
            elif sent[task.key] == 1 and self.cfg.batch_fallback == "resubmit":
                due.setdefault((task.model_id, 2), []).append(task)
            elif self.cfg.batch_fallback == "live":
                live.append(task)
            else:
                self.report.gave_up += 1
        for (model, round_), chosen in due.items():
            if self.report.stopped_by or self.report.stopped_by_budget:
                break
            for chunk in self._chunks(model, chosen):
                if not await self._submit(model, round_, chunk):
                    break
        return [] if self.report.stopped_by else live

    def _chunks(self, model: str, tasks: list[Task]) -> Iterator[list[tuple[Task, dict[str, Any], float]]]:
        """(task, request, estimated USD) groups within the provider's request and byte limits and the budget."""
        api, provider = self.apis[model], self.providers[model]
        limit = min(api.max_requests, self.max_requests or api.max_requests)
        chunk: list[tuple[Task, dict[str, Any], float]] = []
        size = 0
        for task in tasks:
            messages, params = self.live.call_inputs(
                provider, task
            )  # built once: the estimate and the request
            estimate = self._estimate(provider, messages, params)
            entry = api.request(task.key, messages, params.pop("tools"), params)
            if self.cfg.max_cost is not None and self.report.spent_usd + estimate > self.cfg.max_cost:
                self.report.stopped_by_budget = True
                break
            nbytes = api.size(entry)
            if chunk and (len(chunk) >= limit or size + nbytes > api.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((task, entry, estimate))
            size += nbytes
            self.report.spent_usd += estimate  # counted as it is chosen: the budget check above sees it
        if chunk:
            yield chunk

    @staticmethod
    def _estimate(provider: Provider, messages: list[Message], params: dict[str, Any]) -> float:
        """A request's upper-end batch cost: its prompt plus a full max_tokens answer (the live estimate's tokens,
        at the batch rate)."""
        input_tokens, output_tokens = call_tokens(messages, params)
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        cost, _ = provider.price_table.batch_price(provider.ref, usage, api_url=provider.api_url())
        return cost or 0.0

    async def _submit(self, model: str, round_: int, chunk: list[tuple[Task, dict[str, Any], float]]) -> bool:
        """Record a batch, then hand it to the provider; False when submitting should stop."""
        name, api, key = self.cfg.name, self.apis[model], uuid.uuid4().hex
        estimate = sum(e for _, _, e in chunk)
        row = BatchRow(
            key, api.provider.provider, model, requests=len(chunk), round=round_, est_cost_usd=estimate
        )
        self.log.record(
            name, row, [BatchRequestRow(key, t.key, t.item.id, model, t.epoch, e) for t, _, e in chunk]
        )
        try:
            batch_id, file_id = await api.submit([entry for _, entry, _ in chunk], token=key)
        except ProviderError as exc:
            self.report.errors[type(exc).__name__] += 1
            refused = exc.status_code is not None and 400 <= exc.status_code < 500
            if refused:  # no batch was created
                self.report.spent_usd -= estimate
                self.log.update(name, key, state="abandoned", detail=f"refused: {exc}")
            else:  # it may exist: the next pass looks for it by its token
                self.log.update(name, key, detail=f"outcome unknown: {exc}")
            if (
                refused and exc.status_code != 429
            ) or exc.fatal_for_run:  # the same request would be refused again
                self.report.stopped_by = f"{type(exc).__name__}: {exc}"
            return False
        self.log.update(name, key, state="submitted", batch_id=batch_id, input_file_id=file_id)
        self.report.submitted += len(chunk)
        return True
