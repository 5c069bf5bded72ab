"""What each step recovers, on the arrears estate (36 units owing January–April on 2026-04-20, all in the same
cell: 91–180 days overdue, ¥500–2,000): the ladder runs for the first 12 units only, so the other 24 are the
comparison group. Afterwards unit 1 pays on 04-22 (within 7 days), unit 2 on 05-08 (within 30, not 14), and one
comparison unit on 04-25.

Per performed step: 12 actions, paid within 7 / 14 / 30 days 1 / 1 / 2 (8.33 / 8.33 / 16.67 %), recovered = the
two payments; comparison 1 of 24 → expected 12 × 1/24 = 0.5 of 12 = 4.17 %, lift 12.50 points; cost = 12 × the
channel's unit cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from wuye.insights.steps import DEFAULT_COSTS_FEN, step_effects

pytestmark = pytest.mark.django_db
CN = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def ladder(arrears_estate, alice):
    from wuye.billing.choices import PaymentMethod
    from wuye.billing.services import payment_record
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run

    units = arrears_estate["units"]
    dunning_run(as_of=dt.date(2026, 4, 20), unit_ids=[u.pk for u in units[:12]])
    dispatch(now=dt.datetime(2026, 4, 20, 10, 0, tzinfo=CN))
    paid = {}
    for unit, day, fen in ((units[0], 22, 30000), (units[1], 38, 20000), (units[20], 25, 10000)):
        when = dt.datetime(2026, 4, 1, 10, tzinfo=CN) + dt.timedelta(days=day - 1)
        paid[unit.pk] = payment_record(actor=alice, unit=unit, amount_fen=fen, method=PaymentMethod.CASH,
                                       paid_at=when)
    return arrears_estate


def test_each_performed_step_against_the_accounts_not_contacted_that_day(ladder):
    from wuye.dunning.models import Action

    effects = step_effects(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30))
    performed = set(Action.objects.filter(status__in=["sent", "delivered"]).values_list("step_id", flat=True))
    assert {e.step_id for e in effects} == performed and performed
    for e in effects:
        assert e.actions == 12
        assert e.paid == {7: 1, 14: 1, 30: 2}
        assert (e.rate(7), e.rate(30)) == (Decimal("8.33"), Decimal("16.67"))
        assert e.recovered_fen == 30000 + 20000
        assert e.cost_fen == 12 * DEFAULT_COSTS_FEN[e.channel]
        assert (e.covered, e.covered_rate, e.control_rate, e.lift) == \
            (12, Decimal("16.67"), Decimal("4.17"), Decimal("12.50"))


def test_a_reversed_payment_recovers_nothing(ladder, alice):
    from wuye.billing.models import Payment
    from wuye.billing.services import payment_reverse

    payment_reverse(actor=alice, payment=Payment.objects.get(amount_fen=30000), reason="退票")
    for e in step_effects(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30)):
        assert e.paid == {7: 0, 14: 0, 30: 1} and e.recovered_fen == 20000


def test_the_steps_page_api_and_export(ladder, client, alice):
    import io

    import openpyxl

    client.force_login(alice)
    page = client.get("/insights/steps/?start=2026-04-01&end=2026-04-30").content.decode()
    assert "定期电话" in page and "16.67" in page and "12.50" in page
    r = client.get("/insights/export/steps.xlsx?start=2026-04-01&end=2026-04-30")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert any("定期电话" in str(c.value) for row in wb.active.iter_rows() for c in row)
    data = client.get("/api/v1/insights/steps/?start=2026-04-01&end=2026-04-30").json()
    assert {d["paid_30"] for d in data} == {2} and {d["lift"] for d in data} == {"12.50"}
