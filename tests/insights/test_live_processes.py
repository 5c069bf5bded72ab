"""Two hourly refreshes started together (two workers, or the job and a manager's 立即计算) leave one consistent
provisional snapshot: each locks the month's ``LiveSnapshot`` row before reading the changes, so the second
waits, then finds them consumed and the rows already right (decision 177). Two *processes* race on one
database; afterwards the stored rows equal a full recompute (a duplicate or a lost row would show) and every
change was consumed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, connections

from tests.dunning.test_dispatch_processes import _child_env
from tests.insights.test_live_incremental import (  # noqa: F401 (fixtures)
    CN,
    MONTH,
    TODAY,
    carl,
    full_recompute,
    stored,
    two,
)
from tests.processes import race, read_back
from wuye.insights.models import LiveChange, LiveSnapshot
from wuye.insights.services import live_refresh

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHILD = r"""
import datetime as dt, json, os, sys, time
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from wuye.insights.services import live_refresh

work = Path(sys.argv[1]); me = sys.argv[2]
(work / f"ready-{me}").touch()
while not (work / "go").exists():
    time.sleep(0.005)
written = live_refresh(today=dt.date(2026, 3, 12))
print(json.dumps({"written": written}))
"""


@pytest.mark.parametrize("variant", ["sqlite", "postgresql"])
def test_two_refreshes_started_together_leave_one_consistent_snapshot(variant, alice, two, tmp_path):  # noqa: F811
    import datetime as dt

    from wuye.billing.choices import PaymentMethod
    from wuye.billing.services import payment_record

    if (connection.vendor == "postgresql") != (variant == "postgresql"):
        pytest.skip(f"{variant}: runs when the suite runs on {'PostgreSQL' if variant == 'postgresql' else 'SQLite'}")
    live_refresh(today=TODAY)
    for e in two:  # changes in both projects, waiting for the next refresh
        for unit in e["units"][::2]:
            payment_record(actor=alice, unit=unit, amount_fen=4321, method=PaymentMethod.CASH,
                           paid_at=dt.datetime(2026, 3, 12, 9, tzinfo=CN))
    assert LiveChange.objects.count() >= 12
    env, sqlite_path = _child_env(tmp_path, variant)
    connections.close_all()
    root = Path(__file__).resolve().parents[2]
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n)], cwd=root, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    reports = race(children, tmp_path, range(2), timeout=300)
    read_back(sqlite_path)  # what the children wrote, into the test database
    assert sorted(r["written"] > 0 for r in reports) == [False, True], reports  # one did the work
    assert not LiveChange.objects.exists()
    assert LiveSnapshot.objects.get(period=MONTH).as_of == TODAY
    assert stored() == full_recompute(TODAY)
