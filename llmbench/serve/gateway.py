"""`llmbench serve`: an OpenAI-compatible gateway (Starlette on uvicorn) in front of routing policies and models.

`POST /v1/chat/completions` (plain and streamed, tools included; and Anthropic's `POST /v1/messages` on the same
core): the `model` field is `router` (the default
policy), `router:NAME` (a named one) or a model id the gateway serves directly. Every request and attempt goes to
the run store through one writer thread (with `durable`, the answer leaves only once its rows are committed);
`x-llmbench-*` headers (and, for streams, an `llmbench` object in the last chunk) carry the answering model, its
cost and the policy hash. `GET /v1/models`, `/health` and Prometheus `/metrics` complete it. Policy files are
watched and reloaded without a restart (also on SIGHUP).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from llmbench import errors
from llmbench.json_safe import utf8
from llmbench.providers import Provider, get_provider
from llmbench.providers.types import Completion, StopEvent
from llmbench.router.policy import RouterPolicy
from llmbench.router.routed import RouterProvider
from llmbench.serve.config import GatewayConfig
from llmbench.serve.metrics import CONTENT_TYPE, GatewayMetrics
from llmbench.serve.openai_wire import ChatRequest
from llmbench.serve.wires import OPENAI, WIRES, AsIs, Wire
from llmbench.store import IntentRecord, Store, call_records
from llmbench.store.writer import StoreWriter

__all__ = ["Gateway"]

log = logging.getLogger("llmbench.serve")


_KEY_NEEDED = "a valid client key is required: Authorization: Bearer KEY (or x-api-key)"


class Gateway:
    """One gateway: its providers, run-store writer and metrics; `app` is the ASGI application."""

    def __init__(self, config: GatewayConfig, *, providers: dict[str, Provider] | None = None) -> None:
        config.check()
        self.config = config
        self.metrics = GatewayMetrics()
        self._keys = [k.encode() for k in config.client_keys()]
        self._given = providers or {}
        self.routes: dict[str, Provider] = {}  # requested model -> provider
        self._sources: dict[str, str] = {}  # router model -> policy file watched for changes
        self._stamps: dict[str, tuple[int, int]] = {}
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self.store: Store | None = None
        self.writer: StoreWriter | None = None
        self._watch: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[
                *[Route(wire.path, self._endpoint(wire), methods=["POST"]) for wire in WIRES],
                Route("/v1/models", self.list_models, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/metrics", self.render_metrics, methods=["GET"]),
            ],
            lifespan=self._lifespan,
        )

    # Life cycle -------------------------------------------------------------------------------------------

    def build(self) -> None:
        """Build every provider now, so a bad policy or model id fails before the port opens."""
        cfg = self.config
        opts: dict[str, Any] = {"timeout": cfg.timeout, "retry": cfg.retries}
        named = {"router": cfg.policy} if cfg.policy else {}
        named |= {f"router:{n}": src for n, src in cfg.policies.items()}
        for name, source in named.items():
            provider = self.routes[name] = self._given.get(name) or get_provider(f"router:{source}", **opts)
            # the file the provider loaded: a [routers] name in llmbench.toml resolves to one too
            path = provider.model if isinstance(provider, RouterProvider) else source
            if os.path.isfile(path):
                self._sources[name] = path
                self._stamps[name] = _stamp(path)
        routed = {m for p in self.routes.values() if isinstance(p, RouterProvider) for m in p.policy.models}
        for model in [*cfg.models, *sorted(routed)]:
            if model not in self.routes:
                self.routes[model] = self._given.get(model) or get_provider(model, **opts)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if not self.routes:
            self.build()
        self.store = Store.open(self.config.store)
        self.store.create_experiment(self.config.experiment, config=self.config.model_dump(mode="json"))
        self.writer = StoreWriter(self.store, self.config.experiment, max_wait_s=self.config.flush_s)
        self._watch = asyncio.create_task(self._watch_policies())
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_policies)
        try:
            yield
        finally:
            self._watch.cancel()
            with contextlib.suppress(BaseException):
                await self._watch
            self.writer.close()  # commits whatever is queued
            for provider in self.routes.values():
                with contextlib.suppress(Exception):
                    await provider.aclose()
            self.store.close()

    async def _watch_policies(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_s)
            try:
                self.reload_policies(only_changed=True)
            except Exception:  # the watcher outlives any error; reload_policies counts and logs its own
                log.exception("checking the policy files failed; still watching")

    def reload_policies(self, only_changed: bool = False) -> None:
        """Load every watched policy file again (or only those whose file changed); a bad file keeps the old."""
        for name, path in self._sources.items():
            try:
                stamp = _stamp(path)
            except OSError:
                continue
            if only_changed and stamp == self._stamps.get(name):
                continue
            self._stamps[name] = stamp
            provider = self.routes[name]
            try:
                policy = RouterPolicy.load(path)
                assert isinstance(provider, RouterProvider)
                provider.reload(policy)
            except (
                Exception
            ) as exc:  # any failure (a RecursionError from a hostile file too) keeps the old one
                self.metrics.reloads.labels("failed").inc()
                log.error(
                    "policy %s: %s changed but cannot be served (keeping the old one): %s", name, path, exc
                )
                continue
            self.metrics.reloads.labels("ok").inc()
            log.warning("policy %s reloaded from %s: sha256 %s", name, path, policy.sha256)

    # Requests ----------------------------------------------------------------------------------------------

    def _authorized(self, request: Request, *, probe: bool = False) -> bool:
        if not self._keys or (probe and self.config.open_probes):
            return True
        header = request.headers.get("authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
        return any(hmac.compare_digest(token.encode(), key) for key in self._keys)

    def _endpoint(self, wire: Wire) -> Callable[[Request], Awaitable[Response]]:
        """The handler of one wire's path (`POST /v1/chat/completions` for OpenAI's, ...)."""

        async def handle(request: Request) -> Response:
            return await self._handle(request, wire)

        return handle

    async def _handle(self, request: Request, wire: Wire) -> Response:
        t0 = time.perf_counter()
        if not self._authorized(request):
            return wire.error(401, _KEY_NEEDED)
        body = await self._body(request)
        if body is None:
            return wire.error(
                413, f"the request is larger than this gateway's limit of {self.config.max_body_bytes} bytes"
            )
        try:
            req = wire.parse(body)
        except errors.DataError as exc:
            return wire.error(400, str(exc))
        provider = self.routes.get(req.model)
        if provider is None:
            return wire.error(
                404, f"model {req.model!r} is not served here; GET /v1/models lists those that are"
            )
        call = _Call(req, f"{wire.prefix}{uuid.uuid4().hex}", provider, self)
        # The fast path: a body the chosen models take as it is goes upstream as it is, and the answer's bytes
        # come back as they were sent (read once, for the rows); anything else goes through the neutral types.
        forward = req.body if req.body is not None and provider.can_forward(wire.name) else None
        if req.stream:
            return await self._stream(call, t0, wire, forward)
        async with self._slots:
            try:
                if forward is not None:
                    completion, answer = await provider.aforward(
                        forward, req.messages, before_attempt=call.before_attempt
                    )
                else:
                    completion = await provider.acomplete(
                        req.messages, tools=req.tools, before_attempt=call.before_attempt, **req.params
                    )
                    answer = utf8(wire.render(completion, call.rid))
            except errors.ProviderError as err:
                return await self._failed(call, err, t0, wire)
            except errors.StoreError as exc:  # the intent could not be written: nothing was sent
                return wire.error(503, f"the run store cannot record this request, so it was not sent: {exc}")
        await self._record(call, completion)
        self.metrics.answered(req.model, completion, time.perf_counter() - t0)
        return Response(answer, media_type="application/json", headers=_headers(completion, call.rid))

    async def _stream(self, call: _Call, t0: float, wire: Wire, forward: dict[str, Any] | None) -> Response:
        req, rid = call.req, call.rid
        await self._slots.acquire()
        events: AsyncIterator[Any]
        if forward is not None:
            events = call.provider.aforward_stream(forward, req.messages, before_attempt=call.before_attempt)
        else:
            events = call.provider.astream(
                req.messages, tools=req.tools, before_attempt=call.before_attempt, **req.params
            )
        try:
            first = await anext(events)  # before the first byte: failures (and fallbacks) are still clean
        except errors.ProviderError as err:
            self._slots.release()
            return await self._failed(call, err, t0, wire)
        except errors.StoreError as exc:
            self._slots.release()
            return wire.error(503, f"the run store cannot record this request, so it was not sent: {exc}")
        except BaseException:
            self._slots.release()
            raise
        writer = AsIs() if forward is not None else wire.events(rid, req.model)

        async def body() -> AsyncIterator[bytes]:
            try:
                if opening := writer.first():
                    yield opening
                event = first
                while True:
                    if isinstance(event, StopEvent):
                        await self._record(call, event.completion)
                        self.metrics.answered(req.model, event.completion, time.perf_counter() - t0)
                        if closing := writer.last(event, _extras(event.completion)):
                            yield closing
                        return
                    piece = writer.event(event)
                    if piece:
                        yield piece
                    event = await anext(events)
            except errors.ProviderError as err:  # after the first byte nothing can be taken back: say so
                await self._record_failure(call, err)
                self.metrics.failed(req.model, err.http_status, time.perf_counter() - t0)
                yield wire.stream_error(
                    err.http_status, f"the stream broke after it began (no fallback once sent): {err}"
                )
            finally:
                self._slots.release()
                if not call.recorded:  # the client left (or the server stopped) mid-stream: the call was made
                    call.record_cut()
                closer = getattr(events, "aclose", None)  # async generators: release the upstream stream
                if closer is not None:
                    await closer()

        return StreamingResponse(body(), media_type="text/event-stream", headers={"x-request-id": rid})

    async def _failed(self, call: _Call, err: errors.ProviderError, t0: float, wire: Wire) -> Response:
        await self._record_failure(call, err)
        status = err.http_status
        self.metrics.failed(call.req.model, status, time.perf_counter() - t0)
        return wire.error(status, str(err))

    async def _record(self, call: _Call, completion: Completion) -> None:
        await self._write(
            call, call_records(completion, run_key=call.rid, item_id=call.rid, model_id=call.req.model)
        )

    async def _record_failure(self, call: _Call, err: errors.ProviderError) -> None:
        await self._write(
            call, call_records(err, run_key=call.rid, item_id=call.rid, model_id=call.req.model)
        )

    async def _write(self, call: _Call, rows: list[Any]) -> None:
        assert self.writer is not None
        call.recorded = True
        if self.config.durable:
            await self.writer.committed(rows, resolved=call.intents)
        else:
            self.writer.result(rows, resolved=call.intents)

    async def _body(self, request: Request) -> bytes | None:
        """The request body, or None once it passes the size limit (reading stops there, nothing more is held)."""
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def list_models(self, request: Request) -> Response:
        """`GET /v1/models`: the policies and the models served."""
        if not self._authorized(request):
            return OPENAI.error(401, _KEY_NEEDED)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "llmbench"} for m in self.routes]
        return JSONResponse({"object": "list", "data": data})

    async def health(self, request: Request) -> Response:
        """`GET /health`: up, with the policy hashes it serves (a client key needed, unless `open_probes`)."""
        if not self._authorized(request, probe=True):
            return OPENAI.error(401, _KEY_NEEDED)
        policies = {m: p.policy.sha256 for m, p in self.routes.items() if isinstance(p, RouterProvider)}
        return JSONResponse({"status": "ok", "policies": policies, "experiment": self.config.experiment})

    async def render_metrics(self, request: Request) -> Response:
        """`GET /metrics` in Prometheus' text format (a client key needed, unless `open_probes`)."""
        if not self._authorized(request, probe=True):
            return OPENAI.error(401, _KEY_NEEDED)
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)


