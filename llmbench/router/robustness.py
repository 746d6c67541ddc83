"""How stable a router's decisions are under small changes of the prompt that should not change the answer, as
RouterArena reports it: the share of prompts routed to the same model after each perturbation (seeded)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PERTURBATIONS", "robustness"]

Perturbation = Callable[[str, np.random.Generator], str]


def _whitespace(text: str, rng: np.random.Generator) -> str:
    """Doubled spaces between words, and a newline before and after."""
    return "\n" + re.sub(r" ", "  ", text) + " \n"


def _case(text: str, rng: np.random.Generator) -> str:
    """All lower case, or all upper case (a coin flip)."""
    return text.upper() if rng.random() < 0.5 else text.lower()


_TEMPLATES = (
    "Please answer the following.\n\n{}",
    "{}\n\nThank you!",
    "I have a question for you: {}",
    "Could you help me with this? {}",
)


def _paraphrase(text: str, rng: np.random.Generator) -> str:
    """The prompt inside a polite template that adds no task content."""
    return str(_TEMPLATES[rng.integers(len(_TEMPLATES))]).format(text)


def _typo(text: str, rng: np.random.Generator) -> str:
    """Two adjacent inner letters of one word of four or more letters swapped."""
    words = list(re.finditer(r"[A-Za-z]{4,}", text))
    if not words:
        return text
    word = words[rng.integers(len(words))]
    i = word.start() + int(rng.integers(1, len(word.group()) - 2))
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


PERTURBATIONS: dict[str, Perturbation] = {
    "whitespace": _whitespace,
    "case": _case,
    "paraphrase template": _paraphrase,
    "typo": _typo,
}


def robustness(router: Any, prompts: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """Per perturbation: prompts, how many the perturbation changed, the share of prompts whose decision (the
    router's `predict`) is kept, and how many models the unperturbed prompts went to. `router` is a fitted RouterEstimator (or anything with `predict`)."""
    texts = [str(p) for p in prompts]
    before = np.asarray(router.predict(texts))
    rows = []
    for name, perturb in PERTURBATIONS.items():
        rng = np.random.default_rng(seed)
        changed = [perturb(t, rng) for t in texts]
        after = np.asarray(router.predict(changed))
        rows.append(
            {
                "perturbation": name,
                "prompts": len(texts),
                "changed": int(sum(a != b for a, b in zip(texts, changed, strict=True))),
                "decision kept": float(np.mean(before == after)) if texts else float("nan"),
                # a router that sends everything to one model keeps every decision: say so beside the share
                "models used": len(set(before.tolist())),
            }
        )
    return pd.DataFrame(rows)
