"""Score a BFCL case like BFCL does: AST categories by `bfcl_ast`'s rules (in the case's language), irrelevance
categories right only without a call, relevance categories right with any call, multi-turn per turn."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from llmbench.errors import DataError
from llmbench.providers.types import ToolCall
from llmbench.tools.bfcl import BFCLCase, ExpectedCall
from llmbench.tools.bfcl_ast import Mismatch, check_call
from llmbench.tools.bfcl_docs import wire_name

__all__ = ["BFCLScore", "score_bfcl", "score_calls", "score_multi_turn"]


class BFCLScore(BaseModel):
    """The verdict on a case: `correct`, and when not, BFCL's error type and a reason."""

    model_config = ConfigDict(frozen=True)

    correct: bool
    error_type: str | None = None
    error: str | None = None
    turns_correct: list[bool] | None = None  # multi-turn only

    @property
    def score(self) -> float:
        """1.0 or 0.0, for the runs frame's `score` column."""
        return 1.0 if self.correct else 0.0


def _wrong(kind: str, message: str) -> BFCLScore:
    return BFCLScore(correct=False, error_type=kind, error=message)


def _matches(case: BFCLCase, call: ToolCall, answer: dict[str, dict[str, list[Any]]]) -> Mismatch | None:
    if call.raw_arguments is not None:
        return Mismatch("malformed_arguments", f"arguments of {call.name!r} are not a JSON object")
    expected_name = next(iter(answer))
    doc = case.function_doc(expected_name)
    if doc is None:
        raise DataError(f"BFCL case {case.id}: no function doc for ground-truth function {expected_name!r}")
    try:
        check_call(doc, call.name, call.arguments, answer, case.language)
    except Mismatch as exc:
        return exc
    return None


def _match_greedy(case: BFCLCase, calls: list[ToolCall]) -> BFCLScore:
    """BFCL's own pairing: each expected call in turn takes the first unused model call that matches it."""
    used: set[int] = set()
    for a, answer in enumerate(case.possible_answers):
        hit = next(
            (i for i, c in enumerate(calls) if i not in used and _matches(case, c, answer) is None), None
        )
        if hit is None:
            return _wrong("cannot_find_match", f"no model call matches expected call {a}: {answer}")
        used.add(hit)
    return BFCLScore(correct=True)


def _match_all(case: BFCLCase, calls: list[ToolCall]) -> BFCLScore:
    """Order-free: each expected call must pair with a distinct model call (a full bipartite matching)."""
    answers = case.possible_answers
    ok = [[_matches(case, c, a) is None for c in calls] for a in answers]
    paired: dict[int, int] = {}  # model call index -> answer index

    def augment(a: int, seen: set[int]) -> bool:
        for c in range(len(calls)):
            if ok[a][c] and c not in seen:
                seen.add(c)
                if c not in paired or augment(paired[c], seen):
                    paired[c] = a
                    return True
        return False

    for a in range(len(answers)):
        if not augment(a, set()):
            return _wrong("cannot_find_match", f"no model call matches expected call {a}: {answers[a]}")
    return BFCLScore(correct=True)


def score_calls(case: BFCLCase, calls: list[ToolCall], *, greedy_pairing: bool = False) -> BFCLScore:
    """Score a single-turn case's tool calls with BFCL's rules (irrelevance: right iff there is no call;
    relevance: right iff there is a call; AST categories: the calls against the possible answers).

    Parallel calls are paired with the expected ones by a full matching. BFCL pairs greedily, which rejects a
    correct answer when one call fits two expected calls and is taken by the wrong one (148 of 41,764 sampled
    answers in our cross-check); `greedy_pairing=True` reproduces BFCL's verdicts exactly.
    """
    kind = case.kind
    if kind == "multi_turn":
        raise DataError(f"{case.id} is multi-turn: use score_multi_turn(case, calls_per_turn)")
    if kind == "irrelevance":
        if calls:
            return _wrong("irrelevance:called", f"called {calls[0].name!r} although no function is relevant")
        return BFCLScore(correct=True)
    if kind == "relevance":  # some function is relevant: any well-formed call is right, none is wrong
        if any(c.raw_arguments is None for c in calls):
            return BFCLScore(correct=True)
        return _wrong("relevance:no_call", "no function was called although one is relevant")
    if len(calls) != len(case.possible_answers):
        return _wrong("wrong_count", f"expected {len(case.possible_answers)} call(s), got {len(calls)}")
    if "parallel" in case.category:
        return _match_greedy(case, calls) if greedy_pairing else _match_all(case, calls)
    problem = _matches(case, calls[0], case.possible_answers[0])
    if problem is not None:
        return _wrong(problem.kind, str(problem))
    return BFCLScore(correct=True)


def _with_defaults(case: BFCLCase, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    doc = case.function_doc(name)
    props = doc["parameters"].get("properties", {}) if doc else {}
    filled = {k: p["default"] for k, p in props.items() if "default" in p}
    return filled | arguments


def _same_call(case: BFCLCase, call: ToolCall, expected: ExpectedCall) -> bool:
    if call.raw_arguments is not None or call.name not in (expected.name, wire_name(expected.name)):
        return False
    got = _with_defaults(case, expected.name, call.arguments)
    want = _with_defaults(case, expected.name, expected.arguments)
    # Python equality: 1 == 1.0 (JSON does not tell int from float reliably), strings exact.
    return got.keys() == want.keys() and all(_equal(got[k], want[k]) for k in want)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def score_multi_turn(case: BFCLCase, calls_per_turn: list[list[ToolCall]]) -> BFCLScore:
    """Score a multi-turn case offline: every turn's calls must equal the ground-truth sequence of that turn.

    Names, order and argument values must match exactly (parameters left out count as their documented
    default). This is stricter than BFCL's execution-based checker, which accepts any calls that reach the
    same final state and outputs (e.g. an extra read-only `ls`), so it is a lower bound of BFCL's accuracy.
    """
    expected = case.turn_answers
    if len(calls_per_turn) != len(expected):
        return _wrong("wrong_turn_count", f"expected {len(expected)} turns, got {len(calls_per_turn)}")
    per_turn = [
        len(got) == len(want) and all(_same_call(case, c, e) for c, e in zip(got, want, strict=False))
        for got, want in zip(calls_per_turn, expected, strict=True)
    ]
    if all(per_turn):
        return BFCLScore(correct=True, turns_correct=per_turn)
    first = per_turn.index(False)
    return BFCLScore(
        correct=False,
        error_type="turn_mismatch",
        error=f"turn {first}: calls differ from the ground truth {[e.name for e in expected[first]]}",
        turns_correct=per_turn,
    )


def score_bfcl(
    case: BFCLCase, calls: list[ToolCall] | list[list[ToolCall]], *, greedy_pairing: bool = False
) -> BFCLScore:
    """Score a case: a flat list of calls for single-turn categories, one list per turn for multi-turn."""
    if case.kind == "multi_turn":
        return score_multi_turn(case, calls)  # type: ignore[arg-type]
    return score_calls(case, calls, greedy_pairing=greedy_pairing)  # type: ignore[arg-type]
