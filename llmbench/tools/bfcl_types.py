"""BFCL's Java and JavaScript categories: values arrive as strings in the language's syntax.

BFCL shows a model every Java/JavaScript parameter as a string ("This is Java long type parameter in string
representation") and, before its AST check, converts the string back to a Python value by the declared type:
`"42"` as an integer, `"5L"` as a long, `"3.5f"` as a float, `"true"` as a boolean, `new ArrayList<>(Arrays.asList(1,
2))` as a list, `new HashMap<String, String>() {{ put("k", "v"); }}` as a dict, `"[1, 2]"` or `"new Array(1, 2)"` as a
JavaScript array, `"5n"` as a BigInt. A string that does not parse stays a string (and then fails the type check
unless the answer itself is a string), as in BFCL's `java_type_converter` / `js_type_converter`. `to_language`
is the inverse, used by the scorer self-check to turn ground truth into answers in BFCL's own form.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JAVA_TYPES", "JS_TYPES", "from_language", "language_of", "to_language"]

JAVA_TYPES: dict[str, type] = {
    "byte": int,
    "short": int,
    "integer": int,
    "float": float,
    "double": float,
    "long": int,
    "boolean": bool,
    "char": str,
    "Array": list,
    "ArrayList": list,
    "Set": set,
    "HashMap": dict,
    "Hashtable": dict,
    "Queue": list,
    "Stack": list,
    "String": str,
    "any": str,
}
JS_TYPES: dict[str, type] = {
    "String": str,
    "integer": int,
    "float": float,
    "Bigint": int,
    "Boolean": bool,
    "dict": dict,
    "array": list,
    "any": str,
}
_INT = re.compile(r"^-?\d+$")
_JAVA_FLOAT = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$")
_JAVA_DOUBLE = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_JAVA_LONG = re.compile(r"^-?\d+[lL]$")
_JS_FLOAT = re.compile(r"^-?\d+(\.\d+)?$")


def language_of(category: str) -> str:
    """The language of a BFCL category from its name: javascript, java, or python."""
    name = category.lower()
    if "javascript" in name:
        return "javascript"
    return "java" if "java" in name else "python"


def _plain(text: str) -> Any:
    """A literal without a declared type: boolean, quoted string, long, float-suffixed, number, else the text."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if _JAVA_LONG.match(text):
        return int(text[:-1])
    if _JAVA_FLOAT.match(text):
        return float(text[:-1])
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _java(text: str, kind: str, nested: str | None = None) -> Any:
    if kind in ("byte", "short", "integer"):
        return int(text) if _INT.match(text) else text
    if kind == "float":
        return float(text[:-1]) if _JAVA_FLOAT.match(text) else text
    if kind == "double":
        return float(text) if _JAVA_DOUBLE.match(text) else text
    if kind == "long":
        return int(text[:-1]) if _JAVA_LONG.match(text) else text
    if kind == "boolean":
        return text == "true" if text in ("true", "false") else text
    if kind == "ArrayList":
        return _java_arraylist(text, nested)
    if kind == "Array":
        found = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", text)
        if not found:
            return text
        parts = [p.strip() for p in found.group(1).split(",") if p.strip()]
        return [_java(p, nested) if nested else _plain(p) for p in parts]
    if kind == "HashMap":
        found = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", text, re.DOTALL)
        if found:
            return {k: _plain(v.strip()) for k, v in re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", found.group(1))}
        return {} if re.search(r"new\s+HashMap<.*?>\s*\(\)", text) else text
    return text  # String, char, any and the collections BFCL does not convert


def _java_arraylist(text: str, nested: str | None) -> Any:
    def element(part: str) -> Any:
        part = part.strip()
        if nested in ("String", "char"):
            return part[1:-1]
        return _java(part, nested) if nested else _plain(part)

    found = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", text)
    if found:
        return [element(p) for p in found.group(1).split(",")]
    found = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", text, re.DOTALL)
    if found:
        return [element(p) for p in re.findall(r"add\((.+?)\)", found.group(1))]
    return [] if re.search(r"new\s+ArrayList<\w*>\(\)", text) else text


def _js(text: str, kind: str, nested: str | None = None) -> Any:
    if kind == "String":
        quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
        return text[1:-1] if quoted else text
    if kind == "integer":
        return int(text) if _INT.match(text) else text
    if kind == "float":
        return float(text) if _JS_FLOAT.match(text) else text
    if kind == "Bigint":
        return int(text[:-1]) if re.match(r"^-?\d+n$", text) else text
    if kind == "Boolean":
        return text == "true" if text in ("true", "false") else text
    if kind == "array":
        return _js_array(text.strip(), nested)
    if kind == "dict":
        return _js_dict(text.strip())
    return text


def _js_array(code: str, nested: str | None) -> Any:
    if re.match(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)", code):
        inner = re.findall(r"\[(.*?)\]", code)
        rows = []
        for i, row in enumerate(inner):
            row = row.strip()[1:] if i == 0 and row.strip().startswith("[") else row.strip()
            rows.append([_plain(e.strip()) for e in row.split(",")])
        return rows
    found = re.match(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)", code)
    if not found:
        return code
    body = (found.group(1) if found.group(1) is not None else found.group(2) or "").strip()
    parts = [p.strip() for p in body.split(",")] if body else []
    if not nested:
        return [_plain(p) for p in parts]
    return [_js(p, "String" if p[:1] in "\"'" and nested == "String" else nested) for p in parts]


def _js_dict(code: str) -> Any:
    if code == "{}":
        return {}
    found = re.match(r"\{(.*?)\}", code)
    if not found:
        return code
    out: dict[str, Any] = {}
    for key, value in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", found.group(1)):
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key.strip().strip("'\"")] = _js_array(value, None)
        else:
            out[key.strip().strip("'\"")] = _plain(value.strip("'\""))
    return out


def from_language(language: str, text: str, kind: str, nested: str | None = None) -> Any:
    """The Python value BFCL reads from a Java/JavaScript string of declared `kind` (items of type `nested`)."""
    return _java(text, kind, nested) if language == "java" else _js(text, kind, nested)


def to_language(language: str, value: Any, kind: str, nested: str | None = None) -> str:
    """A Java/JavaScript string BFCL reads back as `value` (the self-check's answers in BFCL's own form)."""
    if isinstance(value, str):
        return value  # strings travel as they are (JavaScript would also accept them quoted)
    if isinstance(value, bool):
        return "true" if value else "false"
    if language == "java":
        if kind == "long":
            return f"{value}L"
        if kind == "float":
            return f"{_decimal(float(value))}f"
        if isinstance(value, list):
            items = [
                json.dumps(v) if nested in ("String", "char") else to_language("java", v, nested or "", None)
                for v in value
            ]
            return (
                "new ArrayList<>(Arrays.asList(" + ", ".join(items) + "))"
                if kind == "ArrayList"
                else ("new Object[]{" + ", ".join(items) + "}")
            )
        if isinstance(value, dict):
            puts = "".join(f'put("{k}", {json.dumps(v)}); ' for k, v in value.items())
            return "new HashMap<String, Object>() {{ " + puts + "}}"
        return _decimal(value) if isinstance(value, float) else repr(value)
    if kind == "Bigint":
        return f"{value}n"
    if isinstance(value, list | dict):
        return json.dumps(value).replace('"', "'")
    return _decimal(value) if isinstance(value, float) else repr(value)


def _decimal(value: float) -> str:
    """A float without exponent notation (BFCL's float patterns do not read `1e-05`)."""
    import numpy as np

    return np.format_float_positional(value, trim="0")
