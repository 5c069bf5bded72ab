"""Deadline reminders reach the case's 承办人 (decision 163): a 期限提醒 when a deadline enters its reminder window
and again the day before its last day — once per deadline and stage, however often the daily job runs, and when
two runs go at once (two processes)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, connections

from tests.legal.conftest import referral_for
from wuye.legal import services
from wuye.legal.models import DeadlineNotice

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def case(lettered, carol):
    return services.case_open_from_referral(actor=carol, task=referral_for(lettered["units"][0]), on=D(2026, 12, 1))


def test_the_owner_is_told_once_per_stage(case, carol):
    d = services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 10), note="第一次开庭")
    assert services.deadlines_notify(today=D(2026, 12, 2)) == 0  # before its window (7 days)
    assert services.deadlines_notify(today=D(2026, 12, 3)) == 1
    assert services.deadlines_notify(today=D(2026, 12, 3)) == 0  # the same day again
    assert services.deadlines_notify(today=D(2026, 12, 8)) == 0  # still the same stage
    assert services.deadlines_notify(today=D(2026, 12, 9)) == 1  # the day before its last day
    assert services.deadlines_notify(today=D(2026, 12, 10)) == 0
    assert services.deadlines_notify(today=D(2026, 12, 11)) == 0  # past: nothing
    notices = list(DeadlineNotice.objects.filter(deadline=d).order_by("pk"))
    assert [(n.stage, n.recipient_id) for n in notices] == [("window", carol.pk), ("last_day", carol.pk)]
    assert case.number in notices[0].text and "开庭 2026-12-10（还有 7 天）" in notices[0].text
    assert "明日届满" in notices[1].text


def test_a_stage_missed_is_not_sent_late_and_done_or_closed_is_silent(case, carol):
    late = services.deadline_add(actor=carol, case=case, kind="answer", due_on=D(2026, 12, 5), remind_days=7)
    done = services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 6))
    services.deadline_done(actor=carol, deadline=done)
    assert services.deadlines_notify(today=TODAY) == 1
    assert list(DeadlineNotice.objects.values_list("deadline_id", "stage")) == [(late.pk, "last_day")]
    services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 8))
    services.case_event_add(actor=carol, case=case, event="closed", on=TODAY, outcome="paid")
    assert services.deadlines_notify(today=TODAY) == 0


def test_the_reminder_goes_to_the_current_owner(case, carol, make_user):
    other = make_user("fawu2", "legal")
    services.case_assign(actor=carol, case=case, owner=other)
    services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 8))
    assert services.deadlines_notify(today=TODAY) == 1
    assert DeadlineNotice.objects.get().recipient == other


def test_the_owner_sees_the_reminder_on_the_case_list_until_read(client, case, carol, make_user):
    services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 8), note="第一次开庭")
    services.deadlines_notify(today=TODAY)
    notice = DeadlineNotice.objects.get()
    other = make_user("fawu2", "legal")
    client.force_login(other)
    assert 'data-testid="deadline-notices"' not in client.get("/legal/").content.decode()
    client.post("/legal/notices/read/", {"notice": [notice.pk]})  # not theirs: untouched
    notice.refresh_from_db()
    assert notice.read_at is None
    client.force_login(carol)
    page = client.get("/legal/").content.decode()
    box = page.split('data-testid="deadline-notices"')[1].split("</form>")[0]
    assert "进入提醒期" in box and "第一次开庭" in box
    assert client.post("/legal/notices/read/", {"notice": [notice.pk, "x"]}).status_code == 302
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert 'data-testid="deadline-notices"' not in client.get("/legal/").content.decode()


def test_the_daily_job_is_registered():
    from huey.contrib.djhuey import HUEY

    import wuye.tasks as tasks

    assert tasks.legal_deadline_notices and "legal_deadline_notices" in {t.__name__ for t in HUEY._registry._periodic_tasks}


CHILD = r"""
import datetime as dt, json, os, sys, time
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from wuye.legal.services import deadlines_notify

work = Path(sys.argv[1]); me = sys.argv[2]
(work / f"ready-{me}").touch()
while not (work / "go").exists():
    time.sleep(0.002)
print(json.dumps({"notices": deadlines_notify(today=dt.date(2026, 12, 4))}))
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("variant", ["sqlite", "postgresql"])
def test_two_jobs_started_together_write_each_reminder_once(variant, lettered, carol, tmp_path, monkeypatch):
    from tests.dunning.test_dispatch_processes import _child_env
    from tests.processes import race

    if (connection.vendor == "postgresql") != (variant == "postgresql"):
        pytest.skip(f"{variant}: runs when the suite runs on {'PostgreSQL' if variant == 'postgresql' else 'SQLite'}")
    monkeypatch.setattr(services, "_today", lambda: TODAY)
    case = services.case_open_from_referral(actor=carol, task=referral_for(lettered["units"][0]), on=D(2026, 12, 1))
    for n in range(60):
        services.deadline_add(actor=carol, case=case, kind="other", due_on=TODAY + dt.timedelta(days=n % 7 + 1),
                              note=f"期限 {n}")
    env, sqlite_path = _child_env(tmp_path, variant)
    connections.close_all()
    root = Path(__file__).resolve().parents[2]
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n)], cwd=root, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    reports = race(children, tmp_path, range(2), timeout=300)
    if sqlite_path is not None:  # read what the children wrote back into the test database
        import sqlite3

        source = sqlite3.connect(sqlite_path)
        connection.ensure_connection()
        source.backup(connection.connection)
        source.close()
    assert DeadlineNotice.objects.count() == 60
    assert sum(r["notices"] for r in reports) == 60, reports
    assert DeadlineNotice.objects.values("deadline_id", "stage").distinct().count() == 60
