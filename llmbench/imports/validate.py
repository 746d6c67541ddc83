"""The one validation layer every importer shares, in SQL over a "long" view (one row per prompt x model).

A reader builds a view with the columns of `LONG_COLUMNS` (values as text, as found in the file); `validate`
checks it and returns the name of a typed `runs` view plus an `ImportReport`, or raises one `DataError` that
counts the problems and names the first few by file, row, column and value:

- every row needs an item id (or prompt), a prompt and a model; a (prompt, model, epoch) appears once;
- a score is a number (or true/false throughout), in [0, 1] unless rescaled with `score_range` (1-10 judge
  scores: `(1, 10)`), or a small excursion clamped with `clip`;
- a cost is a finite, non-negative number; token counts whole and non-negative; latency non-negative;
- an empty file is an error; missing scores and costs are allowed, counted and reported.

Costs missing from the file are priced from the price table (`cost_basis` says how: tokens from the file,
tokens estimated from text as ceil(chars / 4), or the prompt alone when nothing tells the output length);
a model without a price keeps cost NULL and is named in the report.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from llmbench.errors import DataError
from llmbench.imports.tables import literal
from llmbench.providers.pricing import PriceTable

__all__ = ["CLIP_LIMIT", "LONG_COLUMNS", "ImportOptions", "ImportReport", "long_select", "validate"]

LONG_COLUMNS = (
    "experiment",
    "_file",
    "_row",
    "_order",
    "item_id",
    "prompt",
    "task",
    "model",
    "epoch_raw",
    "score_raw",
    "score_col",
    "cost_raw",
    "cost_col",
    "input_tokens_raw",
    "output_tokens_raw",
    "latency_raw",
    "response",
    "error",
    "split",
    "price_id",
    "tokens_estimated",  # true: the token columns are estimates from text (a cost from them is 'estimated')
)
CLIP_LIMIT = 0.1  # --clip clamps scores at most this far outside [0, 1]; further out is another scale
_NA = ("", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>")
_SHOWN = 5
_names = itertools.count()


@dataclass(frozen=True)
class ImportOptions:
    """How to read scores and attach costs."""

    score_range: tuple[float, float] | None = None  # rescale (x - lo) / (hi - lo), e.g. (1, 10) for judges
    clip: bool = False  # clamp scores up to CLIP_LIMIT outside [0, 1]
    prices: PriceTable | None = None  # for costs missing from the file
    assume_output_tokens: int | None = None  # per call, when the file holds neither counts nor response text
    price_missing: bool = True  # price rows without a cost from the price table (False: leave them unknown)


@dataclass
class ImportReport:
    """What an import found: sizes, missing values, how each model's costs were obtained, what was changed."""

    source: str
    rows: int = 0
    prompts: int = 0
    experiments: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    missing_scores: dict[str, int] = field(default_factory=dict)
    missing_costs: dict[str, int] = field(default_factory=dict)
    cost_basis: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> basis -> rows
    rescaled: tuple[float, float] | None = None
    clipped: int = 0
    unpriced: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file column it came from

    def lines(self) -> list[str]:
        """The report as short human-readable lines (what the CLI prints)."""
        out = [f"{self.rows} rows: {self.prompts} prompts x {len(self.models)} models from {self.source}"]
        if self.columns:
            out.append("columns: " + ", ".join(f"{f} <- {c}" for f, c in self.columns.items()))
        if self.rescaled:
            lo, hi = self.rescaled
            out.append(f"scores rescaled from [{lo:g}, {hi:g}] to [0, 1]")
        if self.clipped:
            out.append(f"{self.clipped} scores slightly outside [0, 1] clamped into it (--clip)")
        for label, counts in (("scores", self.missing_scores), ("costs", self.missing_costs)):
            missing = {m: n for m, n in counts.items() if n}
            if missing:
                shown = ", ".join(f"{m} {n}" for m, n in missing.items())
                out.append(f"missing {label} (kept as unknown): {shown}")
        notes = {
            "priced": "tokens from the file priced by the price table",
            "estimated": "token counts ESTIMATED from text (ceil(chars/4)) and priced by the price table",
            "prompt_only": "PROMPT-ONLY cost: no output tokens or response text, so the answer is not priced",
        }
        for basis, why in notes.items():
            models = [m for m, b in self.cost_basis.items() if b.get(basis)]
            if models:
                out.append(f"{', '.join(models)}: {why}")
        if self.unpriced:
            out.append(
                f"no price known for {', '.join(self.unpriced)}: their costs are unknown. Price them with "
                "--price-file (YAML: models: {'<name>': {input: USD/Mtok, output: USD/Mtok}})"
            )
        return out


