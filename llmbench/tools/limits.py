"""Safety limits of a tool-using conversation: turns, calls, wall time and result size."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TRUNCATION_MARKER = "\n[... truncated by llmbench: {dropped} of {total} characters left out ...]"


class ToolLimits(BaseModel):
    """Limits the tool loop enforces.

    `auto_confirm` lets tools marked `side_effects=True` run without a confirmation hook; by default they are
    refused unless a `confirm` callable says yes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_turns: int = Field(default=10, ge=1, description="model turns in one conversation")
    max_tool_calls: int = Field(
        default=50, ge=0, description="tool calls in one conversation, all tools together"
    )
    tool_timeout_s: float = Field(
        default=30.0, gt=0, description="wall time of one call unless the tool sets its own"
    )
    max_result_chars: int = Field(default=20_000, ge=100, description="longer results are cut with a marker")
    auto_confirm: bool = False


def truncate_result(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut `text` to at most `max_chars` characters, ending with a marker that says how much was dropped."""
    if len(text) <= max_chars:
        return text, False
    # The marker counts toward the limit so that the model never sees more than max_chars characters.
    marker = TRUNCATION_MARKER.format(dropped=len(text), total=len(text))
    keep = max(0, max_chars - len(marker))
    marker = TRUNCATION_MARKER.format(dropped=len(text) - keep, total=len(text))
    return text[:keep] + marker, True


class CallCounter:
    """Counts tool calls of one conversation against `ToolLimits.max_tool_calls`."""

    def __init__(self, limits: ToolLimits) -> None:
        self.limit = limits.max_tool_calls
        self.used = 0

    @property
    def remaining(self) -> int:
        """Calls still allowed."""
        return max(0, self.limit - self.used)

    def take(self) -> bool:
        """Use one call of the budget; False when none is left."""
        if self.used >= self.limit:
            return False
        self.used += 1
        return True
