"""Provider layer: one interface over OpenAI, Anthropic, OpenAI-compatible servers and the offline simulator."""

from llmbench.aio import run_sync
from llmbench.providers.base import Provider
from llmbench.providers.kinds import PROVIDERS
from llmbench.providers.model_ref import ModelRef
from llmbench.providers.pricing import ModelPrice, PriceTable, UnknownPriceWarning
from llmbench.providers.registry import (
    Config,
    Endpoint,
    get_provider,
    load_config,
    parse_model_id,
)
from llmbench.providers.retry import RetryPolicy
from llmbench.providers.types import (
    Attempt,
    Completion,
    ContentBlock,
    ImageBlock,
    Message,
    ReasoningBlock,
    ReasoningDelta,
    Route,
    StopEvent,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    ToolSpec,
    Usage,
    UsageEvent,
)

__all__ = [
    "PROVIDERS",
    "Attempt",
    "Completion",
    "Config",
    "ContentBlock",
    "Endpoint",
    "ImageBlock",
    "Message",
    "ModelPrice",
    "ModelRef",
    "PriceTable",
    "Provider",
    "ReasoningBlock",
    "ReasoningDelta",
    "RetryPolicy",
    "Route",
    "StopEvent",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "ToolResult",
    "ToolSpec",
    "UnknownPriceWarning",
    "Usage",
    "UsageEvent",
    "get_provider",
    "load_config",
    "parse_model_id",
    "run_sync",
]
