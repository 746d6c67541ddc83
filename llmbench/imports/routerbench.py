"""RouterBench's wide files: one row per prompt, one score column per model, `<model>|total_cost` and
`<model>|model_response` beside it; prompts and responses stored as Python list literals.

CSV, Parquet, or the official pickle only with `trust_pickle` (unpickling can run code). A file or a folder of
them; `_train`/`_test` in a file name becomes the `split` column.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from llmbench.errors import DataError
from llmbench.imports.flow import Builder
from llmbench.imports.tables import ident, literal, read_table, register_literal_text
from llmbench.imports.validate import long_select
from llmbench.public_data import PUBLIC_DATA

__all__ = ["routerbench_builder"]

_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pkl", ".pickle")
_NEEDED = ("sample_id", "prompt", "eval_name")
# Columns of the wide layout that are not per-model scores; the unnamed index column has several spellings.
_NOT_MODELS = {"sample_id", "prompt", "eval_name", "oracle_model_to_route_to", "split", "_row"}
_INDEX = re.compile(r"^(|Unnamed: 0|column0+|index)$")
_MODELS_AT = 100_000  # _order = model position * this + file position: model-major output, file order inside


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(_SUFFIXES))
        if not files:
            raise DataError(f"no RouterBench .csv, .csv.gz, .parquet or .pkl files in {path}")
        return files
    if path.is_file():
        return [path]
    raise PUBLIC_DATA["routerbench"].missing(
        path, "RouterBench path (a CSV/Parquet file or a folder of them)"
    )


def _split_of(name: str) -> str | None:
    stem = re.sub(r"\.(csv(\.gz)?|parquet|pkl|pickle)$", "", name.lower())
    return next((s for s in ("train", "test", "val", "dev") if stem.endswith("_" + s)), None)


def routerbench_builder(path: str | Path, experiment: str, *, trust_pickle: bool = False) -> Builder:
    """A `Builder` (see `llmbench.imports.flow`) of RouterBench's wide files at `path`."""

    def build(con: duckdb.DuckDBPyConnection) -> str:
        register_literal_text(con)
        parts, models = [], []
        for f_pos, file in enumerate(_files(Path(path))):
            raw = read_table(con, file, trust_pickle=trust_pickle)
            columns = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
            missing = [c for c in _NEEDED if c not in columns]
            if missing:
                raise DataError(f"{file} is not a RouterBench file: missing columns {missing}")
            these = [c for c in columns if c not in _NOT_MODELS and "|" not in c and not _INDEX.match(c)]
            if not these:
                raise DataError(f"{file} has no per-model score columns; is it a RouterBench file?")
            label = next((c for c in columns if _INDEX.match(c)), "_row")
            models += [m for m in these if m not in models]
            parts.append((f_pos, file, raw, set(columns), label))
        rb = f"{parts[0][2]}_rb"
        # one table of all files, the prompt parsed once per row; a sample_id repeated with different rows
        # (malformed upstream data) gets its row label appended
        unions = " UNION ALL BY NAME ".join(
            f"SELECT {f_pos} AS _f, {literal(file.name)} AS _file, {literal(_split_of(file.name))} AS split, "
            f"CAST({ident(label)} AS VARCHAR) AS _label, * FROM {raw}"
            for f_pos, file, raw, _, label in parts
        )
        have = set().union(*(cols for *_, cols, _ in parts))
        # every text parsed once, here: the long view below is read several times (checks, then each table)
        responses = {m: f"_response{n}" for n, m in enumerate(models) if f"{m}|model_response" in have}
        parsed = "".join(
            f", literal_text({ident(m + '|model_response')}) AS {c}" for m, c in responses.items()
        )
        con.execute(
            f"CREATE TEMP TABLE {rb} AS SELECT *, literal_text(prompt) AS _prompt{parsed}, "
            f"count(*) OVER (PARTITION BY sample_id) AS _dup FROM ({unions})"
        )
        item = "CASE WHEN _dup > 1 THEN sample_id || '@' || _label ELSE sample_id END"
        selects = []
        for m_pos, model in enumerate(models):
            cost = f"{model}|total_cost"
            selects.append(
                long_select(
                    rb,
                    experiment=literal(experiment),
                    _file="_file",
                    _row="_row",
                    _order=f"{m_pos * _MODELS_AT} + _f",
                    item_id=item,
                    prompt="_prompt",
                    task="eval_name",
                    model=literal(model),
                    score_raw=ident(model),
                    score_col=literal(model),
                    cost_raw=ident(cost) if cost in have else "NULL",
                    cost_col=literal(cost),
                    response=responses.get(model, "NULL"),
                    split="split",
                )
            )
        view = f"{rb}_long"
        con.execute(f"CREATE TEMP VIEW {view} AS {' UNION ALL '.join(selects)}")
        return view

    return build
