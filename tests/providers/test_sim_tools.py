"""Simulated models call tools when tools are offered (`llmbench.providers.sim_tools`), so every tool path runs
offline: the tool loop, `llmbench tools run` with the shipped example tools, and the gateway through the SDK."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from llmbench.providers import get_provider
from llmbench.providers.types import Message, ToolCall, ToolCallEnd
from llmbench.serve import GatewayConfig, running
from llmbench.store import Store
from llmbench.tools import ToolLimits, ToolSet, run_tools
from llmbench.tools.toolset import to_tool_specs

ROOT = Path(__file__).resolve().parents[2]


def _example_tools() -> Any:
    """The shipped example tools (examples/my_tools.py), loaded as `llmbench tools` loads a file."""
    spec = importlib.util.spec_from_file_location("my_tools", ROOT / "examples" / "my_tools.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_EXAMPLES = _example_tools()
get_weather, add = _EXAMPLES.get_weather, _EXAMPLES.add


async def test_a_simulated_model_calls_the_matching_tool_once_per_name_and_answers_from_the_results() -> None:
    model = get_provider("sim:gpt-4o-mini", fault_rate=0.0)
    runs = [
        await run_tools(
            model, "Weather in Paris and Rome?", ToolSet([add, get_weather]), limits=ToolLimits(max_turns=4)
        )
        for _ in range(2)
    ]
    first = runs[0]
    assert first.stopped == "answered"
    assert "18 degrees celsius in Paris" in first.text and "18 degrees celsius in Rome" in first.text
    calls = [b for m in first.messages for b in m.content if isinstance(b, ToolCall)]
    assert [(c.name, c.arguments) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert runs[1].text == first.text  # deterministic


async def test_arguments_follow_the_schema_and_a_stream_carries_the_calls() -> None:
    model = get_provider("sim:gpt-4o-mini", fault_rate=0.0)
    spec = to_tool_specs([get_weather, add])
    events = [e async for e in model.astream([Message.user("Please add 3 and 4")], tools=spec)]
    ends = [e.call for e in events if isinstance(e, ToolCallEnd)]
    assert [(c.name, c.arguments) for c in ends] == [("add", {"a": 3, "b": 3})]
    assert events[-1].completion.stop_reason == "tool_calls"  # type: ignore[union-attr]
    plain = await model.acomplete("Please add 3 and 4")  # no tools offered: text, as before
    assert plain.text and not plain.tool_calls


def test_tools_run_with_the_shipped_example_tools_is_logged(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "llmbench", "tools", "run", "sim:gpt-4o-mini", "Weather in Oslo?"]
    cmd += [
        "--tools",
        str(ROOT / "examples" / "my_tools.py"),
        "--store",
        str(tmp_path / "t.duckdb"),
        "--no-track",
    ]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert "18 degrees celsius in Oslo" in done.stdout
    with Store.open(tmp_path / "t.duckdb", read_only=True) as store:
        steps = store.tool_steps_frame("tools-cli")
    assert {"model_turn", "tool_call"} <= set(steps["kind"])


def test_the_gateway_returns_a_simulated_models_tool_calls_to_the_sdk(tmp_path: Path) -> None:
    config = GatewayConfig(port=0, models=["sim:gpt-4o-mini"], store=tmp_path / "gw.duckdb")
    spec = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    with running(config) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
        answer = client.chat.completions.create(
            model="sim:gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Lima?"}], tools=spec
        )
    call = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Lima"}


@pytest.mark.parametrize("prompt", ["", "no names here", "ALL CAPS AND 12 numbers"])
def test_odd_prompts_still_give_valid_calls(prompt: str) -> None:
    from llmbench.providers.sim_tools import sim_tool_calls

    calls = sim_tool_calls([Message.user(prompt)], to_tool_specs([get_weather, add]))
    assert len(calls) == 1
    chosen = {"add": add, "get_weather": get_weather}[calls[0].name]
    assert set(calls[0].arguments) == set(chosen.parameters["required"])


def test_the_readme_tool_calling_snippet_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("import asyncio\n\nfrom llmbench.providers import get_provider")
    (tmp_path / "snippet.py").write_text(readme[start : readme.index("```", start)])
    done = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "18 degrees celsius in Paris; 18 degrees celsius in Rome answered" in done.stdout
    with Store.open(tmp_path / "tools.duckdb", read_only=True) as store:
        assert len(store.tool_steps_frame("tools-demo")) == 4  # two model turns, two tool calls
