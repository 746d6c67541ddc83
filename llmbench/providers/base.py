"""The provider protocol and the one place where calls are timed, priced and retried."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from llmbench import errors
from llmbench.aio import paused, run_sync
from llmbench.providers.model_ref import ModelRef
from llmbench.providers.pricing import PriceTable, UnknownPriceWarning, call_tokens
from llmbench.providers.retry import RetryPolicy
from llmbench.providers.types import (
    Attempt,
    Completion,
    Message,
    MessagesInput,
    StopEvent,
    StopReason,
    StreamEvent,
    ToolSpec,
    Usage,
    UsageEvent,
    to_messages,
)

log = logging.getLogger("llmbench.providers")
T = TypeVar("T")
P = TypeVar("P")  # what a stream passes on before its StopEvent: neutral events or raw bytes
AttemptHook = Callable[[Attempt], None]
BeforeAttempt = Callable[[int], Awaitable[None]]  # awaited before attempt N is sent (e.g. to record it first)


class ItemLike(Protocol):
    """What a provider may read of an evaluation item (the simulator grades from it; real APIs read nothing)."""

    @property
    def id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def reference(self) -> Any: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def difficulty(self) -> float | None: ...


class Provider(ABC):
    """A model behind an API. Subclasses implement `_call` and `_stream`; this class retries, times and prices."""

    provider: str = ""  # the provider part of this instance's model ids (an endpoint's name, or the kind's)
    # What the vendor behind this kind means, in one place:
    price_vendor: ClassVar[str | None] = None  # its id in the price snapshot, for its own models
    batches: ClassVar[str | None] = None  # "module:Class" of its batch API (`llmbench.providers.batch_api`)
    stop_reasons: ClassVar[Mapping[str, StopReason]] = {}  # its stop reasons -> the neutral ones
    serves_endpoints: ClassVar[bool] = False  # it can talk to another server of its API (`[endpoints.X]`)

    def __init__(
        self,
        model: str,
        *,
        model_id: str | ModelRef | None = None,
        timeout: float | None = 60.0,
        retry: RetryPolicy | int | None = None,
        price_table: PriceTable | None = None,
        on_attempt: AttemptHook | None = None,
        default_params: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        self.model = model
        if isinstance(model_id, ModelRef):  # the registry's, parsed once
            self.ref = model_id
        else:
            self.ref = ModelRef.loose(model_id) if model_id else ModelRef(self.provider, model)
        self.model_id = self.ref.id
        self.timeout = timeout
        if isinstance(retry, int):
            retry = RetryPolicy(max_attempts=retry)
        self.retry = retry or RetryPolicy()
        self.price_table = price_table or PriceTable()
        self.on_attempt = on_attempt
        self.default_params = dict(default_params or {})
        self._rng = random.Random(seed)

    composite: bool = False  # builds other providers (a router over models): made by `from_registry`

    @classmethod
    def from_options(cls, model: str, **options: Any) -> Provider:
        """Build from the registry's options (a provider that has no use for some of them drops them here)."""
        return cls(model, **options)

    @classmethod
    def from_registry(cls, model: str, config: Any, **options: Any) -> Provider:
        """Build a `composite` provider, given the registry's config (`llmbench.providers.registry.Config`) so
        that it can build the providers it is made of with the same settings."""
        return cls.from_options(model, **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r})"

    # What subclasses provide -------------------------------------------------------------------------

    def prepare(self) -> None:  # noqa: B027  (most providers need no set-up)
        """Set-up outside any timeout (an SDK's client); raises what a first call would (no API key), unpaid."""

    @abstractmethod
    async def _call(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> Completion:
        """One HTTP attempt; returns a Completion without cost, latency or attempts."""

    @abstractmethod
    def _stream(
        self, messages: list[Any], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> AsyncIterator[StreamEvent]:
        """One streamed attempt; the last event is a StopEvent whose completion lacks cost and latency."""

    forwards: ClassVar[str | None] = (
        None  # the API dialect (a gateway wire's name) whose bodies it sends as is
    )

    async def _forward(self, body: dict[str, Any]) -> tuple[Completion, bytes]:
        """One attempt of `aforward` (providers whose `forwards` names a dialect implement it)."""
        raise NotImplementedError(f"{type(self).__name__} does not forward request bodies")

    def _forward_stream(self, body: dict[str, Any]) -> AsyncIterator[bytes | StopEvent]:
        """One attempt of `aforward_stream`: the answer's bytes, then a StopEvent as `_stream` ends."""
        raise NotImplementedError(f"{type(self).__name__} does not forward request bodies")

    def can_forward(self, dialect: str) -> bool:
        """Whether a request body in `dialect` can be sent to this provider as it is (the gateway's fast path)."""
        return self.forwards == dialect

    # Public API --------------------------------------------------------------------------------------

    async def acomplete(
        self,
        prompt: MessagesInput,
        *,
        tools: list[ToolSpec] | None = None,
        before_attempt: BeforeAttempt | None = None,
        **params: Any,
    ) -> Completion:
        """Answer `prompt` (text or messages), retrying retryable failures; every attempt is reported.
        `before_attempt(n)` is awaited before attempt n is sent; if it raises, nothing is sent."""
        messages = to_messages(prompt)
        merged = {**self.default_params, **params}

        async def send() -> tuple[Completion, None]:
            return await self._call(messages, tools, merged), None

        return (await self._retrying(send, (messages, merged), before_attempt))[0]

    async def aforward(
        self, body: dict[str, Any], messages: list[Message], *, before_attempt: BeforeAttempt | None = None
    ) -> tuple[Completion, bytes]:
        """Send a request body of this provider's own API (`forwards`) as it is, with only the model set, and
        return the answer's bytes as the API sent them beside the Completion read from them. Retries, timing,
        pricing and `before_attempt` are those of `acomplete`; `messages` (the body's, parsed) price estimates."""
        return await self._retrying(lambda: self._forward(body), (messages, body), before_attempt)

    async def _retrying(
        self,
        send: Callable[[], Awaitable[tuple[Completion, T]]],
        call: tuple[list[Message], dict[str, Any]],
        before_attempt: BeforeAttempt | None,
    ) -> tuple[Completion, T]:
        """The retry loop of one call: `send` makes one attempt."""
        attempts: list[Attempt] = []
        self.prepare()
        for number in range(1, self.retry.max_attempts + 1):
            if before_attempt is not None:
                await before_attempt(number)
            started_at, t0 = time.time(), time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout):
                    result, extra = await send()
            except Exception as exc:
                err = self._fail(exc, attempts, number, started_at, t0, call)
                if not err.retryable or number == self.retry.max_attempts:
                    raise err from None
                await asyncio.sleep(self.retry.delay(number, err.retry_after, self._rng))
                continue
            return self._succeed(result, attempts, number, started_at, t0, call), extra
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def astream(
        self,
        prompt: MessagesInput,
        *,
        tools: list[ToolSpec] | None = None,
        before_attempt: BeforeAttempt | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Stream neutral events; retries only before the first event, since a half-shown answer cannot be
        taken back. The final StopEvent carries the same Completion as `acomplete` would."""
        messages = to_messages(prompt)
        merged = {**self.default_params, **params}
        return self._retrying_stream(
            lambda: self._stream(messages, tools, merged), (messages, merged), before_attempt
        )

    def aforward_stream(
        self, body: dict[str, Any], messages: list[Message], *, before_attempt: BeforeAttempt | None = None
    ) -> AsyncIterator[bytes | StreamEvent]:
        """`aforward` for a streamed request: the answer's bytes as they arrive, then a StopEvent (and a
        UsageEvent before it) with the Completion read from them."""
        return self._retrying_stream(lambda: self._forward_stream(body), (messages, body), before_attempt)

    async def _retrying_stream(
        self,
        open_stream: Callable[[], AsyncIterator[P | StopEvent]],
        call: tuple[list[Message], dict[str, Any]],
        before_attempt: BeforeAttempt | None,
    ) -> AsyncIterator[P | UsageEvent | StopEvent]:
        """The retry loop of one streamed call (retried only while nothing has been passed on)."""
        attempts: list[Attempt] = []
        self.prepare()
        for number in range(1, self.retry.max_attempts + 1):
            if before_attempt is not None:
                await before_attempt(number)
            started_at, t0 = time.time(), time.perf_counter()
            emitted = False
            try:
                async with asyncio.timeout(self.timeout) as clock:
                    async for event in open_stream():
                        if isinstance(event, StopEvent):
                            done = self._succeed(event.completion, attempts, number, started_at, t0, call)
                            with paused(clock):
                                if done.usage is not None:
                                    yield UsageEvent(usage=done.usage)
                                yield StopEvent(stop_reason=done.stop_reason, completion=done)
                            return
                        emitted = True
                        # The caller's time with an event is not the provider's: stop the clock meanwhile,
                        # or a slow consumer would be cancelled inside its own code.
                        with paused(clock):
                            yield event
                raise errors.MalformedResponseError(
                    f"{self.model_id}: the stream ended without a final event", provider=self.provider
                )
            except Exception as exc:
                err = self._fail(exc, attempts, number, started_at, t0, call)
                if emitted or not err.retryable or number == self.retry.max_attempts:
                    raise err from None
                await asyncio.sleep(self.retry.delay(number, err.retry_after, self._rng))

    def complete(
        self, prompt: MessagesInput, *, tools: list[ToolSpec] | None = None, **params: Any
    ) -> Completion:
        """Blocking `acomplete`; works in scripts and inside a running Jupyter event loop."""
        return run_sync(self.acomplete(prompt, tools=tools, **params))

    # Accounting --------------------------------------------------------------------------------------

    def _succeed(
        self,
        result: Completion,
        attempts: list[Attempt],
        number: int,
        started_at: float,
        t0: float,
        call: tuple[list[Message], dict[str, Any]],  # what was sent: estimated only when needed
    ) -> Completion:
        latency = self.latency_of(result, time.perf_counter() - t0)
        cost = self.price_table.price(self.price_ref(result), result.usage, api_url=self.api_url())
        basis: Literal["estimated"] | None = None
        if result.usage is None:  # answered without usage: billed all the same, so charged at the estimate
            cost, basis = self.estimate_call(*call), "estimated"
        attempt = Attempt(
            number=number,
            started_at=started_at,
            latency_s=latency,
            ok=True,
            usage=result.usage,
            cost_usd=cost,
            request_id=result.request_id,
            cost_basis=basis,
        )
        self._report(attempt)
        attempts.append(attempt)
        return result.model_copy(update={"cost_usd": cost, "latency_s": latency, "attempts": list(attempts)})

    def _fail(
        self,
        exc: Exception,
        attempts: list[Attempt],
        number: int,
        started_at: float,
        t0: float,
        call: tuple[list[Message], dict[str, Any]],  # what was sent: estimated only when needed
    ) -> errors.ProviderError:
        err = self._map_error(exc)
        usage = err.partial_usage
        cost = self.price_table.price(self.price_ref(None), usage, api_url=self.api_url()) if usage else None
        basis: Literal["estimated"] | None = None
        # it answered: billed, usage unknown
        if cost is None and isinstance(err, errors.MalformedResponseError):
            cost, basis = self.estimate_call(*call), "estimated"
        attempt = Attempt(
            number=number,
            started_at=started_at,
            latency_s=time.perf_counter() - t0,
            ok=False,
            usage=usage,
            cost_usd=cost,
            cost_basis=basis,
            error_type=type(err).__name__,
            error_message=str(err),
            status_code=err.status_code,
            request_id=err.request_id,
        )
        self._report(attempt)
        attempts.append(attempt)
        err.attempts = list(attempts)
        log.info("%s attempt %d failed: %s", self.model_id, number, err)
        return err

    def _quiet_price(self, usage: Usage) -> float | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownPriceWarning)
            return self.price_table.price(self.price_ref(None), usage, api_url=self.api_url())

    def is_priced(self) -> bool:
        """Whether the price table knows this model (an unpriced model's calls cost None, not a number)."""
        return self._quiet_price(Usage(input_tokens=1000, output_tokens=1000)) is not None

    def price_note(self) -> str | None:
        """What to tell a user before the first call when this model has no price (None when it has one)."""
        return None if self.is_priced() else self.price_table.unpriced_note(self.price_ref(None))

    def estimate_cost(self, input_tokens: int, output_tokens: int) -> float:
        """What a call of these sizes should cost (0 for an unpriced model): the budget's estimate of an attempt
        whose real usage is not known yet."""
        return self._quiet_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens)) or 0.0

    def estimate_call(self, messages: list[Message], params: dict[str, Any]) -> float:
        """The budget's estimate of one attempt before its usage is known (0 for an unpriced model)."""
        return self.estimate_cost(*call_tokens(messages, params))

    @property
    def simulated(self) -> bool:
        """Whether answers are simulated (an eval then passes each item's example answers, see `sim.SIM_ITEM`)."""
        return False

    def _report(self, attempt: Attempt) -> None:
        if self.on_attempt is not None:
            self.on_attempt(attempt)

    def latency_of(self, result: Completion, measured: float) -> float:
        """The latency to record for an answer: the time measured around the call."""
        return measured

    def api_url(self) -> str | None:
        """The base URL the provider talks to (None: the vendor's own API); it picks a server's price vendor."""
        return getattr(self, "base_url", None)

    def price_ref(self, result: Completion | None) -> ModelRef:
        """The model to price by: the configured one (dated snapshot names resolve in genai-prices too)."""
        return self.ref

    def _map_error(self, exc: Exception) -> errors.ProviderError:
        if isinstance(exc, errors.ProviderError):
            return exc
        if isinstance(exc, UnicodeError):  # raised while encoding the request: nothing was sent
            return errors.InvalidRequestError(
                f"{self.model_id}: the request holds text that is not valid Unicode ({exc}); repair it (e.g. "
                "llmbench.text_safe.encodable) before sending",
                provider=self.provider,
            )
        if isinstance(exc, TimeoutError):
            return errors.ProviderTimeout(
                f"{self.model_id}: no answer within {self.timeout} s (raise `timeout` if the model is slow)",
                provider=self.provider,
            )
        return errors.MalformedResponseError(
            f"{self.model_id}: unexpected {type(exc).__name__}: {exc}", provider=self.provider
        )

    async def aclose(self) -> None:  # noqa: B027  (most providers hold nothing to release)
        """Release network resources."""