def long_select(table: str, **exprs: str) -> str:
    """A SELECT over `table` with every column of LONG_COLUMNS (SQL expressions given, NULL for the rest)."""
    cols = [f"{exprs.pop(c, 'NULL')} AS {c}" for c in LONG_COLUMNS]
    if exprs:
        raise ValueError(f"not long-view columns: {sorted(exprs)}")
    return f"SELECT {', '.join(cols)} FROM {table}"


def _present(col: str) -> str:
    # lower() copies its string: only short cells can be a missing-value token, so long prompts skip it
    return (
        f"({col} IS NOT NULL AND CASE WHEN length({col}) > 32 THEN trim({col}) <> '' "
        f"ELSE lower(trim({col})) NOT IN ({', '.join(map(literal, _NA))}) END)"
    )


def _number(col: str) -> str:
    return f"CASE WHEN {_present(col)} THEN TRY_CAST(trim({col}) AS DOUBLE) END"


def _bad_number(col: str, extra: str = "") -> str:
    n = _number(col)
    return f"({_present(col)} AND ({n} IS NULL OR NOT isfinite({n}){extra}))"


def _tokens(text: str) -> str:
    return f"CASE WHEN {text} IS NOT NULL THEN greatest(1, ceil(length({text}) / 4))::BIGINT END"


@dataclass(frozen=True)
class _Rule:
    """Rows of a view matching `where` break `rule`; `column`/`value` quote them, `fix` says what to do."""

    where: str
    column: str
    value: str
    rule: str
    fix: str


class _Checker:
    """Counts the rows of a view that break a rule and quotes the first few."""

    def __init__(self, con: duckdb.DuckDBPyConnection, view: str, source: str) -> None:
        self.con, self.view, self.source = con, view, source

    def check_all(self, rules: Sequence[_Rule]) -> None:
        """Raise for the first rule (in order) that some row breaks. One query per rule: one aggregate of every
        rule was no faster and peaked at 3.6 GB instead of 1.25 GB on a 1M-row import."""
        for rule in rules:
            total = self.con.execute(f"SELECT count(*) FROM {self.view} WHERE {rule.where}").fetchall()[0][0]
            if total:
                self._raise(rule, total)

    def check(self, where: str, column: str, value: str, rule: str, fix: str) -> None:
        """One rule."""
        self.check_all([_Rule(where, column, value, rule, fix)])

    def _raise(self, r: _Rule, total: int) -> None:
        rows = self.con.execute(
            f"SELECT _file, _row, model, {r.column}, {r.value} FROM {self.view} WHERE {r.where} "
            f"ORDER BY _file, _row, _order LIMIT {_SHOWN}"
        ).fetchall()
        shown = "; ".join(
            f"{f} row {row} (column {c!r}{f', model {m}' if m is not None else ''}): {v!r}"
            for f, row, m, c, v in rows
        )
        more = f" (first {_SHOWN} shown)" if total > _SHOWN else ""
        raise DataError(
            f"{self.source}: {total} {r.rule}{more}: {shown}. {r.fix} (rows count from 1 after the header; "
            "JSON Lines: line numbers)"
        )


