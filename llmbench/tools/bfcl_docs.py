"""How BFCL presents a function doc to a model, as its function-calling handlers do: JSON Schema types for BFCL's
own (its GORILLA_TO_OPENAPI mapping), a language hint in the description, Java/JavaScript parameters as strings
in that language's syntax, names with `_` for `.`."""

from __future__ import annotations

import copy
import json
from typing import Any

from llmbench.providers.types import ToolSpec

__all__ = ["HINTS", "PYTHON_HINT", "to_json_schema", "to_tool_spec", "wire_name"]

_TYPE_TO_JSON = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "Any": "string",
    "String": "string",
    "Bigint": "integer",
}
HINTS = {
    "python": " Note that the provided function is in Python 3 syntax.",
    "java": " Note that the provided function is in Java 8 SDK syntax.",
    "javascript": " Note that the provided function is in JavaScript syntax.",
}
PYTHON_HINT = HINTS["python"]
_LANGUAGE_NAME = {"java": "Java", "javascript": "JavaScript"}


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A BFCL parameter schema as valid JSON Schema, converted the way BFCL's function-calling handlers do.

    `dict` -> object, `float` -> number (format float, with BFCL's description note), `tuple` -> array,
    `any` and missing types -> string; BFCL's non-standard `optional` flag is dropped.
    """
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("optional", "properties", "items")}
    bfcl_type = schema.get("type")
    out["type"] = _TYPE_TO_JSON.get(bfcl_type, "string") if isinstance(bfcl_type, str) else "string"
    if bfcl_type == "float":
        out["format"] = "float"
        out["description"] = schema.get("description", "") + " This is a float type value."
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = to_json_schema(schema["items"])
    return out


def wire_name(name: str) -> str:
    """The tool name a model sees: BFCL's dots become underscores, as OpenAI and Anthropic names forbid dots."""
    return name.replace(".", "_")


def _as_strings(parameters: dict[str, Any], language: str) -> dict[str, Any]:
    """Java/JavaScript parameters as BFCL shows them: every one a string in the language's syntax."""
    out = copy.deepcopy(parameters)
    lang = _LANGUAGE_NAME[language]
    for prop in out.get("properties", {}).values():
        kind = prop.get("type", "any")
        desc = prop.get("description", "")
        if kind == "any":
            desc += f" This parameter can be of any type of {lang} object in string representation."
        else:
            desc += f" This is {lang} {kind} type parameter in string representation."
        if kind in ("ArrayList", "Array", "array") and isinstance(prop.get("items"), dict):
            desc += f" The list elements are of type {prop['items'].get('type')}; they are not in string representation."
            prop.pop("items")
        if language == "javascript" and kind == "dict" and "properties" in prop:
            desc += f" The dictionary entries have the following schema; they are not in string representation. {json.dumps(prop.pop('properties'))}"
        prop["description"], prop["type"] = desc, "string"
    return out


def to_tool_spec(function: dict[str, Any], language: str = "python") -> ToolSpec:
    """A BFCL function doc as a `ToolSpec`, as BFCL presents it: name with `_` for `.`, the language's hint in the
    description, Java/JavaScript parameters as strings in that language's syntax."""
    params = function["parameters"]
    if language in _LANGUAGE_NAME:
        params = _as_strings(params, language)
    return ToolSpec(
        name=wire_name(function["name"]),
        description=function.get("description", "") + HINTS.get(language, PYTHON_HINT),
        parameters=to_json_schema(params),
    )
