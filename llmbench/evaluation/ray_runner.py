"""`llmbench eval --ray ADDRESS` (or `ray: ADDRESS` in the experiment file): the same run, each provider attempt
and each scoring done on a Ray cluster (`pip install 'llmbench[ray]'`).

The driver keeps everything that guards money and rows: the plan, admission (concurrency, per-provider rate
limits and the budget, so all of them hold cluster-wide), the intent committed before each attempt, retries and
their backoff, and the one store writer. The work goes to one async worker actor per CPU of the cluster (`Worker`:
many calls at once, as each waits on the network or a sandbox); a call makes exactly one attempt (the provider is
built on the worker with retries off), so the intent the driver committed always precedes the one request that
call sends. A worker lost mid-call fails that attempt with a retryable connection error: the item is retried,
never run twice at once, and the lost attempt stays in the store as an error row. Sandboxed code tests and LLM
judges run on the workers.
API keys stay on each machine: workers read their own environment; the driver's config (endpoints and routers,
which hold no keys) travels with each call.

ADDRESS: `local` (a Ray instance started in this process), `auto` (the cluster `ray start` runs on this
machine), or a cluster address (`HOST:6379`, `ray://HOST:10001`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from llmbench import errors
from llmbench.errors import ConfigError
from llmbench.evaluation.config import ExperimentConfig
from llmbench.evaluation.runner import Runner
from llmbench.providers import Completion, Provider, get_provider
from llmbench.providers.model_ref import ModelRef
from llmbench.providers.pricing import PriceTable
from llmbench.providers.registry import Config, load_config
from llmbench.providers.types import Message, StopEvent, StreamEvent, ToolSpec
from llmbench.scorers import SCORERS, Answer, Score, Scorer
from llmbench.store import stable_hash

__all__ = ["RayRunner", "RemoteProvider", "RemoteScorer", "Worker", "connect"]


def connect(address: str) -> None:
    """Join (or, for `local`, start) the Ray cluster the run's tasks go to."""
    try:
        import ray
    except ImportError:
        raise ConfigError("`--ray` needs Ray: pip install 'llmbench[ray]'") from None
    global _joined
    if ray.is_initialized():
        if _joined == address:
            return
        ray.shutdown()  # joined another cluster earlier in this process (a notebook): join this one instead
    ray.init(address=None if address == "local" else address, log_to_driver=False, configure_logging=False)
    _joined = address


_joined: str | None = None  # the address this process joined


# What runs on the workers ----------------------------------------------------------------------------------


class Worker:
    """One per worker CPU, as a Ray async actor: many attempts and scorings at once on one event loop (each waits
    on the network or on a sandbox process), its SDK clients and scorers kept across calls."""

    def __init__(self) -> None:
        self._providers: dict[tuple[str, float, int, str], Provider] = {}
        self._scorers: dict[tuple[str, str], Scorer] = {}

    async def attempt(
        self,
        ref: str,
        timeout: float,
        seed: int,
        config: Config,
        messages: list[Message],
        tools: list[ToolSpec] | None,
        params: dict[str, Any],
    ) -> Completion | errors.ProviderError:
        """One attempt: the completion, or the provider's error as a value (it travels back as is). The provider
        is built from the driver's config (endpoints; no keys), with one attempt: retries are the driver's."""
        key = (ref, timeout, seed, config.model_dump_json())
        provider = self._providers.get(key)
        if provider is None:  # priced by the driver; the worker's table stays empty
            provider = get_provider(
                ref, config=config, price_table=PriceTable(), timeout=timeout, retry=1, seed=seed
            )
            self._providers[key] = provider
        try:
            return await provider.acomplete(messages, tools=tools, **params)
        except errors.ProviderError as err:
            return err

    async def score(
        self, cfg: ExperimentConfig, cfg_hash: str, kind: str, answer: Answer, item: Any
    ) -> Score:
        """One scoring by the experiment's scorer `kind`."""
        scorer = self._scorers.get((cfg_hash, kind))
        if scorer is None:
            scorer = SCORERS.get(kind).from_experiment(cfg, **cfg.scorer_options.get(kind, {}))
            self._scorers[cfg_hash, kind] = scorer
        return await scorer.score(answer, item)


_CALLS_PER_WORKER = 64  # calls in flight on one worker (they wait; the CPU is the sandbox's or nobody's)


