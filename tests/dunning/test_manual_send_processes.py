"""The arrears-message cap holds between a hand-sent pay link and the dispatcher, in two *processes* (two
servers: a collector's tap on one, ``wuye dispatch`` on another), on SQLite and PostgreSQL.

The account has an arrears SMS the dispatcher will send now (one held back since early January, so the
hand-sent message's own check lets it through), and the collector sends the pay link at the same minute:
exactly one message may reach the owner, whichever starts first.

- **by hand first**: the collector's send is on its way (its gateway answers slowly) when the dispatcher
  starts. ``pay_link_message_send`` takes the dispatcher's per-account claim (an advisory lock on
  PostgreSQL, the write lock on SQLite): the dispatcher waits, then sees the hand-sent message and hands its
  own back. Before, on PostgreSQL, the dispatcher read the caps past the uncommitted send and sent too.
- **dispatcher first**: its message is on its way (claimed, ``sending``) when the collector taps: refused,
  the message in flight counts. Before, a message decided long ago and in flight was not counted.

The children load ``wuye.settings`` from their own environment (``_child_env`` as in
``test_dispatch_processes``); the first one's gateway holds its send until the second has finished or 4 s
have passed."""

from __future__ import annotations

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

from wuye.dunning.choices import ActionStatus
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action
from wuye.estate.models import ContactPoint
from wuye.notify.file import FileBackend

from .test_dispatch_processes import _child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NOW = "2026-01-16T10:00"

CHILD = r"""
import datetime as dt, json, os, sys, time
from pathlib import Path
from zoneinfo import ZoneInfo
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from django.core.exceptions import ValidationError
from django.core.management import call_command

work, role = Path(sys.argv[1]), sys.argv[2]
(work / f"ready-{role}").touch()
while not (work / f"go-{role}").exists():
    time.sleep(0.005)
if role == "dispatch":
    call_command("dispatch", "--now", sys.argv[3], "--batch", "1")
else:
    from wuye.accounts.models import User
    from wuye.dunning.manual import pay_link_message_send
    from wuye.estate.models import ContactPoint, Unit
    contact = ContactPoint.objects.get(pk=int(sys.argv[4]))
    unit = Unit.objects.get(pk=int(sys.argv[5]))
    now = dt.datetime.fromisoformat(sys.argv[3]).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    try:
        action = pay_link_message_send(actor=User.objects.get(username="alice"), unit=unit,
                                       party_id=contact.party_id, contact=contact, channel="sms",
                                       link="https://pay.example/p/abc", now=now)
        print(json.dumps({"manual": action.status}))
    except ValidationError as exc:
        print(json.dumps({"refused": " ".join(exc.messages)}, ensure_ascii=False))
"""


class SlowGateway(FileBackend):
    """The file backend; in the child started first (``HOLD_SEND``) it holds its send open — the gateway's
    round trip — until the other child is done (``release``) or 4 s have passed."""

    def send_many(self, messages):
        work = os.environ.get("HOLD_SEND")
        if work:
            Path(work, "in-send").touch()
            deadline = time.monotonic() + 4
            while not Path(work, "release").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        return super().send_many(messages)


def _one_message_due(arrears_estate):
    """units[0]'s day-1 SMS, held back since 1 January (decided then), due now; nothing else in the outbox."""
    dunning_run(as_of=dt.date(2026, 1, 16))
    unit = arrears_estate["units"][0]
    action = Action.objects.get(unit=unit, channel="sms")
    Action.objects.exclude(pk=action.pk).delete()
    Action.objects.filter(pk=action.pk).update(decided_on=dt.date(2026, 1, 1))
    contact = ContactPoint.objects.get(party_id=action.party_id, kind="mobile")
    return unit, contact


@pytest.mark.parametrize("first", ["manual", "dispatch"])
def test_a_hand_sent_pay_link_and_the_dispatcher_send_one_message_between_them(first, alice, arrears_estate,
                                                                              tmp_path):
    variant = connection.vendor
    unit, contact = _one_message_due(arrears_estate)
    env, sqlite_path = _child_env(tmp_path, "postgresql" if variant == "postgresql" else "sqlite")
    env["WUYE_SMS_BACKEND"] = f"{__name__}.SlowGateway"
    connections.close_all()
    root = Path(__file__).resolve().parents[2]
    second = "dispatch" if first == "manual" else "manual"
    children = {}
    for role in (first, second):
        extra = {"HOLD_SEND": str(tmp_path)} if role == first else {}
        children[role] = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), role, NOW, str(contact.pk), str(unit.pk)], cwd=root,
            env={**env, **extra, "WUYE_OUTBOX_DIR": str(tmp_path / f"outbox-{role}")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{r}").exists() for r in children):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children.values()), \
                [c.communicate() for c in children.values() if c.poll() is not None]
            time.sleep(0.05)
        (tmp_path / f"go-{first}").touch()
        while not (tmp_path / "in-send").exists():  # the first one's message is on its way
            assert time.monotonic() < deadline and children[first].poll() is None, children[first].communicate()
            time.sleep(0.01)
        (tmp_path / f"go-{second}").touch()
        until = time.monotonic() + 4
        while children[second].poll() is None and time.monotonic() < until:
            time.sleep(0.01)
        (tmp_path / "release").touch()
        outputs = {r: c.communicate(timeout=120) for r, c in children.items()}
    finally:
        for c in children.values():
            if c.poll() is None:
                c.kill()
    reports = {}
    for role, (out, err) in outputs.items():
        assert children[role].returncode == 0, err[-3000:]
        reports[role] = json.loads(out.strip().splitlines()[-1])

    received = [json.loads(line)["to"] for role in children
                if (tmp_path / f"outbox-{role}" / "sms.jsonl").exists()
                for line in (tmp_path / f"outbox-{role}" / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert received == [contact.value], (received, reports)
    if sqlite_path is not None:
        db = sqlite3.connect(sqlite_path)
        try:
            rows = db.execute("SELECT cycle, status FROM dunning_action WHERE unit_id = ?", [unit.pk]).fetchall()
        finally:
            db.close()
    else:
        rows = list(Action.objects.filter(unit=unit).values_list("cycle", "status"))
    assert sorted(s for _, s in rows).count(ActionStatus.SENT) == 1, rows
    if first == "manual":
        assert reports["manual"] == {"manual": "sent"}
        assert reports["dispatch"]["deferred"] == 1, reports
    else:
        assert reports["dispatch"]["sent"] == 1
        assert "间隔" in reports["manual"]["refused"], reports
