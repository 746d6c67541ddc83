"""The run store's schema as numbered migrations, their statements built from the row types in `rows.py`.

Each migration runs in one transaction together with its row in `schema_version`, so a crash leaves the file at
the previous version, never half-way. Statements use `IF NOT EXISTS`, so re-running one is harmless. To change
the schema, add the field to its row type and append a `Migration` here (never edit an old one): a new column is
`TABLES["calls"].add_column("name")`, a new table `TABLES["name"].create((...its columns...))`. Column lists are
written out, so history never changes when a row type grows; `tests/store/test_store.py` checks that the
migrations together create exactly the row types' columns.
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


# Each table's columns as the migration that created it made them: frozen, never derived from today's row types.
_EXPERIMENTS_V1 = (
    "id",
    "name",
    "created_at",
    "config",
    "config_hash",
    "git_commit",
    "package_versions",
    "source",
)
_ITEMS_V1 = ("item_id", "input", "prompt", "reference", "task", "metadata")
_CALLS_V1 = (
    "run_key",
    "item_id",
    "model_id",
    "epoch",
    "attempt",
    "started_at",
    "latency_s",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "error_class",
    "error_message",
    "status_code",
    "request_id",
    "answered_model",
    "stop_reason",
    "response",
    "final",
    "simulated",
)
_SCORES_V1 = (
    "run_key",
    "item_id",
    "model_id",
    "epoch",
    "scorer",
    "value",
    "explanation",
    "is_primary",
    "created_at",
)
_TOOL_STEPS_V2 = (
    "conversation_id",
    "step",
    "turn",
    "kind",
    "model_id",
    "started_at",
    "duration_s",
    "text",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "tool_name",
    "tool_call_id",
    "arguments",
    "raw_arguments",
    "result",
    "is_error",
    "error_kind",
    "truncated",
    "traceback",
    "detail",
)
_INTENTS_V5 = ("intent_id", "run_key", "item_id", "model_id", "epoch", "attempt", "sent_at", "est_cost_usd")
_BATCHES_V8 = (
    "batch_key",
    "provider",
    "model_id",
    "state",
    "requests",
    "round",
    "est_cost_usd",
    "created_at",
    "updated_at",
    "batch_id",
    "input_file_id",
    "provider_status",
    "succeeded",
    "failed",
    "cost_usd",
    "detail",
)
_BATCH_REQUESTS_V8 = ("batch_key", "run_key", "item_id", "model_id", "epoch", "est_cost_usd")
_ROUTING_V6 = (
    "attempt_model",
    "route_policy",
    "route_chosen",
    "route_fallback",
    "route_expected_quality",
    "route_expected_cost",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "experiments, items, calls (one row per attempt) and scores",
        (
            "CREATE SEQUENCE IF NOT EXISTS experiment_ids START 1",
            TABLES["experiments"].create(_EXPERIMENTS_V1),
            TABLES["items"].create(_ITEMS_V1),
            TABLES["calls"].create(_CALLS_V1),
            TABLES["scores"].create(_SCORES_V1),
        ),
    ),
    Migration(
        2,
        "tool_steps: every model turn, tool call, limit hit and error of tool-using conversations",
        (TABLES["tool_steps"].create(_TOOL_STEPS_V2),),
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
        (TABLES["intents"].create(_INTENTS_V5),),
    ),
    Migration(
        6,
        "calls: routing (router: models): attempt_model, route_policy, route_chosen, route_fallback, expected figures",
        tuple(TABLES["calls"].add_column(c) for c in _ROUTING_V6),
    ),
    Migration(
        7,
        "experiments.plan, planned: the fingerprint and size of the last completed plan, so a finished rerun is O(1)",
        (TABLES["experiments"].add_column("plan"), TABLES["experiments"].add_column("planned")),
    ),
    Migration(
        8,
        "batches, batch_requests: provider batches of `llmbench eval --batch`, their state and requests",
        (TABLES["batches"].create(_BATCHES_V8), TABLES["batch_requests"].create(_BATCH_REQUESTS_V8)),
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
