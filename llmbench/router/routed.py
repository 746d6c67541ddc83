"""`router:POLICY` as a model: each call is routed by an exported policy, sent to the chosen model, and on a failure
the ranked fallbacks can heal (rate limit after the retry budget, 5xx, timeout, connection, context too long, model
not found) sent to the next model. The completion carries the decision (`Completion.route`); every attempt, on
every model tried, keeps its own usage and cost.

The policy source is a policy file, or an MLflow model URI (`models:/llmbench-router@champion`, `runs:/ID/model`)
of a policy logged with `llmbench.tracking.log_router_run`; names from `llmbench.toml` ([routers]) are resolved by
the registry. The models the policy routes to are built by the registry too (`build`), each once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llmbench import errors
from llmbench.providers.base import BeforeAttempt, Provider
from llmbench.providers.sim import SIM_ITEM
from llmbench.providers.types import (
    Attempt,
    Completion,
    Message,
    MessagesInput,
    Route,
    StopEvent,
    StreamEvent,
    ToolSpec,
    to_messages,
)
from llmbench.router.decision import Decision
from llmbench.router.policy import RouterPolicy

if TYPE_CHECKING:
    pass

__all__ = ["RouterProvider", "load_policy"]

T = TypeVar("T")
P = TypeVar("P")  # what a routed stream passes on before its StopEvent: neutral events or raw bytes

# Failures another model can heal; a bad request or a bad key would fail on every model alike.


def load_policy(source: str) -> RouterPolicy:
    """A served policy from a policy file or an MLflow model URI (`models:/...`, `runs:/...`)."""
    if source.startswith(("models:/", "runs:/")):
        import mlflow.pyfunc

        from llmbench.mlflow_uri import global_tracking_uri, tracking_uri

        try:
            with global_tracking_uri(tracking_uri()):  # the store `llmbench ui` and the CLI use
                model = mlflow.pyfunc.load_model(source)
        except Exception as exc:  # MLflow raises its own and many library errors
            raise errors.ConfigError(
                f"cannot load the routing policy {source!r} from MLflow: {exc}"
            ) from None
        router = getattr(model.unwrap_python_model(), "router", None)
        if not isinstance(router, RouterPolicy):
            raise errors.ConfigError(
                f"{source!r} is not an llmbench routing policy (log one with `router export`)"
            )
        return router
    if not Path(source).is_file():
        raise errors.ConfigError(
            f"no routing policy at {source!r}: give a policy file (llmbench router export -o FILE), an MLflow "
            "model URI (models:/NAME@ALIAS), or a name from [routers] in llmbench.toml"
        )
    return RouterPolicy.load(source)


class RouterProvider(Provider):
    """A routing policy in front of the models it ranks; see the module docstring."""

    provider = "router"

    def __init__(
        self,
        model: str,
        *,
        build: Callable[[str], Provider],
        policy: RouterPolicy | None = None,
        **options: Any,
    ) -> None:
        options.pop("retry", None)  # the routed models retry; the router only falls back
        super().__init__(model, retry=1, **options)
        self.policy = policy if policy is not None else load_policy(model)
        self._build = build
        self._models: dict[str, Provider] = {}
        for name in self.policy.models:  # unknown providers or model ids fail now, before any call
            self.model_for(name)

    composite = True

    @classmethod
    def from_options(cls, model: str, **options: Any) -> Provider:
        """Build from the registry's options (connection options belong to the routed models, not the router)."""
        for key in ("base_url", "api_key", "http_client", "api_key_env", "provider_name"):
            options.pop(key, None)
        return cls(model, **options)

    @classmethod
    def from_registry(cls, model: str, config: Any, **options: Any) -> Provider:
        """`router:POLICY` from the registry: POLICY is a file, an MLflow model URI or a name from [routers] in
        the config; the models it routes to are built by the same registry with the same settings."""
        from llmbench.providers.model_ref import ModelRef
        from llmbench.providers.registry import get_provider

        source = config.routers.get(model, model)
        table = options.get("price_table")
        shared = {k: options[k] for k in ("timeout", "retry", "on_attempt", "seed") if k in options}

        def build(model_id: str) -> Provider:
            if ModelRef.parse(model_id).provider == cls.provider:
                raise errors.ConfigError(
                    f"routing policy {source!r} routes to {model_id!r}; a policy cannot route to a router"
                )
            return get_provider(model_id, config=config, price_table=table, **shared)

        return cls.from_options(source, build=build, **options)

    def model_for(self, model_id: str) -> Provider:
        """The provider of one routed model (built once)."""
        if model_id not in self._models:
            self._models[model_id] = self._build(model_id)
        return self._models[model_id]

    def reload(self, policy: RouterPolicy) -> None:
        """Serve a new policy from the next call on (its models are built now, so a bad one fails here)."""
        for name in policy.models:
            self.model_for(name)
        self.policy = policy

    # Pricing: an upper bound over the routed models, so a budget is never overrun by the router's choice.
    def is_priced(self) -> bool:
        """Whether every model the policy may choose has a price."""
        return all(self.model_for(m).is_priced() for m in self.policy.models)

    def price_note(self) -> str | None:
        """The first routed model's note: the router's cost is unknown when one of its models has no price."""
        return next(filter(None, (self.model_for(m).price_note() for m in self.policy.models)), None)

    def estimate_cost(self, input_tokens: int, output_tokens: int) -> float:
        """The dearest routed model's estimate (the router may pick any of them)."""
        return max(self.model_for(m).estimate_cost(input_tokens, output_tokens) for m in self.policy.models)

    @property
    def simulated(self) -> bool:
        """Whether any routed model is simulated (its item hints are then passed on to those models only)."""
        return any(self.model_for(m).simulated for m in self.policy.models)

    async def _call(
        self, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        raise NotImplementedError("RouterProvider routes in acomplete/astream")

    def _stream(
        self, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError("RouterProvider routes in acomplete/astream")

    def decide(self, messages: list[Message]) -> tuple[Decision, list[str]]:
        """The policy's decision for these messages and the order to try models in."""
        decision = self.policy.route(messages)
        order = [decision.model, *(f.model for f in decision.fallbacks if f.model != decision.model)]
        return decision, order

    def can_forward(self, dialect: str) -> bool:
        """Whether every model the policy may choose takes a body in `dialect` as it is."""
        return all(self.model_for(m).can_forward(dialect) for m in self.policy.models)

    async def acomplete(
        self,
        prompt: MessagesInput,
        *,
        tools: list[ToolSpec] | None = None,
        before_attempt: BeforeAttempt | None = None,
        **params: Any,
    ) -> Completion:
        """Route, call the chosen model, fall back down the ranking on a healable failure."""
        messages = to_messages(prompt)
        hint = params.pop(SIM_ITEM, None)

        async def call(inner: Provider, hook: BeforeAttempt | None) -> tuple[Completion, None]:
            extra = {SIM_ITEM: hint} if hint is not None and inner.simulated else {}
            return await inner.acomplete(
                messages, tools=tools, before_attempt=hook, **{**params, **extra}
            ), None

        return (await self._routed(messages, before_attempt, call))[0]

    async def aforward(
        self, body: dict[str, Any], messages: list[Message], *, before_attempt: BeforeAttempt | None = None
    ) -> tuple[Completion, bytes]:
        """Route, forward the body as it is to the chosen model (its model field set), fall back as `acomplete`."""

        def call(inner: Provider, hook: BeforeAttempt | None) -> Awaitable[tuple[Completion, bytes]]:
            return inner.aforward(body, messages, before_attempt=hook)

        return await self._routed(messages, before_attempt, call)

    async def _routed(
        self,
        messages: list[Message],
        before_attempt: BeforeAttempt | None,
        call: Callable[[Provider, BeforeAttempt | None], Awaitable[tuple[Completion, T]]],
    ) -> tuple[Completion, T]:
        """The decision, then `call` on each model in the order to try until one answers or none can heal."""
        decision, order = self.decide(messages)
        trail = _Trail(self, decision, before_attempt)
        for model_id in order:
            try:
                result, extra = await call(self.model_for(model_id), trail.hook())
            except errors.ProviderError as err:
                trail.failed(model_id, err)
                if not err.heals_elsewhere or model_id == order[-1]:
                    raise trail.error(err) from None
                continue
            return trail.answered(model_id, result), extra
        raise AssertionError("unreachable: the ranking is never empty")

    def astream(
        self,
        prompt: MessagesInput,
        *,
        tools: list[ToolSpec] | None = None,
        before_attempt: BeforeAttempt | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Stream from the chosen model; fall back only before the first event (a shown answer stays)."""
        messages = to_messages(prompt)
        hint = params.pop(SIM_ITEM, None)

        def open_stream(inner: Provider, hook: BeforeAttempt | None) -> AsyncIterator[StreamEvent]:
            extra = {SIM_ITEM: hint} if hint is not None and inner.simulated else {}
            return inner.astream(messages, tools=tools, before_attempt=hook, **{**params, **extra})

        return self._routed_stream(messages, before_attempt, open_stream)

    def aforward_stream(
        self, body: dict[str, Any], messages: list[Message], *, before_attempt: BeforeAttempt | None = None
    ) -> AsyncIterator[bytes | StreamEvent]:
        """`aforward` streamed: fall back only before the first byte."""

        def open_stream(inner: Provider, hook: BeforeAttempt | None) -> AsyncIterator[bytes | StreamEvent]:
            return inner.aforward_stream(body, messages, before_attempt=hook)

        return self._routed_stream(messages, before_attempt, open_stream)

    async def _routed_stream(
        self,
        messages: list[Message],
        before_attempt: BeforeAttempt | None,
        open_stream: Callable[[Provider, BeforeAttempt | None], AsyncIterator[P | StopEvent]],
    ) -> AsyncIterator[P | StopEvent]:
        decision, order = self.decide(messages)
        trail = _Trail(self, decision, before_attempt)
        for model_id in order:
            emitted = False
            try:
                async for event in open_stream(self.model_for(model_id), trail.hook()):
                    if isinstance(event, StopEvent):
                        done = trail.answered(model_id, event.completion)
                        yield StopEvent(stop_reason=done.stop_reason, completion=done)
                        return
                    emitted = True
                    yield event
            except errors.ProviderError as err:
                trail.failed(model_id, err)
                if emitted or not err.heals_elsewhere or model_id == order[-1]:
                    raise trail.error(err) from None


class _Trail:
    """The attempts of one routed call across the models tried, numbered in order."""

    def __init__(
        self, router: RouterProvider, decision: Decision, before_attempt: BeforeAttempt | None
    ) -> None:
        self.router, self.decision, self.before_attempt = router, decision, before_attempt
        self.attempts: list[Attempt] = []
        self.tried: list[str] = []
        self.t0 = time.perf_counter()

    def hook(self) -> BeforeAttempt | None:
        """`before_attempt` for the next model, numbering its attempts after the ones already made."""
        if self.before_attempt is None:
            return None
        outer, offset = self.before_attempt, len(self.attempts)

        async def numbered(n: int) -> None:
            await outer(offset + n)

        return numbered

    def _add(self, model_id: str, attempts: list[Attempt]) -> None:
        offset = len(self.attempts)
        self.attempts += [
            a.model_copy(update={"number": offset + a.number, "model_id": model_id}) for a in attempts
        ]

    def failed(self, model_id: str, err: errors.ProviderError) -> None:
        """Record a model's failed attempts."""
        self._add(model_id, err.attempts)
        self.tried.append(model_id)

    def error(self, err: errors.ProviderError) -> errors.ProviderError:
        """The last failure, carrying every attempt on every model (each one is billed)."""
        err.attempts = list(self.attempts)
        return err

    def answered(self, model_id: str, result: Completion) -> Completion:
        """The answer as the router's: every attempt, and the decision."""
        self._add(model_id, result.attempts)
        d = self.decision
        route = Route(
            policy=self.router.policy.sha256 or "",
            chosen=d.model,
            answered_by=model_id,
            fallback=len(self.tried),
            tried=list(self.tried),
            expected_quality=d.expected_quality,
            expected_cost=d.expected_cost,
        )
        update = {"model_id": self.router.model_id, "attempts": list(self.attempts), "route": route}
        return result.model_copy(update={**update, "latency_s": time.perf_counter() - self.t0})
