"""BFCL's AST-matching rules, applied to one decoded call `{name: {param: value}}` against its possible answers.

The rules follow `bfcl_eval/eval_checker/ast_eval/ast_checker.py` (Python language) of the Gorilla repository:
  * the function name must match (dots in BFCL names may arrive as underscores, as BFCL allows for
    providers whose tool names cannot contain dots);
  * every parameter the function doc marks `required` must be present;
  * no parameter outside the doc or outside the possible answer;
  * each value must have the doc's type (int accepted for float; a value of the possible answer's type is
    accepted as a "variable"), then equal one of the possible answers, where strings are compared after
    dropping spaces and ``,./-_*^``, lower-casing and mapping ' to "; lists element-wise with the same
    string rule; dicts key by key; lists of dicts dict by dict;
  * a parameter of the possible answer may be left out only when "" is among its possible values.
Like BFCL, nested type checks go one level deep, and BFCL's quirks are kept (e.g. an empty list matches the
"" marker of an optional list parameter) so that scores stay comparable with the leaderboard.
"""

from __future__ import annotations

import re
from typing import Any

from llmbench.tools.bfcl_types import JAVA_TYPES, JS_TYPES, from_language

PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
_STRIP = re.compile(r"[ ,./\-_*^]")


class Mismatch(Exception):
    """A call does not match; `kind` is BFCL's error type, the message says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def standardize(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ,./-_*^, lower-case, and turn ' into "."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def _norm(value: Any) -> Any:
    return standardize(value) if type(value) is str else value


def _answer_type(answers: list[Any]) -> type | None:
    for a in answers:
        if a != "":
            return type(a)
    return None


def _type_ok(value: Any, answers: list[Any], expected: type, nested: type | None) -> tuple[bool, bool]:
    """(valid, is_variable) as BFCL's type_checker decides them."""
    answer_type = _answer_type(answers)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for answer in answers:
            # BFCL only inspects list answers; any other entry (e.g. the "" marker) passes the nested check.
            items: Any = value  # a list: its type was just checked
            if type(answer) is not list or all(_type_ok(item, answer, nested, None)[0] for item in items):
                return True, is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, False


def _dict_ok(value: dict[str, Any], answers: list[Any]) -> bool:
    for answer in answers:
        if answer == "":
            continue
        if not isinstance(answer, dict):
            continue
        good = all(
            key in answer and _norm(v) in [_norm(a) for a in answer[key]] for key, v in value.items()
        ) and all(key in value or "" in options for key, options in answer.items())
        if good:
            return True
    return False


def _list_dict_ok(value: list[Any], answers: list[Any]) -> bool:
    for answer in answers:
        if len(value) != len(answer):
            continue
        if all(isinstance(v, dict) and _dict_ok(v, [a]) for v, a in zip(value, answer, strict=True)):
            return True
    return False


def _list_ok(value: list[Any], answers: list[Any]) -> bool:
    # `list(answer)` mirrors BFCL iterating each answer: the "" marker becomes [], so [] matches it.
    options = [[_norm(x) for x in list(a)] for a in answers if isinstance(a, list | str)]
    return [_norm(x) for x in value] in options


def _expected(language: str, prop: dict[str, Any], param: str, raw: Any) -> tuple[Any, type, type | None]:
    """(value to check, expected Python type, expected item type) of one argument, as BFCL converts it."""
    type_name = prop.get("type", "string")
    item_name = prop.get("items", {}).get("type") if isinstance(prop.get("items"), dict) else None
    table = JAVA_TYPES if language == "java" else JS_TYPES if language == "javascript" else None
    if table is not None and type_name in table:
        if type(raw) is not str:
            raise Mismatch(
                f"type_error:{language}",
                f"parameter {param!r}: a {language} {type_name} arrives as a string in {language} syntax, "
                f"got {type(raw).__name__}",
            )
        nested_name = item_name if type_name in ("Array", "ArrayList", "array") else None
        value = from_language(language, raw, type_name, nested_name)
        return value, table[type_name], table.get(nested_name or "", None) if nested_name else None
    expected = PYTHON_TYPES.get(type_name, str)
    nested = PYTHON_TYPES.get(item_name or "string", str) if type_name in _NESTED and item_name else None
    value = float(raw) if type_name == "float" and type(raw) is int else raw
    return value, expected, nested


def check_call(
    doc: dict[str, Any],
    name: str,
    arguments: dict[str, Any],
    answer: dict[str, dict[str, list[Any]]],
    language: str = "python",
) -> None:
    """Raise `Mismatch` unless the call (`name`, `arguments`) matches the one-call possible answer under BFCL's
    rules; Java and JavaScript arguments are strings in the language's syntax (see `bfcl_types`)."""
    ((expected_name, options),) = answer.items()
    if name != expected_name and name != expected_name.replace(".", "_"):
        raise Mismatch("wrong_func_name", f"expected function {expected_name!r}, got {name!r}")
    props: dict[str, Any] = doc["parameters"].get("properties", {})
    for param in doc["parameters"].get("required", []):
        if param not in arguments:
            raise Mismatch("missing_required", f"missing required parameter {param!r}")
    for param, raw in arguments.items():
        if param not in props or param not in options:
            raise Mismatch("unexpected_param", f"unexpected parameter {param!r}")
        type_name = props[param].get("type", "string")
        value, expected, nested = _expected(language, props[param], param, raw)
        valid, is_variable = _type_ok(value, options[param], expected, nested)
        if not valid:
            raise Mismatch(
                "type_error", f"parameter {param!r}: expected {type_name}, got {type(value).__name__} {raw!r}"
            )
        if not is_variable:
            if expected is dict:
                ok = _dict_ok(value, options[param])
            elif expected is list and nested is dict:
                ok = _list_dict_ok(value, options[param])
            elif expected is str:
                ok = _norm(value) in [_norm(a) for a in options[param] if type(a) is str]
            elif expected is list:
                ok = _list_ok(value, options[param])
            else:
                ok = value in options[param]
        else:
            ok = value in options[param]
        if not ok:
            raise Mismatch("value_error", f"parameter {param!r}: {raw!r} is not among {options[param]!r}")
    for param, values in options.items():
        if param not in arguments and "" not in values:
            raise Mismatch("missing_optional", f"parameter {param!r} is required by the answer but missing")
