"""Scorers: positive and negative cases for each, the code sandbox's limits, and the LLM judge."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from llmbench.datasets import Item
from llmbench.errors import ConfigError, DataError
from llmbench.providers.types import Completion, Message, TextBlock, to_messages
from llmbench.scorers import (
    LLMJudge,
    Score,
    available_scorers,
    extract_code,
    extract_json,
    get_scorer,
    last_number,
    normalize_text,
)


def item(reference, **kw) -> Item:
    return Item(id="x", input="question?", reference=reference, **kw)


def test_registry_names_aliases_and_errors():
    assert {
        "exact_match",
        "numeric",
        "choice",
        "regex",
        "contains",
        "json_schema",
        "python_tests",
        "llm_judge",
    } <= set(available_scorers())
    assert get_scorer("exact").name == "exact_match" and get_scorer("code").name == "python_tests"
    with pytest.raises(ConfigError, match="unknown scorer 'bleu'"):
        get_scorer("bleu")
    with pytest.raises(ConfigError, match="bad options"):
        get_scorer("numeric", tolerance=3)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        Score(1.5)


def test_exact_match_normalises_case_space_and_punctuation():
    s = get_scorer("exact_match")
    assert s.score_sync("  The Eiffel   Tower. ", item("the eiffel tower")).value == 1.0
    assert s.score_sync("Positive!", item(["negative", "positive"])).value == 1.0
    assert s.score_sync("the eiffel tower is tall", item("the eiffel tower")).value == 0.0
    assert s.score_sync("negative", item("positive")).value == 0.0
    assert normalize_text("Hello,  WORLD!") == "hello world"
    with pytest.raises(DataError, match="no reference"):
        s.score_sync("x", item(None))


def test_numeric_takes_the_last_number_within_tolerance():
    s = get_scorer("numeric")
    assert s("First 12 apples, then 3 more: 15 in total.", item(15)).value == 1.0
    assert s("The total is $1,234.50.", item("1234.5")).value == 1.0
    assert s("It drops to -7 degrees", item(-7)).value == 1.0
    assert s("15 apples, then 3 more: 18", item(15)).value == 0.0
    assert s("no idea", item(3)).value == 0.0
    assert s("about 3.14", item(3.14159)).value == 0.0
    assert get_scorer("numeric", abs_tol=0.01)("about 3.14", item(3.14159)).value == 1.0
    assert last_number("v2 costs 3,000 or 2.5e3") == 2500.0
    with pytest.raises(DataError, match="not a number"):
        s("1", item("twelve"))


def test_multiple_choice_letter():
    s = get_scorer("choice")
    assert s("Let me think. B seems wrong... The answer is (C).", item("C")).value == 1.0
    assert s("D", item("D")).value == 1.0
    assert s("A) because it is the only prime", item("a")).value == 1.0
    assert s("The answer is B", item(1)).value == 1.0  # an index reference means A=0, B=1...
    assert s("Answer: A", item("C")).value == 0.0
    assert s("I cannot decide", item("C")).value == 0.0
    with pytest.raises(DataError):
        s("A", item("Z"))


def test_regex_and_contains():
    r = get_scorer("regex", pattern=r"\b(yes|correct)\b")
    assert r("Yes, that is right", item(None)).value == 1.0
    assert r("yesterday", item(None)).value == 0.0
    assert get_scorer("regex")("order AB-1234 shipped", item(r"[A-Z]{2}-\d{4}")).value == 1.0
    assert get_scorer("regex", fullmatch=True)("AB-1234 shipped", item(r"[A-Z]{2}-\d{4}")).value == 0.0
    with pytest.raises(ConfigError, match="bad pattern"):
        get_scorer("regex", pattern="(")
    c = get_scorer("contains")
    assert c("Its chemical symbol is Na.", item("Na")).value == 1.0
    assert c("Canada is large", item("Na")).value == 0.0  # whole words only
    assert c("It is Washington, D.C.", item("washington dc")).value == 1.0
    assert c("red and blue", item(["green", "blue"])).value == 1.0
    assert get_scorer("contains", require_all=True)("red and blue", item(["green", "blue"])).value == 0.0


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def test_json_schema_extraction_validity_and_fields():
    s = get_scorer("json_schema")
    with_schema = Item(
        id="j", input="q", reference={"name": "Ada Lovelace", "age": 36}, metadata={"schema": SCHEMA}
    )
    fenced = 'Here you go:\n```json\n{"name": "ada lovelace", "age": 36}\n```'
    assert s(fenced, with_schema).value == 1.0
    assert s('Sure! {"name": "Ada Lovelace", "age": 36} Hope it helps.', with_schema).value == 1.0
    assert s('{"name": "Ada Lovelace", "age": 37}', with_schema).value == 0.5
    invalid = s('{"name": "Ada Lovelace", "age": "36"}', with_schema)
    assert invalid.value == 0.0 and "age" in invalid.explanation
    assert s('{"name": "Ada"}', with_schema).value == 0.0  # missing a required key
    assert s("no json here", with_schema).value == 0.0
    schema_only = get_scorer("json_schema", schema=SCHEMA)
    assert schema_only('{"name": "x", "age": 1}', item(None)).value == 1.0
    assert schema_only('{"name": "x"}', item(None)).value == 0.0
    assert s("[1, 2]", item({"schema": {"type": "array"}, "expected": [1, 2]})).value == 1.0
    assert extract_json('text ```json\n{"a": [1, {"b": 2}]}\n``` more') == {"a": [1, {"b": 2}]}
    with pytest.raises(DataError, match="invalid"):
        get_scorer("json_schema", schema={"type": "not-a-type"})


# -- python code ------------------------------------------------------------------------------------------

TESTS = """
def test_add():
    assert add(2, 3) == 5

