"""The run store: every experiment, dataset item, call attempt and score in one DuckDB file.

Open it with `Store.open(path=None, read_only=False)`; the default path is `$LLMBENCH_STORE` or
./llmbench.duckdb. One process may write a file at a time. While it writes, DuckDB lets NO other process open
the file, not even read-only: a second writer or a reader gets a `StoreError` naming the holder's PID. Several
read-only processes (notebooks) may share the file when nobody writes. Inside the writing process,
`Store.open(path, read_only=True)` returns a read-only view over the writer's connection.

Tables: one row type per table in `rows.py` is the only source of its columns (types, constraints, which text
is redacted); `migrations.py` builds the numbered migrations from them (schema version in
`schema_version(version, description, applied_at)`). `experiments` (config sanitised: no keys), `items`,
`calls` (one row per ATTEMPT, failed ones included), `scores`, `tool_steps` and `intents` (attempts sent whose
outcome is not stored yet).

Resume: `run_key(...)` identifies an (item, model, epoch) run with what was sent; `finished_keys(experiment)`
are the keys whose final successful call and score are stored; `write_results` stores a key's attempts and
scores in one transaction, so a killed run leaves no half-finished key and a rerun adds no duplicates.
A commit costs about 10 ms (fsync); `llmbench.store.writer.StoreWriter` batches many runs into one transaction
from a thread of its own, and commits each attempt's intent row before the attempt is sent.
Times are naive UTC timestamps.
"""

from llmbench.store.connection import default_store_path
from llmbench.store.frames import RUNS_COLUMNS
from llmbench.store.migrations import LATEST_VERSION, MIGRATIONS
from llmbench.store.provenance import git_commit, package_versions, run_key, sanitize_config, stable_hash
from llmbench.store.rows import CallRecord, Experiment, IntentRecord, ItemRow, ScoreRecord, ToolStep
from llmbench.store.store import Store
from llmbench.store.writer import call_records

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "RUNS_COLUMNS",
    "CallRecord",
    "Experiment",
    "IntentRecord",
    "ItemRow",
    "ScoreRecord",
    "Store",
    "ToolStep",
    "call_records",
    "default_store_path",
    "git_commit",
    "package_versions",
    "run_key",
    "sanitize_config",
    "stable_hash",
]
