"""MLflow plumbing shared by eval and router logging: one parent run per llmbench experiment and kind, one nested
run per model (or router/baseline) with the same metric keys, so MLflow's compare view lines them up.

A re-run that changed nothing logs nothing (a fingerprint of what would be logged is kept on the parent run);
params are write-once in MLflow, so a resumed experiment whose settings moved records the new values as tags.
MLflow is imported inside the functions that need it, because importing it takes seconds.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench.errors import redact
from llmbench.mlflow_uri import DEFAULT_TRACKING_URI, global_tracking_uri, tracking_uri

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = [
    "DEFAULT_MLFLOW_EXPERIMENT",
    "DEFAULT_TRACKING_URI",
    "EXPERIMENT_TAG",
    "KIND_TAG",
    "Parent",
    "client_for",
    "config_hash",
    "find_run",
    "global_tracking_uri",
    "log_metrics",
    "metric_safe",
    "sanitize_config",
    "tracking_uri",
]

DEFAULT_MLFLOW_EXPERIMENT = "llmbench"  # where runs go that belong to no llmbench experiment
EXPERIMENT_TAG = "llmbench.experiment_id"
KIND_TAG = "llmbench.kind"
CHILD_TAG = "llmbench.child"
FINGERPRINT_TAG = "llmbench.fingerprint"
_UNSAFE = re.compile(r"[^\w.\- /]")
_PARAM_LIMIT = 6000  # MLflow's limit on a param value


def sanitize_config(config: dict[str, Any]) -> dict[str, Any]:
    """Copy of `config` safe to log: the run store's sanitiser (secret-named values redacted, keys masked)."""
    from llmbench.store.provenance import sanitize_config as store_sanitize

    return dict(store_sanitize(dict(config)))


def config_hash(config: dict[str, Any]) -> str:
    """Hash of the sanitised config, computed as the run store computes `experiments.config_hash`."""
    from llmbench.store.provenance import stable_hash

    return stable_hash(sanitize_config(config))


def metric_safe(name: str) -> str:
    """A name MLflow accepts as a metric key or artifact folder."""
    return _UNSAFE.sub("_", str(name))


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config as dotted param names with JSON-ish string values (cut to MLflow's limit)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[name] = text[:_PARAM_LIMIT]
    return out


def client_for(uri: str | None) -> MlflowClient:
    """An MLflow client on the tracking store (see `tracking_uri`)."""
    import logging

    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # table creation and migration chatter is not for users
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=tracking_uri(uri))


