"""Property-based round trips of the message and tool conversions (hypothesis).

neutral -> OpenAI -> neutral holds for what Chat Completions can represent:
  * system turns of one text block; user turns that are one text block, or any text/image mix with an image
    (text-only user content is sent as one string, so several text blocks would merge);
  * assistant turns of at most one non-empty text block followed by tool calls (OpenAI has one `content`
    string, no reasoning blocks, and puts calls after the text);
  * tool results that are not errors (errors travel as "Error: ..." text, with no flag) and whose turns are
    not adjacent (consecutive tool messages read back as one turn).
neutral -> Anthropic -> neutral holds for what the Messages API can represent:
  * one leading system prompt (it lives outside the turn list), non-empty;
  * user turns of text/image blocks, assistant turns of thinking (with or without signature), redacted
    thinking, text and tool calls in any order, tool results (error flag included) answering the previous
    assistant turn's calls; turns alternate (same-role turns are merged by the API's rules);
  * tool-call arguments that are JSON objects (`input` is an object; malformed raw text cannot be sent).
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from spec import validate_anthropic_messages_request, validate_openai_chat_request

from llmbench.providers import (
    Config,
    ImageBlock,
    Message,
    ReasoningBlock,
    TextBlock,
    ToolCall,
    ToolResult,
    ToolSpec,
    get_provider,
)
from llmbench.providers.anthropic import messages_from_anthropic, messages_to_anthropic, tool_to_anthropic
from llmbench.providers.openai import messages_from_openai, messages_to_openai, tool_to_openai
from llmbench.providers.types import to_messages

SETTINGS = settings(max_examples=60, deadline=None)

text = st.text(max_size=20)
nonempty = st.text(min_size=1, max_size=20)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=6), json_value, max_size=3)
url_images = st.from_regex(r"https://example\.com/[a-z0-9]{1,10}\.(png|jpg)", fullmatch=True).map(
    lambda u: ImageBlock(url=u)
)
data_images = st.builds(
    lambda data, mt: ImageBlock(data=data, media_type=mt),
    st.text(alphabet=string.ascii_letters + string.digits + "+/=", min_size=1, max_size=24),
    st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
)
images = url_images | data_images
texts = st.builds(TextBlock, text=text)


def _not_json_object(s: str) -> bool:
    try:
        return not isinstance(json.loads(s), dict)
    except ValueError:
        return True


@st.composite
def conversations(draw: st.DrawFn, fmt: str) -> list[Message]:
    """A conversation the format `fmt` ("openai" or "anthropic") can represent exactly (see module doc)."""
    msgs: list[Message] = []
    if draw(st.booleans()):
        msgs.append(Message.system(draw(nonempty)))
    rounds = draw(st.integers(1, 3))
    counter = iter(range(1000))
    for r in range(rounds):
        msgs.append(Message(role="user", content=draw(_user_content(fmt))))
        calls = []
        for _ in range(draw(st.integers(0, 2))):
            call_id = f"call_{next(counter)}_{draw(st.text(alphabet=string.ascii_letters, max_size=6))}"
            if fmt == "openai" and draw(st.booleans()):
                raw = draw(st.text(max_size=12).filter(_not_json_object))
                calls.append(
                    ToolCall(id=call_id, name=draw(names), raw_arguments=raw)
                    if raw
                    else ToolCall(id=call_id, name=draw(names))
                )
            else:
                calls.append(ToolCall(id=call_id, name=draw(names), arguments=draw(arguments)))
        msgs.append(Message(role="assistant", content=draw(_assistant_content(fmt, calls))))
        if calls and (r < rounds - 1 or draw(st.booleans())):
            results = [
                ToolResult(
                    tool_call_id=c.id,
                    content=draw(text),
                    is_error=draw(st.booleans()) if fmt == "anthropic" else False,
                )
                for c in calls
            ]
            msgs.append(Message.tool(results))
    return msgs


def _user_content(fmt: str) -> st.SearchStrategy[list[Any]]:
    if fmt == "openai":
        with_image = st.tuples(st.lists(texts | images, max_size=3), images, st.integers(0, 3)).map(
            lambda t: [*t[0][: t[2]], t[1], *t[0][t[2] :]]
        )
        return st.lists(texts, min_size=1, max_size=1) | with_image
    return st.lists(texts | images, min_size=1, max_size=4)


@st.composite
def _assistant_content(draw: st.DrawFn, fmt: str, calls: list[ToolCall]) -> list[Any]:
    if fmt == "openai":
        head = [TextBlock(text=draw(nonempty))] if draw(st.booleans()) else []
        return head + calls
    thinking = st.builds(
        ReasoningBlock,
        text=text,
        signature=st.none() | st.text(alphabet=string.ascii_letters, min_size=1, max_size=12),
    ) | st.builds(
        lambda d: ReasoningBlock(redacted_data=d),
        st.text(alphabet=string.ascii_letters, min_size=1, max_size=12),
    )
    blocks = draw(st.lists(thinking, max_size=2)) + draw(st.lists(texts, max_size=2)) + calls
    return draw(st.permutations(blocks))


@SETTINGS
@given(conversations("openai"))
def test_openai_round_trip(convo):
    assert messages_from_openai(messages_to_openai(convo)) == convo


@SETTINGS
@given(conversations("anthropic"))
@pytest.mark.slow
def test_anthropic_round_trip(convo):
    assert messages_from_anthropic(*messages_to_anthropic(convo)) == convo


@settings(max_examples=30, deadline=None)
@given(conversations("openai"))
def test_openai_request_of_any_conversation_is_valid_per_spec(shared_data, convo):
    provider = get_provider("openai:gpt-4o-mini", config=Config(), api_key="sk-test-conversions")
    validate_openai_chat_request(provider.build_request(convo, None, {"max_tokens": 10}))


@st.composite
def api_valid_anthropic(draw: st.DrawFn) -> list[Message]:
    """Anthropic conversations with the API's own content rules too: non-empty text, signed thinking."""
    convo = draw(conversations("anthropic"))
    out = []
    for m in convo:
        blocks = []
        for b in m.content:
            if isinstance(b, TextBlock) and not b.text.strip():
                b = TextBlock(text="x" + b.text)
            if isinstance(b, ReasoningBlock) and b.redacted_data is None and b.signature is None:
                b = ReasoningBlock(text=b.text, signature="sig")
            blocks.append(b)
        out.append(Message(role=m.role, content=blocks))
    return out