def test_negative():
    assert add(-2, -3) == -5
"""


def test_code_scorer_passes_partial_and_fails():
    s = get_scorer("python_tests", timeout_s=10)
    good = "Here:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    assert s(good, item(TESTS)) == Score(1.0, "2/2 tests passed")
    half = s("def add(a, b):\n    return abs(a + b)", item(TESTS))
    assert half.value == 0.5 and "test_negative" in half.explanation
    broken = s("def add(a, b) return", item(TESTS))
    assert broken.value == 0.0 and "SyntaxError" in broken.explanation
    assert s("def add(a, b):\n    return a - b", item("assert add(1, 1) == 2")).value == 0.0
    assert s("import sys\nsys.exit(0)", item(TESTS)).value == 0.0  # exiting early is not passing
    assert extract_code("```py\nx = 1\n```") == "x = 1\n"


def test_code_scorer_runs_isolated_in_a_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBENCH_TEST_SECRET", "do-not-leak")
    monkeypatch.chdir(tmp_path)
    code = "import os\ndef env():\n    return dict(os.environ)\ndef cwd():\n    return os.getcwd()"
    tests = f"assert 'LLMBENCH_TEST_SECRET' not in env()\nassert cwd() != {str(tmp_path)!r}"
    assert get_scorer("python_tests")(code, item(tests)).value == 1.0


@pytest.mark.slow
def test_code_scorer_kills_an_infinite_loop_within_the_time_limit():
    s = get_scorer("python_tests", timeout_s=1.5)
    t0 = time.monotonic()
    result = s("def add(a, b):\n    while True:\n        pass", item(TESTS))
    elapsed = time.monotonic() - t0
    assert result.value == 0.0 and "more than its 1.5 s of CPU time (stopped: too slow)" in result.explanation
    assert elapsed < 6


def test_code_scorer_stops_a_memory_hog():
    s = get_scorer("python_tests", timeout_s=20, memory_mb=256)
    hog = "blocks = []\nwhile True:\n    blocks.append(bytearray(10_000_000))"
    t0 = time.monotonic()
    result = s(hog, item(TESTS))
    assert result.value == 0.0 and "MemoryError" in result.explanation and "256 MB" in result.explanation
    assert time.monotonic() - t0 < 15  # stopped by the memory limit, not by the 20 s timeout


@pytest.mark.slow
async def test_code_scorer_async_runs_concurrently():
    s = get_scorer("python_tests", timeout_s=10)
    sleeper = "import time\ntime.sleep(0.8)\ndef add(a, b):\n    return a + b"
    t0 = time.monotonic()
    results = await asyncio.gather(*(s.score(sleeper, item(TESTS)) for _ in range(4)))
    assert [r.value for r in results] == [1.0] * 4
    assert time.monotonic() - t0 < 3.2  # four 0.8 s runs overlapped
    loop_result = await get_scorer("python_tests", timeout_s=1).score("while True: pass", item(TESTS))
    assert "s of CPU time (stopped: too slow)" in loop_result.explanation


# -- LLM judge --------------------------------------------------------------------------------------------


@dataclass
class EchoJudge:
    """A provider object with our `acomplete` interface that answers with a fixed grading text."""

    answer: str
    seen: list | None = None

    async def acomplete(self, prompt, **params) -> Completion:
        self.seen = to_messages(prompt)
        return Completion(
            model_id="test:judge", provider="test", model="judge", content=[TextBlock(text=self.answer)],
            stop_reason="stop", cost_usd=0.0007,
        )  # fmt: skip


async def test_llm_judge_grades_and_reports_cost():
    judge = EchoJudge("The submission names the right city.\nGRADE: C")
    s = LLMJudge(provider=judge, rubric="Q: {input}\nRef: {reference}\nA: {output}\nGrade it. {braces}")
    result = await s.score(
        "It's Canberra {of course}", Item(id="q", input="Capital of Australia?", reference="Canberra")
    )
    assert result == Score(1.0, "The submission names the right city.", 0.0007)
    sent = judge.seen[0]
    assert isinstance(sent, Message) and "Capital of Australia?" in sent.text and "Ref: Canberra" in sent.text
    assert "{of course}" in sent.text and "{braces}" in sent.text
    assert (await LLMJudge(provider=EchoJudge("meh GRADE: P")).score("x", item("y"))).value == 0.5
    assert (await LLMJudge(provider=EchoJudge("Wrong.\nGRADE: I")).score("x", item("y"))).value == 0.0
    vague = await LLMJudge(provider=EchoJudge("Looks fine to me")).score("x", item("y"))
    assert vague.value == 0.0 and "no GRADE" in vague.explanation


def test_llm_judge_sync_wrapper_and_config():
    s = get_scorer("llm_judge", provider=EchoJudge("GRADE: C"))
    assert s.score_sync("x", item("y")).value == 1.0
    with pytest.raises(ConfigError, match="needs a judge"):
        get_scorer("llm_judge")


async def test_sync_wrapper_inside_a_running_loop_points_to_await():
    s = get_scorer("llm_judge", provider=EchoJudge("GRADE: C"))
    with pytest.raises(ConfigError, match="await"):
        s.score_sync("x", item("y"))
    assert (await get_scorer("numeric").score("7", item(7))).value == 1.0  # cheap scorers are awaitable too


# -- no verdict is not a wrong answer ---------------------------------------------------------------------------

BLOCKS = "import time\ntime.sleep(60)\ndef add(a, b):\n    return a + b"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("load", "outcome"), [(0.0, "wrong"), (64.0, "no verdict")], ids=["idle", "overloaded"]
)
def test_code_that_outlives_the_wall_clock_is_wrong_only_when_the_machine_was_not_to_blame(
    load: float, outcome: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbench.errors import ScorerError

    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load))  # the machine's state, from the OS
    s = get_scorer("python_tests", timeout_s=5, wall_s=1.5)
    if outcome == "wrong":
        result = s(BLOCKS, item(TESTS))
        assert result.value == 0.0 and "it blocks" in result.explanation
    else:
        with pytest.raises(ScorerError, match=r"overloaded .*not a wrong answer"):
            s(BLOCKS, item(TESTS))


@pytest.mark.slow
def test_a_correct_answer_passes_however_long_the_busy_machine_takes_within_its_cpu_limit() -> None:
    # 1.2 s of CPU under a 3 s CPU limit: on a loaded machine its wall time may be several times longer
    work = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.2:\n    pass\n"
    s = get_scorer("python_tests", timeout_s=3)
    assert s(work + "def add(a, b):\n    return a + b", item(TESTS)).value == 1.0
