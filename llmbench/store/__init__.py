"""The run store: every experiment, dataset item, call attempt and score in one DuckDB file.

Open it with `Store.open(path=None, read_only=False)`; the default path is `$LLMBENCH_STORE` or
./llmbench.duckdb. One process may write a file at a time. While it writes, DuckDB lets NO other process open
the file, not even read-only: a second writer or a reader gets a `StoreError` naming the holder's PID. Several
read-only processes (notebooks) may share the file when nobody writes. Inside the writing process,
`Store.open(path, read_only=True)` returns a read-only view over the writer's connection.

Tables (schema version in `schema_version(version, description, applied_at)`; see `schema.py`):

- `experiments(id, name UNIQUE, created_at, config JSON [sanitised: no keys/tokens/secrets], config_hash,
  git_commit, package_versions JSON, source in native|simulated|imported)`
- `items(experiment_id, item_id, input JSON, prompt, reference JSON, task, metadata JSON)`, key
  (experiment_id, item_id)
- `calls`: one row per ATTEMPT, failed ones included: experiment_id, run_key, item_id, model_id, epoch,
  attempt, started_at (UTC), latency_s, input_tokens (uncached), cache_read_tokens, cache_write_tokens,
  output_tokens (incl. reasoning), reasoning_tokens, cost_usd, error_class, error_message (redacted),
  status_code, request_id, answered_model, stop_reason, response, final (the attempt that ended the call),
  simulated, cache_write_1h_tokens (the one-hour part of cache_write_tokens; schema version 3)
- `scores(experiment_id, run_key, item_id, model_id, epoch, scorer, value 0..1, explanation, is_primary,
  created_at)`

Resume: `run_key(...)` identifies an (item, model, epoch) run with what was sent; `finished_keys(experiment)`
are the keys whose final successful call and score are stored; `write_results` stores a key's attempts and
scores in one transaction, so a killed run leaves no half-finished key and a rerun adds no duplicates.
A commit costs about 10 ms (fsync); `llmbench.store.writer.StoreWriter` batches many runs into one transaction
from a thread of its own, and commits each attempt's intent row before the attempt is sent.
Times are naive UTC timestamps.
"""

from llmbench.store.frames import RUNS_COLUMNS
from llmbench.store.records import (
    CallRecord,
    ScoreRecord,
    call_records,
    git_commit,
    package_versions,
    run_key,
    sanitize_config,
    stable_hash,
)
from llmbench.store.schema import LATEST_VERSION, MIGRATIONS
from llmbench.store.store import Experiment, Store, default_store_path

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "RUNS_COLUMNS",
    "CallRecord",
    "Experiment",
    "ScoreRecord",
    "Store",
    "call_records",
    "default_store_path",
    "git_commit",
    "package_versions",
    "run_key",
    "sanitize_config",
    "stable_hash",
]
