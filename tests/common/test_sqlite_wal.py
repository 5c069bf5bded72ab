"""Processes opening an SQLite file that is not in WAL mode yet, while another process is writing to it, all get
a working connection in WAL mode (switching to WAL with a writer present fails at once with "database is
locked": SQLite does not call the busy handler for it, so the switch is retried)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

CHILD = r"""
import os, sys, time, pathlib
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from django.db import connection
go = pathlib.Path(sys.argv[1]) / "go"
while not go.exists():
    time.sleep(0.002)
with connection.cursor() as c:
    c.execute("PRAGMA journal_mode")
    mode = c.fetchone()[0]
    c.execute("INSERT INTO t (who) VALUES (%s)", [sys.argv[2]])
print(mode)
"""


def test_processes_open_a_file_while_another_writes(tmp_path):
    path = tmp_path / "wuye.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (who TEXT)")
    assert holder.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_XDIST_WORKER")}
    env.update({"WUYE_SQLITE_PATH": str(path), "WUYE_DATA_DIR": str(tmp_path)})
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    time.sleep(3)  # every child has imported Django and waits for the signal
    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of a transaction
    holder.execute("INSERT INTO t (who) VALUES ('holder')")
    (tmp_path / "go").touch()
    time.sleep(1.5)
    holder.execute("COMMIT")
    outputs = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0] * 4, [err[-1500:] for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["wal"] * 4
    holder.close()
    holder = sqlite3.connect(path)
    assert holder.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sorted(r[0] for r in holder.execute("SELECT who FROM t")) == ["0", "1", "2", "3", "holder"]
