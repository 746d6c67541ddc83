"""BFCL loader and scorer: BFCL's rules on hand-made cases, and ground truth vs corruptions on the real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from llmbench.errors import DataError
from llmbench.providers.types import Message, ToolCall
from llmbench.testing import shared_data_dir
from llmbench.tools.bfcl import BFCLCase, ExpectedCall, bfcl_categories, load_bfcl, parse_call_text
from llmbench.tools.bfcl_ast import standardize
from llmbench.tools.bfcl_docs import to_json_schema, to_tool_spec
from llmbench.tools.bfcl_score import score_bfcl
from llmbench.tools.bfcl_selfcheck import CORRUPTIONS, IRRELEVANCE_CORRUPTION, check_case

# The categories the shared folder holds (found from its files, as every loader finds them).
SHARED_CATEGORIES = bfcl_categories(shared_data_dir() / "bfcl") if shared_data_dir() else []
# Case counts stated in the data's MANIFEST.md.
MANIFEST_COUNTS = {
    "simple_python": 400,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "irrelevance": 240,
    "multi_turn_base": 200,
}


@pytest.fixture(scope="module")
def bfcl_dir(shared_data: Path) -> Path:
    path = shared_data / "bfcl"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the BFCL data is not laid out on this machine")
    return path


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id="c", name=name, arguments=arguments)


WEATHER = {
    "name": "weather.get",
    "description": "Weather for a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string", "description": "City."},
            "days": {"type": "integer", "description": "Days."},
            "lat": {"type": "float", "description": "Latitude."},
            "units": {"type": "string", "description": "Units."},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."},
            "point": {"type": "tuple", "items": {"type": "integer"}, "description": "Point."},
            "filters": {"type": "dict", "properties": {}, "description": "Filters."},
            "verbose": {"type": "boolean", "description": "Verbose."},
        },
        "required": ["city", "days"],
    },
}
WEATHER_ANSWER = {
    "weather.get": {
        "city": ["New York", "NYC"],
        "days": [3],
        "lat": [40.5, ""],
        "units": ["", "metric"],
        "tags": [["Rain Alert", "wind"], ""],
        "point": [[1, 2], ""],
        "filters": [{"kind": ["rain"], "level": [2, ""]}, ""],
        "verbose": ["", False],
    }
}


def case(category: str, functions: list[dict], answers: list[dict]) -> BFCLCase:
    return BFCLCase(
        id=f"{category}_t",
        category=category,
        turns=[[Message.user("q")]],
        functions=functions,
        tools=[to_tool_spec(f) for f in functions],
        possible_answers=answers,
    )


SIMPLE = case("simple_python", [WEATHER], [WEATHER_ANSWER])


@pytest.mark.parametrize(
    ("arguments", "correct"),
    [
        ({"city": "New York", "days": 3}, True),
        ({"city": "nyc", "days": 3}, True),  # case-insensitive
        ({"city": "new-york", "days": 3}, True),  # '-' and spaces are dropped before comparing
        ({"city": "Boston", "days": 3}, False),
        ({"city": "New York"}, False),  # required `days` missing
        ({"city": "New York", "days": 3.0}, False),  # float where the doc says integer
        ({"city": "New York", "days": True}, False),  # bool is not an integer for BFCL
        ({"city": "New York", "days": "3"}, False),
        ({"city": "New York", "days": 3, "lat": 40.5}, True),
        ({"city": "New York", "days": 3, "lat": 40}, False),  # int accepted for float, but 40 != 40.5
        ({"city": "New York", "days": 3, "color": "red"}, False),  # unknown parameter
        ({"city": "New York", "days": 3, "units": "Metric"}, True),
        ({"city": "New York", "days": 3, "units": "imperial"}, False),
        ({"city": "New York", "days": 3, "tags": ["rain alert", "Wind"]}, True),  # list elements normalised
        ({"city": "New York", "days": 3, "tags": ["wind", "rain alert"]}, False),  # list order matters
        ({"city": "New York", "days": 3, "tags": []}, True),  # BFCL quirk: [] matches the "" marker
        ({"city": "New York", "days": 3, "point": [1, 2]}, True),  # tuple arrives as a JSON list
        ({"city": "New York", "days": 3, "point": [2, 1]}, False),
        (
            {"city": "New York", "days": 3, "filters": {"level": 2, "kind": "Rain"}},
            True,
        ),  # dict keys any order
        ({"city": "New York", "days": 3, "filters": {"kind": "rain"}}, True),  # dict key optional via ""
        ({"city": "New York", "days": 3, "filters": {"level": 2}}, False),  # dict key `kind` is not optional
        ({"city": "New York", "days": 3, "filters": {"kind": "rain", "x": 1}}, False),  # unknown dict key
        ({"city": "New York", "days": 3, "verbose": False}, True),
        ({"city": "New York", "days": 3, "verbose": 0}, False),
    ],
)
def test_simple_rules(arguments: dict[str, Any], correct: bool) -> None:
    assert score_bfcl(SIMPLE, [call("weather_get", **arguments)]).correct is correct


def test_int_accepted_for_float() -> None:
    answer = {"weather.get": {**WEATHER_ANSWER["weather.get"], "lat": [40.0]}}
    c = case("simple_python", [WEATHER], [answer])
    assert score_bfcl(c, [call("weather.get", city="NYC", days=3, lat=40)]).correct
    assert score_bfcl(c, [call("weather.get", city="NYC", days=3, lat=40.0)]).correct


def test_names_dots_or_underscores_and_count() -> None:
    args = {"city": "NYC", "days": 3}
    assert score_bfcl(SIMPLE, [call("weather.get", **args)]).correct
    assert score_bfcl(SIMPLE, [call("weather_get", **args)]).correct
    wrong = score_bfcl(SIMPLE, [call("weather_got", **args)])
    assert not wrong.correct and wrong.error_type == "wrong_func_name"
    assert not score_bfcl(SIMPLE, [call("weather_get", **args)] * 2).correct
    assert not score_bfcl(SIMPLE, []).correct
    bad_json = ToolCall.from_json("c", "weather_get", '{"city": "NYC", ')
    assert not score_bfcl(SIMPLE, [bad_json]).correct


def test_standardize_matches_bfcl_examples() -> None:
    # BFCL's docstring: "April 1, 2024" vs "April 1,2024" vs "April 1 2024" must not be punished.
    assert standardize("April 1, 2024") == standardize("April 1,2024") == standardize("april 1 2024")
    assert standardize("it's") == standardize('IT"S')


PLAY = {
    "name": "play",
    "description": "Play.",
    "parameters": {
        "type": "dict",
        "properties": {"artist": {"type": "string"}, "minutes": {"type": "integer"}},
        "required": ["artist"],
    },
}


def test_parallel_is_order_free_and_needs_every_call() -> None:
    answers = [
        {"play": {"artist": ["Taylor Swift"], "minutes": [20]}},
        {"play": {"artist": ["Maroon 5"], "minutes": [15]}},
    ]
    c = case("parallel", [PLAY], answers)
    ts, m5 = call("play", artist="Taylor Swift", minutes=20), call("play", artist="Maroon 5", minutes=15)
    assert score_bfcl(c, [ts, m5]).correct
    assert score_bfcl(c, [m5, ts]).correct
    assert not score_bfcl(c, [ts, ts]).correct
    assert not score_bfcl(c, [ts]).correct
    assert not score_bfcl(c, [ts, m5, m5]).correct


def test_full_matching_accepts_what_greedy_pairing_rejects() -> None:
    # Expected A allows minutes 20 or omitted; expected B needs minutes omitted. The answer [no minutes, 20]
    # pairs as B<-first, A<-second; BFCL's greedy pairing gives the first call to A and then fails B.
    answers = [{"play": {"artist": ["X"], "minutes": [20, ""]}}, {"play": {"artist": ["X"], "minutes": [""]}}]
    c = case("parallel", [PLAY], answers)
    calls = [call("play", artist="X"), call("play", artist="X", minutes=20)]
    assert score_bfcl(c, calls).correct
    assert not score_bfcl(c, calls, greedy_pairing=True).correct


def test_irrelevance_any_call_is_wrong() -> None:
    c = case("irrelevance", [PLAY], [])
    assert score_bfcl(c, []).correct
    assert not score_bfcl(c, [call("play", artist="X")]).correct


def test_schema_conversion_is_valid_json_schema() -> None:
    schema = to_json_schema(WEATHER["parameters"])
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert schema["type"] == "object"
    assert props["lat"]["type"] == "number" and "float type" in props["lat"]["description"]
    assert props["point"] == {"type": "array", "items": {"type": "integer"}, "description": "Point."}
    assert props["filters"]["type"] == "object"
    assert to_json_schema({"type": "any"})["type"] == "string"  # BFCL presents `any` as string
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"city": "NYC", "days": 3, "lat": 1})
    assert not validator.is_valid({"city": "NYC"})


def test_parse_call_text_resolves_positionals() -> None:
    docs = {"sort": {"name": "sort", "parameters": {"properties": {"file_name": {"type": "string"}}}}}
    assert parse_call_text("sort('a.pdf')", docs) == ExpectedCall(
        name="sort", arguments={"file_name": "a.pdf"}
    )
    assert parse_call_text("sort(file_name='b')", docs).arguments == {"file_name": "b"}
    with pytest.raises(DataError):
        parse_call_text("sort(", docs)


def test_multi_turn_sequence_match() -> None:
    cd = {
        "name": "cd",
        "parameters": {"type": "dict", "properties": {"folder": {"type": "string"}}, "required": ["folder"]},
    }
    ls = {
        "name": "ls",
        "parameters": {
            "type": "dict",
            "properties": {"a": {"type": "boolean", "default": False}},
            "required": [],
        },
    }
    c = BFCLCase(
        id="multi_turn_base_t",
        category="multi_turn_base",
        turns=[[Message.user("go")], [Message.user("list")]],
        functions=[cd, ls],
        tools=[to_tool_spec(cd), to_tool_spec(ls)],
        turn_answers=[
            [ExpectedCall(name="cd", arguments={"folder": "doc"})],
            [ExpectedCall(name="ls", arguments={"a": False})],
        ],
    )
    assert score_bfcl(c, [[call("cd", folder="doc")], [call("ls", a=False)]]).correct
    assert score_bfcl(c, [[call("cd", folder="doc")], [call("ls")]]).correct  # default left out
    out = score_bfcl(c, [[call("cd", folder="Doc")], [call("ls")]])
    assert not out.correct and out.turns_correct == [False, True]
    assert not score_bfcl(c, [[call("cd", folder="doc")], [call("ls"), call("ls")]]).correct
    assert not score_bfcl(c, [[call("cd", folder="doc")]]).correct


def test_missing_data_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown BFCL category 'simple_python'.*no case files"):
        load_bfcl("simple_python", tmp_path)
    with pytest.raises(DataError, match="unknown BFCL category"):
        load_bfcl("simple_cobol", tmp_path)


# Real data ---------------------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize("category", SHARED_CATEGORIES)
def test_loader_counts_and_tool_specs(bfcl_dir: Path, category: str) -> None:
    cases = load_bfcl(category, bfcl_dir)
    assert len(cases) == MANIFEST_COUNTS.get(category, len(cases))
    assert len({c.id for c in cases}) == len(cases)
    checked: set[str] = set()
    for c in cases:
        assert c.prompt and c.tools
        for spec in c.tools:
            key = json.dumps(spec.parameters, sort_keys=True)
            if key not in checked:  # multi-turn cases share their API docs: check each schema once
                jsonschema.Draft202012Validator.check_schema(spec.parameters)
                checked.add(key)
            assert "." not in spec.name
            assert spec.description.endswith("Python 3 syntax.")
        if category == "multi_turn_base":
            assert len(c.turn_answers) == len(c.turns)


@pytest.mark.shared
@pytest.mark.parametrize("category", SHARED_CATEGORIES)
@pytest.mark.slow
def test_ground_truth_scores_correct_and_corruptions_wrong(bfcl_dir: Path, category: str) -> None:
    results = [check_case(c) for c in load_bfcl(category, bfcl_dir)]
    failing = [(r["id"], r["failures"]) for r in results if r["variants_ok"] != r["variants"]]
    assert not failing, failing[:5]
    # Answers that contradict the case's own doc are rejected, as BFCL's checker rejects them.
    assert all(r["contradicting_rejected"] == r["contradicting"] for r in results)
    kinds = (IRRELEVANCE_CORRUPTION,) if "irrelevance" in category else CORRUPTIONS
    for kind in kinds:
        verdicts = [r["detected"][kind] for r in results]
        # Every corruption can be built for every case of these categories (none is n/a) and is detected.
        assert verdicts == [True] * len(results), (
            kind,
            [r["id"] for r in results if r["detected"][kind] is not True][:5],
        )
