"""收费员绩效: bob (building 1) in February 2026 on the small ledger — the month's figures of his territory, the
promises he took that fell due in February (one kept, one broken), his contacts, and a complaint opened in his
territory; a complaint in building 2 (nobody's territory) counts for no one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from wuye.insights.incentives import collector_incentives
from wuye.insights.selectors import month_figures
from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db


def test_bobs_february(small_ledger, alice, bob, client):
    from wuye.casework.models import Promise
    from wuye.casework.services import contact_record, dispute_open
    from wuye.dunning.models import Hold
    from wuye.dunning.services import promise_hold_keep

    u = small_ledger["units"]
    kept = contact_record(actor=bob, unit=u["U2"], channel="call", outcome="promised", on=dt.date(2026, 2, 10),
                          promised_on=dt.date(2026, 2, 18), amount_fen=10000)
    promise_hold_keep(actor=None, actor_label="test", hold=Promise.objects.get(contact=kept).hold,
                      on=dt.date(2026, 2, 20), note="已缴")
    broken = contact_record(actor=bob, unit=u["U1"], channel="visit", outcome="promised", on=dt.date(2026, 2, 21),
                            promised_on=dt.date(2026, 2, 26), amount_fen=5000)
    Hold.objects.filter(pk=Promise.objects.get(contact=broken).hold_id).update(
        outcome="broken", released_on=dt.date(2026, 2, 27))  # as the daily run records a broken promise
    contact_record(actor=bob, unit=u["U1"], channel="call", outcome="no_answer", on=dt.date(2026, 3, 2))
    dispute_open(actor=bob, unit=u["U2"], reason="service", description="电梯维修太慢", on=dt.date(2026, 2, 12))
    dispute_open(actor=alice, unit=u["U3"], reason="service", description="保洁", on=dt.date(2026, 2, 13))
    month_close(period=dt.date(2026, 2, 1), today=dt.date(2026, 12, 4))

    rows = collector_incentives(month_figures(dt.date(2026, 2, 1), user=alice), project_ids=None)
    assert len(rows) == 1
    b = rows[0]
    assert (b.collector_id, b.figures.values["collected_fen"], b.figures.collection_rate) == \
        (bob.pk, 20000, Decimal("100.00"))
    assert (b.promises, b.kept, b.broken, b.kept_rate) == (2, 1, 1, Decimal("50.00"))
    assert (b.contacts, b.complaints) == (2, 1)  # the March call is not February's

    client.force_login(alice)
    page = client.get("/insights/?period=2026-02").content.decode()
    assert 'data-testid="table-incentives"' in page and "50.00" in page
    assert client.get("/insights/export/incentives.xlsx?period=2026-02").status_code == 200
    data = client.get("/api/v1/insights/collectors/?period=2026-02").json()
    assert data[0]["kept_rate"] == "50.00" and data[0]["complaints"] == 1
