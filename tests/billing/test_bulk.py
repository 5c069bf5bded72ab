"""billing's bulk payment service allocates exactly as payment_record does, and refuses what it refuses."""

import datetime as dt

import pytest
from django.utils import timezone

from wuye.billing.bulk import PaymentDraft, payments_record_bulk
from wuye.billing.models import Allocation, Bill, Payment
from wuye.billing.services import payment_record


@pytest.fixture
def owed(arrears_estate):
    """The arrears estate (Jan–Jul 2026 billed, nobody paid) with its units by code."""
    from wuye.estate.models import Unit

    arrears_estate["by_code"] = {u.code: u for u in Unit.objects.filter(project=arrears_estate["project"])}
    return arrears_estate


def _state():
    return sorted((a.payment.unit_id, a.payment.amount_fen, a.bill.period_start, a.bill.fee_item_id, a.amount_fen,
                   a.applied_on) for a in Allocation.objects.select_related("payment", "bill"))


def test_bulk_posting_equals_payment_record(alice, owed):
    from django.db import transaction

    units = [owed["by_code"][c] for c in ("1-101", "1-102", "2-101")]
    amounts = [(units[0], 30_000), (units[0], 200_000), (units[1], 17_900), (units[2], 5), (units[2], 1_000_000)]
    paid = timezone.make_aware(dt.datetime(2026, 7, 20, 9, 0))
    sid = transaction.savepoint()
    for n, (unit, fen) in enumerate(amounts):
        payment_record(actor=alice, unit=unit, amount_fen=fen, method="transfer", paid_at=paid + dt.timedelta(minutes=n),
                       reference=f"A{n}")
    one_by_one = _state()
    settled = sorted(Bill.objects.values_list("id", "settled_fen"))
    transaction.savepoint_rollback(sid)
    assert Payment.objects.count() == 0
    posted, refused = payments_record_bulk(actor=alice, actor_label="", project=owed["project"], method="transfer",
                                           drafts=[PaymentDraft(n, unit.pk, fen, paid + dt.timedelta(minutes=n), "",
                                                                f"B{n}", "") for n, (unit, fen) in enumerate(amounts)])
    assert not refused and len(posted) == 5
    assert _state() == one_by_one
    assert sorted(Bill.objects.values_list("id", "settled_fen")) == settled


def test_bulk_posting_refuses_what_payment_record_refuses(alice, owed):
    unit = owed["by_code"]["1-101"]
    payment_record(actor=alice, unit=unit, amount_fen=100, method="transfer", reference="USED")
    future = timezone.now() + dt.timedelta(days=2)
    posted, refused = payments_record_bulk(actor=alice, actor_label="", project=owed["project"], method="transfer",
                                           drafts=[PaymentDraft(1, unit.pk, 100, timezone.now(), "", "USED", ""),
                                                   PaymentDraft(2, unit.pk, 100, future, "", "NEW", ""),
                                                   PaymentDraft(3, unit.pk, 2_000_000_000, timezone.now(), "", "BIG", "")])
    assert not posted and set(refused) == {1, 2, 3}
    assert "已登记过" in refused[1] and "晚于现在" in refused[2] and "不能超过" in refused[3]
