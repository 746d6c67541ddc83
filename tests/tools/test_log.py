"""Tool steps in the run store: the migration, writing (batched, idempotent, redacted), reading, replay, delete."""

from __future__ import annotations

import json
import time
from typing import Any

import duckdb
import pytest
from helpers import FAKE_OPENAI_KEY
from typer.testing import CliRunner

from llmbench.errors import StoreError
from llmbench.providers import Message, TextBlock, ToolCall, ToolResult
from llmbench.store import MIGRATIONS, Store
from llmbench.store.migrations import SCHEMA_VERSION_DDL
from llmbench.testing import Interaction, RecordedServer
from llmbench.tools.log import StepLogger, log_run, messages_from_rows, replay_messages
from llmbench.tools.loop import ToolRun, ToolStep

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


def conversation(cid: str, start: float = T0) -> list[ToolStep]:
    """A finished two-turn conversation: text + a good and a malformed call, their results, the answer."""
    common = {"conversation_id": cid, "model_id": "openai:gpt-4o-mini"}
    return [
        ToolStep(
            **common, step=0, turn=1, kind="model_turn", started_at=start, duration_s=0.5, text="Let me look.",
            stop_reason="tool_calls", input_tokens=100, output_tokens=20, cost_usd=2.7e-5,
        ),
        ToolStep(
            **common, step=1, turn=1, kind="tool_call", started_at=start + 0.5, duration_s=0.01,
            tool_name="get_weather", tool_call_id="c1", arguments={"city": "Paris"}, result='{"temp_c": 18}',
        ),
        ToolStep(
            **common, step=2, turn=1, kind="tool_call", started_at=start + 0.5, tool_name="get_weather",
            tool_call_id="c2", raw_arguments='{"city": "Par', result="Invalid arguments", is_error=True,
            error_kind="validation",
        ),
        ToolStep(
            **common, step=3, turn=2, kind="model_turn", started_at=start + 1, text="Paris: 18 °C.",
            stop_reason="stop", input_tokens=150, output_tokens=10, cost_usd=2.85e-5,
        ),
    ]  # fmt: skip


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "runs.duckdb") as s:
        s.create_experiment("exp")
        yield s


def test_steps_are_stored_with_every_field(store):
    assert store.write_tool_steps("exp", "item-1", conversation("conv-a")) == 4
    frame = store.tool_steps_frame("exp")
    assert frame["kind"].tolist() == ["model_turn", "tool_call", "tool_call", "model_turn"]
    first, good, bad, last = frame.to_dict("records")
    assert (first["experiment"], first["item_id"], first["conversation_id"]) == ("exp", "item-1", "conv-a")
    assert (first["text"], first["stop_reason"], first["input_tokens"], first["output_tokens"]) == (
        "Let me look.", "tool_calls", 100, 20,
    )  # fmt: skip
    assert first["started_at"].isoformat() == "2025-06-15T15:06:40"
    assert json.loads(good["arguments"]) == {"city": "Paris"} and good["result"] == '{"temp_c": 18}'
    assert (bad["raw_arguments"], bad["is_error"], bad["error_kind"]) == ('{"city": "Par', True, "validation")
    assert frame["cost_usd"].sum() == pytest.approx(5.55e-5)
    assert last["text"] == "Paris: 18 °C."


def test_writing_the_same_steps_again_adds_nothing(store):
    steps = conversation("conv-a")
    assert store.write_tool_steps("exp", "item-1", steps[:2]) == 2
    assert store.write_tool_steps("exp", "item-1", steps) == 2  # only the two new ones
    assert store.write_tool_steps("exp", "item-1", steps) == 0
    assert len(store.tool_steps_frame()) == 4


