"""Provider-neutral value types: messages, content blocks, tool specs, usage, completions and stream events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant", "tool"]
StopReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal", "pause", "error", "other"]


def stop_reason_names(stop_reasons: Mapping[str, StopReason], default: str) -> dict[StopReason, str]:
    """A vendor's name for each neutral stop reason (what a gateway speaking its API answers): the first of its
    own names that maps to it (`Provider.stop_reasons`), else `default`."""
    first: dict[str, str] = {}
    for name, neutral in stop_reasons.items():
        first.setdefault(neutral, name)
    return {reason: first.get(reason, default) for reason in get_args(StopReason)}


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextBlock(_Value):
    """Plain text."""

    type: Literal["text"] = "text"
    text: str


class ImageBlock(_Value):
    """An image given by URL or by base64 data (exactly one of the two)."""

    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str = "image/png"

    @model_validator(mode="after")
    def _one_source(self) -> ImageBlock:
        if (self.url is None) == (self.data is None):
            raise ValueError("an image needs exactly one of `url` or `data` (base64)")
        return self


class ToolCall(_Value):
    """A model's request to run a tool.

    `arguments` is the parsed JSON object; when the model sent text that is not a JSON object, `arguments` is
    empty and `raw_arguments` keeps the text so the caller can answer with an error instead of crashing.
    """

    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None

    @property
    def arguments_ok(self) -> bool:
        """Whether the arguments parsed as a JSON object."""
        return self.raw_arguments is None

    @classmethod
    def from_json(cls, id: str, name: str, text: str | None) -> ToolCall:
        """Build a call from the argument text a model streamed or sent; malformed JSON is kept, not raised."""
        if not text:
            return cls(id=id, name=name)
        try:
            parsed = json.loads(text)
        except ValueError:
            return cls(id=id, name=name, raw_arguments=text)
        if not isinstance(parsed, dict):
            return cls(id=id, name=name, raw_arguments=text)
        return cls(id=id, name=name, arguments=parsed)

    def arguments_json(self) -> str:
        """The arguments as the JSON text a provider expects (the raw text when it was not valid JSON)."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class ToolResult(_Value):
    """The answer to one tool call; `is_error` marks a failed call."""

    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    content: str
    is_error: bool = False
    name: str | None = None


class ReasoningBlock(_Value):
    """A model's visible reasoning ("thinking"); `signature` must travel back unchanged to Anthropic."""

    type: Literal["reasoning"] = "reasoning"
    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None


ContentBlock = Annotated[
    TextBlock | ImageBlock | ToolCall | ToolResult | ReasoningBlock, Field(discriminator="type")
]


