"""One child process measured by the kernel (wait4): wall time, CPU time and peak RSS, with nothing to install."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path


def measured(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of `cmd`; exits with its output when its code is not in `ok`."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):  # files: no pipe can fill up
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # reaps the child itself, so its usage is this child's alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{stdout[-2000:]}\n{stderr[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout
