"""SQLite connections: write-ahead logging, switched on once per file and safely when processes race.

``PRAGMA journal_mode=WAL`` in ``init_command`` ran on every new connection. Switching a file to WAL needs an
exclusive lock, and SQLite does not always call the busy handler for it: two processes opening a fresh file at
the same moment (two servers, a worker and the web server) could fail with "database is locked" before their
first query. The mode is stored in the file, so it is read first and set only when the file is not in WAL yet,
retrying for up to ``WAIT`` seconds.
"""

from __future__ import annotations

import sqlite3
import time

WAIT = 10.0


def ensure_wal(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: put an SQLite file database in WAL mode (no-op for others)."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name:
        return
    raw = connection.connection
    deadline = time.monotonic() + WAIT
    delay = 0.01
    while True:
        try:
            mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                raw.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
