"""One control group per scored item, so its memory and process limits hold for the sandbox as a whole.

Per-process limits (RLIMIT_AS) multiply: five children of 400 MB each stay under a 512 MB per-process limit
and still use 2 GB. A cgroup caps the item's total, whatever the number of processes. cgroup v2 is used where
its `memory` and `pids` controllers are available to us, else the v1 `memory` and `pids` hierarchies; where
neither can be written (no root, no delegation), `ItemGroup.create` returns None and the sandbox falls back to a
per-process limit that its process limit cannot multiply past the total (see `sandbox.process_limits`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

__all__ = ["ItemGroup"]

_ROOT = Path("/sys/fs/cgroup")


def _own(hierarchy: str | None) -> Path | None:
    """This process's cgroup directory in a v1 hierarchy (`memory`, `pids`) or in v2 (None)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (hierarchy is None and controllers == "") or (hierarchy in controllers.split(",")):
            base = _ROOT if hierarchy is None else _ROOT / hierarchy
            return base / path.lstrip("/")
    return None


class ItemGroup:
    """The cgroup(s) of one item: joined by each sandbox before it execs, killed and removed afterwards."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, memory_bytes: int, processes: int) -> ItemGroup | None:
        """A fresh group limited to `memory_bytes` (swap included where it can be said) and `processes`."""
        name = f"llmbench-{uuid.uuid4().hex[:12]}"
        made: list[Path] = []
        try:
            v2 = _own(None)
            if v2 is not None and {"memory", "pids"} <= set(_read(v2 / "cgroup.subtree_control").split()):
                group = v2 / name
                group.mkdir()
                made.append(group)
                _write(group / "memory.max", str(memory_bytes))
                _write(group / "memory.swap.max", "0", optional=True)
                _write(group / "pids.max", str(processes))
                return cls(made)
            memory, pids = _own("memory"), _own("pids")
            if memory is None or pids is None:
                return None
            for parent, files in (
                (
                    memory,
                    {"memory.limit_in_bytes": memory_bytes, "memory.memsw.limit_in_bytes": memory_bytes},
                ),
                (pids, {"pids.max": processes}),
            ):
                group = parent / name
                group.mkdir()
                made.append(group)
                for file, value in files.items():
                    _write(group / file, str(value), optional=file.startswith("memory.memsw"))
            return cls(made)
        except OSError:
            cls(made).remove()
            return None

    def join(self) -> None:
        """Move the calling process into the group (called between fork and exec; children inherit it)."""
        for group in self.dirs:
            _write(group / "cgroup.procs", str(os.getpid()))

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the group for using more memory than the group may."""
        for group in self.dirs:
            for file in ("memory.events", "memory.oom_control"):  # v2, v1
                for line in _read(group / file).splitlines():
                    name, _, count = line.partition(" ")
                    if name == "oom_kill" and count.strip() not in ("", "0"):
                        return True
        return False

    def remove(self) -> None:
        """Kill whatever is left in the group, then remove it."""
        for group in self.dirs:
            for _ in range(50):
                pids = [int(p) for p in _read(group / "cgroup.procs").split()]
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
            with contextlib.suppress(OSError):
                group.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError:
        if not optional:
            raise
