"""The Berkeley Function Calling Leaderboard (BFCL v4): load cases as dataset items and score calls like BFCL.

Single-turn categories are scored with BFCL's AST rules (see `bfcl_ast`). `multi_turn_base` is scored offline by
per-turn call-sequence match against the ground truth (BFCL itself executes the calls on its Python API
backends and compares the resulting states, which needs code that is not part of the data); see
`score_multi_turn` for what that means.
"""

from __future__ import annotations

import ast
import copy
import gzip
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmbench.datasets import ChatMessage, Dataset, Item
from llmbench.errors import DataError
from llmbench.providers.types import Message, ToolCall, ToolSpec
from llmbench.tools.bfcl_ast import Mismatch, check_call

BFCL_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "multi_turn_base",
)

# BFCL's class -> function-doc file mapping for multi-turn cases (bfcl_eval constants).
MULTI_TURN_DOCS = {
    "GorillaFileSystem": "gorilla_file_system",
    "MathAPI": "math_api",
    "MessageAPI": "message_api",
    "TwitterAPI": "posting_api",
    "TicketAPI": "ticket_api",
    "TradingBot": "trading_bot",
    "TravelAPI": "travel_booking",
    "VehicleControlAPI": "vehicle_control",
}

# How BFCL's function-calling handlers present the docs to a model (GORILLA_TO_OPENAPI, Python entries).
_TYPE_TO_JSON = {
    "dict": "object",
    "object": "object",
    "float": "number",
    "number": "number",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "array": "array",
    "tuple": "array",
    "any": "string",
}
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."


