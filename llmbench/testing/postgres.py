"""A throwaway PostgreSQL server (Debian's `postgresql` package, or any `initdb`/`pg_ctl` on PATH) for tests and
benchmarks: `initdb` into a temporary directory, `pg_ctl start` on a free loopback port, trust authentication,
stopped and removed on exit. As root, the server runs as the `postgres` user (PostgreSQL refuses root)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["LocalPostgres", "find_pg_bin"]


def find_pg_bin() -> Path | None:
    """The directory holding `initdb` and `pg_ctl` (PATH first, then Debian's /usr/lib/postgresql/N/bin)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """`with LocalPostgres() as pg:` a running server; `pg.url()` a database URL on it (`pg.create(name)` first)."""

    def __init__(self) -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
        self.bin = bin_dir
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="llmbench-pg-"))
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._user is not None:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, cwd="/")

    def start(self) -> LocalPostgres:
        data = self.dir / "data"
        if self._user is not None:
            shutil.chown(self.dir, self._user)
        self._run("initdb", "-D", str(data), "-U", "llmbench", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://llmbench@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        """Create a database and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
