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


def _badge(client) -> str | None:
    page = client.get("/").content.decode()
    if 'data-testid="legal-notice-badge"' not in page:
        return None
    return page.split('data-testid="legal-notice-badge"><span aria-hidden="true">')[1].split("<")[0]


def test_the_sidebar_badge_counts_waiting_reminders_in_one_query(case, carol, bob, client, rf,
                                                                   django_assert_num_queries):
    """Decision 187: the sidebar's 法务案件 entry carries the number of the user's unread reminders on open deadlines
    (on every page, also as a dot on the phone's menu button); reading them or closing the deadline clears it. The
    count is one statement, run only for legal users and only when the page shows it."""
    from wuye.legal.context_processors import legal_badges

    first = services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 8), note="开庭")
    services.deadline_add(actor=carol, case=case, kind="answer", due_on=D(2026, 12, 9))
    assert services.deadlines_notify(today=TODAY) == 2
    client.force_login(carol)
    assert _badge(client) == "2"
    assert 'data-testid="menu-notice-dot"' in client.get("/").content.decode()
    request = rf.get("/")
    request.user = carol
    with django_assert_num_queries(1):
        assert int(str(legal_badges(request)["legal_notices"])) == 2
    services.deadline_done(actor=carol, deadline=first)  # handled: its reminder no longer waits
    assert _badge(client) == "1"
    client.post("/legal/notices/read/", {"notice": list(DeadlineNotice.objects.values_list("pk", flat=True))})
    assert _badge(client) is None
    assert 'data-testid="menu-notice-dot"' not in client.get("/").content.decode()

    request.user = bob  # a collector: no badge, no query
    with django_assert_num_queries(0):
        assert legal_badges(request) == {}


def test_a_reminder_of_a_project_the_owner_left_is_neither_shown_nor_sent(case, carol, client, make_user):
    """Task 4 (decision 188): a 期限提醒 names the case's debtor. An owner moved to another project no longer sees
    the old project's reminders (list and badge), and the job sends new ones to whoever opened the case if they
    still work there — not to the owner who left."""
    from wuye.estate.models import Project

    services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 8), note="开庭")
    assert services.deadlines_notify(today=TODAY) == 1
    other = Project.objects.create(code="T9", name="别的小区", city="杭州", developer=case.project.developer)
    carol.projects.set([other])
    client.force_login(carol)
    assert _badge(client) is None
    page = client.get("/legal/").content.decode()
    assert 'data-testid="deadline-notices"' not in page and case.party.name not in page
    # a new deadline: the owner who left is not told; the one who opened it (still in the project) is
    opener = make_user("fawu9", "legal")
    opener.projects.set([case.project])
    type(case).objects.filter(pk=case.pk).update(opened_by=opener)
    services.deadline_add(actor=opener, case=case, kind="answer", due_on=D(2026, 12, 9))
    assert services.deadlines_notify(today=TODAY) == 1
    assert DeadlineNotice.objects.order_by("-pk").first().recipient == opener


JUDGED = D(2026, 11, 20)


def _old_rule_appeal(case, carol, *, judged=JUDGED):
    """A 上诉期 row as the code wrote it before decision 161: 15 days from the judgment's own date, its source the
    judgment event (written straight into the tables: the services no longer write such a row)."""
    from wuye.legal.models import CaseDeadline, CaseEvent

    judgment = CaseEvent.objects.create(case=case, event="judgment", stage="lawsuit", on=judged, amount_fen=125_300,
                                        created_by=carol)
    return judgment, CaseDeadline.objects.create(case=case, kind="appeal", due_on=judged + dt.timedelta(days=15),
                                                 source=judgment, created_by=carol,
                                                 note="判决后十五日内可上诉（旧规则）")


def test_the_daily_job_closes_old_rule_appeal_rows_with_the_reason_and_the_job(case, carol, client):
    """Decision 186: a 上诉期 counted from the judgment's date (before decision 161) was only marked, so it stayed
    open — the case's next deadline, reminded as if it were the law's. The daily reminder job closes it first,
    writing why and which job did it on the row and in the audit log, and sends no reminder for it; a service-based
    上诉期 is untouched, and a second run changes nothing."""
    import wuye.tasks as tasks
    from wuye.accounts.models import AuditEvent
    from wuye.legal.models import CaseDeadline, CaseEvent

    judgment, old = _old_rule_appeal(case, carol)
    served = CaseEvent.objects.create(case=case, event="judgment_served", stage="lawsuit", on=D(2026, 11, 25),
                                      created_by=carol)
    new = CaseDeadline.objects.create(case=case, kind="appeal", due_on=D(2026, 12, 10), source=served,
                                      created_by=carol, note="判决书于 2026-11-25 送达")
    assert old.due_on == D(2026, 12, 5)  # in its last-day stage today: the job would have reminded it
    tasks.legal_deadline_notices.call_local()
    old.refresh_from_db()
    assert old.done_on == TODAY and old.done_by_label == "job:legal_deadline_notices"
    assert "按判决日期（2026-11-20）计算的旧上诉期" in old.done_note and "2026-12-10 取代" in old.done_note
    assert not DeadlineNotice.objects.filter(deadline=old).exists()
    assert DeadlineNotice.objects.filter(deadline=new).exists()  # the true one is reminded as before
    new.refresh_from_db()
    assert new.done_on is None
    audit = AuditEvent.objects.get(verb="legal.deadline_close_old_appeal")
    assert audit.actor is None and audit.actor_label == "job:legal_deadline_notices"
    assert services.deadlines_close_old_appeals(today=TODAY) == 0  # nothing left
    client.force_login(carol)
    page = client.get(f"/legal/cases/{case.pk}/").content.decode()
    import re

    note = page.split(f'data-testid="deadline-done-note-{old.pk}"')[1].split("</li>")[0]
    note = re.sub(r"<[^>]+>", "", note)  # the note's dates are kept whole by nowrap spans (decision 173)
    assert "旧上诉期" in note and "job:legal_deadline_notices" in note
    assert '<span class="text-nowrap">2026-11-20</span>' in page


def test_an_old_rule_appeal_without_a_service_date_is_closed_asking_for_it(case, carol):
    _judgment, old = _old_rule_appeal(case, carol)
    assert services.deadlines_close_old_appeals(today=TODAY) == 1
    old.refresh_from_db()
    assert old.done_on == TODAY and "请登记判决书送达日期" in old.done_note


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
    from tests.processes import race, read_back

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
    read_back(sqlite_path)  # what the children wrote, into the test database
    assert DeadlineNotice.objects.count() == 60
    assert sum(r["notices"] for r in reports) == 60, reports
    assert DeadlineNotice.objects.values("deadline_id", "stage").distinct().count() == 60
