"""Where llmbench's MLflow records go (one tracking URI for every layer that reads or writes them), and a context
that points MLflow's process-wide URI there for a block. MLflow itself is imported only inside the block."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["DEFAULT_TRACKING_URI", "browse_hint", "global_tracking_uri", "tracking_uri"]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri(uri: str | None = None) -> str:
    """The tracking store: `uri` if given, else $MLFLOW_TRACKING_URI, else a local SQLite file mlflow.db."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def browse_hint(uri: str | None = None) -> str:
    """Where a person looks at what was logged: the tracking server itself, or `llmbench ui` for a local store."""
    where = tracking_uri(uri)
    if where.startswith(("http://", "https://", "databricks")):
        return f"browse it at {where}"
    return "browse it with `llmbench ui`"


@contextlib.contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API (models, trace export) works on a process-wide URI: point it at `uri` for the block and
    put back exactly what was there, an unset URI included (so $MLFLOW_TRACKING_URI keeps deciding afterwards)."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    before = getattr(utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        utils._tracking_uri = before  # set_tracking_uri(None) is not part of its typed API
