"""Logged runs in long form (one row per prompt x model), or one row per prompt with a JSON object of scores.

    llmbench import runs judged.csv --score-range 1,10                      # columns guessed by name
    llmbench import runs logs.parquet --prompt-col question --model-col llm --score-col rating
    llmbench import runs matrix.json --prompt-col question --scores-col scores   # {"model": score, ...} per row

Column names are matched case-insensitively; a field without a flag is guessed from common names, and a
required field that cannot be found stops the import with the columns present and the flag to use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from llmbench.errors import DataError
from llmbench.imports.flow import Builder
from llmbench.imports.tables import ident, literal, read_table
from llmbench.imports.validate import long_select

__all__ = ["GUESSES", "Columns", "long_builder"]

# field -> column names tried, in order, when no flag names the column
GUESSES: dict[str, tuple[str, ...]] = {
    "item_id": ("item_id", "id", "question_id", "sample_id", "prompt_id", "uid", "idx"),
    "prompt": ("prompt", "question", "instruction", "query", "input", "user_prompt"),
    "model": ("model", "model_id", "model_name", "generator", "llm"),
    "score": ("score", "correct", "is_correct", "quality", "rating", "accuracy", "reward"),
    "cost_usd": ("cost_usd", "cost", "total_cost", "usd"),
    "input_tokens": ("input_tokens", "prompt_tokens", "tokens_in"),
    "output_tokens": ("output_tokens", "completion_tokens", "tokens_out"),
    "task": ("task", "category", "eval_name", "subject", "benchmark", "dataset"),
    "response": ("response", "output", "completion", "model_response", "generation", "model_output"),
    "latency_s": ("latency_s", "latency", "duration_s", "elapsed_s"),
    "epoch": ("epoch", "repeat", "sample_index"),
    "error": ("error", "error_class"),
}
FLAG = {
    "item_id": "--item-col",
    "prompt": "--prompt-col",
    "model": "--model-col",
    "score": "--score-col",
    "cost_usd": "--cost-col",
    "input_tokens": "--input-tokens-col",
    "output_tokens": "--output-tokens-col",
    "task": "--task-col",
    "response": "--response-col",
    "latency_s": "--latency-col",
    "epoch": "--epoch-col",
    "error": "--error-col",
}


@dataclass
class Columns:
    """Which column holds each field (None: guess it); `scores` names a column of {model: score} objects."""

    names: dict[str, str] = field(default_factory=dict)
    scores: str | None = None
    costs: str | None = None  # with `scores`: a column of {model: cost} objects
    task: str | None = None  # one task label for every row (instead of a task column)
    model: str | None = None  # one model name for every row (a file per model; instead of a model column)


def _resolve(
    cols: list[str], want: Columns, file: Path, barred: frozenset[str] = frozenset()
) -> dict[str, str]:
    lower = {c.lower(): c for c in cols if c not in barred}
    out: dict[str, str] = {}
    for name, given in want.names.items():
        if name not in GUESSES:
            raise DataError(f"unknown field {name!r}; fields are {', '.join(GUESSES)}")
        if given.lower() not in lower:
            raise DataError(f"{file} has no column {given!r} (for {FLAG[name]}); columns: {cols}")
        out[name] = lower[given.lower()]
    taken = set(out.values()) | {c for c in (want.scores, want.costs) if c}
    for name, guesses in GUESSES.items():
        if (
            name in out
            or (want.scores and name in ("model", "score", "cost_usd"))
            or (want.model and name == "model")
        ):
            continue
        hit = next((lower[g] for g in guesses if g in lower and lower[g] not in taken), None)
        if hit is not None:
            out[name] = hit
            taken.add(hit)
    if want.model is not None:
        if "model" in want.names:
            raise DataError(f"{file}: give the model as a column or as one name, not both")
        out.pop("model", None)
    required = ["prompt"] + ([] if want.scores else ["score"] + ([] if want.model else ["model"]))
    missing = [r for r in required if r not in out]
    if missing:
        flags = ", ".join(FLAG[m] for m in missing)
        raise DataError(
            f"{file}: cannot tell which column holds the {' and '.join(missing)}; name it with {flags} "
            f"(columns: {cols})"
        )
    return out


def long_builder(paths: Sequence[str | Path], experiment: str, columns: Columns | None = None) -> Builder:
    """A `Builder` (see `llmbench.imports.flow`) of long-form (or scores-object) files, one experiment."""
    want = columns or Columns()
    if not paths:
        raise DataError("give at least one file to import")

    taken: dict[str, str] = {}  # field -> the column it came from (the import report says)

    def build(con: duckdb.DuckDBPyConnection) -> str:
        selects = []
        for f_pos, path in enumerate(map(Path, paths)):
            raw = read_table(con, path)
            cols = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall() if r[0] != "_row"]
            for extra in (want.scores, want.costs):
                if extra and extra not in cols:
                    raise DataError(f"{path} has no column {extra!r}; columns: {cols}")
            got = _resolve(cols, want, path)
            barred: set[str] = set()
            while "prompt" not in want.names and (why := _answers_inside(con, raw, got)) is not None:
                barred.add(got["prompt"])  # a guess that would show the router the answers: try the next one
                try:
                    got = _resolve(cols, want, path, frozenset(barred))
                except DataError:
                    raise DataError(
                        f"{path}: column {got['prompt']!r} was the guess for the prompt, but {why}; name the "
                        f"prompt column with --prompt-col"
                    ) from None
            guessed = {f for f in got if f not in want.names}
            taken.update({f: f"{c!r}" + (" (guessed)" if f in guessed else "") for f, c in got.items()})
            col = {f: ident(c) for f, c in got.items()}
            prompt = col["prompt"]
            exprs = {
                "experiment": literal(experiment),
                "_file": literal(path.name),
                "_row": "_row",
                "_order": str(f_pos),
                "item_id": col.get("item_id", f"'p' || left(sha256({prompt}), 16)"),
                "prompt": prompt,
                "task": col.get("task", literal(want.task or experiment)),
                "epoch_raw": col.get("epoch", "NULL"),
                "input_tokens_raw": col.get("input_tokens", "NULL"),
                "output_tokens_raw": col.get("output_tokens", "NULL"),
                "latency_raw": col.get("latency_s", "NULL"),
                "response": col.get("response", "NULL"),
                "error": col.get("error", "NULL"),
            }
            if want.scores:
                source = _scores_source(con, raw, path, want)
                exprs.update(model="_model", score_raw="_score", score_col=literal(want.scores))
                if want.costs:
                    exprs.update(cost_raw="_cost", cost_col=literal(want.costs))
            else:
                source = raw
                model = literal(want.model) if want.model is not None else col["model"]
                exprs.update(model=model, score_raw=col["score"], score_col=literal(got["score"]))
                if "cost_usd" in col:
                    exprs.update(cost_raw=col["cost_usd"], cost_col=literal(got["cost_usd"]))
            selects.append(long_select(source, **exprs))
        view = f"_long{id(selects)}"
        con.execute(f"CREATE TEMP VIEW {view} AS {' UNION ALL '.join(selects)}")
        return view

    build.taken = taken  # type: ignore[attr-defined]
    return build


def _answers_inside(con: duckdb.DuckDBPyConnection, raw: str, got: dict[str, str]) -> str | None:
    """Why the guessed prompt column cannot be the prompt (None when it can): its text differs between the models
    of one item (it quotes each model's answer, as a judge's prompt does), or it contains the response column's
    text. Judged on most rows, so a few odd ones do not decide."""
    prompt = ident(got["prompt"])
    if "response" in got:
        response = ident(got["response"])
        inside = con.execute(
            f"SELECT avg(CASE WHEN length({response}) >= 20 AND contains({prompt}, {response}) THEN 1.0 ELSE 0 END) "
            f"FROM {raw} WHERE {response} IS NOT NULL"
        ).fetchone()
        if inside is not None and inside[0] is not None and inside[0] > 0.5:
            return f"its text contains the response column {got['response']!r} on most rows"
    if "item_id" in got and "model" in got:  # (a file of one model: nothing to compare)
        item, model = ident(got["item_id"]), ident(got["model"])
        alone = con.execute(
            f"WITH shared AS (SELECT {item} AS i, {prompt} AS p, count(DISTINCT {model}) AS m FROM {raw} GROUP BY ALL), "
            f"many AS (SELECT {item} AS i FROM {raw} GROUP BY ALL HAVING count(DISTINCT {model}) > 1) "
            f"SELECT avg(CASE WHEN m = 1 THEN 1.0 ELSE 0 END) FROM shared WHERE i IN (SELECT i FROM many)"
        ).fetchone()
        if alone is not None and alone[0] is not None and alone[0] > 0.5:
            return "its text differs between the models of one item (it quotes their answers, as a judge's prompt does)"
    return None


def _scores_source(con: duckdb.DuckDBPyConnection, raw: str, path: Path, want: Columns) -> str:
    """`raw` with one row per (row, model key) of its scores objects: columns _model, _score(, _cost)."""
    assert want.scores is not None
    scores = ident(want.scores)
    bad = con.execute(
        f"SELECT _row, {scores} FROM {raw} WHERE {scores} IS NOT NULL "
        f"AND (NOT json_valid({scores}) OR json_type({scores}) <> 'OBJECT') ORDER BY _row LIMIT 3"
    ).fetchall()
    if bad:
        shown = "; ".join(f"row {r}: {str(v)[:80]!r}" for r, v in bad)
        raise DataError(f"{path}: column {want.scores!r} must hold JSON objects {{model: score}}: {shown}")

    def member(column: str) -> str:
        path_sql = "'$.\"' || replace(_model, '\"', '\\\"') || '\"'"
        value = f"json_extract({column}, {path_sql})"
        return (
            f"CASE json_type({value}) WHEN 'VARCHAR' THEN json_extract_string({column}, {path_sql}) "
            f"WHEN 'NULL' THEN NULL ELSE CAST({value} AS VARCHAR) END"
        )

    cost = f", {member(ident(want.costs))} AS _cost" if want.costs else ""
    return (
        f"(SELECT *, {member(scores)} AS _score{cost} FROM "
        f"(SELECT *, unnest(json_keys({scores})) AS _model FROM {raw}))"
    )
