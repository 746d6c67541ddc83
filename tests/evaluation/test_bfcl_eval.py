"""BFCL in `llmbench eval`: `bfcl:` dataset sources, items carrying tools, the "bfcl" scorer, and a full run
through the runner against a loopback server (the official openai SDK over HTTP) into a real store file.

Expected calls are built from BFCL's own possible answers in ../shared/data/bfcl (first listed value of each
parameter), never from the scorer's output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import FAKE_OPENAI_KEY
from typer.testing import CliRunner

from llmbench.datasets import Item
from llmbench.errors import DataError
from llmbench.evaluation import ExperimentConfig, Runner
from llmbench.evaluation.items import item_tools, load_items, parse_bfcl_source
from llmbench.providers import Config, ToolCall, get_provider
from llmbench.scorers import Answer, get_scorer
from llmbench.store import Store
from llmbench.testing import Interaction, RecordedServer
from llmbench.tools.bfcl import bfcl_dataset, case_from_item, load_bfcl
from llmbench.tools.bfcl_docs import wire_name


@pytest.mark.shared
def test_bfcl_sources_parse_and_bad_ones_explain_themselves(shared_data):
    assert parse_bfcl_source("bfcl:parallel") == ("parallel", None)
    assert parse_bfcl_source("bfcl:parallel?limit=20") == ("parallel", 20)
    # Experiment files resolve dataset entries against their folder: the last component still counts.
    assert parse_bfcl_source("/work/experiments/bfcl:multiple?limit=3") == ("multiple", 3)
    assert parse_bfcl_source("datasets/arithmetic.jsonl") is None
    with pytest.raises(DataError, match=r"unknown BFCL category .* simple_python"):
        parse_bfcl_source("bfcl:simple")
    with pytest.raises(DataError, match="limit must be a positive whole number"):
        parse_bfcl_source("bfcl:parallel?limit=0")
    with pytest.raises(DataError, match=r"only \?limit=N"):
        parse_bfcl_source("bfcl:parallel?shuffle=1")


def test_stored_answer_carries_calls_and_plain_text_stays_text():
    calls = [
        ToolCall(id="a", name="f", arguments={"x": 1}),
        ToolCall(id="b", name="g", raw_arguments='{"y": '),
    ]
    assert Answer.from_stored(Answer(tool_calls=tuple(calls)).stored()).tool_calls == tuple(calls)
    assert Answer.of("").stored() == ""
    assert Answer.from_stored("I would not call anything.") == Answer("I would not call anything.")
    assert Answer.from_stored('{"some": "json"}').tool_calls == ()


def test_items_without_tools_offer_none():
    assert item_tools(Item(id="1", input="2+2?")) is None
    with pytest.raises(DataError, match="metadata\\['tools'\\]"):
        item_tools(Item(id="1", input="2+2?", metadata={"tools": [{"name": "bad name!"}]}))


# -- with the real BFCL data ---------------------------------------------------------------------------------


def expected_calls(answers: list[dict[str, dict[str, list[Any]]]]) -> list[ToolCall]:
    """One correct answer per BFCL's possible answers: each parameter's first value ("" = leave it out)."""
    calls = []
    for n, answer in enumerate(answers):
        ((name, params),) = answer.items()
        args = {k: v[0] for k, v in params.items() if v[0] != ""}
        calls.append(ToolCall(id=f"call_{n}", name=wire_name(name), arguments=args))
    return calls


@pytest.mark.parametrize(
    "category", ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
)
def test_bfcl_dataset_items_round_trip_to_the_cases(shared_data, category):
    cases = load_bfcl(category, shared_data / "bfcl", limit=15)
    ds = bfcl_dataset(category, 15, root=shared_data / "bfcl")
    assert len(ds) == 15 and ds.name == f"bfcl-{category}"
    for item, case in zip(ds, cases, strict=True):
        assert item.scorer == "bfcl" and item.task == f"bfcl:{category}"
        assert item.prompt == case.prompt
        assert case_from_item(item) == case
        assert item_tools(item) == case.tools
        # The metadata survives the store's JSON column.
        assert case_from_item(Item.model_validate(json.loads(item.model_dump_json()))) == case


def test_multi_turn_is_refused_with_the_reason(shared_data):
    with pytest.raises(DataError, match="executable API backends"):
        bfcl_dataset("multi_turn_base", 2, root=shared_data / "bfcl")


def test_scorer_on_ground_truth_and_on_broken_answers(shared_data):
    scorer = get_scorer("bfcl")
    for item, case in zip(
        bfcl_dataset("parallel", 20, root=shared_data / "bfcl"),
        load_bfcl("parallel", shared_data / "bfcl", limit=20),
        strict=True,
    ):
        right = expected_calls(case.possible_answers)
        as_output = Answer(tool_calls=tuple(reversed(right)))
        assert scorer.score_sync(as_output, item).value == 1.0, item.id  # order does not matter
        short = Answer(tool_calls=tuple(right[:-1]))
        verdict = scorer.score_sync(short, item)
        assert verdict.value == 0.0 and verdict.explanation.startswith("wrong_count")
    irrelevant = bfcl_dataset("irrelevance", 1, root=shared_data / "bfcl")[0]
    assert scorer.score_sync("None of the tools computes a triangle's area.", irrelevant).value == 1.0
    call = ToolCall(id="x", name="determine_body_mass_index", arguments={"weight": 70, "height": 1.8})
    assert scorer.score_sync(Answer(tool_calls=(call,)), irrelevant).value == 0.0


def chat_with_calls(calls: list[ToolCall]) -> dict[str, Any]:
    """A chat.completion body calling `calls` (like the recorded gpt-4o-mini tool answers)."""
    tool_calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for c in calls
    ]
    message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": tool_calls}
    return {
        "id": "chatcmpl-bfcl",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240},
    }


async def test_eval_runs_a_bfcl_category_through_the_runner(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBENCH_BFCL_DIR", str(shared_data / "bfcl"))
    cfg = ExperimentConfig(
        name="bfcl-parallel", datasets=["bfcl:parallel?limit=3"], models=["openai:gpt-4o-mini"], concurrency=1
    )
    items = load_items(cfg)
    cases = load_bfcl("parallel", shared_data / "bfcl", limit=3)
    assert [i.id for i in items] == [c.id for c in cases]
    right = [expected_calls(c.possible_answers) for c in cases]
    answers = [right[0], right[1][:1], right[2]]  # the second answer misses a parallel call
    with RecordedServer([Interaction.json(chat_with_calls(a)) for a in answers]) as server:
        provider = get_provider(
            "openai:gpt-4o-mini", api_key=FAKE_OPENAI_KEY, base_url=server.url + "/v1", config=Config()
        )
        with Store.open(tmp_path / "runs.duckdb") as store:
            report = await Runner(cfg, store, providers={"openai:gpt-4o-mini": provider}).run()
            runs = store.runs_frame("bfcl-parallel").set_index("item_id")
            scores = store.scores_frame("bfcl-parallel").set_index("item_id")
    assert (report.finished, report.failed) == (3, 0)
    # Each request offered exactly the case's functions as tools, under their wire names.
    for request, case in zip(server.requests, cases, strict=True):
        sent = [t["function"]["name"] for t in request.json["tools"]]
        assert sent == [wire_name(f["name"]) for f in case.functions]
        assert request.json["messages"][-1]["content"] == case.prompt
    assert runs.loc[[c.id for c in cases], "score"].tolist() == [1.0, 0.0, 1.0]
    assert set(scores["scorer"]) == {"bfcl"}
    assert scores.loc[cases[1].id, "explanation"].startswith("wrong_count")
    # The stored response is the answer's tool calls, so every verdict can be audited.
    stored = Answer.from_stored(runs.loc[cases[0].id, "response"]).tool_calls
    assert [(c.name, c.arguments) for c in stored] == [(c.name, c.arguments) for c in right[0]]
    # gpt-4o-mini at $0.15 / $0.60 per million: 200 * 0.15e-6 + 40 * 0.60e-6 per call
    assert runs["cost_usd"].sum() == pytest.approx(3 * (200 * 0.15e-6 + 40 * 0.60e-6))


def test_cli_bfcl_check_prints_the_table(shared_data, monkeypatch):
    import llmbench.cli  # noqa: F401  (registers every command)
    from llmbench.cli.app import app

    result = CliRunner().invoke(
        app, ["tools", "bfcl-check", "--root", str(shared_data / "bfcl"), "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    for category in (
        "simple_python",
        "multiple",
        "parallel",
        "parallel_multiple",
        "irrelevance",
        "multi_turn_base",
    ):
        assert category in result.output
    assert "disagrees" not in result.output
