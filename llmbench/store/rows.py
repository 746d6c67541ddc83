"""The run store's tables as row types: each dataclass below is the one source of its table's columns.

A field's SQL type and constraints sit in its metadata (`col(...)`); the DDL (`Table.ddl`), the inserts (by name,
`INSERT ... BY NAME`) and the readers all derive from the dataclass, so adding a column is one field here plus one
numbered migration (`Table.add_column` in `migrations.py`). Every table but `experiments` also has a leading
`experiment_id INTEGER NOT NULL` column that the store fills in; the row types leave it out.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, get_args

__all__ = [
    "TABLES",
    "BatchRequestRow",
    "BatchRow",
    "CallRecord",
    "Experiment",
    "IntentRecord",
    "ItemRow",
    "ScoreRecord",
    "Table",
    "ToolStep",
    "col",
]

StepKind = Literal["model_turn", "tool_call", "limit", "error"]
STEP_KINDS = get_args(StepKind)
# submitting: recorded before the provider was asked (a crash here leaves an id to look for); submitted: the provider
# holds it; collected: its results are in `calls`; cancelled; abandoned: never reached the provider, requests free
BatchState = Literal["submitting", "submitted", "collected", "cancelled", "abandoned"]
BATCH_STATES = get_args(BatchState)


def col(
    sql: str,
    default: Any = None,
    *,
    null: bool = True,
    sql_default: str | None = None,
    check: str | None = None,
    unique: bool = False,
    redacted: bool = False,
    required: bool = False,
) -> Any:
    """A dataclass field carrying its column: SQL type, NOT NULL, DEFAULT, CHECK, UNIQUE; `redacted` text goes
    through `llmbench.errors.redact` on its way in; `required`: the field has no Python default."""
    meta = {
        "sql": sql,
        "null": null,
        "sql_default": sql_default,
        "check": check,
        "unique": unique,
        "redacted": redacted,
    }
    return field(metadata=meta) if required else field(default=default, metadata=meta)


@dataclass(frozen=True)
class Experiment:
    """One experiment: its name, config (sanitised: no keys), provenance and source."""

    id: int = col("INTEGER", 0, sql_default="nextval('experiment_ids')", null=False)
    name: str = col("VARCHAR", "", null=False, unique=True)
    created_at: datetime | None = col("TIMESTAMP", null=False)
    config: dict[str, Any] | None = col("JSON")
    config_hash: str | None = col("VARCHAR")
    git_commit: str | None = col("VARCHAR")
    package_versions: dict[str, str] | None = col("JSON")
    source: str = col("VARCHAR", "native", null=False, check="source IN ('native', 'simulated', 'imported')")
    # fingerprint of the last complete plan (migration 7): a rerun skips at once
    plan: str | None = col("VARCHAR")
    planned: int | None = col("BIGINT")  # how many runs that plan had


@dataclass
class ItemRow:
    """One dataset item of an experiment (input, reference and metadata as JSON text)."""

    item_id: str = col("VARCHAR", required=True, null=False)
    input: Any = col("JSON")
    prompt: str | None = col("VARCHAR")
    reference: Any = col("JSON")
    task: str | None = col("VARCHAR")
    metadata: dict[str, Any] | None = col("JSON")


@dataclass
class CallRecord:
    """One attempt of one (item, model, epoch) run; `final` marks the attempt that ended the call."""

    run_key: str = col("VARCHAR", required=True, null=False)
    item_id: str = col("VARCHAR", required=True, null=False)
    model_id: str = col("VARCHAR", required=True, null=False)
    epoch: int = col("INTEGER", 0, null=False, sql_default="0")
    attempt: int = col("INTEGER", 1, null=False, sql_default="1")
    started_at: float | datetime | None = col("TIMESTAMP")
    latency_s: float | None = col("DOUBLE")
    input_tokens: int | None = col("BIGINT")  # uncached prompt tokens
    cache_read_tokens: int | None = col("BIGINT")
    cache_write_tokens: int | None = col("BIGINT")
    output_tokens: int | None = col("BIGINT")  # reasoning included
    reasoning_tokens: int | None = col("BIGINT")
    cost_usd: float | None = col("DOUBLE")
    error_class: str | None = col("VARCHAR")
    error_message: str | None = col("VARCHAR", redacted=True)
    status_code: int | None = col("INTEGER")
    request_id: str | None = col("VARCHAR")
    answered_model: str | None = col("VARCHAR")
    stop_reason: str | None = col("VARCHAR")
    response: str | None = col("VARCHAR", redacted=True)
    final: bool = col("BOOLEAN", False, null=False, sql_default="FALSE")
    simulated: bool = col("BOOLEAN", False, null=False, sql_default="FALSE")
    cache_write_1h_tokens: int | None = col("BIGINT")  # the one-hour part of cache_write_tokens (migration 3)
    cost_basis: str | None = col("VARCHAR")  # imports: how the cost was obtained (migration 4)
    # `router:` models (migration 6): the model each attempt went to, and the policy's decision on the final row
    attempt_model: str | None = col("VARCHAR")
    route_policy: str | None = col("VARCHAR")  # the policy file's sha256
    route_chosen: str | None = col("VARCHAR")  # the model the policy ranked first
    route_fallback: int | None = col("INTEGER")  # 0: the chosen model answered; n: the n-th fallback did
    route_expected_quality: float | None = col("DOUBLE")
    route_expected_cost: float | None = col("DOUBLE")

    @property
    def ok(self) -> bool:
        """Whether this attempt succeeded."""
        return self.error_class is None


@dataclass
class ScoreRecord:
    """A scorer's verdict on a finished run; `is_primary` marks the score `runs_frame` shows by default."""

    run_key: str = col("VARCHAR", required=True, null=False)
    item_id: str = col("VARCHAR", required=True, null=False)
    model_id: str = col("VARCHAR", required=True, null=False)
    epoch: int = col("INTEGER", 0, null=False, sql_default="0")
    scorer: str = col("VARCHAR", "", null=False)
    value: float | None = col("DOUBLE")
    explanation: str | None = col("VARCHAR", "", redacted=True)
    is_primary: bool = col("BOOLEAN", True, null=False, sql_default="TRUE")
    created_at: datetime | None = col("TIMESTAMP")


