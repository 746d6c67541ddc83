"""Evidence that the BFCL scorer is right: every ground-truth answer must pass, every corrupted one must fail.

Ground truth: for single-turn cases, every combination of the possible values of every parameter ("" means
the parameter is left out), with parallel calls presented in a rotated order; for multi-turn cases, the
ground-truth sequence as given and with arguments equal to their documented default left out.
Corruptions of the ground truth: a wrong function name, a missing required parameter, a value of the wrong
type, one extra call, and, for irrelevance cases, any call at all. A corruption that cannot be built for a
case (e.g. no required parameter to drop) is reported as not applicable instead of being counted.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmbench.errors import DataError
from llmbench.providers.types import ToolCall
from llmbench.tools.bfcl import BFCLCase, ExpectedCall, bfcl_categories, load_bfcl
from llmbench.tools.bfcl_ast import PYTHON_TYPES
from llmbench.tools.bfcl_docs import wire_name
from llmbench.tools.bfcl_score import score_bfcl
from llmbench.tools.bfcl_types import JAVA_TYPES, JS_TYPES, to_language

CORRUPTIONS = ("wrong_name", "missing_required", "wrong_type", "extra_call")
IRRELEVANCE_CORRUPTION = "any_call"
RELEVANCE_CORRUPTION = "no_call"
ALL_CORRUPTIONS = (*CORRUPTIONS, IRRELEVANCE_CORRUPTION, RELEVANCE_CORRUPTION)


def _call(name: str, arguments: dict[str, Any], index: int) -> ToolCall:
    return ToolCall(id=f"call_{index}", name=name, arguments=arguments)


def ground_truth_variants(case: BFCLCase) -> Iterator[list[ToolCall]] | Iterator[list[list[ToolCall]]]:
    """Every correct answer the ground truth describes, as our neutral calls (see the module docstring)."""
    if case.kind == "multi_turn":
        return _multi_turn_variants(case)
    return (calls for calls, consistent in _single_turn_answers(case) if consistent)


def contradicting_answers(case: BFCLCase) -> list[list[ToolCall]]:
    """Ground-truth combinations that contradict the case's own function doc.

    A few BFCL answers allow leaving out ("") a parameter the doc marks required, or list a parameter the
    doc does not have; BFCL's checker rejects such calls too (required and unknown-parameter rules come
    first), so they are not correct answers and are reported apart.
    """
    if case.kind == "multi_turn":
        return []
    return [calls for calls, consistent in _single_turn_answers(case) if not consistent]


def _expand(option: Any, prop: dict[str, Any]) -> list[Any]:
    """Concrete values of one possible-answer entry: nested dicts hold alternatives per key, like the top level."""
    if option == "":
        return [""]
    if prop.get("type") in ("dict", "HashMap", "Hashtable") and isinstance(option, dict):
        return [dict(c) for c in _key_combos(option)]
    if (
        prop.get("type") == "array"
        and prop.get("items", {}).get("type") == "dict"
        and isinstance(option, list)
    ):
        per_item = [[dict(c) for c in _key_combos(d)] if isinstance(d, dict) else [d] for d in option]
        return [list(items) for items in itertools.product(*per_item)]
    return [option]


def _key_combos(alternatives: dict[str, list[Any]]) -> Iterator[list[tuple[str, Any]]]:
    keys = list(alternatives)
    for values in itertools.product(*(alternatives[k] for k in keys)):
        yield [(k, v) for k, v in zip(keys, values, strict=True) if v != ""]


def _in_language(case: BFCLCase, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as a model must send them for the case's language (Java/JavaScript: strings in its syntax)."""
    table = {"java": JAVA_TYPES, "javascript": JS_TYPES}.get(case.language)
    if table is None:
        return arguments
    props = (case.function_doc(name) or {}).get("parameters", {}).get("properties", {})
    out = {}
    for param, value in arguments.items():
        kind = props.get(param, {}).get("type", "any")
        nested = (
            props.get(param, {}).get("items", {}).get("type")
            if kind in ("Array", "ArrayList", "array")
            else None
        )
        out[param] = to_language(case.language, value, kind, nested) if kind in table else value
    return out


