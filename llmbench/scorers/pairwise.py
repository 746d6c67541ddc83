"""Pairwise LLM-as-judge: each pair is judged in both orders; ties allowed; order-dependent verdicts are ties.

The judge is any object with `async acomplete(prompt, **params)` returning something with `.text` (a
`llmbench.providers` Provider), or a model id string resolved with `llmbench.providers.get_provider`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["JUDGE_TEMPLATE", "judge_pair", "judge_pairs", "parse_verdict", "response_pairs"]

JUDGE_TEMPLATE = """You are comparing two answers to the same user request.

[Request]
{prompt}

[Answer A]
{answer_a}

[Answer B]
{answer_b}

Which answer is better: more correct, more helpful and better suited to the request? Do not prefer an
answer for being longer or for its position. Reply with exactly one word: A, B or TIE."""

_VERDICT = re.compile(r"\b(TIE|A|B)\b")


def parse_verdict(text: str | None) -> str | None:
    """The judge's verdict "A", "B" or "TIE" (first one found, brackets and case ignored), or None."""
    if not text:
        return None
    match = _VERDICT.search(text.upper().replace("[[", " ").replace("]]", " "))
    return match.group(1) if match else None


def _resolve(judge: Any) -> Any:
    if isinstance(judge, str):
        from llmbench.providers import get_provider  # the provider layer; imported only when a judge is named

        return get_provider(judge)
    if not hasattr(judge, "acomplete"):
        raise DataError("judge must be a model id or an object with `async acomplete(prompt, **params)`")
    return judge


async def _ask(judge: Any, prompt: str, first: str, second: str, max_tokens: int) -> str | None:
    text = JUDGE_TEMPLATE.format(prompt=prompt, answer_a=first, answer_b=second)
    completion = await judge.acomplete(text, max_tokens=max_tokens, temperature=0.0)
    return parse_verdict(completion.text)


async def judge_pair(
    judge: Any, prompt: str, response_a: str, response_b: str, *, max_tokens: int = 8
) -> tuple[float | None, str | None, str | None]:
    """Judge A vs B in both orders: (outcome for A: 1, 0, 0.5 or None if unparseable, verdict 1, verdict 2)."""
    judge = _resolve(judge)
    v1, v2 = await asyncio.gather(
        _ask(judge, prompt, response_a, response_b, max_tokens),
        _ask(judge, prompt, response_b, response_a, max_tokens),
    )
    if v1 is None or v2 is None:
        return None, v1, v2
    first = {"A": 1.0, "B": 0.0, "TIE": 0.5}[v1]
    second = {"A": 0.0, "B": 1.0, "TIE": 0.5}[v2]  # swapped order: "A" is response_b
    # A verdict that flips with the order is position bias, not preference: count it as a tie.
    return (first if first == second else 0.5), v1, v2


def response_pairs(
    runs: pd.DataFrame, models: list[str] | None = None, baseline: str | None = None
) -> pd.DataFrame:
    """From a runs frame: one row per (item, model pair) with both responses, ready for `judge_pairs`."""
    for col in ("item_id", "prompt", "model", "response"):
        if col not in runs.columns:
            raise DataError(f"runs frame lacks column {col!r}; judging needs prompts and responses")
    keys = ["task", "item_id"] if "task" in runs.columns else ["item_id"]
    first_epoch = runs.dropna(subset=["response"]).sort_values("epoch" if "epoch" in runs.columns else keys)
    first_epoch = first_epoch.drop_duplicates([*keys, "model"])
    names = list(models) if models is not None else sorted(first_epoch["model"].unique())
    combos = [(m, baseline) for m in names if m != baseline] if baseline else itertools.combinations(names, 2)
    frames = []
    for a, b in combos:
        left = first_epoch[first_epoch["model"] == a][[*keys, "prompt", "response"]]
        right = first_epoch[first_epoch["model"] == b][[*keys, "response"]]
        both = left.merge(right, on=keys, suffixes=("_a", "_b"))
        frames.append(both.assign(model_a=a, model_b=b))
    if not frames:
        return pd.DataFrame(columns=[*keys, "prompt", "model_a", "response_a", "model_b", "response_b"])
    return pd.concat(frames, ignore_index=True)[
        [*keys, "prompt", "model_a", "response_a", "model_b", "response_b"]
    ]


async def judge_pairs(
    judge: Any, pairs: pd.DataFrame, *, concurrency: int = 8, max_tokens: int = 8
) -> pd.DataFrame:
    """Judge every row of a `response_pairs` frame; returns a pairs frame with `outcome`, `verdict_1`, `verdict_2`.

    Unparseable verdicts give a missing outcome (dropped by the win-rate functions) and are kept visible.
    """
    judge = _resolve(judge)
    gate = asyncio.Semaphore(concurrency)

    async def one(row: pd.Series) -> tuple[float | None, str | None, str | None]:
        async with gate:
            return await judge_pair(
                judge, row["prompt"], row["response_a"], row["response_b"], max_tokens=max_tokens
            )

    results = await asyncio.gather(*(one(row) for _, row in pairs.iterrows()))
    out = pairs.drop(columns=["response_a", "response_b"], errors="ignore").copy()
    out["outcome"] = np.array([r[0] for r in results], dtype=float)  # None -> NaN
    out["verdict_1"] = [r[1] for r in results]
    out["verdict_2"] = [r[2] for r in results]
    return out
