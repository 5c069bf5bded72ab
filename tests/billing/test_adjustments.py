import datetime as dt
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

import wuye.billing
from wuye.accounts.models import AuditEvent
from wuye.billing.models import Adjustment, Bill
from wuye.billing.selectors import prepaid_balances
from wuye.billing.services import (
    adjustment_decide,
    adjustment_request,
    bill_apportion,
    bill_generate,
    largest_remainder,
    payment_record,
)

MAY = dt.date(2026, 5, 1)


@pytest.fixture
def may_bill(alice, billed_estate):
    bill_generate(actor=alice, project=billed_estate["project"], period=MAY)
    return Bill.objects.get(unit=billed_estate["units"][0])


def test_a_collectors_waiver_waits_for_a_manager(bob_territory, alice, may_bill):
    # a collector asks for the units of their territory (decision 202: the service checks the project itself)
    adj = adjustment_request(actor=bob_territory, bill=may_bill, kind="waive_principal", amount_fen=5_000,
                             reason="楼上漏水三个月未修好")
    may_bill.refresh_from_db()
    assert adj.status == "pending" and may_bill.settled_fen == 0
    adjustment_decide(actor=alice, adjustment=adj, approve=True, note="同意，工程已确认")
    may_bill.refresh_from_db()
    assert may_bill.settled_fen == 5_000
    adj.refresh_from_db()
    assert adj.decided_by == alice and adj.decision_note == "同意，工程已确认"
    assert AuditEvent.objects.filter(verb="adjustment.approve", actor=alice).exists()


def test_collectors_cannot_approve_and_rejections_need_a_reason(bob_territory, alice, may_bill):
    adj = adjustment_request(actor=bob_territory, bill=may_bill, kind="waive_principal", amount_fen=100,
                             reason="困难")
    with pytest.raises(ValidationError):
        adjustment_decide(actor=bob_territory, adjustment=adj, approve=True)
    with pytest.raises(ValidationError, match="理由"):
        adjustment_decide(actor=alice, adjustment=adj, approve=False)
    adjustment_decide(actor=alice, adjustment=adj, approve=False, note="材料不全")
    may_bill.refresh_from_db()
    assert may_bill.settled_fen == 0


def test_a_waiver_cannot_exceed_what_is_open(alice, may_bill):
    with pytest.raises(ValidationError, match="不能超过未缴金额"):
        adjustment_request(actor=alice, bill=may_bill, kind="waive_principal", amount_fen=17_901, reason="x")
    assert Adjustment.objects.count() == 0


def test_void_and_reissue_keeps_the_reason_and_moves_the_payment(alice, may_bill):
    payment_record(actor=alice, unit=may_bill.unit, amount_fen=17_900, method="cash")
    adj = adjustment_request(actor=alice, bill=may_bill, kind="void", reason="面积应为 79.50 m²",
                             reissue_amount_fen=15_900)
    may_bill.refresh_from_db()
    assert may_bill.is_void
    new = adj.reissued_bill
    assert new.reissue_of == may_bill and new.amount_fen == 15_900 and "面积应为" in new.rule
    new.refresh_from_db()
    assert new.settled_fen == 15_900  # the money paid on the wrong line paid the right one
    assert prepaid_balances([may_bill.unit_id]) == {may_bill.unit_id: 2_000}


def test_apportioned_shared_water_adds_up_to_the_fen(alice, billed_estate):
    from wuye.billing.models import FeeItem

    item = FeeItem.objects.create(project=billed_estate["project"], code="GTS", name="公摊水费",
                                  kind="shared_water", pricing="entered")
    bill_apportion(actor=alice, project=billed_estate["project"], fee_item=item, period=MAY, total_fen=100_001)
    amounts = list(Bill.objects.filter(fee_item=item).values_list("amount_fen", flat=True))
    assert sum(amounts) == 100_001 and len(amounts) == 36
    with pytest.raises(ValidationError, match="已分摊过"):
        bill_apportion(actor=alice, project=billed_estate["project"], fee_item=item, period=MAY, total_fen=5)


@given(total=st.integers(0, 10**9), weights=st.lists(st.integers(1, 10**6), min_size=1, max_size=50))
def test_largest_remainder_always_adds_up(total, weights):
    shares = largest_remainder(total, weights)
    assert sum(shares) == total
    exact = [total * w / sum(weights) for w in weights]  # only to compare, never stored
    assert all(abs(s - e) < 1 for s, e in zip(shares, exact, strict=True))


def test_no_float_in_billing():
    """Money never passes through a float: no float() calls, float literals or float fields in billing."""
    root = Path(wuye.billing.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        patterns = [r"\bfloat\(", r"FloatField"]
        if path.name != "documents.py":  # page layout (points, mm, grey levels) is not money
            patterns.append(r"(?<![\w.])\d+\.\d+(?![\w\"'])")
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                line = text[: match.start()].count("\n") + 1
                offenders.append(f"{path.name}:{line}: {match.group(0)}")
    assert offenders == []
