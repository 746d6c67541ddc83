"""The LLM-judge scorer: a model grades the output against a rubric (any provider, via get_provider)."""

from __future__ import annotations

import json
import re
from typing import Any

from llmbench.errors import ConfigError
from llmbench.scorers.base import SCORERS, Answer, Experiment, Score, Scorer, reference_of

DEFAULT_RUBRIC = """You are grading an answer to a task. Compare the submitted answer with the reference answer
and judge whether the submission is correct. Ignore style and length; judge the substance.

[Task]
{input}

[Reference answer]
{reference}

[Submitted answer]
{output}

Explain your reasoning in a few sentences, then end with exactly one line:
GRADE: C  (correct), GRADE: P  (partially correct) or GRADE: I  (incorrect)."""

_GRADE = re.compile(r"GRADE\s*[:=]\s*\**\s*([CPI])\b", re.IGNORECASE)
_VALUES = {"C": 1.0, "P": 0.5, "I": 0.0}


@SCORERS.register
class LLMJudge(Scorer):
    """Ask `model` (or a given `provider`) to grade with `rubric`; GRADE C/P/I -> 1 / 0.5 / 0.

    The rubric may use {input}, {output} and {reference}. An answer without a GRADE line scores 0 and says
    so in the explanation. The judge call's cost is returned in `Score.cost_usd`.
    """

    name = "llm_judge"
    aliases = ("judge",)

    def __init__(
        self,
        model: str | None = None,
        rubric: str = DEFAULT_RUBRIC,
        provider: Any = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:

        if model is None and provider is None:
            raise ConfigError(
                "llm_judge needs a judge model: set judge_model: openai:gpt-4o-mini in the experiment file "
                "(in code: LLMJudge(model=...) or provider=...)"
            )
        self.model = model
        self.rubric = rubric
        self._provider = provider
        self.max_tokens = max_tokens
        self.temperature = temperature

    @classmethod
    def from_experiment(cls, experiment: Experiment, **options: Any) -> Scorer:
        """The judge the experiment names (`judge_model`), unless the options name one."""
        if experiment.judge_model and "provider" not in options:
            options.setdefault("model", experiment.judge_model)
        return cls(**options)

    @property
    def provider(self) -> Any:
        """The judge's provider, created on first use."""
        if self._provider is None:
            from llmbench.providers import get_provider

            if self.model is None:
                raise ConfigError("the llm_judge scorer needs a judge model (model=...) or a provider")
            self._provider = get_provider(self.model)
        return self._provider

    def prompt(self, output: str, item: Any) -> str:
        """The filled-in rubric."""
        ref = reference_of(item)
        task = getattr(item, "prompt", None) or (item.get("input") if isinstance(item, dict) else "") or ""
        fills = {
            "{input}": str(task),
            "{reference}": ref if isinstance(ref, str) else json.dumps(ref, ensure_ascii=False),
            "{output}": output,
        }
        text = self.rubric
        for key, value in fills.items():  # plain replace: outputs may contain braces
            text = text.replace(key, value)
        return text

    async def agrade(self, answer: Answer, item: Any) -> Score:
        completion = await self.provider.acomplete(
            self.prompt(answer.text, item), max_tokens=self.max_tokens, temperature=self.temperature
        )
        text = completion.text
        cost = getattr(completion, "cost_usd", None)
        grades = _GRADE.findall(text)
        if not grades:
            return Score(0.0, "the judge gave no GRADE line: " + text.strip()[-200:], cost)
        reasoning = _GRADE.split(text)[0].strip()
        return Score(_VALUES[grades[-1].upper()], reasoning[-500:] or f"GRADE: {grades[-1]}", cost)
