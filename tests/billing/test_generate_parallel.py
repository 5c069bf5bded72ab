"""``wuye generate_bills`` without ``--workers`` bills a large estate in one process per core on PostgreSQL
(issue 18: "the default is the fastest correct path, no flag needed"). The children are real processes on the
test database: each bills a share of all projects, so a project whose billing months do not include the period
is skipped as a one-process run skips it (a child named its projects and failed on it before), and the lines
are those the plan says, once."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess

import pytest
from django.core.management import call_command
from django.db import connection

from tests.fanout_estate import project_in_arrears
from wuye.billing.management.commands import generate_bills as command
from wuye.billing.models import Bill, BillingPolicy
from wuye.billing.services import bill_plan
from wuye.estate.models import Project

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="children need a server they can share: the "
                                                                 "suite's PostgreSQL pass runs this"),
    pytest.mark.django_db(transaction=True),
]
MARCH = dt.date(2026, 3, 1)


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _generate(**options) -> dict:
    out = io.StringIO()
    call_command("generate_bills", period=f"{MARCH:%Y-%m}", stdout=out, **options)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_a_large_estate_is_billed_in_parallel_by_default_and_a_project_off_its_months_is_skipped(
        alice, monkeypatch):
    for code in ("T1", "T2"):
        project_in_arrears(alice, code, months=range(1, 3))
    quarterly = project_in_arrears(alice, "T3", months=(1,))
    BillingPolicy.objects.filter(project=quarterly).update(cycle_months=3, anchor_month=1)  # Jan, Apr, Jul, Oct
    plans = {p.code: bill_plan(project=p, period=MARCH) for p in Project.objects.filter(code__in=["T1", "T2"])}
    assert all(plan.drafts for plan in plans.values())

    monkeypatch.setenv("DATABASE_URL", _database_url())  # the children bill the test database
    monkeypatch.setattr(command, "PARALLEL_MIN_UNITS", 10)  # the test estate counts as large
    monkeypatch.setattr(command.os, "cpu_count", lambda: 2)
    children: list[list[str]] = []
    popen = subprocess.Popen

    def spawn(args, *a, **kw):
        children.append(list(args))
        return popen(args, *a, **kw)

    monkeypatch.setattr(command.subprocess, "Popen", spawn)
    result = _generate()
    assert len(children) == 2 and all("--part-of-all" in args for args in children)
    assert result["bills_created"] == sum(len(plan.drafts) for plan in plans.values())
    assert result["amount_fen"] == sum(plan.amount_fen for plan in plans.values())
    march = Bill.objects.filter(period_start=MARCH)
    assert set(march.values_list("project__code", flat=True)) == {"T1", "T2"}  # T3 skipped, no failure
    assert march.count() == result["bills_created"]

    children.clear()
    again = _generate()  # idempotent: nothing twice
    assert again["bills_created"] == 0 and march.count() == result["bills_created"] and len(children) == 2

    # asked by name, a project off its billing months is still an error; a small estate stays in one process
    with pytest.raises(Exception, match="不是该项目的出账月份"):
        _generate(project=["T3"])
    monkeypatch.setattr(command, "PARALLEL_MIN_UNITS", 10_000)
    children.clear()
    assert _generate()["bills_created"] == 0 and children == []
