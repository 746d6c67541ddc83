"""`llmbench eval --ray ADDRESS` (or `ray: ADDRESS` in the experiment file): the same run, each provider attempt
and each scoring done by a task on a Ray cluster (`pip install 'llmbench[ray]'`).

The driver keeps everything that guards money and rows: the plan, admission (concurrency, per-provider rate
limits and the budget, so all of them hold cluster-wide), the intent committed before each attempt, retries and
their backoff, and the one store writer. A task makes exactly one attempt (the provider is built on the worker
with retries off), so the intent the driver committed always precedes the one request its task sends. A worker
lost mid-task fails that attempt with a retryable connection error: the item is retried, never run twice at once,
and the lost attempt stays in the store as an error row. Sandboxed code tests and LLM judges run on the workers.
API keys stay on each machine: workers read their own environment; the driver's config (endpoints and routers,
which hold no keys) travels with each task.

ADDRESS: `local` (a Ray instance started in this process), `auto` (the cluster `ray start` runs on this
machine), or a cluster address (`HOST:6379`, `ray://HOST:10001`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any, cast

from llmbench import errors
from llmbench.errors import ConfigError
from llmbench.evaluation.config import ExperimentConfig
from llmbench.evaluation.runner import Runner
from llmbench.providers import Completion, Provider, get_provider
from llmbench.providers.pricing import PriceTable
from llmbench.providers.registry import Config, load_config
from llmbench.providers.types import Message, StopEvent, StreamEvent, ToolSpec
from llmbench.scorers import SCORERS, Answer, Score, Scorer
from llmbench.store import stable_hash

__all__ = ["RayRunner", "RemoteProvider", "RemoteScorer", "connect"]


def connect(address: str) -> None:
    """Join (or, for `local`, start) the Ray cluster the run's tasks go to."""
    try:
        import ray
    except ImportError:
        raise ConfigError("`--ray` needs Ray: pip install 'llmbench[ray]'") from None
    if ray.is_initialized():
        return
    ray.init(address=None if address == "local" else address, log_to_driver=False, configure_logging=False)


# What runs on the workers ----------------------------------------------------------------------------------


_PROVIDERS: dict[tuple[str, float, int, str], Provider] = {}  # per worker process, by what builds one


def _attempt(
    ref: str,
    timeout: float,
    seed: int,
    config: Config,
    messages: list[Message],
    tools: list[ToolSpec] | None,
    params: dict[str, Any],
) -> Completion | errors.ProviderError:
    """One attempt on a worker: the completion, or the provider's error as a value (it travels back as is). The
    provider is built from the driver's config (endpoints; no keys), with one attempt: retries are the driver's."""
    key = (ref, timeout, seed, config.model_dump_json())
    provider = _PROVIDERS.get(key)
    if provider is None:  # priced by the driver; the worker's table stays empty
        provider = get_provider(
            ref, config=config, price_table=PriceTable(), timeout=timeout, retry=1, seed=seed
        )
        _PROVIDERS[key] = provider

    async def once() -> Completion | errors.ProviderError:
        try:
            return await provider.acomplete(messages, tools=tools, **params)
        except errors.ProviderError as err:
            return err

    return _worker_loop().run_until_complete(once())


@functools.cache
def _worker_loop() -> asyncio.AbstractEventLoop:
    """One event loop per worker process, so its SDK clients and their connections live across tasks."""
    return asyncio.new_event_loop()


_SCORERS: dict[tuple[str, str], Scorer] = {}  # per worker process: (experiment hash, scorer) -> scorer


def _score(cfg: ExperimentConfig, cfg_hash: str, kind: str, answer: Answer, item: Any) -> Score:
    scorer = _SCORERS.get((cfg_hash, kind))
    if scorer is None:
        scorer = SCORERS.get(kind).from_experiment(cfg, **cfg.scorer_options.get(kind, {}))
        _SCORERS[cfg_hash, kind] = scorer
    return _worker_loop().run_until_complete(scorer.score(answer, item))


