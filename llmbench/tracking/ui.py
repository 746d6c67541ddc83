"""Start the MLflow UI (the real `mlflow server`) on the loopback interface over the local tracking store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from llmbench.errors import ConfigError

__all__ = ["free_port", "start_ui", "stop_ui", "ui_command", "wait_until_ready"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    """This process's environment without provider keys: the MLflow server never needs them."""
    from llmbench.store.provenance import secret_name

    return {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_") or not secret_name(k)}


def _check_port(host: str, port: int) -> None:
    """A port already taken is an error now, not a URL printed for a server that never started (or for
    whatever else answers there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise ConfigError(
                f"port {port} on {host} is already in use by another program; choose another with --port"
            ) from None


def ui_command(port: int, backend_store_uri: str, host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    """The `mlflow server` command line serving `backend_store_uri` on host:port."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        host,
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--workers",
        str(workers),
    ]


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 90.0) -> None:
    """Poll the server's /health endpoint until it answers; a server that exits or stays silent is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ConfigError(
                f"the MLflow server exited with code {process.returncode} before answering at {url}; "
                "is the port taken or the store URI wrong?"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise ConfigError(f"the MLflow server did not answer at {url} within {timeout:.0f} s")


def start_ui(
    port: int | None = None,
    backend_store_uri: str | None = None,
    *,
    host: str = "127.0.0.1",
    wait: bool = True,
    timeout: float = 90.0,
    log_path: str | Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `mlflow server` in a subprocess; returns (process, URL). Stop it with `stop_ui(process)`."""
    from llmbench.tracking.mlflow_log import tracking_uri

    port = port or free_port(host)
    _check_port(host, port)
    uri = tracking_uri(backend_store_uri)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115  (lives as long as the server)
    # A session of its own: `mlflow server` starts uvicorn as a child, and stop_ui ends the whole group.
    process = subprocess.Popen(
        ui_command(port, uri, host), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=_env()
    )
    url = f"http://{host}:{port}"
    if wait:
        try:
            wait_until_ready(url, process, timeout)
        except BaseException:
            stop_ui(process)
            raise
    return process, url


def stop_ui(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a server from `start_ui` and the worker processes it started."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
