"""The Berkeley Function Calling Leaderboard (BFCL v3/v4): load any category file a folder holds as dataset items.

Categories are found from the file names (`BFCL_v<N>_<category>.json(.gz)`), never from a fixed list, and
each is treated by BFCL's own rule for its kind (see `category_kind`): AST categories (simple, multiple,
parallel, their `live_` variants, Java and JavaScript) against `possible_answer/`, irrelevance categories (no
call is right), relevance categories (any call is right) and multi-turn categories. Categories whose ground
truth needs an executable backend or free text (memory, web search, the old executable ones) are refused with
the reason. Scoring lives in `bfcl_score`, BFCL's AST rules in `bfcl_ast`, Java/JavaScript values in
`bfcl_types`.
"""

from __future__ import annotations

import ast
import copy
import gzip
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmbench.datasets import ChatMessage, Dataset, Item
from llmbench.errors import DataError
from llmbench.providers.types import Message, TextBlock, ToolSpec
from llmbench.public_data import PUBLIC_DATA
from llmbench.tools.bfcl_docs import to_tool_spec, wire_name
from llmbench.tools.bfcl_types import language_of

Kind = Literal["ast", "irrelevance", "relevance", "multi_turn"]
_FILE = re.compile(r"^BFCL_v(\d+)_(.+?)\.json(\.gz)?$")
# Categories whose ground truth is not a call to compare: said why, never scored wrongly.
_REFUSED = {
    "memory": "a memory backend and its prerequisite conversations",
    "web_search": "live web search",
    "format_sensitivity": "prompting-mode system prompts (it is a list of case ids, not cases)",
    "exec": "executing the calls on BFCL's Python backends",
    "rest": "calling live REST endpoints",
    "sql": "a SQL database",
    "chatable": "free-text answers judged by a model",
}

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


def category_kind(category: str) -> Kind:
    """How BFCL scores a category, from its name; a DataError naming what it would need when it cannot be."""
    name = category.lower()
    for prefix, needs in _REFUSED.items():
        if name.startswith(prefix) or name == prefix:
            raise DataError(
                f"BFCL category {category!r} needs {needs}, which the data files do not contain; llmbench scores "
                "the AST (simple, multiple, parallel, live_*, Java, JavaScript), irrelevance, relevance and "
                "multi_turn categories"
            )
    if name.startswith("multi_turn"):
        return "multi_turn"
    if "irrelevance" in name:
        return "irrelevance"
    if "relevance" in name:
        return "relevance"
    return "ast"


def _files(root: Path) -> dict[str, Path]:
    """category -> its newest data file in `root` (v4 wins over v3 for the same name)."""
    found: dict[str, tuple[int, Path]] = {}
    for path in sorted(root.glob("BFCL_v*_*.json*")):
        m = _FILE.match(path.name)
        if m and (m.group(2) not in found or int(m.group(1)) > found[m.group(2)][0]):
            found[m.group(2)] = (int(m.group(1)), path)
    return {c: p for c, (_, p) in found.items()}


def bfcl_categories(root: str | Path | None = None, *, scorable: bool = True) -> list[str]:
    """The categories whose case files `root` holds (by default only those llmbench can score)."""
    base = Path(root) if root is not None else default_bfcl_dir()
    if not base.is_dir():
        raise PUBLIC_DATA["bfcl"].missing(base, "BFCL folder (`root`, or $LLMBENCH_BFCL_DIR)")
    out = []
    for category in sorted(_files(base)):
        try:
            category_kind(category)
        except DataError:
            if scorable:
                continue
        out.append(category)
    return out


def default_bfcl_dir() -> Path:
    """`$LLMBENCH_BFCL_DIR`, else `$LLMBENCH_SHARED_DATA/bfcl`, else `../shared/data/bfcl` beside the repository."""
    if os.environ.get("LLMBENCH_BFCL_DIR"):
        return Path(os.environ["LLMBENCH_BFCL_DIR"])
    if os.environ.get("LLMBENCH_SHARED_DATA"):
        return Path(os.environ["LLMBENCH_SHARED_DATA"]) / "bfcl"
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "bfcl"


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
    def kind(self) -> Kind:
        """How the case is scored: ast, irrelevance, relevance or multi_turn (see `category_kind`)."""
        return category_kind(self.category)

    @property
    def language(self) -> str:
        """The language the function docs are in: python, java or javascript."""
        return language_of(self.category)

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
            f"BFCL file {path} not found; point `root` (or $LLMBENCH_BFCL_DIR) at the folder with BFCL_v*_*.json(.gz)"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read BFCL file {path} (JSON Lines expected): {exc}") from None