def _single_turn_answers(case: BFCLCase) -> Iterator[tuple[list[ToolCall], bool]]:
    if case.kind == "irrelevance":
        yield [], True
        return
    if case.kind == "relevance":  # any call to an offered function is right
        f = case.functions[0]
        yield [_call(wire_name(f["name"]), {}, 0)], True
        return
    slots = []  # (call index, param, concrete alternatives)
    names = []
    for i, answer in enumerate(case.possible_answers):
        ((name, params),) = answer.items()
        names.append(name)
        props = (case.function_doc(name) or {}).get("parameters", {}).get("properties", {})
        for param, opts in params.items():
            slots.append((i, param, [v for o in opts for v in _expand(o, props.get(param, {}))]))
    for n, combo in enumerate(itertools.product(*(alts for *_, alts in slots))):
        args: list[dict[str, Any]] = [{} for _ in names]
        for (i, param, _), value in zip(slots, combo, strict=True):
            if value != "":
                args[i][param] = value
        consistent = all(_fits_doc(case, nm, a) for nm, a in zip(names, args, strict=True))
        # Alternate the BFCL name with the wire name (dots as underscores): both must be accepted.
        calls = [
            _call(wire_name(nm) if n % 2 == 0 else nm, _in_language(case, nm, a), j)
            for j, (nm, a) in enumerate(zip(names, args, strict=True))
        ]
        if "parallel" in case.category and len(calls) > 1:
            shift = n % len(calls)
            calls = calls[shift:] + calls[:shift]
        yield calls, consistent


def _fits_doc(case: BFCLCase, name: str, arguments: dict[str, Any]) -> bool:
    params = (case.function_doc(name) or {}).get("parameters", {})
    props = params.get("properties", {})
    return all(p in arguments for p in params.get("required", [])) and all(a in props for a in arguments)


def _multi_turn_variants(case: BFCLCase) -> Iterator[list[list[ToolCall]]]:
    yield [[_call(e.name, dict(e.arguments), j) for j, e in enumerate(turn)] for turn in case.turn_answers]
    trimmed = [
        [_call(e.name, _drop_defaults(case, e), j) for j, e in enumerate(turn)] for turn in case.turn_answers
    ]
    if trimmed != [
        [_call(e.name, dict(e.arguments), j) for j, e in enumerate(turn)] for turn in case.turn_answers
    ]:
        yield trimmed


def _drop_defaults(case: BFCLCase, expected: ExpectedCall) -> dict[str, Any]:
    props = (case.function_doc(expected.name) or {}).get("parameters", {}).get("properties", {})
    return {
        k: v
        for k, v in expected.arguments.items()
        if not ("default" in props.get(k, {}) and props[k]["default"] == v)
    }


def _wrong_value(type_name: str) -> Any:
    return 12345 if PYTHON_TYPES.get(type_name, str) is str else "corrupted-value"


def _other_name(case: BFCLCase, name: str) -> str:
    others = [f["name"] for f in case.functions if f["name"] != name]
    return wire_name(others[0]) if others else wire_name(name) + "_x"


def _corrupt_calls(case: BFCLCase, calls: list[ToolCall], kind: str) -> list[ToolCall] | None:
    """One corrupted copy of `calls`, or None when that corruption does not exist for them."""
    out = list(calls)
    if kind == "extra_call":
        return [*out, out[0].model_copy(update={"id": "extra"})] if out else None
    for i, call in enumerate(out):
        doc = case.function_doc(call.name)
        if doc is None:
            continue
        params = doc.get("parameters", {})
        props = params.get("properties", {})
        if kind == "wrong_name":
            out[i] = call.model_copy(update={"name": _other_name(case, doc["name"])})
            return out
        if kind == "missing_required":
            required = [p for p in params.get("required", []) if p in call.arguments]
            if required:
                args = {k: v for k, v in call.arguments.items() if k != required[0]}
                out[i] = call.model_copy(update={"arguments": args})
                return out
        if kind == "wrong_type" and call.arguments:
            param = next(iter(call.arguments))
            args = {**call.arguments, param: _wrong_value(props.get(param, {}).get("type", "string"))}
            out[i] = call.model_copy(update={"arguments": args})
            return out
    return None


