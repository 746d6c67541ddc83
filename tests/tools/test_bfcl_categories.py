"""BFCL categories beyond our data: found from the folder's file names and scored by BFCL's rule for their kind.

The files here are written in BFCL's own format (cases, then `possible_answer/` with the same name): Java and
JavaScript cases whose values must arrive as strings in the language's syntax, live_ variants, the no-call
`live_irrelevance`, the must-call `live_relevance`, and categories that cannot be scored offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from llmbench.errors import DataError
from llmbench.providers.types import ToolCall
from llmbench.tools.bfcl import bfcl_categories, category_kind, load_bfcl
from llmbench.tools.bfcl_score import score_bfcl
from llmbench.tools.bfcl_selfcheck import check_folder
from llmbench.tools.bfcl_types import from_language, to_language

JAVA_FN = {
    "name": "PmsProductServiceImpl.updateNewStatus",
    "description": "Update the status of products.",
    "parameters": {
        "type": "dict",
        "properties": {
            "ids": {"type": "ArrayList", "description": "Product ids.", "items": {"type": "long"}},
            "newStatus": {"type": "integer", "description": "The new status."},
            "force": {"type": "boolean", "description": "Skip checks."},
            "owner": {"type": "String", "description": "Who asks."},
            "ratio": {"type": "double", "description": "A ratio."},
            "meta": {"type": "HashMap", "description": "Extra fields."},
            "big": {"type": "long", "description": "A long."},
        },
        "required": ["ids", "newStatus"],
    },
}
JAVA_ANSWER = {"PmsProductServiceImpl.updateNewStatus": {
    "ids": [[101, 202, 303]], "newStatus": [2], "force": [True, ""], "owner": ["admin", ""],
    "ratio": [0.5, ""], "meta": [{"k": ["v"]}, ""], "big": [9000000000, ""]}}  # fmt: skip
JS_FN = {
    "name": "filterByTag",
    "description": "Filter items by tag.",
    "parameters": {
        "type": "dict",
        "properties": {
            "tags": {"type": "array", "description": "Tags.", "items": {"type": "String"}},
            "limit": {"type": "integer", "description": "At most this many."},
            "strict": {"type": "Boolean", "description": "Exact match."},
            "query": {"type": "String", "description": "The query."},
            "options": {
                "type": "dict",
                "description": "Options.",
                "properties": {"case": {"type": "String"}},
            },
            "size": {"type": "Bigint", "description": "A big count."},
        },
        "required": ["tags", "limit"],
    },
}
JS_ANSWER = {"filterByTag": {"tags": [["red", "blue"]], "limit": [10], "strict": [False, ""],
                             "query": ["shoes", ""], "options": [{"case": ["lower"]}, ""], "size": [12, ""]}}  # fmt: skip
PY_FN = {
    "name": "get_weather",
    "description": "Weather.",
    "parameters": {
        "type": "dict",
        "properties": {"city": {"type": "string", "description": "City."}},
        "required": ["city"],
    },
}


def _write(folder: Path, category: str, cases: list[dict], answers: list[dict] | None) -> None:
    (folder / "possible_answer").mkdir(parents=True, exist_ok=True)
    (folder / f"BFCL_v4_{category}.json").write_text("\n".join(json.dumps(c) for c in cases))
    if answers is not None:
        (folder / "possible_answer" / f"BFCL_v4_{category}.json").write_text(
            "\n".join(json.dumps(a) for a in answers)
        )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    q = [[{"role": "user", "content": "Do it."}]]
    _write(tmp_path, "simple_java", [{"id": "simple_java_0", "question": q, "function": [JAVA_FN]}],
           [{"id": "simple_java_0", "ground_truth": [JAVA_ANSWER]}])  # fmt: skip
    _write(tmp_path, "simple_javascript", [{"id": "simple_javascript_0", "question": q, "function": [JS_FN]}],
           [{"id": "simple_javascript_0", "ground_truth": [JS_ANSWER]}])  # fmt: skip
    _write(tmp_path, "live_simple", [{"id": "live_simple_0-0-0", "question": q, "function": [PY_FN]}],
           [{"id": "live_simple_0-0-0", "ground_truth": [{"get_weather": {"city": ["Paris"]}}]}])  # fmt: skip
    _write(
        tmp_path,
        "live_irrelevance",
        [{"id": "live_irrelevance_0-0-0", "question": q, "function": [PY_FN]}],
        None,
    )
    _write(
        tmp_path, "live_relevance", [{"id": "live_relevance_0-0-0", "question": q, "function": [PY_FN]}], None
    )
    _write(tmp_path, "memory_kv", [{"id": "memory_kv_0", "question": q, "function": []}], None)
    (tmp_path / "BFCL_v4_format_sensitivity.json").write_text("{}")
    return tmp_path


def _call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id="c", name=name, arguments=arguments)


def test_categories_come_from_the_folder_and_unscorable_ones_are_refused(folder: Path) -> None:
    assert bfcl_categories(folder) == ["live_irrelevance", "live_relevance", "live_simple", "simple_java",
                                       "simple_javascript"]  # fmt: skip
    assert {"memory_kv", "format_sensitivity"} <= set(bfcl_categories(folder, scorable=False))
    with pytest.raises(DataError, match="memory backend"):
        load_bfcl("memory_kv", folder)
    with pytest.raises(DataError, match="live web search"):
        category_kind("web_search_no_snippet")
    assert [category_kind(c) for c in ("live_irrelevance", "live_relevance", "multi_turn_miss_func", "live_parallel")] == [
        "irrelevance", "relevance", "multi_turn", "ast"]  # fmt: skip


def test_java_values_are_strings_in_java_syntax(folder: Path) -> None:
    (case,) = load_bfcl("simple_java", folder)
    spec = case.tools[0]
    jsonschema.Draft202012Validator.check_schema(spec.parameters)
    assert spec.description.endswith("Java 8 SDK syntax.")
    assert all(p["type"] == "string" for p in spec.parameters["properties"].values())
    assert "in string representation" in spec.parameters["properties"]["newStatus"]["description"]
    name = "PmsProductServiceImpl_updateNewStatus"
    right = _call(name, ids="new ArrayList<>(Arrays.asList(101L, 202L, 303L))", newStatus="2", force="true",
                  ratio="0.5", meta='new HashMap<String, String>() {{ put("k", "v"); }}', big="9000000000L")  # fmt: skip
    assert score_bfcl(case, [right]).correct, score_bfcl(case, [right])
    minimal = _call(name, ids="new ArrayList<Long>() {{ add(101L); add(202L); add(303L); }}", newStatus="2")
    assert score_bfcl(case, [minimal]).correct
    # Python-typed values are what BFCL rejects for Java: everything arrives as a string
    typed = score_bfcl(case, [_call(name, ids=[101, 202, 303], newStatus=2)])
    assert not typed.correct and typed.error_type == "type_error:java"
    for bad in ({"newStatus": "two"}, {"newStatus": "3"}, {"big": "9000000000"}, {"force": "yes"}):
        args = {"ids": "new ArrayList<>(Arrays.asList(101L, 202L, 303L))", "newStatus": "2", **bad}
        assert not score_bfcl(case, [_call(name, **args)]).correct, bad


def test_javascript_values_are_strings_in_javascript_syntax(folder: Path) -> None:
    (case,) = load_bfcl("simple_javascript", folder)
    assert case.tools[0].description.endswith("JavaScript syntax.")
    right = _call("filterByTag", tags="['red', 'blue']", limit="10", strict="false", query='"shoes"',
                  options="{'case': 'lower'}", size="12n")  # fmt: skip
    assert score_bfcl(case, [right]).correct, score_bfcl(case, [right])
    assert score_bfcl(case, [_call("filterByTag", tags='new Array("red", "blue")', limit="10")]).correct
    assert not score_bfcl(case, [_call("filterByTag", tags=["red", "blue"], limit=10)]).correct
    assert not score_bfcl(case, [_call("filterByTag", tags="['red']", limit="10")]).correct


def test_no_call_and_must_call_categories(folder: Path) -> None:
    (irrelevant,) = load_bfcl("live_irrelevance", folder)
    (relevant,) = load_bfcl("live_relevance", folder)
    assert score_bfcl(irrelevant, []).correct  # the empty answer is the right one, never an IndexError
    assert not score_bfcl(irrelevant, [_call("get_weather", city="x")]).correct
    assert not score_bfcl(relevant, []).correct
    assert score_bfcl(relevant, [_call("get_weather", city="anywhere")]).correct


def test_the_self_check_runs_on_whatever_the_folder_holds(folder: Path, cli) -> None:
    rows = {r["category"]: r for r in check_folder(folder)}
    assert set(rows) == set(bfcl_categories(folder))
    for row in rows.values():
        assert row["answers_ok"] == row["answers"] > 0, (row["category"], row["failures"])
        for kind, counts in row["corruptions"].items():
            assert counts[False] == 0, (row["category"], kind)
    out = cli("tools", "bfcl-check", "--root", folder)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "simple_javascript" in out.stdout and "memory_kv" in out.stdout  # listed as not scorable


@pytest.mark.parametrize(
    ("language", "value", "kind", "nested"),
    [("java", 5, "long", None), ("java", 2.5, "float", None), ("java", [1, 2], "ArrayList", "integer"),
     ("java", ["a", "b"], "ArrayList", "String"), ("java", {"k": 1}, "HashMap", None), ("java", 0.1, "double", None),
     ("javascript", 7, "Bigint", None), ("javascript", ["x", "y"], "array", "String"), ("javascript", 1e-05, "float", None),
     ("javascript", {"a": "b"}, "dict", None), ("java", True, "boolean", None)],
)  # fmt: skip
def test_language_round_trip(language: str, value: object, kind: str, nested: str | None) -> None:
    assert from_language(language, to_language(language, value, kind, nested), kind, nested) == value


ODD_CASES = {  # shapes real BFCL files have that the self-check once crashed on
    "empty function list": ("live_irrelevance", [], None),
    "required value only ever left out": ("live_simple", [PY_FN], [{"get_weather": {"city": [""]}}]),
    "answer names a function the doc lacks": ("live_multiple", [PY_FN], [{"get_time": {"zone": ["UTC"]}}]),
    "function doc without parameters": (
        "live_simple",
        [{"name": "ping", "description": "Ping."}],
        [{"ping": {}}],
    ),
}


@pytest.mark.parametrize("shape", list(ODD_CASES))
def test_the_self_check_goes_on_past_cases_it_cannot_check(tmp_path: Path, shape: str, cli) -> None:
    category, functions, answer = ODD_CASES[shape]
    q = [[{"role": "user", "content": "Do it."}]]
    cases = [{"id": f"{category}_0-0-0", "question": q, "function": functions},
             {"id": f"{category}_1-0-0", "question": q, "function": [PY_FN]}]  # fmt: skip
    good = {"get_weather": {"city": ["Paris"]}}
    answers = None if answer is None else [{"id": cases[0]["id"], "ground_truth": answer},
                                           {"id": cases[1]["id"], "ground_truth": [good]}]  # fmt: skip
    _write(tmp_path, category, cases, answers)
    [row] = check_folder(tmp_path)
    assert row["cases"] == 2 and not any(f.startswith("self-check error") for _, f in row["failures"])
    out = cli("tools", "bfcl-check", "--root", tmp_path)
    assert "Traceback" not in out.stderr and "Error" not in out.stderr, out.stderr
    if row["uncheckable"]:
        [(case, why)] = row["uncheckable"]
        assert case == cases[0]["id"] and why
        assert "1 cases uncheckable" in out.stdout
    assert out.returncode == (1 if row["failures"] else 0), out.stdout
