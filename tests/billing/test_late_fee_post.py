import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from wuye.billing.ledger import check_ledger
from wuye.billing.models import Bill
from wuye.billing.selectors import statement_for_unit
from wuye.billing.services import adjustment_request, bill_generate, late_fee_post, payment_record


@pytest.fixture
def overdue(alice, billed_estate):
    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 3, 1))
    return billed_estate["units"][0]  # ¥179.00 due 2026-03-15


def test_a_manager_charges_the_accrued_late_fee_once(alice, overdue):
    as_of = dt.date(2026, 5, 31)
    accrued = statement_for_unit(overdue, as_of=as_of).late_fee_fen
    assert accrued == 644  # 179.00 × 0.5‰ × 72 days
    [line] = late_fee_post(actor=alice, unit=overdue, as_of=as_of, reason="业主来结清")
    assert line.amount_fen == 644 and line.fee_item.name == "违约金" and "72天" in line.rule
    after = statement_for_unit(overdue, as_of=as_of)
    assert after.late_fee_fen == 0
    assert after.open_fen == 17_900 + 644
    with pytest.raises(ValidationError, match="没有可计收"):
        late_fee_post(actor=alice, unit=overdue, as_of=as_of, reason="again")
    # later, only what accrued since is chargeable; no late fee accrues on the late-fee line itself
    later = statement_for_unit(overdue, as_of=dt.date(2026, 6, 30))
    # to 30 June: 102 days × ¥179.00 × 0.5‰ = ¥9.129 → 913 fen, of which 644 were charged
    assert later.late_fee_fen == 913 - 644
    assert check_ledger().mismatches == 0


def test_collectors_cannot_charge_late_fees(bob, overdue):
    with pytest.raises(ValidationError):
        late_fee_post(actor=bob, unit=overdue, as_of=dt.date(2026, 5, 31), reason="x")
    assert not Bill.objects.filter(late_fee_of__isnull=False).exists()


def test_a_charged_late_fee_can_be_waived_and_paid_in_order(alice, overdue):
    [line] = late_fee_post(actor=alice, unit=overdue, as_of=dt.date(2026, 5, 31), reason="结清")
    adjustment_request(actor=alice, bill=line, kind="waive_principal", amount_fen=344, reason="首次逾期减半")
    payment_record(actor=alice, unit=overdue, amount_fen=17_900 + 300, method="cash")
    assert statement_for_unit(overdue, as_of=dt.date(2026, 5, 31)).open_fen == 0
