"""Start child processes that line up and go together (each writes ``ready-<n>`` in the work folder, then waits
for ``go``), and read the one JSON line each prints last — for tests that prove single effect across processes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path


def race(children: list[subprocess.Popen], work: Path, names, *, timeout: float = 300) -> list[dict]:
    """Wait until every child is ready, let them go at once, and return their reports (each child's last line)."""
    try:
        deadline = time.monotonic() + 120
        while not all((work / f"ready-{n}").exists() for n in names):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children), \
                [c.communicate() for c in children if c.poll() is not None]
            time.sleep(0.05)
        (work / "go").touch()
        outputs = [c.communicate(timeout=timeout) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
    reports = []
    for (out, err), child in zip(outputs, children, strict=True):
        assert child.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def read_back(sqlite_path: Path | None) -> None:
    """On SQLite the children wrote to a file of their own: copy it into the test database (nothing on
    PostgreSQL, where they wrote to the test database itself)."""
    if sqlite_path is None:
        return
    import sqlite3

    from django.db import connection

    source = sqlite3.connect(sqlite_path)
    connection.ensure_connection()
    source.backup(connection.connection)
    source.close()
