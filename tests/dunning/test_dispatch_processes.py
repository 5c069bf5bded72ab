"""Issue 13 item 7: the per-account message cap holds under any number of dispatchers.

Three *processes* (fresh interpreters loading ``wuye.settings`` from their own environment, as three servers
running ``wuye dispatch`` would) are started together on one database. Every account has three arrears SMS
due at the same minute (a stage message, a repeat and a limitation demand — what a re-queued message or an engine
of another version leaves behind), adjacent in the outbox, and each dispatcher takes one action at a time, so the three
messages of an account are handled by three processes at once. Each account must get exactly one message.

Each child runs the ``dispatch`` management command (``wuye dispatch --now … --batch 1``) with its own
outbox directory. The SQLite variant runs when the suite runs on SQLite (the test database is copied to a file in
``WUYE_DATA_DIR`` that the children open), the PostgreSQL variant when it runs on PostgreSQL (the children
open the test database)."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, connections

from tests.processes import race
from wuye.dunning import cycles
from wuye.dunning.choices import ActionStatus
from wuye.dunning.engine import dunning_run, out_id_for
from wuye.dunning.models import Action
from wuye.notify.file import FileBackend

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROCESSES = 3

CHILD = r"""
import os, sys, time
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from django.core.management import call_command

work = Path(sys.argv[1]); me = sys.argv[2]
(work / f"ready-{me}").touch()
while not (work / "go").exists():
    time.sleep(0.005)
call_command("dispatch", "--now", "2026-01-16T10:00", "--batch", "1")  # what `wuye dispatch` runs
"""


class Gateway(FileBackend):
    """The file backend with a gateway's round trip: the time in which a dispatcher that read the caps
    before has not recorded its send yet (the children load it by its dotted path, ``WUYE_SMS_BACKEND``)."""

    def send_many(self, messages):
        time.sleep(0.03)
        return super().send_many(messages)


def _three_messages_per_account() -> int:
    """The day-1 SMS of every account, and two more arrears SMS of the same account right after it."""
    dunning_run(as_of=dt.date(2026, 1, 16))
    firsts = list(Action.objects.filter(channel="sms", episode__isnull=False).select_related("episode")
                  .order_by("unit_id"))
    assert firsts
    rows = []
    for a in firsts:
        ep = cycles.Episode(a.episode.opened_on, a.party_id)
        for n, cycle in enumerate((a.cycle, cycles.repeat(ep, dt.date(2026, 1, 16)),
                                   cycles.limitation(ep, dt.date(2026, 1, 16)))):
            copy = Action(**{f.attname: getattr(a, f.attname) for f in Action._meta.concrete_fields
                             if not f.primary_key})
            copy.cycle, copy.out_id = cycle, out_id_for(a.unit_id, a.step_id, cycle) if n else a.out_id
            rows.append(copy)
    Action.objects.filter(pk__in=[a.pk for a in firsts]).delete()
    Action.objects.bulk_create(rows)  # in this order: an account's three messages are neighbours
    Action.objects.exclude(channel="sms").delete()
    return len(firsts)


def _child_env(tmp_path: Path, variant: str) -> tuple[dict[str, str], Path | None]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "WUYE_SQLITE_PATH", "REDIS_URL", "PYTEST_XDIST_WORKER")}
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env.update({"WUYE_DATA_DIR": str(data_dir), "WUYE_SECRET_KEY": "dispatch-processes-key-" + "k" * 40,
                "WUYE_SMS_BACKEND": f"{__name__}.Gateway", "PYTHONPATH": os.pathsep.join(  # the tests, and this checkout's source first
                    [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")])})
    if variant == "postgresql":
        s = connection.settings_dict
        env["DATABASE_URL"] = (f"postgres://{s['USER']}{':' + s['PASSWORD'] if s['PASSWORD'] else ''}"
                               f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")
        return env, None
    path = data_dir / "wuye.sqlite3"  # the test database lives in this process's memory: copy it to a file
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    return env, path


@pytest.mark.parametrize("variant", ["sqlite", "postgresql"])
def test_three_dispatchers_started_together_send_each_account_one_arrears_message(variant, arrears_estate,
                                                                                    tmp_path):
    if (connection.vendor == "postgresql") != (variant == "postgresql"):
        pytest.skip(f"{variant}: runs when the suite runs on {'PostgreSQL' if variant == 'postgresql' else 'SQLite'}")
    accounts = _three_messages_per_account()
    env, sqlite_path = _child_env(tmp_path, variant)
    connections.close_all()
    root = Path(__file__).resolve().parents[2]
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n)], cwd=root,
                                 env={**env, "WUYE_OUTBOX_DIR": str(tmp_path / f"outbox-{n}")},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(PROCESSES)]
    reports = race(children, tmp_path, range(PROCESSES), timeout=300)
    assert all(r["sent"] for r in reports), reports  # the three really ran side by side

    # what the gateways received: one message per number
    received = collections.Counter(
        json.loads(line)["to"] for n in range(PROCESSES) if (tmp_path / f"outbox-{n}" / "sms.jsonl").exists()
        for line in (tmp_path / f"outbox-{n}" / "sms.jsonl").read_text(encoding="utf-8").splitlines())
    twice = {to: k for to, k in received.items() if k > 1}
    assert not twice, f"{len(twice)} numbers got more than one arrears SMS: {sorted(twice.items())[:5]}"

    # what the outbox recorded: one sent message per account, the others handed back (never lost)
    if sqlite_path is not None:
        db = sqlite3.connect(sqlite_path)
        try:
            rows = db.execute("SELECT unit_id, party_id, status, address FROM dunning_action").fetchall()
        finally:
            db.close()
    else:
        rows = list(Action.objects.values_list("unit_id", "party_id", "status", "address"))
    sent = collections.Counter((u, p) for u, p, status, _ in rows if status == ActionStatus.SENT)
    assert set(sent.values()) == {1}
    assert sum(received.values()) == len(sent) == accounts - 6  # the six unsold units have no mobile
    statuses = collections.Counter(status for *_, status, _ in rows)
    assert set(statuses) == {ActionStatus.SENT, ActionStatus.PENDING, ActionStatus.FAILED}
    assert statuses[ActionStatus.PENDING] >= 2 * (accounts - 6)  # each account's other two wait for the cap
