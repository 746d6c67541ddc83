"""Provider batches in the run store: a batch is recorded (state `submitting`, with its requests) before the
provider is asked, so a crash at any point leaves a row that says what may be at the provider; its id and state
follow as they become known, and its results land with the state `collected` in one transaction."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from typing import Any

import pandas as pd

from llmbench.errors import StoreError, redact
from llmbench.store import writes
from llmbench.store.connection import transaction
from llmbench.store.provenance import now
from llmbench.store.rows import BatchRequestRow, BatchRow
from llmbench.store.store import Store

__all__ = ["OPEN_STATES", "BatchLog"]

OPEN_STATES = ("submitting", "submitted")  # at the provider (or maybe): their requests are not sent again


class BatchLog:
    """The batches of a store: record, update, list and look up."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _eid(self, experiment: str) -> int:
        exp = self.store.get_experiment(experiment)
        if exp is None:
            raise StoreError(f"no experiment {experiment!r} in {self.store.path.name}")
        return exp.id

    def record(self, experiment: str, batch: BatchRow, requests: list[BatchRequestRow]) -> None:
        """Store a batch about to be submitted, with its requests, in one transaction."""
        eid = self._eid(experiment)
        stamp = now()
        row = writes.values(batch, experiment_id=eid) | {"created_at": stamp, "updated_at": stamp}
        with self.store.writing() as con, transaction(con):
            writes.append(con, "batches", [row])
            writes.append(con, "batch_requests", [writes.values(r, experiment_id=eid) for r in requests])

    def update(self, experiment: str, batch_key: str, **fields: Any) -> None:
        """Set some columns of one batch (its id once known, state, the provider's status...)."""
        with self.store.writing() as con:
            update_sql(con, self._eid(experiment), batch_key, fields)

    def open(self, experiment: str) -> list[BatchRow]:
        """The experiment's batches that may be at the provider (submitting or submitted), oldest first."""
        return self._rows(
            "experiment_id = ? AND list_contains(?, state)", [self._eid(experiment), list(OPEN_STATES)]
        )

    def get(self, batch: str) -> tuple[str, BatchRow]:
        """(experiment name, batch) for a provider batch id or our batch key; StoreError when unknown."""
        with self.store.connection() as con:
            found = con.execute(
                "SELECT e.name, b.batch_key FROM batches b JOIN experiments e ON e.id = b.experiment_id "
                "WHERE b.batch_id = ? OR b.batch_key = ?",
                [batch, batch],
            ).fetchall()
        if not found:
            raise StoreError(f"no batch {batch!r} in {self.store.path.name}; `llmbench batches` lists them")
        name, key = found[0]
        return name, self._rows("experiment_id = ? AND batch_key = ?", [self._eid(name), key])[0]

    def _rows(self, where: str, params: list[Any]) -> list[BatchRow]:
        with self.store.connection() as con:
            frame = con.execute(
                f"SELECT * EXCLUDE (experiment_id) FROM batches WHERE {where} ORDER BY created_at", params
            ).df()
        frame = frame.astype(object).where(frame.notna(), None)
        return [BatchRow(**{str(k): v for k, v in rec.items()}) for rec in frame.to_dict("records")]

    def requests(self, experiment: str, batch_key: str) -> list[BatchRequestRow]:
        """The requests of one batch."""
        names = [f.name for f in fields(BatchRequestRow)]  # the row type's columns, by name, in any order
        with self.store.connection() as con:
            rows = con.execute(
                f"SELECT {', '.join(names)} FROM batch_requests WHERE experiment_id = ? AND batch_key = ?",
                [self._eid(experiment), batch_key],
            ).fetchall()
        return [BatchRequestRow(**dict(zip(names, r, strict=True))) for r in rows]

    def submissions(self, experiment: str) -> Counter[str]:
        """How many times each run key was handed to a provider (abandoned batches never reached one); a request
        of a batch the user cancelled counts twice, so it is not submitted again by itself."""
        with self.store.connection() as con:
            rows = con.execute(
                "SELECT r.run_key, sum(CASE WHEN b.state = 'cancelled' THEN 2 ELSE 1 END) FROM batch_requests r "
                "JOIN batches b USING (experiment_id, batch_key) WHERE r.experiment_id = ? AND b.state <> 'abandoned' "
                "GROUP BY r.run_key",
                [self._eid(experiment)],
            ).fetchall()
        return Counter({key: int(n) for key, n in rows})

    def open_keys(self, experiment: str) -> set[str]:
        """Run keys in batches that may still be at the provider."""
        return self._keys(experiment, "list_contains(?, b.state)", [list(OPEN_STATES)])

    def gone_keys(self, experiment: str) -> set[str]:
        """Run keys in ended batches whose results the provider no longer has (held until resubmitted by hand)."""
        return self._keys(experiment, "b.results_gone AND b.state <> 'abandoned'", [])

    def _keys(self, experiment: str, where: str, params: list[Any]) -> set[str]:
        with self.store.connection() as con:
            rows = con.execute(
                "SELECT r.run_key FROM batch_requests r JOIN batches b USING (experiment_id, batch_key) "
                f"WHERE r.experiment_id = ? AND {where}",
                [self._eid(experiment), *params],
            ).fetchall()
        return {r[0] for r in rows}

    def known_ids(self) -> set[str]:
        """Every provider batch id the store knows (so an id is never adopted twice)."""
        with self.store.connection() as con:
            return {
                r[0]
                for r in con.execute("SELECT batch_id FROM batches WHERE batch_id IS NOT NULL").fetchall()
            }

    def frame(self, experiment: str | None = None) -> pd.DataFrame:
        """Every batch (of one experiment, or all), newest first, with its experiment's name."""
        with self.store.connection() as con:
            return con.execute(
                "SELECT e.name AS experiment, b.* EXCLUDE (experiment_id) FROM batches b "
                "JOIN experiments e ON e.id = b.experiment_id WHERE ?::VARCHAR IS NULL OR e.name = ? "
                "ORDER BY b.created_at DESC",
                [experiment, experiment],
            ).df()


def update_sql(con: Any, eid: int, batch_key: str, fields: dict[str, Any]) -> None:
    """UPDATE one batch's columns (named by BatchRow fields) inside the caller's transaction, if any."""
    known = set(BatchRow.__dataclass_fields__)
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"batches has no column(s) {sorted(unknown)}")
    fields = {**fields, "updated_at": now()}
    if fields.get("detail"):
        fields["detail"] = redact(str(fields["detail"]))
    sets = ", ".join(f"{name} = ?" for name in fields)
    con.execute(
        f"UPDATE batches SET {sets} WHERE experiment_id = ? AND batch_key = ?",
        [*fields.values(), eid, batch_key],
    )