def validate(
    con: duckdb.DuckDBPyConnection, long: str, source: str, options: ImportOptions | None = None
) -> tuple[str, ImportReport]:
    """Check the long view; return (name of the typed runs view, report) or raise DataError (see module doc)."""
    options = options or ImportOptions()
    report = ImportReport(source=source)
    chk = _Checker(con, long, source)
    # a score column whose values are all true/false reads as 1/0; any other column must hold numbers
    bool_cols = [
        r[0]
        for r in con.execute(
            f"SELECT score_col FROM {long} WHERE {_present('score_raw')} GROUP BY score_col "
            "HAVING bool_and(lower(trim(score_raw)) IN ('true', 'false'))"
        ).fetchall()
    ]
    is_bool = f"(score_col IN ({', '.join(map(literal, bool_cols))}))" if bool_cols else "false"
    rules = [
        _Rule(f"NOT {_present(col)}", literal(col), col, f"rows without {what}", f"Every row needs {what}.")
        for col, what in (
            ("model", "a model name"),
            ("item_id", "an item id or prompt"),
            ("prompt", "a prompt"),
        )
    ]
    rules.append(
        _Rule(
            f"NOT {is_bool} AND {_bad_number('score_raw')}",
            "score_col",
            "score_raw",
            "scores are not numbers",
            "Scores must be numbers (or true/false throughout a column); fix or blank these cells",
        )
    )
    rules.append(
        _Rule(
            _bad_number("cost_raw", f" OR {_number('cost_raw')} < 0"),
            "cost_col",
            "cost_raw",
            "costs are negative, infinite or not numbers",
            "A cost is a finite number of USD >= 0; blank it if it is unknown",
        )
    )
    for col in ("input_tokens_raw", "output_tokens_raw", "epoch_raw"):
        n = _number(col)
        rules.append(
            _Rule(
                _bad_number(col, f" OR {n} < 0 OR {n} <> floor({n})"),
                literal(col.removesuffix("_raw")),
                col,
                f"{col.removesuffix('_raw')} values are not whole numbers >= 0",
                "Fix or blank these cells",
            )
        )
    rules.append(
        _Rule(
            _bad_number("latency_raw", f" OR {_number('latency_raw')} < 0"),
            literal("latency_s"),
            "latency_raw",
            "latencies are not numbers of seconds >= 0",
            "Fix or blank these cells",
        )
    )
    report.rows = con.execute(f"SELECT count(*) FROM {long}").fetchall()[0][0]
    if not report.rows:
        raise DataError(f"{source}: no data rows (an empty file, or only a header); nothing to import")
    chk.check_all(rules)
    score = (
        f"CASE WHEN {is_bool} THEN (CASE lower(trim(score_raw)) WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END) "
        f"ELSE {_number('score_raw')} END"
    )
    if options.score_range is not None:
        lo, hi = map(float, options.score_range)
        if not hi > lo:
            raise DataError(f"--score-range needs LO < HI, got {lo:g},{hi:g}")
        score = f"(({score}) - {lo!r}) / {hi - lo!r}"
        report.rescaled = (lo, hi)
    scaled = f"_scaled{next(_names)}"
    con.execute(f"CREATE TEMP VIEW {scaled} AS SELECT *, {score} AS score FROM {long}")
    eps = 1e-9
    outside = f"(score < {-eps!r} OR score > {1 + eps!r})"
    limit = CLIP_LIMIT if options.clip else 0.0
    range_fix = (
        "Rescale scores on another scale with --score-range LO,HI (e.g. --score-range 1,10 for judge scores)"
        + ("" if options.clip else ", or clamp small excursions into [0, 1] with --clip")
    )
    _Checker(con, scaled, source).check(
        f"(score < {-limit - eps!r} OR score > {1 + limit + eps!r})",
        "score_col",
        "score",
        "scores lie outside [0, 1]" + (f" by more than --clip's {CLIP_LIMIT:g}" if options.clip else ""),
        range_fix,
    )
    if options.clip:
        report.clipped = con.execute(f"SELECT count(*) FROM {scaled} WHERE {outside}").fetchall()[0][0]
    runs = _typed_view(con, scaled, options, report)
    counted = f"(SELECT *, count(*) OVER (PARTITION BY experiment, item_id, model, epoch) AS _n FROM {runs})"
    _Checker(con, counted, source).check(
        "_n > 1",
        literal("item_id/prompt, model"),
        "item_id",
        "rows repeat the same (prompt, model, epoch)",
        "Each prompt has one row per model (and epoch); remove the duplicates or give them an epoch column",
    )
    _summarise(con, runs, report)
    return runs, report


