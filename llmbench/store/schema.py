"""The run store's schema as numbered migrations.

Each migration is a list of SQL statements applied in one transaction together with its row in
`schema_version`, so a crash leaves the file at the previous version, never half-way. Statements use
`IF NOT EXISTS`, so re-running one is harmless. To change the schema, append a new `Migration` (never edit
an old one): stores written by older versions upgrade the next time they are opened for writing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, a description and the SQL it runs."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "experiments, items, calls (one row per attempt) and scores",
        (
            "CREATE SEQUENCE IF NOT EXISTS experiment_ids START 1",
            """CREATE TABLE IF NOT EXISTS experiments (
                id INTEGER PRIMARY KEY DEFAULT nextval('experiment_ids'),
                name VARCHAR NOT NULL UNIQUE,
                created_at TIMESTAMP NOT NULL,
                config JSON,
                config_hash VARCHAR,
                git_commit VARCHAR,
                package_versions JSON,
                source VARCHAR NOT NULL CHECK (source IN ('native', 'simulated', 'imported'))
            )""",
            """CREATE TABLE IF NOT EXISTS items (
                experiment_id INTEGER NOT NULL,
                item_id VARCHAR NOT NULL,
                input JSON,
                prompt VARCHAR,
                reference JSON,
                task VARCHAR,
                metadata JSON,
                PRIMARY KEY (experiment_id, item_id)
            )""",
            """CREATE TABLE IF NOT EXISTS calls (
                experiment_id INTEGER NOT NULL,
                run_key VARCHAR NOT NULL,
                item_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                epoch INTEGER NOT NULL DEFAULT 0,
                attempt INTEGER NOT NULL DEFAULT 1,
                started_at TIMESTAMP,
                latency_s DOUBLE,
                input_tokens BIGINT,
                cache_read_tokens BIGINT,
                cache_write_tokens BIGINT,
                output_tokens BIGINT,
                reasoning_tokens BIGINT,
                cost_usd DOUBLE,
                error_class VARCHAR,
                error_message VARCHAR,
                status_code INTEGER,
                request_id VARCHAR,
                answered_model VARCHAR,
                stop_reason VARCHAR,
                response VARCHAR,
                final BOOLEAN NOT NULL DEFAULT FALSE,
                simulated BOOLEAN NOT NULL DEFAULT FALSE
            )""",
            """CREATE TABLE IF NOT EXISTS scores (
                experiment_id INTEGER NOT NULL,
                run_key VARCHAR NOT NULL,
                item_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                epoch INTEGER NOT NULL DEFAULT 0,
                scorer VARCHAR NOT NULL,
                value DOUBLE,
                explanation VARCHAR,
                is_primary BOOLEAN NOT NULL DEFAULT TRUE,
                created_at TIMESTAMP
            )""",
        ),
    ),
    Migration(
        2,
        "tool_steps: every model turn, tool call, limit hit and error of tool-using conversations",
        (
            # One row per step; (experiment, conversation, step) is unique so a repeated write adds nothing.
            """CREATE TABLE IF NOT EXISTS tool_steps (
                experiment_id INTEGER NOT NULL,
                item_id VARCHAR NOT NULL,
                conversation_id VARCHAR NOT NULL,
                step INTEGER NOT NULL,
                turn INTEGER NOT NULL,
                kind VARCHAR NOT NULL CHECK (kind IN ('model_turn', 'tool_call', 'limit', 'error')),
                model_id VARCHAR,
                text VARCHAR,
                stop_reason VARCHAR,
                tool_name VARCHAR,
                tool_call_id VARCHAR,
                arguments JSON,
                raw_arguments VARCHAR,
                result VARCHAR,
                is_error BOOLEAN NOT NULL DEFAULT FALSE,
                error_kind VARCHAR,
                duration_s DOUBLE,
                truncated BOOLEAN NOT NULL DEFAULT FALSE,
                traceback VARCHAR,
                input_tokens BIGINT,
                output_tokens BIGINT,
                cost_usd DOUBLE,
                detail VARCHAR,
                started_at TIMESTAMP,
                PRIMARY KEY (experiment_id, conversation_id, step)
            )""",
        ),
    ),
    Migration(
        3,
        "calls.cache_write_1h_tokens: the one-hour share of cache writes (priced higher than 5-minute ones)",
        ("ALTER TABLE calls ADD COLUMN IF NOT EXISTS cache_write_1h_tokens BIGINT",),
    ),
    Migration(
        4,
        "calls.cost_basis: how an imported cost was obtained (logged, priced, estimated, prompt_only, unpriced)",
        ("ALTER TABLE calls ADD COLUMN IF NOT EXISTS cost_basis VARCHAR",),
    ),
    Migration(
        5,
        "intents: every attempt recorded before it is sent; one left behind is a call sent with its outcome unknown",
        (
            """CREATE TABLE IF NOT EXISTS intents (
                experiment_id INTEGER NOT NULL,
                intent_id VARCHAR NOT NULL,
                run_key VARCHAR NOT NULL,
                item_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                epoch INTEGER NOT NULL DEFAULT 0,
                attempt INTEGER NOT NULL DEFAULT 1,
                sent_at TIMESTAMP,
                est_cost_usd DOUBLE,
                PRIMARY KEY (experiment_id, intent_id)
            )""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

SCHEMA_VERSION_DDL = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
)"""

# Column order of the two append-heavy tables, shared by the writers in store.py.
CALL_COLUMNS: tuple[str, ...] = (
    "experiment_id",
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
    "cache_write_1h_tokens",
    "cost_basis",
)
SCORE_COLUMNS: tuple[str, ...] = (
    "experiment_id",
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
ITEM_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "item_id",
    "input",
    "prompt",
    "reference",
    "task",
    "metadata",
)
INTENT_COLUMNS: tuple[str, ...] = (
    "experiment_id", "intent_id", "run_key", "item_id", "model_id", "epoch", "attempt", "sent_at", "est_cost_usd",
)  # fmt: skip
TOOL_STEP_COLUMNS: tuple[str, ...] = (
    "experiment_id",
    "item_id",
    "conversation_id",
    "step",
    "turn",
    "kind",
    "model_id",
    "text",
    "stop_reason",
    "tool_name",
    "tool_call_id",
    "arguments",
    "raw_arguments",
    "result",
    "is_error",
    "error_kind",
    "duration_s",
    "truncated",
    "traceback",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "detail",
    "started_at",
)
