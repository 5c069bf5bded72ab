"""The day's takings read the payments entered that day through an index on ``created_at`` (the load test found
the report scanning every payment ever taken: 75 ms at 100k units, about ten times that at 1M)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from wuye.accounts.choices import Role
from wuye.billing.models import Payment
from wuye.billing.services import bill_generate, payment_record
from wuye.billing.takings import _day_bounds, takings_for_day
from wuye.estate.models import Project


@pytest.fixture
def fiona(make_user):
    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def three_overdue(alice, billed_estate):
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate["units"][0]


@pytest.mark.django_db
def test_it_reads_the_days_payments_through_the_created_at_index():
    start, end = _day_bounds(timezone.localdate())
    qs = Payment.objects.filter(created_at__gte=start, created_at__lt=end)
    if connection.vendor == "postgresql":  # an empty table is scanned anyway: ask for the index's plan
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
        try:
            plan = qs.explain()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET enable_seqscan")
    else:
        plan = qs.explain()
    assert "payment_by_created_at" in plan


@pytest.mark.django_db
def test_the_takings_report_costs_the_same_queries_for_one_payment_or_many(fiona, three_overdue):
    def report_queries() -> int:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as q:
            report = takings_for_day(projects=Project.objects.all(), day=timezone.localdate())
        return len(q.captured_queries), len(report.payments)

    unit = three_overdue
    payment_record(actor=fiona, unit=unit, amount_fen=1000, method="cash")
    one, n1 = report_queries()
    for _ in range(5):
        payment_record(actor=fiona, unit=unit, amount_fen=1000, method="cash")
    many, n6 = report_queries()
    assert (n1, n6) == (1, 6)
    assert many == one