def _typed_view(
    con: duckdb.DuckDBPyConnection, scaled: str, options: ImportOptions, report: ImportReport
) -> str:
    """The runs view: typed numbers, clamped scores, and costs from the file or the price table."""
    rates = f"_rates{next(_names)}"
    need = con.execute(
        f"SELECT DISTINCT coalesce(price_id, model) FROM {scaled} WHERE NOT {_present('cost_raw')}"
    ).fetchall()
    table = options.prices or PriceTable()
    priced = {p: table.token_rates(p) for (p,) in need} if options.price_missing else {}
    con.execute(f"CREATE TEMP TABLE {rates} (price_id VARCHAR, rate_in DOUBLE, rate_out DOUBLE)")
    rows = [(p, r[0], r[1]) for p, r in priced.items() if r is not None]
    if rows:
        con.executemany(f"INSERT INTO {rates} VALUES (?, ?, ?)", rows)
    in_tok, out_tok = _number("input_tokens_raw"), _number("output_tokens_raw")
    assumed = "NULL" if options.assume_output_tokens is None else str(int(options.assume_output_tokens))
    est_in, est_out = _tokens("prompt"), f"coalesce({_tokens('response')}, {assumed})"
    runs = f"_runs{next(_names)}"
    con.execute(
        f"""CREATE TEMP VIEW {runs} AS
        WITH t AS (
            SELECT s.*, {_number("cost_raw")} AS cost0, {in_tok}::BIGINT AS in0, {out_tok}::BIGINT AS out0,
                   r.rate_in, r.rate_out
            FROM {scaled} s LEFT JOIN {rates} r ON r.price_id = coalesce(s.price_id, s.model)
        ),
        c AS (
            SELECT *,
                CASE WHEN cost0 IS NOT NULL THEN 'logged'
                     WHEN {_present("error")} OR NOT {options.price_missing} THEN NULL  -- not priced: unknown
                     WHEN rate_in IS NULL THEN 'unpriced'
                     WHEN in0 IS NOT NULL AND out0 IS NOT NULL
                     THEN CASE WHEN coalesce(TRY_CAST(tokens_estimated AS BOOLEAN), false) THEN 'estimated'
                               ELSE 'priced' END
                     WHEN out0 IS NULL AND {est_out} IS NULL THEN 'prompt_only'
                     ELSE 'estimated' END AS cost_basis,
                in0, out0
            FROM t
        ),
        e AS (  -- token counts: the file's, else the estimate a price was computed from
            SELECT *,
                coalesce(in0, CASE WHEN cost_basis IN ('estimated', 'prompt_only') THEN {est_in} END) AS input_tokens,
                coalesce(out0, CASE WHEN cost_basis = 'estimated' THEN {est_out} END) AS output_tokens
            FROM c
        )
        SELECT experiment, _file, _row, _order, item_id, prompt, task, model,
               coalesce({_number("epoch_raw")}, 0)::BIGINT AS epoch,
               CASE WHEN score < 0 THEN 0.0 WHEN score > 1 THEN 1.0 ELSE score END AS score,  -- greatest() skips NULLs
               CASE WHEN cost_basis = 'logged' THEN cost0
                    WHEN cost_basis IN ('priced', 'estimated', 'prompt_only')
                    THEN input_tokens * rate_in + coalesce(output_tokens, 0) * rate_out END AS cost_usd,
               input_tokens, output_tokens, {_number("latency_raw")} AS latency_s, response, error,
               split, cost_basis
        FROM e"""
    )
    report.unpriced = sorted(p for p, r in priced.items() if r is None)
    return runs


def _summarise(con: duckdb.DuckDBPyConnection, runs: str, report: ImportReport) -> None:
    rows = con.execute(
        f"SELECT model, min(_order) AS o, count(*) FILTER (WHERE score IS NULL), "
        f"count(*) FILTER (WHERE cost_usd IS NULL) FROM {runs} GROUP BY model ORDER BY o"
    ).fetchall()
    report.models = [r[0] for r in rows]
    report.missing_scores = {r[0]: r[2] for r in rows}
    report.missing_costs = {r[0]: r[3] for r in rows}
    for model, basis, n in con.execute(
        f"SELECT model, cost_basis, count(*) FROM {runs} GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        report.cost_basis.setdefault(model, {})[basis] = n
    report.prompts = con.execute(f"SELECT count(DISTINCT (experiment, item_id)) FROM {runs}").fetchall()[0][0]
    report.experiments = [
        r[0] for r in con.execute(f"SELECT DISTINCT experiment FROM {runs} ORDER BY 1").fetchall()
    ]
