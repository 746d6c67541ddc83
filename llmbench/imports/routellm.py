"""RouteLLM's evaluation outcomes (GPT-4-1106-preview vs Mixtral-8x7B): MMLU, GSM8K and MT-Bench.

    evals/mmlu/responses/mmlu_<subject>.csv(.gz)   prompt, one true/false column per model
    evals/gsm8k/gsm8k_responses.csv(.gz)           prompt, true/false and `<model>_response` per model
    evals/mt_bench/judgements.jsonl(.gz)           FastChat single-answer judgements: question_id, model,
                                                   user_prompt, score (1-10; -1 = no rating), turn
    evals/mt_bench/question.jsonl(.gz)             optional: question_id, category, turns (prompt text)

The outcomes carry no cost: calls are priced from the price table with tokens estimated from the text (an MMLU
answer is one letter: one output token). An MT-Bench item is a question; its score is the mean of its turns'
judge scores rescaled from 1-10 to 0-1, as RouteLLM's own MT-Bench benchmark averages them.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from llmbench.errors import DataError
from llmbench.imports.flow import Builder
from llmbench.imports.tables import ident, literal, read_table
from llmbench.imports.validate import ImportOptions, long_select, validate
from llmbench.providers.pricing import ModelPrice
from llmbench.public_data import PUBLIC_DATA

__all__ = ["BENCHMARKS", "ROUTELLM_OVERRIDES", "ROUTELLM_PRICE_IDS", "routellm_builder"]

BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")
# GPT-4-1106-preview is in the genai-prices snapshot ($10/$30 per 1M tokens); Mixtral-8x7B-Instruct is priced at
# Together AI's serverless list price (early 2024), an override callers can replace with --price-file.
ROUTELLM_PRICE_IDS: dict[str, str] = {
    "gpt-4-1106-preview": "openai:gpt-4-1106-preview",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "together:mistralai/Mixtral-8x7B-Instruct-v0.1",
}
ROUTELLM_OVERRIDES: dict[str, ModelPrice] = {
    "together:mistralai/Mixtral-8x7B-Instruct-v0.1": ModelPrice(input=0.6, output=0.6),
}
MMLU_OUTPUT_TOKENS = 1  # the MMLU prompts end in "Answer:" and are scored on one letter
# FastChat's judge prompts: a turn-1 row quotes the question and the answer (after a reference answer block for
# math and coding); a turn-2 row quotes the whole conversation, both questions and both answers, in either order
_ANSWER = r"(?s)\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]"
_QUESTION = r"(?s)\[Question\]\n(.*?)\n\n\[The Start of"
_CONVERSATION = (
    r"(?s)<\|The Start of Assistant A's Conversation with User\|>\n\n### User:\n(.*?)\n\n### Assistant A:\n(.*?)"
    r"\n\n### User:\n(.*?)\n\n### Assistant A:\n(.*?)\n\n<\|The End of Assistant A's Conversation with User\|>"
)


def _one(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise DataError(f"no {what} under {folder} (expected {pattern})")
    return found[0]


def _price_id(model_sql: str) -> str:
    cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in ROUTELLM_PRICE_IDS.items())
    return f"CASE {model_sql} {cases} ELSE {model_sql} END"


def _models(con: duckdb.DuckDBPyConnection, raw: str, file: Path) -> list[str]:
    """The per-model outcome columns of a wide MMLU/GSM8K file: every column but the prompt and responses."""
    cols = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    if "prompt" not in cols:
        raise DataError(
            f"{file} is not a RouteLLM outcomes file: it has no 'prompt' column (columns: {cols})"
        )
    models = [c for c in cols if c not in ("_row", "prompt") and not c.endswith("_response")]
    if len(models) < 2:
        raise DataError(f"{file} has {len(models)} model column(s) {models}; RouteLLM compares two models")
    return models


def _wide(
    con: duckdb.DuckDBPyConnection, file: Path, bench: str, task: str, item_prefix: str, f_pos: int
) -> list[str]:
    raw = read_table(con, file)
    cols = {r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()}
    out = []
    for m_pos, model in enumerate(_models(con, raw, file)):
        resp = f"{model}_response"
        out.append(
            long_select(
                raw,
                experiment=literal(f"routellm-{bench}"),
                _file=literal(file.name),
                _row="_row",
                _order=f"{m_pos} * 100000 + {f_pos}",
                item_id=f"{literal(item_prefix)} || (_row - 1)",
                prompt="prompt",
                task=literal(task),
                model=literal(model),
                score_raw=ident(model),
                score_col=literal(model),
                response=ident(resp) if resp in cols else "NULL",
                price_id=_price_id(literal(model)),
            )
        )
    return out


def _mt_bench(con: duckdb.DuckDBPyConnection, folder: Path, options: ImportOptions) -> str:
    """MT-Bench judgements, validated per judgement (1-10 scale), then one item per question and model: the mean
    of its turns' scores, the first turn's question as the prompt, both answers as the response, and the cost of
    both calls (turn 1: the question in, its answer out; turn 2: the first exchange and the second question in, the
    second answer out), with token counts estimated from those texts. Rows may come in either turn order."""
    judged = read_table(con, _one(folder, "judgements.jsonl*", "MT-Bench judgements"))
    cols = {r[0] for r in con.execute(f"DESCRIBE {judged}").fetchall()}
    need = {"question_id", "model", "score", "turn"}
    if not need <= cols:
        raise DataError(
            f"{folder}/judgements.jsonl lacks fields {sorted(need - cols)} (FastChat single-answer format)"
        )
    if "user_prompt" in cols:
        said = "j.user_prompt"

        def part(pattern: str, group: int) -> str:
            return f"nullif(regexp_extract({said}, {literal(pattern)}, {group}), '')"

        q1 = f"coalesce({part(_QUESTION, 1)}, {part(_CONVERSATION, 1)})"
        multi = f"{part(_CONVERSATION, 4)} IS NOT NULL"
        answer = f"CASE WHEN {multi} THEN {part(_CONVERSATION, 4)} ELSE {part(_ANSWER, 1)} END"
        context = (
            f"CASE WHEN {multi} THEN {part(_CONVERSATION, 1)} || {part(_CONVERSATION, 2)} || {part(_CONVERSATION, 3)}"
            f" ELSE {q1} END"
        )
    else:
        q1 = answer = context = "NULL"
    prompt, task, source = q1, literal("mt_bench"), f"{judged} j"
    questions = sorted(folder.glob("question.jsonl*"))
    if questions:
        q = read_table(con, questions[0])
        prompt = f"coalesce(json_extract_string(q.turns, '$[0]'), {q1})"
        task = "coalesce(q.category, 'mt_bench')"
        source = f"{judged} j LEFT JOIN {q} q ON q.question_id = j.question_id"
    turns = f"{judged}_turns"
    con.execute(
        f"CREATE TEMP VIEW {turns} AS "
        + long_select(
            source,
            experiment="'routellm-mt_bench'",
            _file=literal("judgements.jsonl"),
            _row="j._row",
            _order="0",
            item_id="'mt_bench.' || j.question_id || '.turn' || j.turn",
            prompt=prompt,
            task=task,
            model="j.model",
            score_raw="CASE WHEN trim(j.score) = '-1' THEN NULL ELSE j.score END",  # -1: the judge gave no rating
            score_col="'score'",
            response=answer,
            input_tokens_raw=f"CAST(greatest(1, ceil(length({context}) / 4)) AS VARCHAR)",
            output_tokens_raw=f"CAST(greatest(1, ceil(length({answer}) / 4)) AS VARCHAR)",
            price_id=_price_id("j.model"),
        )
    )
    per_turn, _ = validate(
        con, turns, f"{folder}/judgements.jsonl", ImportOptions(score_range=(1, 10), clip=options.clip)
    )
    view = f"{judged}_long"
    by_turn = "ORDER BY item_id"  # `.turn1` before `.turn2`, whatever order the rows came in
    con.execute(
        f"CREATE TEMP VIEW {view} AS "
        + long_select(
            f"(SELECT regexp_replace(item_id, '\\.turn[0-9]+$', '') AS item, model, min(_row) AS r, "
            f"CAST(avg(score) AS VARCHAR) AS s, first(prompt {by_turn}) AS p, first(task) AS t, "
            f"string_agg(response, '\n\n' {by_turn}) AS a, "
            f"CAST(sum(input_tokens) AS VARCHAR) AS tin, CAST(sum(output_tokens) AS VARCHAR) AS tout "
            f"FROM {per_turn} GROUP BY ALL)",
            experiment="'routellm-mt_bench'",
            _file=literal("judgements.jsonl"),
            _row="r",
            _order="0",
            item_id="item",
            prompt="p",
            task="t",
            model="model",
            score_raw="s",
            score_col="'score (mean of turns)'",
            response="a",
            input_tokens_raw="tin",
            output_tokens_raw="tout",
            tokens_estimated="true",
            price_id=_price_id("model"),
        )
    )
    return view


def routellm_builder(directory: str | Path, benchmarks: tuple[str, ...], options: ImportOptions) -> Builder:
    """A `Builder` (see `llmbench.imports.flow`) of RouteLLM's outcomes for the given benchmarks."""
    unknown = [b for b in benchmarks if b not in BENCHMARKS]
    if unknown or not benchmarks:
        raise DataError(f"unknown RouteLLM benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    root = Path(directory)
    if not root.exists():
        raise PUBLIC_DATA["routellm"].missing(root, "RouteLLM folder")
    evals = root / "evals" if (root / "evals").is_dir() else root

    def build(con: duckdb.DuckDBPyConnection) -> str:
        selects: list[str] = []
        f_pos = 0
        if "mmlu" in benchmarks:
            files = sorted((evals / "mmlu" / "responses").glob("mmlu_*.csv*"))
            if not files:
                raise DataError(f"no MMLU response files under {evals / 'mmlu' / 'responses'}")
            for f in files:
                subject = re.sub(r"^mmlu_|\.csv(\.gz)?$", "", f.name)
                selects += _wide(con, f, "mmlu", subject, f"mmlu.{subject}.", f_pos)
                f_pos += 1
        if "gsm8k" in benchmarks:
            f = _one(evals / "gsm8k", "gsm8k_responses.csv*", "gsm8k_responses.csv(.gz)")
            selects += _wide(con, f, "gsm8k", "gsm8k", "gsm8k.", f_pos)
        if "mt_bench" in benchmarks:
            selects.append(f"SELECT * FROM {_mt_bench(con, evals / 'mt_bench', options)}")
        view = f"_routellm{id(selects)}"
        con.execute(f"CREATE TEMP VIEW {view} AS {' UNION ALL '.join(selects)}")
        return view

    return build