class Workers:
    """The run's worker actors, one per CPU the cluster has free when the run starts; calls go round-robin to the
    live ones. A worker lost with its node leaves the pool (its calls fail as connection errors the driver
    retries); when none is left, a new pool is made on what the cluster has then."""

    def __init__(self) -> None:
        self._pool: list[Any] = []
        self._next = 0

    def _fill(self) -> None:
        import ray

        api: Any = ray  # its type stubs list the task options only, not an actor's max_concurrency
        actor = api.remote(num_cpus=1, max_concurrency=_CALLS_PER_WORKER, max_restarts=0)(Worker)
        cpus = int(api.available_resources().get("CPU", 0)) or 1
        self._pool = [actor.remote() for _ in range(cpus)]

    async def run(self, method: str, *args: Any) -> Any:
        """One call's answer; a worker or node lost under it is a connection error the driver may retry."""
        import ray

        if not self._pool:
            self._fill()
        worker = self._pool[self._next % len(self._pool)]
        self._next += 1
        ref = getattr(worker, method).remote(*args)
        try:
            return await ref
        except asyncio.CancelledError:
            ray.cancel(ref)
            raise
        except (
            ray.exceptions.RayActorError,
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
        ) as exc:
            if worker in self._pool:
                self._pool.remove(worker)
            raise errors.ProviderConnectionError(
                f"the Ray worker running this call was lost ({type(exc).__name__})"
            ) from None


# What the driver holds -------------------------------------------------------------------------------------


class RemoteProvider(Provider):
    """A provider whose attempts run on the Ray workers; its prices, estimates and ids are those of the same
    provider built here (`twin`), which never sends anything."""

    def __init__(self, twin: Provider, seed: int, config: Config, workers: Workers) -> None:
        super().__init__(
            twin.model,
            model_id=twin.ref,
            timeout=twin.timeout,
            retry=twin.retry,
            price_table=twin.price_table,
            seed=seed,
        )
        self.provider, self.twin, self.seed = twin.provider, twin, seed
        self.config, self.workers = config, workers

    async def _call(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        args = (self.model_id, self.timeout or 60.0, self.seed, self.config, messages, tools, params)
        outcome = await self.workers.run("attempt", *args)
        if isinstance(outcome, errors.ProviderError):
            raise outcome
        return cast(Completion, outcome)

    async def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        completion = await self._call(
            messages, tools, params
        )  # the worker reads the stream; the answer returns
        yield StopEvent(stop_reason=completion.stop_reason, completion=completion)

    @property
    def simulated(self) -> bool:
        return self.twin.simulated

    def price_ref(self, result: Completion | None) -> ModelRef:
        return self.twin.price_ref(result)

    def api_url(self) -> str | None:
        return self.twin.api_url()


class RemoteScorer(Scorer):
    """A scorer whose grading runs on the Ray workers; its checks and examples are the local one's (`local`)."""

    def __init__(self, local: Scorer, cfg: ExperimentConfig, workers: Workers) -> None:
        self.local, self.cfg, self.workers = local, cfg, workers
        self.cfg_hash = stable_hash(cfg.model_dump(mode="json"))

    @classmethod
    def wrap(cls, local: Scorer, cfg: ExperimentConfig, workers: Workers) -> Scorer:
        """`local`, graded on the cluster under its own name."""
        named = type(f"Remote{type(local).__name__}", (cls,), {"name": local.name, "aliases": local.aliases})
        return cast(Scorer, named(local, cfg, workers))

    def examples(self, item: Any) -> Any:
        return self.local.examples(item)

    def preflight(self) -> None:
        self.local.preflight()

    def check_item(self, item: Any) -> None:
        self.local.check_item(item)

    async def agrade(self, answer: Answer, item: Any) -> Score:
        args = (self.cfg, self.cfg_hash, self.local.name, answer, item)
        return cast(Score, await self.workers.run("score", *args))


class RayRunner(Runner):
    """`Runner` with every attempt and every scoring on a Ray cluster (see the module docstring)."""

    def __init__(self, cfg: ExperimentConfig, *args: Any, address: str, **kwargs: Any) -> None:
        connect(address)
        super().__init__(cfg, *args, **kwargs)
        config, self.workers = load_config(), Workers()
        self.providers = {
            m: RemoteProvider(p, cfg.seed, config, self.workers) for m, p in self.providers.items()
        }
        self._remote_scorers: dict[str, Scorer] = {}

    def scorer_for(self, item: Any) -> Scorer:
        local = super().scorer_for(item)
        if local.name not in self._remote_scorers:
            self._remote_scorers[local.name] = RemoteScorer.wrap(local, self.cfg, self.workers)
        return self._remote_scorers[local.name]