class _Call:
    """One request on its way upstream: its intents (one per attempt, committed before the attempt is sent) and
    whether its outcome is recorded yet."""

    def __init__(self, req: ChatRequest, rid: str, provider: Provider, gateway: Gateway) -> None:
        self.req, self.rid, self.provider, self.gateway = req, rid, provider, gateway
        self.intents: list[str] = []
        self.recorded = False
        self.estimate = provider.estimate_call(req.messages, req.params)

    async def before_attempt(self, number: int) -> None:
        writer = self.gateway.writer
        assert writer is not None
        record = IntentRecord(
            uuid.uuid4().hex, self.rid, self.rid, self.req.model, 0, number, time.time(), self.estimate
        )
        await writer.intent(record)
        self.intents.append(record.intent_id)

    def record_cut(self) -> None:
        """A row for a call cut off before its end (at its estimated cost: the provider may bill it)."""
        writer = self.gateway.writer
        if writer is None or self.recorded:
            return
        self.recorded = True
        cut = ConnectionAbortedError(
            "the client disconnected before the answer ended; the provider may bill it"
        )
        rows = call_records(cut, run_key=self.rid, item_id=self.rid, model_id=self.req.model)
        rows[-1].cost_usd, rows[-1].cost_basis = self.estimate, "estimated"
        writer.result(rows, resolved=self.intents)


def _extras(c: Completion) -> dict[str, Any]:
    """What the gateway adds about a call: answering model, cost, and the routing decision."""
    out: dict[str, Any] = {
        "model": c.route.answered_by if c.route else c.model_id,
        "cost_usd": c.total_cost_usd,
    }
    if c.route is not None:
        out |= {"policy": c.route.policy, "chosen": c.route.chosen, "fallback": c.route.fallback}
    return out


def _headers(c: Completion, rid: str) -> dict[str, str]:
    extras = {f"x-llmbench-{k.replace('_', '-')}": str(v) for k, v in _extras(c).items() if v is not None}
    return {"x-request-id": rid, **extras}


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size