@dataclass
class IntentRecord:
    """An attempt about to be sent: stored before the request leaves, removed when its outcome is stored."""

    intent_id: str = col("VARCHAR", required=True, null=False)
    run_key: str = col("VARCHAR", required=True, null=False)
    item_id: str = col("VARCHAR", required=True, null=False)
    model_id: str = col("VARCHAR", required=True, null=False)
    epoch: int = col("INTEGER", 0, null=False, sql_default="0")
    attempt: int = col("INTEGER", 1, null=False, sql_default="1")
    sent_at: float | datetime | None = col("TIMESTAMP")
    est_cost_usd: float | None = col("DOUBLE")


@dataclass(frozen=True)
class ToolStep:
    """One logged step of a tool conversation: a model turn, a tool call, a limit hit or an error."""

    conversation_id: str = col("VARCHAR", required=True, null=False)
    step: int = col("INTEGER", required=True, null=False)
    turn: int = col("INTEGER", required=True, null=False)
    kind: StepKind = col("VARCHAR", required=True, null=False, check=f"kind IN {STEP_KINDS}")
    model_id: str | None = col("VARCHAR", required=True)
    started_at: float | datetime | None = col("TIMESTAMP", required=True)
    duration_s: float = col("DOUBLE", 0.0)
    text: str | None = col("VARCHAR", redacted=True)  # model turns
    stop_reason: str | None = col("VARCHAR")
    input_tokens: int | None = col("BIGINT")
    output_tokens: int | None = col("BIGINT")
    cost_usd: float | None = col("DOUBLE")
    tool_name: str | None = col("VARCHAR")  # tool calls
    tool_call_id: str | None = col("VARCHAR")
    arguments: dict[str, Any] | None = col("JSON", redacted=True)
    raw_arguments: str | None = col("VARCHAR", redacted=True)
    result: str | None = col("VARCHAR", redacted=True)
    is_error: bool = col("BOOLEAN", False, null=False, sql_default="FALSE")
    error_kind: str | None = col("VARCHAR")
    truncated: bool = col("BOOLEAN", False, null=False, sql_default="FALSE")
    traceback: str | None = col("VARCHAR", redacted=True)  # the log only, never sent to the model
    detail: str | None = col("VARCHAR", redacted=True)  # limits and errors


