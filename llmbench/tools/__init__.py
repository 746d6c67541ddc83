"""Tools for tool-calling models: registry, discovery, safe execution, and the BFCL benchmark.

from llmbench.tools import tool, ToolSet, execute_call

@tool
def add(a: int, b: int) -> int:
    "Add two integers."
    return a + b
"""

from llmbench.store.rows import ToolStep
from llmbench.tools.discovery import (
    ENTRY_POINT_GROUP,
    load_entry_point_tools,
    load_module_tools,
    tools_in_module,
)
from llmbench.tools.execute import (
    ConfirmHook,
    ErrorKind,
    ExecutionOutcome,
    execute_call,
    execute_calls,
    result_text,
    validate_arguments,
)
from llmbench.tools.limits import CallCounter, ToolLimits, truncate_result
from llmbench.tools.log import StepLogger, log_run, replay_messages
from llmbench.tools.loop import ToolRun, run_tools, stream_tools
from llmbench.tools.mcp_source import MCPToolError, mcp_tools
from llmbench.tools.toolset import Tool, ToolSet, make_tool, to_tool_specs, tool

__all__ = [
    "ENTRY_POINT_GROUP",
    "CallCounter",
    "ConfirmHook",
    "ErrorKind",
    "ExecutionOutcome",
    "MCPToolError",
    "StepLogger",
    "Tool",
    "ToolLimits",
    "ToolRun",
    "ToolSet",
    "ToolStep",
    "execute_call",
    "execute_calls",
    "load_entry_point_tools",
    "load_module_tools",
    "log_run",
    "make_tool",
    "mcp_tools",
    "replay_messages",
    "result_text",
    "run_tools",
    "stream_tools",
    "to_tool_specs",
    "tool",
    "tools_in_module",
    "truncate_result",
    "validate_arguments",
]
