"""Reading a DuckDB store file while another process writes it.

DuckDB lets no other process open a file that a process holds for writing, not even read-only. So the writer
answers for it: a writing `Store` listens on a Unix socket (in a directory only its user can enter, named after the
file's path), and a reader that finds the file locked asks it for a snapshot. The writer copies every table as
committed at that moment (its own cursor: one transaction, so the tables agree with each other) into a DuckDB file
in the reader's temporary directory, and the reader opens that file read-only. Rows the writer has not committed
yet are not in it; a reader that wants newer rows opens the store again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Protocol

import duckdb

from llmbench.errors import StoreError
from llmbench.store.connection import transaction
from llmbench.store.migrations import migrate
from llmbench.store.rows import TABLES

__all__ = [
    "SUPPORTED",
    "SnapshotServer",
    "live_snapshot",
    "request_snapshot",
    "serve_snapshots",
    "socket_path",
]

log = logging.getLogger(__name__)
# Unix sockets and user ids: where they are missing (Windows), readers wait for the writer as before
SUPPORTED = hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")
_ALIAS = "llmbench_snapshot"
_TIMEOUT = 120.0  # seconds a reader waits for the copy (a store of millions of rows takes seconds)


def socket_path(store: Path) -> Path:
    """Where the writer of `store` listens: short (a socket path has ~100 bytes), private to this user."""
    digest = hashlib.sha256(str(store).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"llmbench-{os.getuid()}" / f"{digest}.sock"


def copy_snapshot(cur: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Every table of the store behind the cursor `cur` (a connection of its own, so it sees committed rows only,
    never the writer's open transaction), as committed now, into a new store file at `target`."""
    with contextlib.closing(duckdb.connect(str(target))) as fresh:
        migrate(fresh)
    cur.execute(f"ATTACH '{_quoted(target)}' AS {_ALIAS}")
    try:
        with transaction(cur):  # one snapshot of every table: they agree with each other
            for table in TABLES.values():
                cols = ", ".join(table.columns())
                cur.execute(f"INSERT INTO {_ALIAS}.{table.name} ({cols}) SELECT {cols} FROM {table.name}")
    finally:
        cur.execute(f"DETACH {_ALIAS}")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class SnapshotServer:
    """The writer's side: answers snapshot requests for one store file, one at a time, until `close()`."""

    def __init__(self, store: Path, cursor: duckdb.DuckDBPyConnection) -> None:
        self.path = socket_path(store)
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        if self.path.parent.stat().st_uid != os.getuid():
            raise StoreError(f"{self.path.parent} belongs to another user")
        os.chmod(self.path.parent, 0o700)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a writer that was killed: the file lock says no other writer is alive
        self._cursor = cursor
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen(16)
        # a blocking accept (no polling): closing the socket wakes it, so a writer closes at once
        self._thread = threading.Thread(target=self._serve, name="llmbench-snapshots", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        # one line: the directory the reader made for the snapshot; the answer: "ok" or the error, one line
        conn.settimeout(_TIMEOUT)
        try:
            target = Path(conn.makefile("rb").readline(4096).decode().strip()) / "snapshot.duckdb"
            if not target.parent.is_dir() or target.parent.stat().st_uid != os.getuid():
                raise StoreError(f"{target.parent} is not a directory of this user")
            copy_snapshot(self._cursor, target)
            conn.sendall(b"ok\n")
        except Exception as exc:  # the reader gets the reason; the writer carries on
            with contextlib.suppress(OSError):
                conn.sendall(f"{type(exc).__name__}: {exc}".replace("\n", " ").encode() + b"\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=5)  # a copy in progress finishes first
        self._cursor.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def request_snapshot(store: Path, into: Path) -> Path | None:
    """Ask the writer of `store` for a snapshot in the directory `into`; its path, or None when no writer of this
    user answers (a writer of another user, or one from before readers could ask)."""
    address = socket_path(store)
    if not address.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(_TIMEOUT)
        try:
            sock.connect(str(address))
            sock.sendall(str(into).encode() + b"\n")
            answer = sock.makefile("rb").readline().decode().strip()
        except OSError:
            return None
    if answer != "ok":
        raise StoreError(f"the process writing {store.name} could not copy what it has committed: {answer}")
    return into / "snapshot.duckdb"


class _Writer(Protocol):
    _con: duckdb.DuckDBPyConnection
    _lock: threading.RLock


def serve_snapshots(store: Path, writer: _Writer) -> SnapshotServer | None:
    """Start answering readers of `store` for `writer` (None, with a warning, when no socket can be made here:
    writing never depends on it)."""
    if not SUPPORTED:
        return None
    with writer._lock:  # made now, while nothing else uses the writer's connection; copies never wait for it
        cursor = writer._con.cursor()
    try:
        return SnapshotServer(store, cursor)
    except (OSError, StoreError) as exc:
        cursor.close()
        log.warning("readers of %s cannot ask this writer for snapshots: %s", store.name, exc)
        return None


def live_snapshot(store: Path) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to a snapshot of what the process writing `store` has committed, or None when
    no writer answers."""
    if not SUPPORTED:
        return None
    into = Path(tempfile.mkdtemp(prefix="llmbench-read-"))
    try:
        snapshot = request_snapshot(store, into)
        # the open file outlives its directory entry, so nothing is left behind when the reader closes
        return None if snapshot is None else duckdb.connect(str(snapshot), read_only=True)
    finally:
        shutil.rmtree(into, ignore_errors=True)
