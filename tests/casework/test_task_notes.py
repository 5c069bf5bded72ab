"""What a closed visit task says: a promise made on the phone to the collector holding a visit task closes
that visit with the promise (it once said 业主异地出差 — the note of the away outcome — for any call)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tests.casework.conftest import run
from wuye.casework.services import contact_record
from wuye.dunning.models import Task


def _visit(unit, collector):
    return Task.objects.create(project=unit.project, unit=unit, kind="visit", title="上门沟通",
                               due_on=timezone.localdate(), assigned_to=collector)


def test_a_promise_by_phone_closes_the_visit_with_the_promise(unit, bob_territory):
    run(dt.date(2026, 2, 20))
    task = _visit(unit, bob_territory)
    contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised", task=task,
                   promised_on=timezone.localdate() + dt.timedelta(days=5))
    task.refresh_from_db()
    assert task.status == "done" and "承诺缴费" in task.close_note and "异地" not in task.close_note


def test_an_owner_away_closes_the_visit_as_away(unit, bob_territory):
    run(dt.date(2026, 2, 20))
    task = _visit(unit, bob_territory)
    contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away")
    task.refresh_from_db()
    assert task.status == "done" and "业主异地出差，不上门" in task.close_note