def _find(root: Path, stem: str) -> Path:
    gz = root / f"{stem}.json.gz"
    return gz if gz.exists() else root / f"{stem}.json"


def _with_parameters(function: dict[str, Any]) -> dict[str, Any]:
    """A function doc as the scorer reads it: a doc without `parameters` takes none (one place, not every reader)."""
    if isinstance(function.get("parameters"), dict):
        return function
    return {**function, "parameters": {"type": "dict", "properties": {}, "required": []}}


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


def _multi_turn_functions(
    root: Path, record: dict[str, Any], cache: dict[str, list[Any]]
) -> list[dict[str, Any]]:
    excluded = set(record.get("excluded_function", []))
    out: list[dict[str, Any]] = []
    for cls in record["involved_classes"]:
        if cls not in MULTI_TURN_DOCS:
            raise DataError(f"BFCL case {record['id']}: unknown API class {cls!r}")
        if cls not in cache:
            cache[cls] = _read_jsonl(_find(root / "multi_turn_func_doc", MULTI_TURN_DOCS[cls]))
        out.extend(copy.deepcopy(d) for d in cache[cls] if d["name"] not in excluded)
    return out


def _case_file(base: Path, category: str) -> Path:
    files = _files(base)
    if category in files:
        return files[category]
    if not base.is_dir():
        raise PUBLIC_DATA["bfcl"].missing(base, "BFCL folder (`root`, or $LLMBENCH_BFCL_DIR)")
    known = bfcl_categories(base)
    raise DataError(
        f"unknown BFCL category {category!r} in {base}; it holds {', '.join(known) or 'no case files'}"
    )


def load_bfcl(category: str, root: str | Path | None = None, *, limit: int | None = None) -> list[BFCLCase]:
    """Load one BFCL category found in `root` as `BFCLCase` items, ground truth attached."""
    base = Path(root) if root is not None else default_bfcl_dir()
    kind = category_kind(category)
    case_file = _case_file(base, category)
    records = _read_jsonl(case_file)[:limit]
    answers: dict[str, Any] = {}
    if kind in ("ast", "multi_turn"):
        answer_file = base / "possible_answer" / case_file.name
        answers = {a["id"]: a["ground_truth"] for a in _read_jsonl(answer_file)}
    language = language_of(category)
    cases = []
    doc_cache: dict[str, list[Any]] = {}
    for rec in records:
        multi = kind == "multi_turn"
        functions = [
            _with_parameters(f)
            for f in (_multi_turn_functions(base, rec, doc_cache) if multi else rec.get("function") or [])
        ]
        if answers and rec["id"] not in answers:
            raise DataError(f"BFCL case {rec['id']} has no ground truth in possible_answer/{case_file.name}")
        turns = [
            [Message(role=m["role"], content=[TextBlock(text=m["content"])]) for m in t]
            for t in rec["question"]
        ]
        extra: dict[str, Any] = {}
        if multi:
            docs = {f["name"]: f for f in functions}
            extra["turn_answers"] = [[parse_call_text(c, docs) for c in turn] for turn in answers[rec["id"]]]
            extra["involved_classes"] = rec["involved_classes"]
        elif kind == "ast":
            extra["possible_answers"] = answers[rec["id"]]
        cases.append(
            BFCLCase(
                id=rec["id"],
                category=category,
                turns=turns,
                functions=functions,
                tools=[to_tool_spec(f, language) for f in functions],
                **extra,
            )
        )
    return cases


# As an evaluation dataset ------------------------------------------------------------------------------------


def case_to_item(case: BFCLCase) -> Item:
    """A single-turn case as a dataset `Item`: tool specs in `metadata["tools"]`, ground truth in
    `metadata["bfcl"]`, scored by the "bfcl" scorer (see `llmbench.scorers.bfcl`)."""
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
    if category_kind(category) == "multi_turn":
        raise DataError(
            f"BFCL {category} needs BFCL's executable API backends (not in the data) to answer the model's "
            "calls between turns, so `llmbench eval` cannot run it; use simple_python, multiple, parallel, "
            "parallel_multiple or irrelevance, or score your own runs with score_multi_turn(case, calls)."
        )
    return Dataset(f"bfcl-{category}", [case_to_item(c) for c in load_bfcl(category, root, limit=limit)])
