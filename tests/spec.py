"""Validate request bodies against the providers' published OpenAPI specs (in ../shared/data).

    validate_openai_chat_request(body)        POST /chat/completions  (openai_openapi/openapi.yaml.gz, OpenAPI 3.1)
    validate_anthropic_messages_request(body) POST /v1/messages       (anthropic_openapi/hosted_spec.json.gz, Nov 2024)

Both raise `jsonschema.ValidationError` (the most relevant error, its message prefixed with the JSON path).
The OpenAI YAML takes ~2.5 s to parse, so its JSON form is cached under .pytest_cache/llmbench-spec/, keyed
by the file's sha256; both validators are also cached in-process. OpenAPI 3.1 schemas are JSON Schema 2020-12,
so each spec document is registered whole with `referencing` and `#/components/schemas/...` refs resolve in it.

`nullable` (OpenAPI 3.0) and `type: null` placeholders are normalised by `normalize_openapi`.
The Anthropic spec predates extended thinking (2025); `ANTHROPIC_2025_ADDITIONS` adds exactly the request
fields of that feature (the `thinking` parameter and thinking/redacted_thinking blocks in assistant turns),
as documented by Anthropic, so current requests are not rejected for being newer than the snapshot.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from llmbench.testing import shared_data_dir

OPENAI_SPEC = Path("openai_openapi") / "openapi.yaml.gz"
ANTHROPIC_SPEC = Path("anthropic_openapi") / "hosted_spec.json.gz"
_CACHE_DIR = Path(__file__).resolve().parents[1] / ".pytest_cache" / "llmbench-spec"

ANTHROPIC_2025_ADDITIONS: dict[str, Any] = {
    "thinking": {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "budget_tokens"],
                "properties": {
                    "type": {"const": "enabled"},
                    "budget_tokens": {"type": "integer", "minimum": 1024},
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["type"],
                "properties": {"type": {"const": "disabled"}},
            },
        ]
    },
    "blocks": [
        {
            "type": "object",
            "required": ["type", "thinking", "signature"],
            "properties": {
                "type": {"const": "thinking"},
                "thinking": {"type": "string"},
                "signature": {"type": "string"},
            },
        },
        {
            "type": "object",
            "required": ["type", "data"],
            "properties": {"type": {"const": "redacted_thinking"}, "data": {"type": "string"}},
        },
    ],
}


def normalize_openapi(node: Any) -> Any:
    """Turn OpenAPI-isms into JSON Schema 2020-12 in place: `nullable: true` adds "null" to `type`, and a
    `type: null` placeholder (the Anthropic spec's `Model` has one) is dropped instead of crashing jsonschema."""
    if isinstance(node, dict):
        if "type" in node and node["type"] is None:
            del node["type"]
        if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for value in node.values():
            normalize_openapi(value)
    elif isinstance(node, list):
        for value in node:
            normalize_openapi(value)
    return node


def _spec_path(rel: Path) -> Path:
    root = shared_data_dir()
    if root is None or not (root / rel).is_file():
        import pytest

        pytest.skip(
            f"../shared/data/{rel} is absent (set LLMBENCH_SHARED_DATA); cannot validate against the spec"
        )
    return root / rel


@functools.cache
def load_openai_spec() -> dict[str, Any]:
    """The OpenAI OpenAPI document as a dict (parsed once, then read from the JSON cache)."""
    path = _spec_path(OPENAI_SPEC)
    raw = path.read_bytes()
    cached = _CACHE_DIR / f"openai-{hashlib.sha256(raw).hexdigest()[:16]}.json"
    if cached.is_file():
        return normalize_openapi(json.loads(cached.read_text(encoding="utf-8")))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(gzip.decompress(raw), Loader=loader)
    text = json.dumps(spec, default=str)  # YAML dates become strings; schemas never hold dates
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, cached)  # atomic: parallel test runs never read a half-written cache
    except OSError:
        pass  # a read-only checkout still works, only slower
    return normalize_openapi(json.loads(text))


@functools.cache
def load_anthropic_spec() -> dict[str, Any]:
    """The Anthropic OpenAPI document with `ANTHROPIC_2025_ADDITIONS` applied."""
    spec = normalize_openapi(json.loads(gzip.decompress(_spec_path(ANTHROPIC_SPEC).read_bytes())))
    schemas = spec["components"]["schemas"]
    schemas["CreateMessageParams"]["properties"]["thinking"] = copy.deepcopy(
        ANTHROPIC_2025_ADDITIONS["thinking"]
    )
    content = schemas["InputMessage"]["properties"]["content"]
    block_list = next(alt for alt in content["anyOf"] if alt.get("type") == "array")
    items = block_list["items"]
    items.setdefault("oneOf", []).extend(copy.deepcopy(ANTHROPIC_2025_ADDITIONS["blocks"]))
    items.pop("discriminator", None)  # the added blocks are not in its mapping
    return spec


def _validator(spec: dict[str, Any], uri: str, pointer: str) -> jsonschema.protocols.Validator:
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry = Registry().with_resource(uri, resource)
    return jsonschema.Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=registry)


@functools.cache
def openai_chat_validator() -> jsonschema.protocols.Validator:
    """Validator for the POST /chat/completions request body."""
    spec = load_openai_spec()
    ref = spec["paths"]["/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    return _validator(spec, "urn:openai-openapi", ref.removeprefix("#"))


@functools.cache
def anthropic_messages_validator() -> jsonschema.protocols.Validator:
    """Validator for the POST /v1/messages request body."""
    spec = load_anthropic_spec()
    ref = spec["paths"]["/v1/messages"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    return _validator(spec, "urn:anthropic-openapi", ref.removeprefix("#"))


def _check(validator: jsonschema.protocols.Validator, body: Any, what: str) -> None:
    error = best_match(validator.iter_errors(body))
    if error is not None:
        error.message = f"{what} invalid at {error.json_path}: {error.message}"
        raise error


def validate_openai_chat_request(body: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `body` is a valid OpenAI chat-completions request."""
    _check(openai_chat_validator(), body, "OpenAI chat request")


def validate_anthropic_messages_request(body: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `body` is a valid Anthropic messages request."""
    _check(anthropic_messages_validator(), body, "Anthropic messages request")
