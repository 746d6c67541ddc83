"""The multi-turn tool loop: call the model, run every requested tool, send the results back, repeat.

Every model turn, tool call and limit hit becomes a `ToolStep` (a provider error too, logged as an "error" step
before it propagates); pass `on_step`, e.g. `llmbench.tools.log.StepLogger`, to store them. Parallel calls of
one turn run concurrently and every call gets exactly one result, in the order asked. Results go back through the provider layer's neutral types, so each adapter puts them in the form its API
requires (one `tool` message per call for OpenAI, `tool_result` blocks in the next user turn for Anthropic).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from llmbench.errors import ProviderError, redact
from llmbench.providers import Completion, Message, Provider, StopEvent, StreamEvent
from llmbench.providers.types import MessagesInput, to_messages
from llmbench.store.rows import StepKind, ToolStep
from llmbench.tools.execute import ConfirmHook, ExecutionOutcome, execute_calls
from llmbench.tools.limits import CallCounter, ToolLimits
from llmbench.tools.toolset import ToolSet, to_tool_specs

StopKind = Literal["answered", "max_turns", "max_tool_calls", "error"]


class ToolRun(BaseModel):
    """The outcome of a tool conversation."""

    conversation_id: str
    messages: list[Message]
    final: Completion | None
    steps: list[ToolStep] = Field(default_factory=list)
    stopped: StopKind
    turns: int
    tool_calls: int

    @property
    def text(self) -> str:
        """The model's final answer text (empty when a limit stopped the conversation)."""
        return self.final.text if self.final is not None else ""

    @property
    def cost_usd(self) -> float | None:
        """Cost of every model turn (None when a turn had no known price)."""
        costs = [s.cost_usd for s in self.steps if s.kind == "model_turn"]
        return None if any(c is None for c in costs) else float(sum(costs))  # type: ignore[arg-type]


class _Log:
    def __init__(
        self, conversation_id: str, model_id: str, on_step: Callable[[ToolStep], None] | None
    ) -> None:
        self.cid, self.model_id, self.on_step = conversation_id, model_id, on_step
        self.steps: list[ToolStep] = []

    def add(self, turn: int, kind: StepKind, started_at: float, **fields: Any) -> None:
        step = ToolStep(
            conversation_id=self.cid,
            step=len(self.steps),
            turn=turn,
            kind=kind,
            model_id=self.model_id,
            started_at=started_at,
            **fields,
        )
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)

    def model_turn(self, turn: int, started_at: float, c: Completion) -> None:
        self.add(
            turn,
            "model_turn",
            started_at,
            duration_s=c.latency_s,
            text=c.text,
            stop_reason=c.stop_reason,
            input_tokens=c.usage.total_input_tokens if c.usage else None,
            output_tokens=c.usage.output_tokens if c.usage else None,
            cost_usd=c.total_cost_usd,
        )

    def tool_call(self, turn: int, started_at: float, o: ExecutionOutcome) -> None:
        self.add(
            turn,
            "tool_call",
            started_at,
            duration_s=o.duration_s,
            tool_name=o.call.name,
            tool_call_id=o.call.id,
            arguments=o.call.arguments,
            raw_arguments=o.call.raw_arguments,
            result=o.content,
            is_error=o.is_error,
            error_kind=o.error_kind,
            truncated=o.truncated,
            traceback=o.traceback,
        )


async def run_tools(
    provider: Provider,
    prompt: MessagesInput,
    tools: ToolSet,
    *,
    limits: ToolLimits | None = None,
    confirm: ConfirmHook | None = None,
    on_step: Callable[[ToolStep], None] | None = None,
    conversation_id: str | None = None,
    **params: Any,
) -> ToolRun:
    """Run a tool-using conversation until the model answers without calling a tool, or a limit is hit."""
    run = None
    async for event in stream_tools(
        provider,
        prompt,
        tools,
        limits=limits,
        confirm=confirm,
        on_step=on_step,
        conversation_id=conversation_id,
        stream=False,
        **params,
    ):
        if isinstance(event, ToolRun):
            run = event
    assert run is not None
    return run


async def stream_tools(
    provider: Provider,
    prompt: MessagesInput,
    tools: ToolSet,
    *,
    limits: ToolLimits | None = None,
    confirm: ConfirmHook | None = None,
    on_step: Callable[[ToolStep], None] | None = None,
    conversation_id: str | None = None,
    stream: bool = True,
    **params: Any,
) -> AsyncIterator[StreamEvent | ToolStep | ToolRun]:
    """Streaming variant: yields the model's stream events and each ToolStep as it happens, then the ToolRun."""
    limits = limits or ToolLimits()
    messages = to_messages(prompt)
    specs = to_tool_specs(tools)
    counter = CallCounter(limits)
    log = _Log(conversation_id or uuid.uuid4().hex[:16], provider.model_id, on_step)
    final: Completion | None = None
    stopped: StopKind = "max_turns"
    turn = 0
    while turn < limits.max_turns:
        turn += 1
        started = time.time()
        try:
            if stream:
                completion = None
                async for event in provider.astream(messages, tools=specs, **params):
                    yield event
                    if isinstance(event, StopEvent):
                        completion = event.completion
                assert completion is not None
            else:
                completion = await provider.acomplete(messages, tools=specs, **params)
        except ProviderError as exc:
            # The failed call is part of the audit trail (with what its attempts cost); then it propagates.
            costs = [a.cost_usd for a in exc.attempts if a.cost_usd is not None]
            log.add(
                turn,
                "error",
                started,
                duration_s=time.time() - started,
                error_kind=type(exc).__name__,
                is_error=True,
                detail=redact(str(exc)),
                cost_usd=sum(costs) if costs else None,
            )
            raise
        log.model_turn(turn, started, completion)
        yield log.steps[-1]
        messages.append(completion.to_message())
        calls = completion.tool_calls
        if not calls:
            final, stopped = completion, "answered"
            break
        started = time.time()
        outcomes = await execute_calls(tools, calls, limits, confirm, counter)
        for o in outcomes:
            log.tool_call(turn, started, o)
            yield log.steps[-1]
        # Every call gets exactly one result, in the order asked, even those refused by a limit.
        messages.append(Message.tool([o.to_result() for o in outcomes]))
        if counter.remaining == 0 and any(o.error_kind == "limit" for o in outcomes):
            stopped = "max_tool_calls"
            log.add(turn, "limit", time.time(), detail=f"max_tool_calls={limits.max_tool_calls} reached")
            yield log.steps[-1]
            break
    else:
        log.add(turn, "limit", time.time(), detail=f"max_turns={limits.max_turns} reached")
        yield log.steps[-1]
    yield ToolRun(
        conversation_id=log.cid,
        messages=messages,
        final=final,
        steps=log.steps,
        stopped=stopped,
        turns=turn,
        tool_calls=counter.used,
    )
