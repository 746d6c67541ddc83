"""Tools served by an MCP server over stdio (needs the optional `mcp` package, imported only when used)."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from llmbench.errors import ConfigError
from llmbench.tools.toolset import Tool, ToolSet, clean_schema


class MCPToolError(Exception):
    """The MCP server answered a tool call with `isError`; the message is the server's text."""


def _attr(obj: Any, snake: str, camel: str, default: Any = None) -> Any:
    # mcp 1.x models use camelCase attributes, mcp 2.x snake_case; accept both.
    value = getattr(obj, snake, None)
    return getattr(obj, camel, default) if value is None else value


def _content_text(result: Any) -> str:
    parts: list[str] = []
    for block in _attr(result, "content", "content", []) or []:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            parts.append(text)
        else:  # images, audio, resources: pass their JSON form rather than dropping them silently
            parts.append(
                block.model_dump_json(exclude_none=True) if hasattr(block, "model_dump_json") else str(block)
            )
    if not parts:
        structured = _attr(result, "structured_content", "structuredContent")
        if structured is not None:
            return json.dumps(structured, ensure_ascii=False)
    return "\n".join(parts)


def _make_tool(
    session: Any, listed: Any, prefix: str, side_effects: bool | None, timeout_s: float | None
) -> Tool:
    remote_name = listed.name

    async def call(**arguments: Any) -> str:
        result = await session.call_tool(remote_name, arguments)
        text = _content_text(result)
        if _attr(result, "is_error", "isError", False):
            raise MCPToolError(text)
        return text

    annotations = getattr(listed, "annotations", None)
    read_only = bool(annotations is not None and _attr(annotations, "read_only_hint", "readOnlyHint", False))
    schema = clean_schema(
        _attr(listed, "input_schema", "inputSchema", None) or {"type": "object", "properties": {}}
    )
    return Tool(
        f"{prefix}{remote_name}",
        listed.description or "",
        schema,
        call,
        # MCP's default for a tool not marked read-only is "may modify its environment": ask before running.
        side_effects=(not read_only) if side_effects is None else side_effects,
        timeout_s=timeout_s,
        source="mcp",
    )


@asynccontextmanager
async def mcp_tools(
    command: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    name: str = "mcp",
    prefix: str = "",
    side_effects: bool | None = None,
    timeout_s: float | None = None,
    errlog: TextIO | None = None,
) -> AsyncIterator[ToolSet]:
    """Start an MCP server over stdio and yield its tools as a `ToolSet` (usable until the block ends).

    Tools not annotated read-only count as side-effecting unless `side_effects` says otherwise. The server's
    stderr goes to `errlog` (default: this process's stderr).
    """
    try:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
    except ImportError as exc:
        raise ConfigError("MCP tools need the `mcp` package: pip install mcp") from exc
    params = StdioServerParameters(command=command, args=list(args), env=dict(env) if env else None, cwd=cwd)
    async with (
        stdio_client(params, errlog=errlog or sys.stderr) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed: list[Any] = []
        cursor = None
        while True:  # tools/list is paginated
            page = await session.list_tools() if cursor is None else await _list_page(session, cursor)
            listed.extend(page.tools)
            cursor = _attr(page, "next_cursor", "nextCursor")
            if not cursor:
                break
        yield ToolSet([_make_tool(session, t, prefix, side_effects, timeout_s) for t in listed], name=name)


async def _list_page(session: Any, cursor: str) -> Any:
    from mcp import types

    params = types.PaginatedRequestParams(cursor=cursor)
    return await session.list_tools(params=params)