@functools.cache
def _remote(fn: Any, cpus: float) -> Any:
    import ray

    return ray.remote(max_retries=0, num_cpus=cpus)(
        fn
    )  # a lost task is retried by the driver, which records it


_ATTEMPT_CPUS = 0.25  # an attempt waits on the network: four share a CPU
_SCORE_CPUS = 1.0  # a scoring may run code in a sandbox: one per CPU


async def _await(ref: Any) -> Any:
    """A task's result; a worker or node lost under it is a connection error the driver may retry."""
    import ray

    try:
        return await ref
    except asyncio.CancelledError:
        ray.cancel(ref, force=True)
        raise
    except (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.NodeDiedError,
        ray.exceptions.ObjectLostError,
    ) as exc:
        raise errors.ProviderConnectionError(
            f"the Ray worker running this task was lost ({type(exc).__name__})"
        ) from None


# What the driver holds -------------------------------------------------------------------------------------


class RemoteProvider(Provider):
    """A provider whose attempts run as Ray tasks; its prices, estimates and ids are those of the same provider
    built here (`twin`), which never sends anything."""

    def __init__(self, twin: Provider, ref: str, seed: int, config: Config) -> None:
        super().__init__(
            twin.model, model_id=twin.model_id, timeout=twin.timeout, retry=twin.retry,
            price_table=twin.price_table, seed=seed,
        )  # fmt: skip
        self.provider, self.twin, self.ref, self.seed, self.config = twin.provider, twin, ref, seed, config

    async def _call(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        timeout = self.timeout or 60.0
        task = _remote(_attempt, _ATTEMPT_CPUS).remote(
            self.ref, timeout, self.seed, self.config, messages, tools, params
        )
        outcome = await _await(task)
        if isinstance(outcome, errors.ProviderError):
            raise outcome
        return cast(Completion, outcome)

    async def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        completion = await self._call(
            messages, tools, params
        )  # the worker reads the stream; the answer comes back
        yield StopEvent(stop_reason=completion.stop_reason, completion=completion)

    @property
    def simulated(self) -> bool:
        return self.twin.simulated

    def _price_id(self, result: Completion | None) -> str:
        return self.twin._price_id(result)

    def _api_url(self) -> str | None:
        return self.twin._api_url()


class RemoteScorer(Scorer):
    """A scorer whose grading runs as a Ray task; its checks and examples are the local one's (`local`)."""

    def __init__(self, local: Scorer, cfg: ExperimentConfig) -> None:
        self.local, self.cfg = local, cfg
        self.cfg_hash = stable_hash(cfg.model_dump(mode="json"))

    @classmethod
    def wrap(cls, local: Scorer, cfg: ExperimentConfig) -> Scorer:
        """`local`, graded on the cluster under its own name."""
        named = type(f"Remote{type(local).__name__}", (cls,), {"name": local.name, "aliases": local.aliases})
        return cast(Scorer, named(local, cfg))

    def examples(self, item: Any) -> Any:
        return self.local.examples(item)

    def preflight(self) -> None:
        self.local.preflight()

    def check_item(self, item: Any) -> None:
        self.local.check_item(item)

    async def agrade(self, answer: Answer, item: Any) -> Score:
        task = _remote(_score, _SCORE_CPUS).remote(self.cfg, self.cfg_hash, self.local.name, answer, item)
        return cast(Score, await _await(task))


class RayRunner(Runner):
    """`Runner` with every attempt and every scoring on a Ray cluster (see the module docstring)."""

    def __init__(self, cfg: ExperimentConfig, *args: Any, address: str, **kwargs: Any) -> None:
        connect(address)
        super().__init__(cfg, *args, **kwargs)
        config = load_config()
        self.providers = {
            m: RemoteProvider(p, str(cfg.ref(m)), cfg.seed, config) for m, p in self.providers.items()
        }
        self._remote_scorers: dict[str, Scorer] = {}

    def scorer_for(self, item: Any) -> Scorer:
        local = super().scorer_for(item)
        if local.name not in self._remote_scorers:
            self._remote_scorers[local.name] = RemoteScorer.wrap(local, self.cfg)
        return self._remote_scorers[local.name]
