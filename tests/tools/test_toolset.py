"""Tool registry, discovery (module, file, entry points, MCP over stdio) and safe execution of tool calls."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from llmbench.errors import ConfigError
from llmbench.providers.types import ToolCall
from llmbench.tools import (
    CallCounter,
    Tool,
    ToolLimits,
    ToolSet,
    execute_call,
    execute_calls,
    load_entry_point_tools,
    load_module_tools,
    mcp_tools,
    to_tool_specs,
    tool,
    truncate_result,
)


@tool
def add(a: int, b: Annotated[float, Field(description="second addend")] = 1.5) -> float:
    """Add two numbers."""
    return a + b


@tool(name="write_file", side_effects=True, timeout_s=5)
async def write(path: str, mode: Literal["w", "a"] = "w") -> str:
    """Write a file."""
    return f"wrote {path} ({mode})"


class Search(BaseModel):
    """Search the catalogue."""

    query: str
    limit: int = 3

    def run(self) -> list[str]:
        return [f"{self.query}-{i}" for i in range(self.limit)]


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id=f"id-{name}", name=name, arguments=arguments)


# Registry ------------------------------------------------------------------------------------------------


def test_schema_from_signature_and_docstring() -> None:
    assert isinstance(add, Tool)
    assert add.description == "Add two numbers."
    assert add.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "number", "default": 1.5, "description": "second addend"},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert add(2, 3) == 5  # still the plain function
    jsonschema.Draft202012Validator.check_schema(add.parameters)


def test_decorator_options_and_async() -> None:
    assert write.name == "write_file" and write.side_effects and write.timeout_s == 5
    assert write.parameters["properties"]["mode"] == {"type": "string", "enum": ["w", "a"], "default": "w"}
    assert asyncio.run(write("x")) == "wrote x (w)"


def test_pydantic_model_tool() -> None:
    t = tool(Search)
    assert t.name == "Search" and t.description == "Search the catalogue."
    assert t.parameters["required"] == ["query"]
    assert asyncio.run(t.arun({"query": "q", "limit": 2})) == ["q-0", "q-1"]


def test_bad_tools_are_config_errors() -> None:
    def star(*args: int) -> int:
        return 0

    with pytest.raises(ConfigError, match=r"\*args"):
        tool(star)
    with pytest.raises(ConfigError, match="not allowed"):
        tool(name="has space")(lambda: 1)
    with pytest.raises(ConfigError, match="already has a tool named 'add'"):
        ToolSet([add, tool(name="add")(lambda x: x)])


def test_allow_and_deny_lists() -> None:
    ts = ToolSet([add, write, tool(Search)], name="demo", deny=["write_*"])
    assert ts.names == ["add", "Search"]
    assert [s.name for s in to_tool_specs(ts)] == ["add", "Search"]
    narrowed = ts.restricted(allow=["add"])
    assert narrowed.names == ["add"]
    assert ts.names == ["add", "Search"]  # the original is unchanged


# Execution -----------------------------------------------------------------------------------------------


@pytest.fixture
def tools() -> ToolSet:
    @tool
    def boom(x: int) -> int:
        """Fails."""
        raise ValueError(f"bad x {x} with key sk-abcdefghijklmnop")

    @tool(timeout_s=0.2)
    async def slow() -> str:
        """Sleeps."""
        await asyncio.sleep(5)
        return "late"

    @tool(timeout_s=0.2)
    def slow_sync() -> str:
        """Blocks a worker thread."""
        time.sleep(0.5)
        return "late"

    @tool
    def big(n: int) -> str:
        """Long output."""
        return "x" * n

    return ToolSet([add, write, tool(Search), boom, slow, slow_sync, big], deny=["Search"])


async def test_success_and_json_results(tools: ToolSet) -> None:
    out = await execute_call(tools, call("add", a=1, b=2))
    assert (out.content, out.is_error, out.error_kind) == ("3.0", False, None)
    result = out.to_result()
    assert result.tool_call_id == "id-add" and not result.is_error


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"a": "one"}, "'one' is not of type 'integer'"),
        ({}, "'a' is a required property"),
        ({"a": 1, "c": 2}, "'c' was unexpected"),
    ],
)
async def test_validation_errors_become_results(tools: ToolSet, arguments: dict, fragment: str) -> None:
    out = await execute_call(tools, call("add", **arguments))
    assert out.is_error and out.error_kind == "validation" and fragment in out.content


async def test_malformed_json_unknown_and_denied(tools: ToolSet) -> None:
    bad = await execute_call(tools, ToolCall.from_json("1", "add", '{"a": 1,'))
    assert bad.error_kind == "validation" and "not a JSON object" in bad.content
    unknown = await execute_call(tools, call("nope"))
    assert unknown.error_kind == "unknown_tool" and "add" in unknown.content
    denied = await execute_call(tools, call("Search", query="q"))
    assert denied.error_kind == "denied"


async def test_exception_text_has_no_traceback_and_no_secret(tools: ToolSet) -> None:
    out = await execute_call(tools, call("boom", x=3))
    assert out.error_kind == "exception"
    assert "ValueError: bad x 3" in out.content
    assert "Traceback" not in out.content and "sk-abcdefghijklmnop" not in out.content
    assert out.traceback is not None and "Traceback" in out.traceback and "raise ValueError" in out.traceback
    assert "sk-abcdefghijklmnop" not in out.traceback


async def test_timeouts_async_and_sync(tools: ToolSet) -> None:
    for name in ("slow", "slow_sync"):
        out = await execute_call(tools, call(name))
        assert out.error_kind == "timeout" and "0.2 s" in out.content


async def test_truncation_marker(tools: ToolSet) -> None:
    limits = ToolLimits(max_result_chars=500)
    out = await execute_call(tools, call("big", n=2000), limits)
    assert out.truncated and len(out.content) <= 500
    assert (
        out.content.startswith("x" * 100)
        and "truncated" in out.content
        and "of 2000 characters" in out.content
    )
    short = await execute_call(tools, call("big", n=10), limits)
    assert not short.truncated and short.content == "x" * 10


def test_truncate_result_counts_dropped_characters() -> None:
    text, cut = truncate_result("a" * 1000, 200)
    kept = text.split("\n[")[0]
    assert cut and len(text) <= 200 and f"{1000 - len(kept)} of 1000" in text


async def test_side_effects_need_confirmation(tools: ToolSet) -> None:
    refused = await execute_call(tools, call("write_file", path="p"))
    assert refused.error_kind == "not_confirmed"
    seen: list[str] = []

    async def yes(c: ToolCall, t: Tool) -> bool:
        seen.append(t.name)
        return True

    ok = await execute_call(tools, call("write_file", path="p"), confirm=yes)
    assert ok.content == "wrote p (w)" and seen == ["write_file"]
    no = await execute_call(tools, call("write_file", path="p"), confirm=lambda c, t: False)
    assert no.error_kind == "not_confirmed"
    auto = await execute_call(tools, call("write_file", path="p"), ToolLimits(auto_confirm=True))
    assert not auto.is_error
    # Tools without side effects never ask.
    assert not (await execute_call(tools, call("add", a=1), confirm=lambda c, t: False)).is_error


async def test_execute_calls_concurrent_and_ordered() -> None:
    started = asyncio.Event()

    @tool(timeout_s=2)
    async def waiter() -> str:
        """Waits for the other tool: only finishes if both run at the same time."""
        await asyncio.wait_for(started.wait(), 1)
        return "waited"

    @tool
    async def setter() -> str:
        """Releases the waiter."""
        started.set()
        return "set"

    ts = ToolSet([waiter, setter, add])
    outs = await execute_calls(ts, [call("waiter"), call("add", a=1, b=1), call("setter")])
    assert [o.content for o in outs] == ["waited", "2.0", "set"]


async def test_call_budget() -> None:
    counter = CallCounter(ToolLimits(max_tool_calls=2))
    outs = await execute_calls(ToolSet([add]), [call("add", a=i) for i in range(3)], counter=counter)
    assert [o.error_kind for o in outs] == [None, None, "limit"]
    assert counter.remaining == 0


# Discovery -----------------------------------------------------------------------------------------------

TOOL_MODULE = '''
from llmbench.tools import tool, ToolSet

@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()

@tool(name="whisper")
def _quiet(text: str) -> str:
    """Lower-case the text."""
    return text.lower()

def not_a_tool(x):
    return x
'''


def test_load_from_file_and_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "my_tools.py"
    path.write_text(TOOL_MODULE)
    from_file = load_module_tools(str(path))
    assert sorted(from_file.names) == ["shout", "whisper"]
    monkeypatch.syspath_prepend(str(tmp_path))
    from_module = load_module_tools("my_tools")
    assert sorted(from_module.names) == ["shout", "whisper"]
    assert asyncio.run(execute_call(from_module, call("shout", text="hi"))).content == "HI"
    with pytest.raises(ConfigError, match="not found"):
        load_module_tools("no_such_tools_module_xyz")
    with pytest.raises(ConfigError, match="does not exist"):
        load_module_tools(str(tmp_path / "missing.py"))
    (tmp_path / "empty_tools.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="no tools found"):
        load_module_tools(str(tmp_path / "empty_tools.py"))


def test_entry_point_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real installed-distribution layout: importlib.metadata finds *.dist-info folders on sys.path.
    (tmp_path / "ep_tools_pkg.py").write_text(TOOL_MODULE)
    dist = tmp_path / "ep_tools_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-tools-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[llmbench.tools]\nshouting = ep_tools_pkg:shout\neverything = ep_tools_pkg\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    found = load_entry_point_tools()
    assert {"shout", "whisper"} <= set(found.names)
    assert found.get("shout").description == "Upper-case the text."


# MCP -----------------------------------------------------------------------------------------------------

MCP_SERVER = textwrap.dedent('''
    from mcp.types import ToolAnnotations
    try:
        from mcp.server.mcpserver import MCPServer as Server
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP as Server

    server = Server("llmbench-test")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def delete(record: str) -> str:
        """Delete a record; fails for unknown names."""
        if record != "known":
            raise ValueError(f"no record {record}")
        return f"deleted {record}"

    if __name__ == "__main__":
        server.run("stdio")
''')


@pytest.mark.timeout(60)
@pytest.mark.slow
async def test_mcp_stdio_server(tmp_path: Path) -> None:
    if importlib.util.find_spec("mcp") is None:
        pytest.skip("the optional `mcp` package is not installed (pip install mcp)")
    script = tmp_path / "server.py"
    script.write_text(MCP_SERVER)
    with (tmp_path / "server.log").open("w") as log:
        async with mcp_tools(sys.executable, [str(script)], prefix="db_", errlog=log) as ts:
            assert sorted(ts.names) == ["db_add", "db_delete"]
            assert ts.get("db_add").parameters["required"] == ["a", "b"]
            assert not ts.get("db_add").side_effects  # annotated read-only
            assert ts.get("db_delete").side_effects  # MCP default: may modify its environment
            added = await execute_call(ts, call("db_add", a=2, b=3))
            assert added.content == "5" and not added.is_error
            invalid = await execute_call(ts, call("db_add", a="two", b=3))
            assert invalid.error_kind == "validation"
            refused = await execute_call(ts, call("db_delete", record="known"))
            assert refused.error_kind == "not_confirmed"
            limits = ToolLimits(auto_confirm=True)
            deleted = await execute_call(ts, call("db_delete", record="known"), limits)
            assert deleted.content == "deleted known"
            failed = await execute_call(ts, call("db_delete", record="other"), limits)
            assert failed.error_kind == "exception" and "MCPToolError" in failed.content
