"""Files into DuckDB: every supported format becomes a temp table of text columns plus its row numbers.

Reading everything as text keeps the original value of a bad cell for the error message, and leaves number
parsing to one place (`llmbench.imports.validate`), so "abc" or "True" in a score column is reported, never
silently turned into a missing value. Rows keep their file order: `_row` 1 is the first data row.
"""

from __future__ import annotations

import ast
import itertools
import threading
from pathlib import Path

import duckdb
from duckdb.func import FunctionNullHandling

from llmbench.errors import ConfigError, DataError

__all__ = ["FORMATS", "ident", "literal", "literal_text", "read_table", "register_literal_text"]

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".pkl": "pickle",
    ".pickle": "pickle",
}
_names = itertools.count()


def ident(name: str) -> str:
    """A SQL identifier for any column name (quotes, pipes and spaces included)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL string literal (None -> NULL)."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def file_format(path: Path) -> str:
    """The format of a data file from its name (`.gz` compression is transparent)."""
    name = path.name.lower().removesuffix(".gz")
    fmt = FORMATS.get(Path(name).suffix)
    if fmt is None:
        raise DataError(
            f"{path}: unknown file type; use CSV/TSV, Parquet, JSON Lines or a JSON array "
            f"(suffixes {', '.join(sorted(FORMATS))}, optionally .gz)"
        )
    return fmt


def read_table(con: duckdb.DuckDBPyConnection, path: str | Path, *, trust_pickle: bool = False) -> str:
    """Load one file into a new temp table of VARCHAR columns plus `_row` (1-based, file order); its name."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    fmt = file_format(path)
    name = f"_raw{next(_names)}"
    src = literal(str(path))
    try:
        if fmt == "csv":
            delim = "\t" if ".tsv" in path.name.lower() else None
            opts = ", delim=" + literal(delim) if delim else ""
            query = f"SELECT * FROM read_csv({src}, all_varchar=true, header=true{opts})"
        elif fmt == "parquet":
            query = f"SELECT * FROM read_parquet({src})"
        elif fmt == "pickle":
            query = _pickle_query(con, path, trust_pickle)
        else:
            query = _json_query(con, src, fmt)
        # CREATE TABLE AS keeps insertion order, so rowid is the file order
        con.execute(f"CREATE TEMP TABLE {name}_in AS {query}")
    except duckdb.Error as exc:
        raise DataError(f"cannot read {path} as {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    columns = [c for c, _ in _columns(con, f"{name}_in")]
    texts = ", ".join(f"{_as_text(con, f'{name}_in', c)} AS {ident(c)}" for c in columns)
    con.execute(
        f"CREATE TEMP TABLE {name} AS SELECT rowid + 1 AS _row, {texts} FROM {name}_in ORDER BY rowid"
    )
    con.execute(f"DROP TABLE {name}_in")
    if not con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]:
        raise DataError(f"{path}: no data rows (an empty file, or only a header); nothing to import")
    return name


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _as_text(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    kind = dict(_columns(con, table))[column]
    if kind.startswith(("STRUCT", "MAP")) or kind.endswith("[]"):
        return f"CAST(to_json({ident(column)}) AS VARCHAR)"  # nested values as JSON text
    return f"CAST({ident(column)} AS VARCHAR)"


def _json_query(con: duckdb.DuckDBPyConnection, src: str, fmt: str) -> str:
    """One column per top-level key (the first object's keys first), values as text: strings unquoted,
    everything else (numbers, booleans, objects, lists) as its JSON text."""
    layout = "newline_delimited" if fmt == "jsonl" else "auto"
    objects = f"read_json_objects({src}, format={literal(layout)})"
    every = {r[0] for r in con.execute(f"SELECT DISTINCT unnest(json_keys(json)) FROM {objects}").fetchall()}
    first = con.execute(f"SELECT json_keys(json) FROM {objects} LIMIT 1").fetchall()
    head = [k for k in (first[0][0] or [] if first else []) if k in every]
    keys = head + sorted(every - set(head))
    if not keys:
        return f"SELECT NULL::VARCHAR AS _empty FROM {objects} WHERE false"
    cols = []
    for k in keys:
        path = literal("$." + _json_key(k))
        cols.append(
            f"CASE json_type(json, {path}) WHEN 'VARCHAR' THEN json_extract_string(json, {path}) WHEN 'NULL' THEN NULL "
            f"ELSE CAST(json_extract(json, {path}) AS VARCHAR) END AS {ident(k)}"
        )
    return f"SELECT {', '.join(cols)} FROM {objects}"


def _json_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'


def _pickle_query(con: duckdb.DuckDBPyConnection, path: Path, trust: bool) -> str:
    if not trust:
        raise ConfigError(
            f"{path} is a pickle, which can run arbitrary code when loaded; convert it to CSV/Parquet, "
            "or pass --trust-pickle (trust_pickle=True) if you trust its source"
        )
    import pandas as pd

    try:
        frame = pd.read_pickle(path)
    except Exception as exc:  # a pickle can raise anything while loading
        raise DataError(f"cannot read pickle {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"pickle {path} holds a {type(frame).__name__}, not a table (DataFrame)")
    view = f"_pickle{next(_names)}"
    con.register(view, frame.reset_index(drop=True))
    return f"SELECT * FROM {view}"


# DuckDB calls Python UDFs from several threads; CPython before 3.11.8 keeps the ast module's recursion counter
# per interpreter, not per thread, so two parses at once can fail with "AST constructor recursion depth mismatch"
# (CPython gh-106905). One parse at a time.
_AST_LOCK = threading.Lock()


def literal_text(value: str | None) -> str | None:
    """RouterBench-style text stored as a Python list literal (`"['part one', 'part two']"`), joined by newlines;
    any other text as it is. Parsed with `ast.literal_eval`, never executed."""
    if value is None:
        return None
    if not (value.startswith(("[", "'", '"')) and value.endswith(("]", "'", '"'))):
        return value
    try:
        with _AST_LOCK:
            parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value
    if isinstance(parsed, list | tuple):
        return "\n".join(str(p) for p in parsed)
    return str(parsed)


def register_literal_text(con: duckdb.DuckDBPyConnection) -> None:
    """Make `literal_text(VARCHAR)` callable from SQL on this connection (once)."""
    try:
        con.create_function(
            "literal_text", literal_text, ["VARCHAR"], "VARCHAR", null_handling=FunctionNullHandling.SPECIAL
        )
    except duckdb.Error as exc:  # already registered on this connection
        if "already" not in str(exc):
            raise