def corrupted(case: BFCLCase, kind: str) -> list[ToolCall] | list[list[ToolCall]] | None:
    """The first ground-truth answer with one corruption of `kind`, or None when not applicable."""
    first = next(iter(ground_truth_variants(case)), None)
    if first is None:  # no answer to corrupt (the case is reported as uncheckable)
        return None
    if case.kind == "relevance":
        return [] if kind == RELEVANCE_CORRUPTION else None
    if kind == RELEVANCE_CORRUPTION:
        return None
    if case.kind == "irrelevance":
        if kind != IRRELEVANCE_CORRUPTION or not case.functions:  # no function offered: no call to make
            return None
        f = case.functions[0]
        required = f.get("parameters", {}).get("required", [])
        props = f.get("parameters", {}).get("properties", {})
        return [
            _call(
                wire_name(f["name"]),
                {p: _wrong_value(props.get(p, {}).get("type", "string")) for p in required},
                0,
            )
        ]
    if kind == IRRELEVANCE_CORRUPTION:
        return None
    if case.kind != "multi_turn":
        return _corrupt_calls(case, first, kind)  # type: ignore[arg-type]
    turns: list[list[ToolCall]] = first  # type: ignore[assignment]
    for t, turn in enumerate(turns):
        bad = _corrupt_calls(case, turn, kind)
        if bad is not None:
            return [*turns[:t], bad, *turns[t + 1 :]]
    return None


def check_case(case: BFCLCase) -> dict[str, Any]:
    """Ground-truth variants tried and passed, and per corruption: True detected, False missed, None n/a.
    A case whose ground truth has no answer to try is `uncheckable`, with the reason."""
    tried = passed = 0
    failures: list[str] = []
    for calls in ground_truth_variants(case):
        tried += 1
        verdict = score_bfcl(case, calls)
        if verdict.correct:
            passed += 1
        elif len(failures) < 3:
            failures.append(f"{verdict.error_type}: {verdict.error}")
    detected: dict[str, bool | None] = {}
    for kind in ALL_CORRUPTIONS:
        bad = corrupted(case, kind)
        detected[kind] = None if bad is None else not score_bfcl(case, bad).correct
    contradicting = contradicting_answers(case)
    rejected = sum(not score_bfcl(case, calls).correct for calls in contradicting)
    uncheckable = None
    if not tried:
        uncheckable = (
            f"none of its {len(contradicting)} ground-truth answers agrees with its own function doc"
            if contradicting
            else "its ground truth holds no answer that can be written as calls"
        )
    return {
        "id": case.id,
        "uncheckable": uncheckable,
        "variants": tried,
        "variants_ok": passed,
        "failures": failures,
        "contradicting": len(contradicting),
        "contradicting_rejected": rejected,
        "detected": detected,
    }


def check_folder(root: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """`check_case` summed per category, for every category the folder holds: cases, ground-truth answers and
    how many scored right, contradicting answers rejected, and per corruption (detected, missed, n/a) counts."""
    rows = []
    for category in bfcl_categories(root):
        results = [_checked(c) for c in load_bfcl(category, root, limit=limit)]
        rows.append(
            {
                "category": category,
                "cases": len(results),
                "answers": sum(r["variants"] for r in results),
                "answers_ok": sum(r["variants_ok"] for r in results),
                "contradicting": sum(r["contradicting"] for r in results),
                "contradicting_rejected": sum(r["contradicting_rejected"] for r in results),
                "corruptions": {k: Counter(r["detected"][k] for r in results) for k in ALL_CORRUPTIONS},
                "failures": [(r["id"], f) for r in results for f in r["failures"]],
                "uncheckable": [(r["id"], r["uncheckable"]) for r in results if r["uncheckable"]],
            }
        )
    return rows


def _checked(case: BFCLCase) -> dict[str, Any]:
    """`check_case`, or for a case the self-check itself cannot handle, a failure naming the case and the error
    (the rest of the folder is still checked)."""
    try:
        return check_case(case)
    except (
        DataError
    ) as exc:  # the case contradicts itself (e.g. an answer naming a function it does not offer)
        return {
            "id": case.id,
            "uncheckable": str(exc),
            "variants": 0,
            "variants_ok": 0,
            "failures": [],
            "contradicting": 0,
            "contradicting_rejected": 0,
            "detected": dict.fromkeys(ALL_CORRUPTIONS),
        }
    except Exception as exc:  # one odd case must not hide the verdict on every other
        failure = f"self-check error: {type(exc).__name__}: {exc}"
        detected: dict[str, bool | None] = dict.fromkeys(ALL_CORRUPTIONS)
        return {
            "id": case.id,
            "uncheckable": None,
            "variants": 1,
            "variants_ok": 0,
            "failures": [failure],
            "contradicting": 0,
            "contradicting_rejected": 0,
            "detected": detected,
        }