class Message(_Value):
    """One turn of a conversation."""

    role: Role
    content: list[ContentBlock]

    @classmethod
    def system(cls, text: str) -> Message:
        """A system prompt."""
        return cls(role="system", content=[TextBlock(text=text)])

    @classmethod
    def user(cls, content: str | list[ContentBlock]) -> Message:
        """A user turn from text or blocks."""
        blocks: list[ContentBlock] = [TextBlock(text=content)] if isinstance(content, str) else list(content)
        return cls(role="user", content=blocks)

    @classmethod
    def assistant(cls, content: str | list[ContentBlock]) -> Message:
        """An assistant turn from text or blocks."""
        blocks: list[ContentBlock] = [TextBlock(text=content)] if isinstance(content, str) else list(content)
        return cls(role="assistant", content=blocks)

    @classmethod
    def tool(cls, results: list[ToolResult]) -> Message:
        """A turn carrying tool results."""
        return cls(role="tool", content=list(results))

    @property
    def text(self) -> str:
        """The concatenated text blocks."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


class ToolSpec(_Value):
    """A tool the model may call: name, description and JSON Schema of its parameters."""

    # The alphabet both OpenAI and Anthropic accept; a dot would pass here and fail at the API with a 400.
    name: str = Field(pattern=r"^[a-zA-Z0-9_\-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Usage(_Value):
    """Token counts normalised across vendors.

    `input_tokens` excludes cache reads and writes (Anthropic's meaning; OpenAI's `prompt_tokens` minus
    `cached_tokens`). `output_tokens` includes `reasoning_tokens`, and `cache_write_tokens` includes
    `cache_write_1h_tokens` (writes with a one-hour lifetime, priced higher): breakdowns, not additions.
    """

    # a negative count would be a credit: a server that sends one answered with something that is not usage
    input_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    cache_write_1h_tokens: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _parts_within_wholes(self) -> Usage:
        # breakdowns larger than their whole would price to a negative cost
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError(
                f"{self.reasoning_tokens} reasoning tokens of {self.output_tokens} output tokens"
            )
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError(
                f"{self.cache_write_1h_tokens} one-hour cache writes of {self.cache_write_tokens}"
            )
        return self

    @property
    def total_input_tokens(self) -> int:
        """All prompt tokens: uncached, cache read and cache write."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        """Prompt plus output tokens."""
        return self.total_input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )


class Attempt(_Value):
    """One HTTP attempt of a call, failed or not, with its own usage and cost."""

    number: int
    started_at: float
    latency_s: float
    ok: bool
    usage: Usage | None = None
    cost_usd: float | None = None
    error_type: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    request_id: str | None = None
    model_id: str | None = None  # the model this attempt went to, when a router chose it
    cost_basis: Literal["estimated"] | None = (
        None  # "estimated": answered without usable usage, charged the estimate
    )


class Route(_Value):
    """How a routing policy handled a call: its choice, what it expected, and which model finally answered."""

    policy: str  # the policy file's sha256
    chosen: str  # the model the policy ranked first
    answered_by: str  # the model that answered (a fallback when the chosen one failed)
    fallback: int = 0  # 0 = the chosen model answered; n = the n-th fallback did
    tried: list[str] = Field(default_factory=list)  # models that failed before, in order
    expected_quality: float | None = None
    expected_cost: float | None = None


class Completion(_Value):
    """A model's answer with everything needed to account for it."""

    model_id: str
    provider: str
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason
    raw_stop_reason: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    latency_s: float = 0.0
    request_id: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    simulated: bool = False
    route: Route | None = None  # set when a routing policy chose the model (`router:` model ids)

    @property
    def text(self) -> str:
        """The concatenated text blocks of the answer."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls of the answer, in order."""
        return [b for b in self.content if isinstance(b, ToolCall)]

    @property
    def reasoning(self) -> str:
        """The concatenated reasoning text."""
        return "".join(b.text for b in self.content if isinstance(b, ReasoningBlock))

    @property
    def total_cost_usd(self) -> float | None:
        """Cost of every attempt of the call, retries included (None when any billed attempt is unpriced)."""
        costs = [a.cost_usd for a in self.attempts if a.usage is not None]
        if not costs:
            return self.cost_usd
        return None if any(c is None for c in costs) else float(sum(costs))  # type: ignore[arg-type]

    def to_message(self) -> Message:
        """The answer as an assistant turn, to continue the conversation."""
        return Message(role="assistant", content=list(self.content))


# Stream events --------------------------------------------------------------------------------------------


class TextDelta(_Value):
    """A piece of answer text."""

    type: Literal["text_delta"] = "text_delta"
    text: str


class ReasoningDelta(_Value):
    """A piece of reasoning text."""

    type: Literal["reasoning_delta"] = "reasoning_delta"
    text: str


class ToolCallStart(_Value):
    """A tool call begins; `index` is its position among the answer's tool calls."""

    type: Literal["tool_call_start"] = "tool_call_start"
    index: int
    id: str
    name: str


class ToolCallDelta(_Value):
    """A piece of a tool call's argument JSON."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    arguments_delta: str


class ToolCallEnd(_Value):
    """A tool call is complete."""

    type: Literal["tool_call_end"] = "tool_call_end"
    index: int
    call: ToolCall


class UsageEvent(_Value):
    """Final token counts of the stream."""

    type: Literal["usage"] = "usage"
    usage: Usage


class StopEvent(_Value):
    """The stream finished; `completion` equals what the non-streamed call returns."""

    type: Literal["stop"] = "stop"
    stop_reason: StopReason
    completion: Completion


StreamEvent = Annotated[
    TextDelta | ReasoningDelta | ToolCallStart | ToolCallDelta | ToolCallEnd | UsageEvent | StopEvent,
    Field(discriminator="type"),
]

MessagesInput = str | Message | list[Message] | list[dict[str, Any]]


def to_messages(prompt: MessagesInput) -> list[Message]:
    """Normalise a prompt string, a message, or a list of messages or dicts to a list of `Message`."""
    if isinstance(prompt, str):
        return [Message.user(prompt)]
    if isinstance(prompt, Message):
        return [prompt]
    out: list[Message] = []
    for m in prompt:
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m.get("content"), str):
            out.append(Message(role=m["role"], content=[TextBlock(text=m["content"])]))
        else:
            out.append(Message.model_validate(m))
    return out
