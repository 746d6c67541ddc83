"""Tools for `llmbench tools list|run examples/my_tools.py` (a module of `@tool` functions; any module works)."""

from __future__ import annotations

from llmbench.tools import tool


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city."""
    return f"18 degrees {unit} in {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