def test_conversations_come_back_in_the_order_they_began_with_steps_in_order(store):
    late, early = conversation("zzz-late", start=T0 + 100), conversation("aaa-early", start=T0)
    store.create_experiment("other")
    store.write_tool_steps("exp", "i2", late)
    store.write_tool_steps("exp", "i1", early)
    store.write_tool_steps("other", "i1", conversation("elsewhere"))
    frame = store.tool_steps_frame("exp")
    assert frame["conversation_id"].tolist() == ["aaa-early"] * 4 + ["zzz-late"] * 4
    assert frame["step"].tolist() == [0, 1, 2, 3] * 2
    assert set(store.tool_steps_frame(["exp", "other"])["experiment"]) == {"exp", "other"}
    assert len(store.tool_steps_frame()) == 12


def test_keys_in_results_and_tracebacks_are_redacted(store):
    leaky = ToolStep(
        conversation_id="c", step=0, turn=1, kind="tool_call", model_id="m:x", started_at=T0,
        tool_name="env", tool_call_id="k", arguments={"note": f"key {FAKE_OPENAI_KEY}"},
        result=f"OPENAI_API_KEY={FAKE_OPENAI_KEY}", traceback=f'ValueError: bad key "{FAKE_OPENAI_KEY}"',
        is_error=True, error_kind="exception",
    )  # fmt: skip
    store.write_tool_steps("exp", "i", [leaky])
    text = store.tool_steps_frame().to_csv()
    assert FAKE_OPENAI_KEY not in text and text.count("[REDACTED]") == 3


def test_step_logger_batches_and_flushes_on_exit(store):
    steps = conversation("conv-b")
    with StepLogger(store, "exp", "item-9", every=3) as log:
        for s in steps[:2]:
            log(s)
        assert store.tool_steps_frame().empty  # still pending
        log(steps[2])
        assert len(store.tool_steps_frame()) == 3  # the batch of three is written
        log(steps[3])
    assert len(store.tool_steps_frame()) == 4 and log.written == 4
    with pytest.raises(StoreError, match="at least one step"):
        StepLogger(store, "exp", "x", every=0)


def test_logger_and_log_run_create_the_experiment_when_missing(store):
    StepLogger(store, "new-exp", "i")(conversation("c1")[0])
    run = ToolRun(
        conversation_id="c2", messages=[], final=None, steps=conversation("c2"), stopped="max_turns", turns=2,
        tool_calls=2,
    )  # fmt: skip
    assert log_run(store, "newer-exp", "i", run) == 4
    assert store.get_experiment("new-exp") is not None and store.get_experiment("newer-exp") is not None


def test_replay_rebuilds_the_assistant_and_tool_turns(store):
    store.write_tool_steps("exp", "item-1", conversation("conv-a"))
    expected = [
        Message(
            role="assistant",
            content=[
                TextBlock(text="Let me look."),
                ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="c2", name="get_weather", raw_arguments='{"city": "Par'),
            ],
        ),
        Message.tool(
            [
                ToolResult(tool_call_id="c1", content='{"temp_c": 18}', name="get_weather"),
                ToolResult(tool_call_id="c2", content="Invalid arguments", is_error=True, name="get_weather"),
            ]
        ),
        Message.assistant("Paris: 18 °C."),
    ]
    assert replay_messages(store, "exp", "conv-a") == expected
    assert messages_from_rows([]) == []
    with pytest.raises(StoreError, match="no tool steps of conversation 'nope'"):
        replay_messages(store, "exp", "nope")


def test_deleting_an_experiment_removes_its_steps(store):
    store.create_experiment("keep")
    store.write_tool_steps("exp", "i", conversation("a"))
    store.write_tool_steps("keep", "i", conversation("b"))
    store.delete_experiment("exp")
    assert store.tool_steps_frame()["experiment"].unique().tolist() == ["keep"]


def test_unknown_experiment_is_a_store_error(store):
    with pytest.raises(StoreError, match="no experiment 'ghost'"):
        store.write_tool_steps("ghost", "i", conversation("a"))


