"""Rows out: the store's read-side SQL (`$1` a list of experiment names or NULL for all; `$2` a scorer or NULL)
and the experiment reader."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields

import duckdb

from llmbench.store.rows import Experiment

__all__ = [
    "ATTEMPTS",
    "CALLS",
    "EXPERIMENTS",
    "FINISHED_KEYS",
    "ITEMS",
    "RUNS",
    "SCORES",
    "SPENT",
    "TOOL_STEPS",
    "experiment",
    "names",
]

FINISHED_KEYS = """
SELECT DISTINCT c.run_key FROM calls c
WHERE c.experiment_id = ? AND c.final AND c.error_class IS NULL
  AND c.run_key IN (SELECT run_key FROM scores WHERE experiment_id = ?)
"""

SPENT = """
SELECT (SELECT coalesce(sum(cost_usd), 0) FROM calls WHERE experiment_id = ?),
       count(*), coalesce(sum(est_cost_usd), 0)
FROM intents WHERE experiment_id = ?
"""

_SELECTED = "sel AS (SELECT id, name FROM experiments WHERE $1::VARCHAR[] IS NULL OR list_contains($1::VARCHAR[], name))"

EXPERIMENTS = """
SELECT e.id, e.name, e.created_at, e.source, e.config_hash, e.git_commit,
       (SELECT count(*) FROM items i WHERE i.experiment_id = e.id) AS items,
       (SELECT count(*) FROM calls c WHERE c.experiment_id = e.id) AS calls,
       (SELECT count(DISTINCT c.model_id) FROM calls c WHERE c.experiment_id = e.id) AS models,
       (SELECT sum(c.cost_usd) FROM calls c WHERE c.experiment_id = e.id) AS cost_usd,
       (SELECT count(*) FROM intents n WHERE n.experiment_id = e.id) AS unknown_outcome,
       (SELECT sum(n.est_cost_usd) FROM intents n WHERE n.experiment_id = e.id) AS unknown_cost_usd,
       e.config, e.package_versions
FROM experiments e ORDER BY e.id
"""

ITEMS = f"""
WITH {_SELECTED}
SELECT sel.name AS experiment, i.item_id, i.task, i.prompt, i.input, i.reference, i.metadata
FROM items i JOIN sel ON i.experiment_id = sel.id
ORDER BY sel.id, i.item_id
"""

CALLS = f"""
WITH {_SELECTED}
SELECT sel.name AS experiment, c.* EXCLUDE (experiment_id)
FROM calls c JOIN sel ON c.experiment_id = sel.id
ORDER BY sel.id, c.rowid
"""

SCORES = f"""
WITH {_SELECTED}
SELECT sel.name AS experiment, s.* EXCLUDE (experiment_id)
FROM scores s JOIN sel ON s.experiment_id = sel.id
ORDER BY sel.id, s.rowid
"""

ATTEMPTS = f"""
WITH {_SELECTED}
SELECT sel.name AS experiment, c.model_id AS model, count(*) AS attempts,
       count(c.error_class) AS failed_attempts
FROM calls c JOIN sel ON c.experiment_id = sel.id
GROUP BY ALL
"""

# The final call of each (item, model, epoch): a successful one first, then the latest. Cost covers every
# attempt of that run key, retries included; tokens, latency and response are the final call's.
RUNS = f"""
WITH {_SELECTED},
fin AS (
    SELECT c.*, row_number() OVER (
        PARTITION BY c.experiment_id, c.item_id, c.model_id, c.epoch
        ORDER BY (c.error_class IS NULL) DESC, c.started_at DESC NULLS LAST, c.rowid DESC) AS rn
    FROM calls c JOIN sel ON c.experiment_id = sel.id
    WHERE c.final
),
spent AS (
    SELECT c.experiment_id, c.run_key, sum(c.cost_usd) AS cost
    FROM calls c JOIN sel ON c.experiment_id = sel.id
    GROUP BY ALL
),
sc AS (
    SELECT s.experiment_id, s.run_key, s.value
    FROM scores s JOIN sel ON s.experiment_id = sel.id
    WHERE CASE WHEN $2::VARCHAR IS NULL THEN s.is_primary ELSE s.scorer = $2::VARCHAR END
    QUALIFY row_number() OVER (PARTITION BY s.experiment_id, s.run_key ORDER BY s.rowid DESC) = 1
)
SELECT sel.name AS experiment, f.item_id, i.prompt, i.task, f.model_id AS model, f.epoch,
       sc.value AS score,
       CASE WHEN f.error_class IS NULL AND f.cost_usd IS NULL THEN NULL ELSE spent.cost END AS cost_usd,
       CASE WHEN f.input_tokens IS NULL THEN NULL
            ELSE f.input_tokens + coalesce(f.cache_read_tokens, 0) + coalesce(f.cache_write_tokens, 0)
       END AS input_tokens,
       f.output_tokens, f.latency_s, f.response, f.error_class AS error, f.cost_basis
FROM fin f
JOIN sel ON f.experiment_id = sel.id
LEFT JOIN items i ON i.experiment_id = f.experiment_id AND i.item_id = f.item_id
LEFT JOIN spent ON spent.experiment_id = f.experiment_id AND spent.run_key = f.run_key
LEFT JOIN sc ON sc.experiment_id = f.experiment_id AND sc.run_key = f.run_key
WHERE f.rn = 1
ORDER BY sel.id, f.item_id, model, f.epoch
"""

# Conversations in the order they began, each one's steps in order.
TOOL_STEPS = f"""
WITH {_SELECTED}
SELECT sel.name AS experiment, t.* EXCLUDE (experiment_id)
FROM tool_steps t JOIN sel ON t.experiment_id = sel.id
ORDER BY sel.id, min(t.started_at) OVER (PARTITION BY t.experiment_id, t.conversation_id), t.conversation_id, t.step
"""

_EXPERIMENT_FIELDS = [f for f in fields(Experiment)]


def experiment(con: duckdb.DuckDBPyConnection, name: str) -> Experiment | None:
    """The experiment called `name`, or None (JSON columns parsed)."""
    columns = ", ".join(f.name for f in _EXPERIMENT_FIELDS)
    # fetchall: DuckDB keeps a fetchone() result open and blocks the connection
    rows = con.execute(f"SELECT {columns} FROM experiments WHERE name = ?", [name]).fetchall()
    if not rows:
        return None
    kwargs = {
        f.name: json.loads(v) if f.metadata["sql"] == "JSON" and v is not None else v
        for f, v in zip(_EXPERIMENT_FIELDS, rows[0], strict=True)
    }
    return Experiment(**kwargs)


def names(experiments: str | Sequence[str] | None) -> list[str] | None:
    """The `$1` parameter: a list of experiment names, or None for all."""
    if experiments is None:
        return None
    return [experiments] if isinstance(experiments, str) else list(experiments)
