"""Scorers are found by name and alias from their own classes, build themselves for an experiment, and give the
simulator answers they themselves grade right and wrong."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from llmbench.datasets import load_dataset, shipped_datasets
from llmbench.errors import ConfigError
from llmbench.evaluation import ExperimentConfig
from llmbench.scorers import SCORERS, Answer, LLMJudge, PythonTests, Score, Scorer, get_scorer


def test_names_and_aliases_come_from_the_classes() -> None:
    for kind in SCORERS:
        assert SCORERS.get(kind.name) is kind
        for alias in kind.aliases:
            assert SCORERS.get(alias) is kind
    assert get_scorer(" Number ", abs_tol=0.5).abs_tol == 0.5  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="did you mean 'numeric'"):
        get_scorer("numerik")
    with pytest.raises(ConfigError, match="bad options"):
        get_scorer("numeric", tolerance=1)


def test_a_scorer_builds_itself_from_the_experiment() -> None:
    cfg = ExperimentConfig(name="x", datasets=["arithmetic"], models=["sim:gpt-4o"], judge_model="sim:gpt-4o")
    judge = SCORERS.get("judge").from_experiment(cfg)
    assert isinstance(judge, LLMJudge) and judge.model == "sim:gpt-4o"
    real = ExperimentConfig(name="x", datasets=["code"], models=["openai:gpt-4o"], unsafe_code=False)
    code = SCORERS.get("code").from_experiment(real)
    assert isinstance(code, PythonTests) and code.unsafe_code is False


def _items() -> list[Any]:
    return [item for path in shipped_datasets().values() for item in load_dataset(path).items]


@pytest.mark.parametrize("scorer_name", sorted({item.scorer for item in _items()} - {"python_tests"}))
def test_each_scorer_grades_its_own_examples(scorer_name: str) -> None:
    """What the simulator says is what the scorer means: the right example scores 1, every wrong one less."""
    scorer = get_scorer(scorer_name)
    for item in [i for i in _items() if i.scorer == scorer_name]:
        examples = scorer.examples(item)
        assert scorer.score_sync(examples.correct, item).value == 1.0, (item.id, examples.correct)
        for wrong in examples.wrong:
            assert scorer.score_sync(wrong, item).value < 1.0, (item.id, wrong)


def test_the_code_scorer_grades_its_own_examples() -> None:
    item = next(i for i in _items() if i.scorer == "python_tests")
    scorer = PythonTests()
    examples = scorer.examples(item)
    assert scorer.score_sync(examples.correct, item).value == 1.0
    assert scorer.score_sync(examples.wrong[0], item).value == 0.0


class _Length(Scorer):
    """A scratch scorer with an option: 1 when the answer is at most `limit` characters."""

    name: ClassVar[str] = "scratch_length"
    aliases: ClassVar[tuple[str, ...]] = ("short",)

    def __init__(self, limit: int = 10) -> None:
        self.limit = limit

    def grade(self, answer: Answer, item: Any) -> Score:
        return Score(float(len(answer.text) <= self.limit))


def test_a_registered_scorer_is_found_by_name_and_alias_with_its_options() -> None:
    SCORERS.register(_Length)
    try:
        assert get_scorer("short", limit=3).score_sync("abcd", {}).value == 0.0
        assert "scratch_length" in SCORERS.names()
        with pytest.raises(ConfigError, match="registered twice"):
            SCORERS.register(_Length)
    finally:
        SCORERS.unregister("scratch_length")
    assert "short" not in SCORERS


def test_an_experiment_gives_each_scorer_its_options(tmp_path) -> None:
    from llmbench.evaluation.runner import Runner
    from llmbench.store import Store

    cfg = ExperimentConfig(
        name="x", datasets=["arithmetic"], models=["sim:gpt-4o"], scorer_options={"Number": {"abs_tol": 0.5}}
    )
    assert cfg.scorer_options == {"numeric": {"abs_tol": 0.5}}
    item = load_dataset(shipped_datasets()["arithmetic"]).items[0]
    with Store.open(tmp_path / "s.duckdb") as store:
        assert Runner(cfg, store).scorer_for(item).abs_tol == 0.5  # type: ignore[attr-defined]
        bad = cfg.model_copy(update={"scorer_options": {"numeric": {"tolerance": 1}}})
        with pytest.raises(ConfigError, match=r"scorer_options.numeric \['tolerance'\]"):
            Runner(bad, store).scorer_for(item)
    for options, message in (({"numerik": {}}, "not a scorer"), ({"number": {}, "numeric": {}}, "twice")):
        with pytest.raises(ValidationError, match=message):
            ExperimentConfig(name="x", datasets=["arithmetic"], models=["sim:gpt-4o"], scorer_options=options)
