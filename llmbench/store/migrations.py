"""The run store's schema as numbered migrations, their statements built from the row types in `rows.py`.

Each migration runs in one transaction together with its row in `schema_version`, so a crash leaves the file at
the previous version, never half-way. Statements use `IF NOT EXISTS`, so re-running one is harmless. To change
the schema, add the field to its row type and append a `Migration` here (never edit an old one): a new column is
`calls.add_column("name")`; a table created by an earlier migration lists the later columns in `without`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from llmbench.store.connection import transaction
from llmbench.store.provenance import now
from llmbench.store.rows import TABLES

__all__ = ["LATEST_VERSION", "MIGRATIONS", "SCHEMA_VERSION_DDL", "Migration", "migrate", "version_of"]


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, a description and the SQL it runs."""

    version: int
    description: str
    statements: tuple[str, ...]


_LATER_CALLS = (  # added by migrations 3, 4 and 6
    "cache_write_1h_tokens", "cost_basis", "attempt_model", "route_policy", "route_chosen", "route_fallback",
    "route_expected_quality", "route_expected_cost",
)  # fmt: skip

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "experiments, items, calls (one row per attempt) and scores",
        (
            "CREATE SEQUENCE IF NOT EXISTS experiment_ids START 1",
            TABLES["experiments"].ddl(without=("plan", "planned")),
            TABLES["items"].ddl(),
            TABLES["calls"].ddl(without=_LATER_CALLS),
            TABLES["scores"].ddl(),
        ),
    ),
    Migration(
        2,
        "tool_steps: every model turn, tool call, limit hit and error of tool-using conversations",
        (TABLES["tool_steps"].ddl(),),
    ),
    Migration(
        3,
        "calls.cache_write_1h_tokens: the one-hour share of cache writes (priced higher than 5-minute ones)",
        (TABLES["calls"].add_column("cache_write_1h_tokens"),),
    ),
    Migration(
        4,
        "calls.cost_basis: how an imported cost was obtained (logged, priced, estimated, prompt_only, unpriced)",
        (TABLES["calls"].add_column("cost_basis"),),
    ),
    Migration(
        5,
        "intents: every attempt recorded before it is sent; one left behind is a call sent with its outcome unknown",
        (TABLES["intents"].ddl(),),
    ),
    Migration(
        6,
        "calls: routing (router: models): attempt_model, route_policy, route_chosen, route_fallback, expected figures",
        tuple(TABLES["calls"].add_column(c) for c in _LATER_CALLS[2:]),
    ),
    Migration(
        7,
        "experiments.plan, planned: the fingerprint and size of the last completed plan, so a finished rerun is O(1)",
        (TABLES["experiments"].add_column("plan"), TABLES["experiments"].add_column("planned")),
    ),
    Migration(
        8,
        "batches, batch_requests: provider batches of `llmbench eval --batch`, their state and requests",
        (TABLES["batches"].ddl(without=("results_gone",)), TABLES["batch_requests"].ddl()),
    ),
    Migration(
        9,
        "batches.results_gone: an ended batch whose results the provider no longer has (final, never resubmitted)",
        (TABLES["batches"].add_column("results_gone"),),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

SCHEMA_VERSION_DDL = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
)"""


def version_of(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to the file behind `con` (0 for a new file)."""
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply every migration newer than the file's version, each in its own transaction."""
    con.execute(SCHEMA_VERSION_DDL)
    current = version_of(con)
    for m in MIGRATIONS:
        if m.version <= current:
            continue
        with transaction(con):
            for statement in m.statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [m.version, m.description, now()])