@dataclass
class BatchRow:
    """One provider batch (`llmbench eval --batch`): what it holds, where it stands, what it cost."""

    # ours; also the batch's metadata token at OpenAI
    batch_key: str = col("VARCHAR", required=True, null=False)
    provider: str = col("VARCHAR", required=True, null=False)
    model_id: str = col("VARCHAR", required=True, null=False)
    state: BatchState = col("VARCHAR", "submitting", null=False, check=f"state IN {BATCH_STATES}")
    requests: int = col("BIGINT", 0, null=False)
    round: int = col("INTEGER", 1, null=False)  # 1: first submission; 2: failed requests submitted again
    # what the budget counts until the batch is collected
    est_cost_usd: float = col("DOUBLE", 0.0, null=False)
    created_at: float | datetime | None = col("TIMESTAMP")
    updated_at: float | datetime | None = col("TIMESTAMP")
    batch_id: str | None = col("VARCHAR")  # the provider's id, once it answered
    input_file_id: str | None = col("VARCHAR")  # OpenAI's uploaded request file
    provider_status: str | None = col("VARCHAR")  # as the provider last reported it
    succeeded: int | None = col("BIGINT")
    failed: int | None = col("BIGINT")  # errored, expired and cancelled requests
    cost_usd: float | None = col("DOUBLE")  # the collected answers' cost, at the batch rate
    detail: str | None = col("VARCHAR", redacted=True)
    # the batch ended but the provider no longer has its results (deleted after 30 days, a 404 on the download,
    # no result file): final; its requests are sent again only by `llmbench batches resubmit` (migration 9)
    results_gone: bool | None = col("BOOLEAN", False, sql_default="FALSE")


@dataclass
class BatchRequestRow:
    """One request of a batch: its run key (the `custom_id`) and which run it is."""

    batch_key: str = col("VARCHAR", required=True, null=False)
    run_key: str = col("VARCHAR", required=True, null=False)
    item_id: str = col("VARCHAR", required=True, null=False)
    model_id: str = col("VARCHAR", required=True, null=False)
    epoch: int = col("INTEGER", 0, null=False, sql_default="0")
    est_cost_usd: float = col("DOUBLE", 0.0, null=False)


@dataclass(frozen=True)
class Table:
    """A table: its name, row type, whether it carries `experiment_id`, and its primary key."""

    name: str
    row: type
    per_experiment: bool = True
    key: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()  # VARCHAR NOT NULL columns the store fills, not in the row type

    def columns(self) -> list[str]:
        """Every column, in table order."""
        lead = ["experiment_id"] if self.per_experiment else []
        return [*lead, *self.extra, *(f.name for f in fields(self.row))]

    def column_sql(self, name: str) -> str:
        """One column's definition, e.g. `epoch INTEGER NOT NULL DEFAULT 0`."""
        if name == "experiment_id":
            return "experiment_id INTEGER NOT NULL"
        if name in self.extra:
            return f"{name} VARCHAR NOT NULL"
        m = next(f for f in fields(self.row) if f.name == name).metadata
        parts = [name, m["sql"]]
        if not m["null"]:
            parts.append("NOT NULL")
        if m["unique"]:
            parts.append("UNIQUE")
        if m["check"]:
            parts.append(f"CHECK ({m['check']})")
        if m["sql_default"] is not None:
            parts.append(f"DEFAULT {m['sql_default']}")
        return " ".join(parts)

    def create(self, columns: tuple[str, ...]) -> str:
        """CREATE TABLE IF NOT EXISTS with the columns a migration names (frozen there: a field added to the row
        type later never changes an old migration) after the columns the store fills; a name the row type does
        not have is an error."""
        known = {f.name for f in fields(self.row)}
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f"{self.name} has no field(s) {unknown} in {self.row.__name__}")
        lead = [c for c in self.columns() if c not in known]
        defs = [self.column_sql(c) for c in (*lead, *columns)]
        if self.key:
            defs.append(f"PRIMARY KEY ({', '.join(self.key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    " + ",\n    ".join(defs) + "\n)"

    def add_column(self, name: str) -> str:
        """ALTER TABLE ... ADD COLUMN IF NOT EXISTS for one column of the row type (a migration's statement)."""
        return f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {self.column_sql(name)}"


TABLES = {
    "experiments": Table("experiments", Experiment, per_experiment=False, key=("id",)),
    "items": Table("items", ItemRow, key=("experiment_id", "item_id")),
    "calls": Table("calls", CallRecord),
    "scores": Table("scores", ScoreRecord),
    "tool_steps": Table(
        "tool_steps", ToolStep, key=("experiment_id", "conversation_id", "step"), extra=("item_id",)
    ),
    "intents": Table("intents", IntentRecord, key=("experiment_id", "intent_id")),
    "batches": Table("batches", BatchRow, key=("experiment_id", "batch_key")),
    "batch_requests": Table("batch_requests", BatchRequestRow, key=("experiment_id", "batch_key", "run_key")),
}


def defaults(row: type) -> dict[str, Any]:
    """Field name -> Python default (MISSING when required)."""
    return {f.name: f.default for f in fields(row) if f.default is not MISSING}