def experiment_id(client: MlflowClient, name: str) -> str:
    """The MLflow experiment's id, created (with artifacts beside a SQLite store) or restored as needed."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    location = None
    uri = client.tracking_uri
    if uri.startswith("sqlite:///"):  # not ./mlruns of whatever directory the first run started in
        location = (Path(uri.removeprefix("sqlite:///")).expanduser().resolve().parent / "mlruns").as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def _quote(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def find_run(
    experiment: str,
    kind: str,
    name: str | None = None,
    *,
    uri: str | None = None,
    mlflow_experiment: str | None = None,
    parent: str | None = None,
) -> str | None:
    """Id of the parent run (or, with `parent`, of its child `name`) logged for an llmbench experiment and kind,
    in `mlflow_experiment` (default: wherever it is; the tags say which llmbench experiment a run belongs to)."""
    client = client_for(uri)
    if mlflow_experiment is None:
        homes = [str(e.experiment_id) for e in client.search_experiments()]
    else:
        found = client.get_experiment_by_name(mlflow_experiment)
        homes = [] if found is None else [str(found.experiment_id)]
    if not homes:
        return None
    query = f"tags.`{EXPERIMENT_TAG}` = '{_quote(experiment)}' and tags.`{KIND_TAG}` = '{_quote(kind)}'"
    query += (
        f" and tags.`mlflow.parentRunId` = '{_quote(parent)}'"
        if parent
        else f" and tags.`{CHILD_TAG}` = 'false'"
    )
    if name is not None:
        query += f" and tags.`mlflow.runName` = '{_quote(name)}'"
    runs = client.search_runs(homes, filter_string=query, max_results=1, order_by=["start_time DESC"])
    return str(runs[0].info.run_id) if runs else None


def log_metrics(
    client: MlflowClient, run_id: str, values: dict[str, Any], when_ms: int | None = None
) -> None:
    """Log finite numeric values at step 0 (NA, None and NaN are skipped: a missing figure is not a zero)."""
    from mlflow.entities import Metric

    now = when_ms or int(time.time() * 1000)
    metrics = []
    for key, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            metrics.append(Metric(metric_safe(key), number, now, 0))
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])


class Parent:
    """The parent run of one llmbench experiment and kind, with its nested runs; use as a context manager so
    the runs end FINISHED, or FAILED when logging raised."""

    def __init__(
        self,
        experiment: str,
        kind: str,
        name: str,
        config: dict[str, Any],
        *,
        params: dict[str, str],
        fingerprint: str,
        uri: str | None,
        mlflow_experiment: str | None = None,
        started: float | None = None,
    ) -> None:
        self.client = client_for(uri)
        self.experiment, self.kind, self.name, self.uri = experiment, kind, name, uri
        # one MLflow experiment per llmbench experiment, named alike, unless the caller says where
        self.mlflow_experiment = mlflow_experiment or experiment
        self.config, self.params, self.fingerprint = config, params, fingerprint
        self.started = started
        self.run_id = ""
        self.unchanged = False
        self._children: list[str] = []

    def __enter__(self) -> Parent:
        existing = find_run(
            self.experiment, self.kind, uri=self.uri, mlflow_experiment=self.mlflow_experiment
        )
        if existing is not None:
            tags = self.client.get_run(existing).data.tags
            if tags.get(FINGERPRINT_TAG) == self.fingerprint:
                self.run_id, self.unchanged = existing, True  # nothing new to say: log nothing
                return self
        self.run_id = self._open(
            existing,
            self.name,
            self._tags(child=False),
            {
                **flatten({"config": sanitize_config(self.config)}),
                **self.params,
                "config_hash": config_hash(self.config),
            },
        )
        self.client.log_dict(
            self.run_id, json.loads(json.dumps(sanitize_config(self.config), default=str)), "config.json"
        )
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self.unchanged:
            return
        status = "FAILED" if exc is not None else "FINISHED"
        end = int(time.time() * 1000)
        with contextlib.suppress(Exception):
            for run_id in self._children:
                self.client.set_terminated(run_id, status=status, end_time=end)
            if exc is None:
                self.client.set_tag(self.run_id, FINGERPRINT_TAG, self.fingerprint)
            self.client.set_terminated(self.run_id, status=status, end_time=end)

    def child(self, name: str, params: dict[str, str]) -> str:
        """The nested run `name` (created, or reopened on a resumed experiment)."""
        existing = find_run(
            self.experiment,
            self.kind,
            name,
            uri=self.uri,
            mlflow_experiment=self.mlflow_experiment,
            parent=self.run_id,
        )
        tags = {**self._tags(child=True), "mlflow.parentRunId": self.run_id}
        run_id = self._open(existing, name, tags, params)
        self._children.append(run_id)
        return run_id

    def _tags(self, *, child: bool) -> dict[str, str]:
        tags = {
            EXPERIMENT_TAG: self.experiment,
            KIND_TAG: self.kind,
            CHILD_TAG: str(child).lower(),
            "llmbench.config_hash": config_hash(self.config),
        }
        if any(str(m).startswith("sim:") for m in self.config.get("models") or []):
            tags["llmbench.simulated"] = "true — offline simulator (sim:), not real model quality"
        return tags

    def _open(self, existing: str | None, name: str, tags: dict[str, str], params: dict[str, str]) -> str:
        from mlflow.entities import Param, RunTag

        if existing is None:
            start = int(self.started * 1000) if self.started else None
            run_id = str(
                self.client.create_run(
                    experiment_id(self.client, self.mlflow_experiment),
                    start_time=start,
                    run_name=name,
                    tags=tags,
                ).info.run_id
            )
            logged: dict[str, str] = {}
        else:
            run_id = existing
            self.client.update_run(run_id, status="RUNNING")
            logged = self.client.get_run(run_id).data.params
        new = [Param(k, redact(v)) for k, v in params.items() if k not in logged]
        moved = [
            RunTag(f"llmbench.param_changed.{k}", redact(v)[:_PARAM_LIMIT])
            for k, v in params.items()
            if k in logged and logged[k] != redact(v)
        ]
        for start in range(0, len(new), 100):  # MLflow caps a batch at 100 params
            self.client.log_batch(run_id, params=new[start : start + 100])
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()] + moved)
        return run_id


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's INFO chatter (table creation, run links) for the duration."""
    import logging

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
