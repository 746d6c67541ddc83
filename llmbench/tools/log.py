"""Write tool-conversation steps to the run store, and read a conversation back from it.

    with StepLogger(store, "weather-demo", item_id="q1") as log:
        run = await run_tools(provider, "Weather in Paris?", tools, on_step=log)
    store.tool_steps_frame("weather-demo")          # one row per model turn, tool call, limit hit, error
    replay_messages(store, "weather-demo", run.conversation_id)   # the conversation as messages again

Rows live in the store's `tool_steps` table (see `llmbench.store.rows`, migration 2): conversation_id, step,
turn, kind (model_turn | tool_call | limit | error), model_id, text and stop_reason of model turns, tool name,
call id, arguments JSON, raw (malformed) arguments, result, is_error, error_kind, duration_s, truncated,
traceback (log only, never sent to the model), input/output tokens, cost_usd, detail, started_at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from llmbench.errors import StoreError
from llmbench.providers.types import ContentBlock, Message, TextBlock, ToolCall, ToolResult
from llmbench.store import Store
from llmbench.store.rows import ToolStep
from llmbench.tools.loop import ToolRun


class StepLogger:
    """An `on_step` callback that stores the steps of one item's conversations.

    Steps are written `every` steps at a time (each batch one transaction; a commit costs ~10 ms of fsync) and
    on `flush()` / leaving the `with` block, so a crash loses at most the unwritten batch.
    """

    def __init__(self, store: Store, experiment: str, item_id: str, *, every: int = 1) -> None:
        if every < 1:
            raise StoreError(f"StepLogger(every={every}): write at least one step per batch.")
        self.store, self.experiment, self.item_id, self.every = store, experiment, str(item_id), every
        self.pending: list[ToolStep] = []
        self.written = 0
        if store.get_experiment(experiment) is None:
            store.create_experiment(experiment)

    def __call__(self, step: ToolStep) -> None:
        self.pending.append(step)
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> int:
        """Write the pending steps; returns how many rows were added."""
        if not self.pending:
            return 0
        steps, self.pending = self.pending, []
        n = self.store.write_tool_steps(self.experiment, self.item_id, steps)
        self.written += n
        return n

    def __enter__(self) -> StepLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def log_run(store: Store, experiment: str, item_id: str, run: ToolRun) -> int:
    """Store every step of a finished `ToolRun` (steps already stored are skipped); returns rows added."""
    if store.get_experiment(experiment) is None:
        store.create_experiment(experiment)
    return store.write_tool_steps(experiment, item_id, run.steps)


def conversation_frame(store: Store, experiment: str, conversation_id: str) -> pd.DataFrame:
    """The stored steps of one conversation, in step order."""
    frame = store.tool_steps_frame(experiment)
    out = frame[frame["conversation_id"] == conversation_id].sort_values("step")
    if out.empty:
        raise StoreError(
            f"no tool steps of conversation {conversation_id!r} in experiment {experiment!r}; "
            "check the ids with store.tool_steps_frame()."
        )
    return out.reset_index(drop=True)


def replay_messages(store: Store, experiment: str, conversation_id: str) -> list[Message]:
    """The assistant and tool turns of a stored conversation, rebuilt from its rows (prompt not included).

    Each model turn becomes an assistant message (its text, then its tool calls with their ids and
    arguments); the results of that turn's calls follow as one tool message, in the order they were asked.
    Reasoning blocks are not logged, so they are not part of the replay.
    """
    rows = conversation_frame(store, experiment, conversation_id).to_dict("records")
    return messages_from_rows([{str(k): v for k, v in row.items()} for row in rows])


def messages_from_rows(rows: Iterable[dict[str, Any]]) -> list[Message]:
    """Rebuild assistant/tool messages from tool_steps rows of one conversation (sorted by step)."""
    out: list[Message] = []
    results: list[ToolResult] = []
    for row in rows:
        if row["kind"] == "model_turn":
            if results:
                out.append(Message.tool(results))
                results = []
            text = row.get("text")
            blocks: list[ContentBlock] = [TextBlock(text=str(text))] if _present(text) else []
            out.append(Message(role="assistant", content=blocks))
        elif row["kind"] == "tool_call":
            raw = row.get("raw_arguments")
            args = json.loads(row["arguments"]) if _present(row.get("arguments")) else {}
            call = ToolCall(
                id=row["tool_call_id"],
                name=row["tool_name"],
                arguments={} if _present(raw) else args,
                raw_arguments=raw if _present(raw) else None,
            )
            last = out[-1]
            out[-1] = Message(role="assistant", content=[*last.content, call])
            content, is_error = row.get("result") or "", bool(row["is_error"])
            results.append(
                ToolResult(tool_call_id=call.id, content=content, is_error=is_error, name=call.name)
            )
    if results:
        out.append(Message.tool(results))
    return out


def _present(value: Any) -> bool:
    """Whether a frame cell holds a value (pandas gives None or NaN for SQL NULL)."""
    return value is not None and not (isinstance(value, float) and value != value) and value != ""


__all__ = ["StepLogger", "conversation_frame", "log_run", "messages_from_rows", "replay_messages"]
