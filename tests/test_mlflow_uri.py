"""Where MLflow records go, and where a person is told to look at them (`llmbench.mlflow_uri`)."""

from __future__ import annotations

import pytest

from llmbench.mlflow_uri import browse_hint, tracking_uri


@pytest.mark.parametrize(
    ("env", "hint"),
    [
        (None, "browse it with `llmbench ui`"),
        ("sqlite:///elsewhere.db", "browse it with `llmbench ui`"),
        ("http://mlflow.team:5000", "browse it at http://mlflow.team:5000"),
        ("https://mlflow.example.org", "browse it at https://mlflow.example.org"),
    ],
)
def test_a_remote_tracking_server_is_named_instead_of_the_local_ui(
    env: str | None, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    assert browse_hint() == hint
    assert tracking_uri() == (env or "sqlite:///mlflow.db")