@settings(max_examples=30, deadline=None)
@given(api_valid_anthropic())
def test_anthropic_request_of_any_conversation_is_valid_per_spec(shared_data, convo):
    provider = get_provider("anthropic:claude-3-5-haiku-latest", config=Config(), api_key="sk-ant-test-conv")
    body = provider.build_request(convo, None, {})
    for turn in body[
        "messages"
    ]:  # URL image sources are newer than the spec snapshot (see test_providers_anthropic)
        for block in turn["content"]:
            if block["type"] == "image" and block["source"]["type"] == "url":
                block["source"] = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    validate_anthropic_messages_request(body)


# -- tool specs --------------------------------------------------------------------------------------------

schema_types = st.sampled_from(["string", "integer", "number", "boolean"])
parameters = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), schema_types, max_size=4).flatmap(
    lambda props: st.builds(
        lambda required: {
            "type": "object",
            "properties": {k: {"type": t} for k, t in props.items()},
            "required": sorted(required),
        },
        st.sets(st.sampled_from(sorted(props)) if props else st.nothing(), max_size=len(props)),
    )
)
tool_specs = st.builds(
    ToolSpec,
    name=st.from_regex(r"[a-zA-Z0-9_\-]{1,64}", fullmatch=True),
    description=text,
    parameters=parameters,
)


@SETTINGS
@given(tool_specs)
def test_tool_spec_round_trips_through_both_formats(spec):
    fn = tool_to_openai(spec)
    assert fn["type"] == "function"
    assert ToolSpec(**fn["function"]) == spec
    a = tool_to_anthropic(spec)
    assert ToolSpec(name=a["name"], description=a["description"], parameters=a["input_schema"]) == spec


# Both vendors accept tool names matching ^[a-zA-Z0-9_-]{1,64}$ only, and so does ToolSpec.
api_tool_specs = st.builds(
    ToolSpec,
    name=st.from_regex(r"[a-zA-Z0-9_\-]{1,64}", fullmatch=True),
    description=text,
    parameters=parameters,
)


@settings(max_examples=20, deadline=None)
@given(st.lists(api_tool_specs, min_size=1, max_size=3, unique_by=lambda t: t.name))
def test_tool_specs_are_valid_in_requests_per_spec(shared_data, specs):
    o = get_provider("openai:gpt-4o-mini", config=Config(), api_key="sk-test-conversions")
    validate_openai_chat_request(o.build_request([Message.user("hi")], specs, {}))
    a = get_provider("anthropic:claude-3-5-haiku-latest", config=Config(), api_key="sk-ant-test-conv")
    validate_anthropic_messages_request(a.build_request([Message.user("hi")], specs, {}))


# -- plain inputs ---------------------------------------------------------------------------------------------


def test_prompt_forms_normalise_to_messages():
    assert to_messages("hi") == [Message.user("hi")]
    assert to_messages(Message.system("s")) == [Message.system("s")]
    dicts = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hello"}]},
    ]
    assert to_messages(dicts) == [Message.system("be brief"), Message.user("hello")]


def test_malformed_tool_arguments_are_kept_not_raised():
    call = ToolCall.from_json("c1", "f", '{"city": "Par')
    assert not call.arguments_ok and call.raw_arguments == '{"city": "Par' and call.arguments == {}
    assert ToolCall.from_json("c2", "f", "[1, 2]").raw_arguments == "[1, 2]"  # JSON, but not an object
    assert (
        ToolCall.from_json("c3", "f", "").arguments == {} and ToolCall.from_json("c3", "f", "").arguments_ok
    )


@pytest.mark.parametrize("name", ["get.weather", "a b", "", "x" * 65])
def test_tool_names_the_apis_reject_are_refused_early(name: str) -> None:
    """A name OpenAI or Anthropic would answer with a 400 fails when the spec is built, not at the API."""
    with pytest.raises(ValidationError):
        ToolSpec(name=name)
