"""Issue 18 item 5: the coordinator of a distributed run (``wuye.fanout``), with the queue in immediate mode
(each part runs when it is queued). The runs over real worker processes are in test_fanout_processes.py."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from tests.fanout_estate import project_in_arrears
from wuye import fanout
from wuye.common.models import FanoutPart, FanoutRun, FanoutStatus, PartStatus
from wuye.dunning.models import Action

DAY = "2026-07-20"


@pytest.fixture
def two_projects(alice, arrears_estate):
    return [arrears_estate["project"], project_in_arrears(alice, "T2", months=range(1, 8))]


def run(*args) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_it_runs_one_part_per_project_and_sums_them(two_projects):
    result = run("dunning_run", "--date", DAY, "--distributed")
    assert result["distributed"]["status"] == "succeeded" and result["distributed"]["parts"] == 2
    assert result["date"] == DAY and result["actions_created"] == Action.objects.count() > 0
    assert set(Action.objects.values_list("project__code", flat=True)) == {"T1", "T2"}
    run_row = FanoutRun.objects.get()
    assert run_row.kind == "dunning" and run_row.key == DAY and run_row.status == FanoutStatus.SUCCEEDED
    assert run_row.summary["actions_created"] == result["actions_created"]
    parts = {p.project.code: p for p in run_row.parts.select_related("project")}
    assert {p.status for p in parts.values()} == {PartStatus.DONE} and {p.attempts for p in parts.values()} == {1}
    assert sum(p.result["accounts_in_arrears"] for p in parts.values()) == result["accounts_in_arrears"] > 0
    again = run("dunning_run", "--date", DAY, "--distributed")  # idempotent, like the one-process run
    assert again["actions_created"] == 0 and again["accounts_in_arrears"] == result["accounts_in_arrears"]


def test_a_part_that_fails_once_is_queued_again_and_the_run_completes(two_projects, monkeypatch):
    calls = []

    def fail_first(part):
        calls.append((part.project.code, part.attempts))
        if part.project.code == "T2" and part.attempts == 1:
            raise RuntimeError("worker lost its database connection")

    monkeypatch.setattr(fanout, "FAULT_HOOK", fail_first)
    result = run("dunning_run", "--date", DAY, "--distributed")
    assert result["distributed"]["status"] == "succeeded" and result["distributed"]["retried"] == 1
    assert sorted(calls) == [("T1", 1), ("T2", 1), ("T2", 2)]
    part = FanoutPart.objects.get(project__code="T2")
    assert part.status == PartStatus.DONE and part.attempts == 2 and part.error == ""
    assert Action.objects.filter(project__code="T2").count() == part.result["actions_created"] > 0


def test_a_part_that_keeps_failing_fails_the_run_after_its_attempts(two_projects, monkeypatch):
    def always(part):
        if part.project.code == "T2":
            raise RuntimeError("disk full")

    monkeypatch.setattr(fanout, "FAULT_HOOK", always)
    out = io.StringIO()
    with pytest.raises(CommandError, match="T2: RuntimeError: disk full"):
        call_command("dunning_run", "--date", DAY, "--distributed", "--attempts", "2", stdout=out)
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["distributed"]["status"] == "failed" and line["distributed"]["retried"] == 1
    assert FanoutPart.objects.get(project__code="T2").attempts == 2
    assert FanoutPart.objects.get(project__code="T1").status == PartStatus.DONE  # the other project's work stays
    assert FanoutRun.objects.get().status == FanoutStatus.FAILED
    assert Action.objects.filter(project__code="T1").exists() and not Action.objects.filter(project__code="T2").exists()


def test_the_coordinator_gives_up_waiting_after_its_timeout(two_projects, monkeypatch):
    monkeypatch.setattr("wuye.tasks.fanout_part", lambda part_id, attempt: None)  # no worker takes anything
    out = io.StringIO()
    with pytest.raises(CommandError, match="未完成"):
        call_command("dunning_run", "--date", DAY, "--distributed", "--timeout", "0.2", stdout=out)
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["distributed"]["status"] == "timed_out" and sorted(line["distributed"]["waiting"]) == ["T1", "T2"]
    # the queued parts stay queued; a late worker still does them, for the attempt they were queued for
    part = FanoutPart.objects.get(project__code="T1")
    assert not fanout.part_execute(part_id=part.pk, attempt=part.attempts + 1)  # not this attempt: nothing
    assert fanout.part_execute(part_id=part.pk, attempt=part.attempts)
    assert not fanout.part_execute(part_id=part.pk, attempt=part.attempts)  # delivered twice: once only
    part.refresh_from_db()
    assert part.status == PartStatus.DONE and Action.objects.filter(project__code="T1").exists()


def test_a_second_coordinator_for_the_same_day_stops_unless_the_first_is_dead(two_projects):
    other = FanoutRun.objects.create(kind="dunning", key=DAY, coordinator="db2:4242", heartbeat_at=timezone.now())
    with pytest.raises(CommandError, match="db2:4242"):
        call_command("dunning_run", "--date", DAY, "--distributed", stdout=io.StringIO())
    assert not Action.objects.exists()
    FanoutRun.objects.filter(pk=other.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=6))
    assert run("dunning_run", "--date", DAY, "--distributed")["distributed"]["status"] == "succeeded"
    other.refresh_from_db()
    assert other.status == FanoutStatus.ABANDONED
    # another day is another run
    assert run("dunning_run", "--date", "2026-07-21", "--distributed")["distributed"]["status"] == "succeeded"


def test_a_part_waits_for_the_project_lock_held_elsewhere(two_projects):
    """Two attempts of one project never run side by side: the second waits for the lock, here in vain."""
    project = two_projects[0]
    run_row = FanoutRun.objects.create(kind="dunning", key=DAY, heartbeat_at=timezone.now())
    part = FanoutPart.objects.create(run=run_row, project=project, attempts=1)
    other = connections.create_connection("default")  # another session, as another worker's would be
    try:
        if connection.vendor == "postgresql":
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", (fanout.LOCK_SPACE["dunning"], project.pk))
            holder = None
        else:
            holder = fanout.project_lock("dunning", project.pk, wait=0)
            holder.__enter__()
        assert fanout.part_execute(part_id=part.pk, attempt=1, lock_wait=0.3)
    finally:
        if holder is not None:
            holder.__exit__(None, None, None)
        other.close()
    part.refresh_from_db()
    assert part.status == PartStatus.FAILED and "ProjectBusy" in part.error
    assert not Action.objects.exists()


def test_bills_are_generated_per_project_and_only_once(two_projects):
    result = run("generate_bills", "--period", "2026-08", "--distributed")
    from wuye.billing.models import Bill

    made = Bill.objects.filter(period_start=dt.date(2026, 8, 1))
    assert result["period"] == "2026-08" and result["distributed"]["status"] == "succeeded"
    assert result["bills_created"] == made.count() == 36 + 12
    assert result["amount_fen"] == sum(made.values_list("amount_fen", flat=True))
    again = run("generate_bills", "--period", "2026-8", "--distributed")  # the same period, spelt otherwise
    assert again["bills_created"] == 0 and FanoutRun.objects.filter(key="2026-08").count() == 2
    with pytest.raises(CommandError, match="--distributed"):
        call_command("generate_bills", "--period", "2026-09", "--distributed", "--preview", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--dry-run"):
        call_command("dunning_run", "--date", DAY, "--distributed", "--dry-run", stdout=io.StringIO())


def test_the_periodic_daily_run_fans_out_when_told_to(two_projects, settings, monkeypatch):
    from wuye import tasks
    from wuye.dunning.models import Run

    monkeypatch.setattr(timezone, "localdate", lambda *a: dt.date(2026, 7, 20))
    settings.WUYE_DISTRIBUTED_DAILY = False
    tasks.daily_dunning_run.call_local()
    assert not FanoutRun.objects.exists() and Run.objects.get().project is None  # one run over the estate
    monkeypatch.setattr(timezone, "localdate", lambda *a: dt.date(2026, 7, 21))
    settings.WUYE_DISTRIBUTED_DAILY = True
    tasks.daily_dunning_run.call_local()
    run_row = FanoutRun.objects.get()
    assert run_row.key == "2026-07-21" and run_row.status == FanoutStatus.SUCCEEDED and run_row.parts.count() == 2
    assert run_row.summary["accounts_in_arrears"] > 0
    assert set(Run.objects.filter(run_date=dt.date(2026, 7, 21)).values_list("project__code", flat=True)) == {"T1", "T2"}


def test_a_part_whose_worker_died_is_queued_again_after_the_part_timeout(two_projects, monkeypatch):
    def deliver(part_id, attempt):
        if FanoutPart.objects.get(pk=part_id).project.code == "T2" and attempt == 1:
            # the worker took it and died: the row says running, nothing else happens
            FanoutPart.objects.filter(pk=part_id, attempts=1).update(status=PartStatus.RUNNING,
                                                                     started_at=timezone.now(), worker="dead:1")
            return
        fanout.part_execute(part_id=part_id, attempt=attempt)

    monkeypatch.setattr("wuye.tasks.fanout_part", deliver)
    result = run("dunning_run", "--date", DAY, "--distributed", "--part-timeout", "0.3")
    assert result["distributed"]["status"] == "succeeded" and result["distributed"]["retried"] == 1
    part = FanoutPart.objects.get(project__code="T2")
    assert part.attempts == 2 and part.status == PartStatus.DONE and part.worker != "dead:1"
    assert Action.objects.filter(project__code="T2").count() == part.result["actions_created"] > 0