def test_a_version_1_store_gains_the_table_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_VERSION_DDL)
    for statement in MIGRATIONS[0].statements:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, 'v1', now())")
    con.execute("INSERT INTO experiments (name, created_at, source) VALUES ('old', now(), 'native')")
    con.close()
    with pytest.raises(StoreError, match="schema version 1"):
        Store.open(path, read_only=True)
    with Store.open(path) as s:
        assert s.schema_version == MIGRATIONS[-1].version
        assert s.get_experiment("old") is not None
        assert s.write_tool_steps("old", "i", conversation("c")) == 4
    with Store.open(path, read_only=True) as s:
        assert len(s.tool_steps_frame("old")) == 4


def test_step_times_are_utc(store):
    now = time.time()
    step = conversation("c", start=now)[0]
    store.write_tool_steps("exp", "i", [step])
    stored = store.tool_steps_frame()["started_at"].iloc[0]
    assert abs(stored.timestamp() - now) < 1e-3  # naive UTC, read back as UTC by pandas


# -- the `llmbench tools` commands -----------------------------------------------------------------------------

TOOLS_FILE = '''
from llmbench.tools import tool

@tool
def get_weather(city: str, unit: str = "C") -> dict:
    """Current temperature of a city."""
    return {"city": city, "temp": 18, "unit": unit}

@tool(side_effects=True)
def send_alert(message: str) -> str:
    """Send an alert to the on-call phone."""
    return "sent"
'''


def chat(content: str | None = None, calls: list[tuple[str, str, str]] = ()) -> dict:  # type: ignore[assignment]
    msg = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        msg["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
        ]
    finish = "tool_calls" if calls else "stop"
    return {
        "id": "chatcmpl-cli", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }  # fmt: skip


def cli(*args: str) -> Any:
    import llmbench.cli  # noqa: F401  (registers every command)
    from llmbench.cli.app import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.slow  # seconds: a real server, MLflow or a whole CLI pipeline
def test_cli_lists_run_and_shows_steps(tmp_path, fake_key):
    tools_file = tmp_path / "weather_tools.py"
    tools_file.write_text(TOOLS_FILE)
    listed = cli("tools", "list", str(tools_file))
    assert listed.exit_code == 0
    assert "get_weather" in listed.output and "city, unit?" in listed.output and "send_alert" in listed.output
    specs = json.loads(cli("tools", "list", str(tools_file), "--json").output)
    assert [s["name"] for s in specs] == ["get_weather", "send_alert"]

    calls = [("c1", "get_weather", '{"city": "Paris"}'), ("c2", "send_alert", '{"message": "hot"}')]
    answers = [Interaction.json(chat(calls=calls)), Interaction.json(chat("18 °C; no alert sent."))]
    store_path = tmp_path / "runs.duckdb"
    with RecordedServer(answers) as server:
        # No --yes and no terminal answer: the side-effect tool is refused, the other one runs.
        result = cli(
            "tools", "run", "openai:gpt-4o-mini", "Weather in Paris?", "--tools", str(tools_file),
            "--base-url", server.url + "/v1", "--store", str(store_path), "--experiment", "cli-exp",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stopped: answered; 2 turn(s), 2 tool call(s)" in result.output
    assert result.output.rstrip().endswith("18 °C; no alert sent.")
    tool_msgs = [m for m in server.requests[1].json["messages"] if m["role"] == "tool"]
    assert json.loads(tool_msgs[0]["content"]) == {"city": "Paris", "temp": 18, "unit": "C"}
    assert "not confirmed" in tool_msgs[1]["content"]
    with Store.open(store_path, read_only=True) as s:
        frame = s.tool_steps_frame("cli-exp")
    assert frame["kind"].tolist() == ["model_turn", "tool_call", "tool_call", "model_turn"]
    assert frame["error_kind"].tolist()[2] == "not_confirmed"

    shown = cli("tools", "steps", "cli-exp", "--store", str(store_path))
    assert shown.exit_code == 0 and "4 tool steps" in shown.output and "not_confirmed" in shown.output
    assert FAKE_OPENAI_KEY not in result.output + shown.output
