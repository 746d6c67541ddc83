"""MLflow logging after `llmbench eval` in a detached process, so the eval returns at once: MLflow's first log
into a fresh store, the Bradley-Terry bootstrap, plots and traces take seconds that no result waits on.

The parent writes what the logging needs (frames as Parquet, the sanitised config as JSON) to a folder and starts
`python -m llmbench.tracking.background FOLDER` in a new session with an environment stripped of secret-named
variables (no API key reaches it); the child logs, writes `done` or the error to `log.txt`, and removes the frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["main", "spawn"]


def spawn(folder_root: Path, job: dict[str, Any], frames: dict[str, pd.DataFrame | None]) -> tuple[int, Path]:
    """Start the logging of one eval in the background; returns (pid, the job's log file)."""
    from llmbench.store.provenance import secret_name

    folder_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="mlflow-", dir=folder_root))
    for name, frame in frames.items():
        if frame is not None:
            frame.to_parquet(folder / f"{name}.parquet")
    (folder / "job.json").write_text(json.dumps(job, default=str))
    env = {k: v for k, v in os.environ.items() if not secret_name(k)}
    log = folder / "log.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmbench.tracking.background", str(folder)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid, log


def main(argv: list[str] | None = None) -> int:
    """Log one job folder to MLflow (see the module docstring)."""
    folder = Path((argv or sys.argv[1:])[0])
    job = json.loads((folder / "job.json").read_text())
    read = {
        n: pd.read_parquet(folder / f"{n}.parquet") if (folder / f"{n}.parquet").exists() else None
        for n in ("summary", "runs", "calls")
    }
    from llmbench.tracking.mlflow_log import log_eval_run

    try:
        run_id = log_eval_run(
            job["experiment_id"],
            job["name"],
            job["config"],
            read["summary"],
            read["runs"],
            calls=read["calls"],
            started=job["started"],
            dataset=job["dataset"],
            trace_limit=job["traces"],
            uri=job.get("uri"),
        )
    except Exception as exc:  # reported in the log; the results are safe in the run store
        print(f"failed: {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        for name in ("summary", "runs", "calls"):
            (folder / f"{name}.parquet").unlink(missing_ok=True)
    print(f"done: MLflow run {run_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