def default_bfcl_dir() -> Path:
    """`$LLMBENCH_BFCL_DIR`, else `$LLMBENCH_SHARED_DATA/bfcl`, else `../shared/data/bfcl` beside the repository."""
    if os.environ.get("LLMBENCH_BFCL_DIR"):
        return Path(os.environ["LLMBENCH_BFCL_DIR"])
    if os.environ.get("LLMBENCH_SHARED_DATA"):
        return Path(os.environ["LLMBENCH_SHARED_DATA"]) / "bfcl"
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "bfcl"


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A BFCL parameter schema as valid JSON Schema, converted the way BFCL's function-calling handlers do.

    `dict` -> object, `float` -> number (format float, with BFCL's description note), `tuple` -> array,
    `any` and missing types -> string; BFCL's non-standard `optional` flag is dropped.
    """
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("optional", "properties", "items")}
    bfcl_type = schema.get("type")
    out["type"] = _TYPE_TO_JSON.get(bfcl_type, "string") if isinstance(bfcl_type, str) else "string"
    if bfcl_type == "float":
        out["format"] = "float"
        out["description"] = schema.get("description", "") + " This is a float type value."
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = to_json_schema(schema["items"])
    return out


def wire_name(name: str) -> str:
    """The tool name a model sees: BFCL's dots become underscores, as OpenAI and Anthropic names forbid dots."""
    return name.replace(".", "_")


def to_tool_spec(function: dict[str, Any]) -> ToolSpec:
    """A BFCL function doc as a `ToolSpec` (name with `_` for `.`, BFCL's Python hint in the description)."""
    return ToolSpec(
        name=wire_name(function["name"]),
        description=function.get("description", "") + PYTHON_HINT,
        parameters=to_json_schema(function["parameters"]),
    )


class ExpectedCall(BaseModel):
    """One ground-truth call of a multi-turn case, with positional arguments resolved to names."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: dict[str, Any]


class BFCLCase(BaseModel):
    """One BFCL test case as a dataset item: prompt turns, tools, and the ground truth to score against."""

    model_config = ConfigDict(frozen=True)

    id: str
    category: str
    turns: list[list[Message]]
    functions: list[dict[str, Any]] = Field(repr=False)
    tools: list[ToolSpec] = Field(repr=False)
    possible_answers: list[dict[str, dict[str, list[Any]]]] = Field(default_factory=list, repr=False)
    turn_answers: list[list[ExpectedCall]] = Field(default_factory=list, repr=False)
    involved_classes: list[str] = Field(default_factory=list)

    @property
    def item_id(self) -> str:
        """Stable item id (BFCL's case id)."""
        return self.id

    @property
    def task(self) -> str:
        """Task label: the BFCL category."""
        return self.category

    @property
    def messages(self) -> list[Message]:
        """The first turn's messages (the whole prompt of a single-turn case)."""
        return self.turns[0]

    @property
    def prompt(self) -> str:
        """Text of the last user message of the first turn."""
        return next((m.text for m in reversed(self.turns[0]) if m.role == "user"), "")

    def function_doc(self, name: str) -> dict[str, Any] | None:
        """The BFCL doc of a function, found by its BFCL name or its wire name."""
        return next((f for f in self.functions if name in (f["name"], wire_name(f["name"]))), None)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(
            f"BFCL file {path} not found; point `root` (or $LLMBENCH_BFCL_DIR) at the folder with BFCL_v4_*.json.gz"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _find(root: Path, stem: str) -> Path:
    gz = root / f"{stem}.json.gz"
    return gz if gz.exists() else root / f"{stem}.json"


def parse_call_text(text: str, docs: dict[str, dict[str, Any]]) -> ExpectedCall:
    """Parse a ground-truth call such as "sort('a.pdf')" or "cd(folder='x')"; positionals follow the doc's order."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
        if not isinstance(node, ast.Call):
            raise ValueError("not a call")
        name = ast.unparse(node.func)
        arguments = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        if node.args:
            order = list(docs[name]["parameters"].get("properties", {}))
            for index, arg in enumerate(node.args):
                arguments[order[index]] = ast.literal_eval(arg)
    except (SyntaxError, ValueError, KeyError, IndexError) as exc:
        raise DataError(f"cannot parse BFCL ground-truth call {text!r}: {exc}") from exc
    return ExpectedCall(name=name, arguments=arguments)


def _multi_turn_functions(root: Path, record: dict[str, Any], cache: dict[str, list]) -> list[dict[str, Any]]:
    excluded = set(record.get("excluded_function", []))
    out: list[dict[str, Any]] = []
    for cls in record["involved_classes"]:
        if cls not in MULTI_TURN_DOCS:
            raise DataError(f"BFCL case {record['id']}: unknown API class {cls!r}")
        if cls not in cache:
            cache[cls] = _read_jsonl(_find(root / "multi_turn_func_doc", MULTI_TURN_DOCS[cls]))
        out.extend(copy.deepcopy(d) for d in cache[cls] if d["name"] not in excluded)
    return out


def load_bfcl(category: str, root: str | Path | None = None, *, limit: int | None = None) -> list[BFCLCase]:
    """Load one BFCL category (see `BFCL_CATEGORIES`) as `BFCLCase` items, ground truth attached."""
    if category not in BFCL_CATEGORIES:
        raise DataError(f"unknown BFCL category {category!r}; choose one of {', '.join(BFCL_CATEGORIES)}")
    base = Path(root) if root is not None else default_bfcl_dir()
    records = _read_jsonl(_find(base, f"BFCL_v4_{category}"))[:limit]
    answers: dict[str, Any] = {}
    if category != "irrelevance":
        answers = {
            a["id"]: a["ground_truth"]
            for a in _read_jsonl(_find(base / "possible_answer", f"BFCL_v4_{category}"))
        }
    cases = []
    doc_cache: dict[str, list] = {}
    for rec in records:
        multi = category.startswith("multi_turn")
        functions = _multi_turn_functions(base, rec, doc_cache) if multi else rec["function"]
        if category != "irrelevance" and rec["id"] not in answers:
            raise DataError(
                f"BFCL case {rec['id']} has no ground truth in possible_answer/BFCL_v4_{category}"
            )
        turns = [
            [Message(role=m["role"], content=[{"type": "text", "text": m["content"]}]) for m in t]
            for t in rec["question"]
        ]
        extra: dict[str, Any] = {}
        if multi:
            docs = {f["name"]: f for f in functions}
            extra["turn_answers"] = [[parse_call_text(c, docs) for c in turn] for turn in answers[rec["id"]]]
            extra["involved_classes"] = rec["involved_classes"]
        elif category != "irrelevance":
            extra["possible_answers"] = answers[rec["id"]]
        cases.append(
            BFCLCase(
                id=rec["id"],
                category=category,
                turns=turns,
                functions=functions,
                tools=[to_tool_spec(f) for f in functions],
                **extra,
            )
        )
    return cases


# As an evaluation dataset ------------------------------------------------------------------------------------


def case_to_item(case: BFCLCase) -> Item:
    """A single-turn case as a dataset `Item`: tool specs in `metadata["tools"]`, ground truth in
    `metadata["bfcl"]`, scored by the "bfcl" scorer (see `llmbench.tools.bfcl_eval`)."""
    return Item(
        id=case.id,
        input=[ChatMessage(role=m.role, content=m.text) for m in case.turns[0]],
        task=f"bfcl:{case.category}",
        metadata={
            "tools": [t.model_dump() for t in case.tools],
            "bfcl": {
                "category": case.category,
                "functions": case.functions,
                "possible_answers": case.possible_answers,
            },
        },
        scorer="bfcl",
    )


def case_from_item(item: Item) -> BFCLCase:
    """The `BFCLCase` an item made by `case_to_item` stands for (to score it)."""
    meta = item.metadata.get("bfcl")
    if not isinstance(meta, dict) or "functions" not in meta:
        raise DataError(
            f"item {item.id!r} carries no BFCL ground truth (metadata['bfcl']); load it with bfcl_dataset()."
        )
    return BFCLCase(
        id=item.id,
        category=meta["category"],
        turns=[item.messages()],
        functions=meta["functions"],
        tools=[ToolSpec.model_validate(t) for t in item.metadata.get("tools", [])],
        possible_answers=meta.get("possible_answers", []),
    )


def bfcl_dataset(category: str, limit: int | None = None, *, root: str | Path | None = None) -> Dataset:
    """A BFCL single-turn category as an evaluation `Dataset` for `llmbench eval` (items as `case_to_item`).

    `multi_turn_*` cases cannot run in a batch evaluation: every turn needs the results of the calls, which
    come from BFCL's executable API backends, not part of the data; score such runs with `score_multi_turn`.
    """
    if category.startswith("multi_turn"):
        raise DataError(
            f"BFCL {category} needs BFCL's executable API backends (not in the data) to answer the model's "
            "calls between turns, so `llmbench eval` cannot run it; use simple_python, multiple, parallel, "
            "parallel_multiple or irrelevance, or score your own runs with score_multi_turn(case, calls)."
        )
    return Dataset(f"bfcl-{category}", [case_to_item(c) for c in load_bfcl(category, root, limit=limit)])


# Scoring ---------------------------------------------------------------------------------------------------


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


def _matches(case: BFCLCase, call: ToolCall, answer: dict[str, dict[str, list]]) -> Mismatch | None:
    if call.raw_arguments is not None:
        return Mismatch("malformed_arguments", f"arguments of {call.name!r} are not a JSON object")
    expected_name = next(iter(answer))
    doc = case.function_doc(expected_name)
    if doc is None:
        raise DataError(f"BFCL case {case.id}: no function doc for ground-truth function {expected_name!r}")
    try:
        check_call(doc, call.name, call.arguments, answer)
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
    """Score a single-turn case's tool calls with BFCL's AST rules (irrelevance: correct iff there is no call).

    Parallel calls are paired with the expected ones by a full matching. BFCL pairs greedily, which rejects a
    correct answer when one call fits two expected calls and is taken by the wrong one (148 of 41,764 sampled
    answers in our cross-check); `greedy_pairing=True` reproduces BFCL's verdicts exactly.
    """
    if case.category.startswith("multi_turn"):
        raise DataError(f"{case.id} is multi-turn: use score_multi_turn(case, calls_per_turn)")
    if case.category == "irrelevance":
        if calls:
            return _wrong("irrelevance:called", f"called {calls[0].name!r} although no function is relevant")
        return BFCLScore(correct=True)
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
    if case.category.startswith("multi_turn"):
        return score_multi_turn(case, calls)  # type: ignore[arg-type]
    return score_calls(case, calls, greedy_pairing=greedy_pairing)  # type: ignore[arg-type]
