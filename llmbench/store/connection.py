"""Opening a store file (with errors that name who holds its lock) and the one transaction helper."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb

from llmbench.errors import StoreError, redact

__all__ = [
    "DEFAULT_STORE",
    "connect",
    "default_store_path",
    "is_postgres_url",
    "postgres_url",
    "store_label",
    "store_location",
    "transaction",
]

DEFAULT_STORE = "llmbench.duckdb"
_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def default_store_path() -> Path | str:
    """`$LLMBENCH_STORE` when set (a file, or a `postgresql://` URL), else ./llmbench.duckdb."""
    location = os.environ.get("LLMBENCH_STORE") or DEFAULT_STORE
    return location if is_postgres_url(location) else Path(location)


_SCHEMES = ("postgresql://", "postgres://")


def postgres_url(location: str | Path) -> str:
    """A store location as text; a `Path` made from a URL (typer and pydantic options) has lost a slash of `//`."""
    text = str(location)
    for scheme in _SCHEMES:
        single = scheme[:-1]
        if text.startswith(single) and not text.startswith(scheme):
            return scheme + text[len(single) :]
    return text


def is_postgres_url(location: str | Path | None) -> bool:
    """Whether a store location names a PostgreSQL database (`postgresql://...`) rather than a DuckDB file."""
    return location is not None and postgres_url(location).startswith(_SCHEMES)


def store_location(location: str | Path | None) -> Path | str:
    """Where a store is: a DuckDB file's path, or a PostgreSQL URL (None: `default_store_path()`)."""
    if location is None:
        return default_store_path()
    return postgres_url(location) if is_postgres_url(location) else Path(location)


def store_label(location: str | Path | None) -> str:
    """A store location to show or log: a URL's password redacted (`llmbench.errors.redact`)."""
    return redact(str(store_location(location)))


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN; COMMIT when the block ends, ROLLBACK (and re-raise) when it raises, Ctrl-C included."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `path`, or a `StoreError` that says who holds the file and what to do."""
    if read_only and not path.exists():
        raise StoreError(f"no run store at {path}; run `llmbench eval` first or pass the right path.")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise _lock_error(path, exc, read_only) from None
    except duckdb.ConnectionException as exc:
        raise StoreError(
            f"{path.name} is already open read-only in this process; close that Store before writing. ({exc})"
        ) from None
    except duckdb.Error as exc:
        raise StoreError(f"{path} is not a usable DuckDB run store: {exc}") from None


def _lock_error(path: Path, exc: Exception, read_only: bool) -> StoreError:
    """Turn DuckDB's lock message into one that names the holder and says what to do."""
    m = _LOCK_RE.search(str(exc))
    if m is None:
        return StoreError(f"cannot open the run store {path}: {exc}")
    who = f"PID {m['pid']} ({m['exe']})"
    if "read-only mode" in str(exc):  # DuckDB adds this hint only when the holder is a reader
        return StoreError(
            f"{path.name} is open read-only by {who}, e.g. a notebook; a writer needs the file alone: "
            "close it there (store.close() or restart the kernel) and retry, or write to another store "
            "file (LLMBENCH_STORE / --store)."
        )
    if read_only:
        return StoreError(
            f"{path.name} is being written by {who}; DuckDB lets no other process read a file while it is "
            "being written, so wait for that run to finish and open it read-only then, or have the run "
            "write to another store file (LLMBENCH_STORE / --store)."
        )
    return StoreError(
        f"{path.name} is being written by {who}; wait for it to finish (or stop it), or write to another "
        "store file (LLMBENCH_STORE / --store). Open it read-only once the writer is done."
    )
