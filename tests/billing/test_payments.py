import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from wuye.billing.models import Allocation, Bill, Payment
from wuye.billing.selectors import account_summaries, prepaid_balances
from wuye.billing.services import bill_generate, payment_record, payment_reverse


@pytest.fixture
def three_months(alice, billed_estate):
    """March–May 2026 billed: unit 0 owes 3 × ¥179.00."""
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate["units"][0]


def _open(unit):
    return list(Bill.objects.filter(unit=unit).order_by("period_start").values_list("settled_fen", flat=True))


def test_a_payment_goes_to_the_oldest_line_first(alice, three_months):
    payment = payment_record(actor=alice, unit=three_months, amount_fen=25_000, method="cash", payer_name="业主001")
    assert _open(three_months) == [17_900, 7_100, 0]
    assert payment.receipt_no.startswith("T1-")
    assert prepaid_balances([three_months.pk]) == {}


def test_the_payers_choice_wins(alice, three_months):
    may = Bill.objects.get(unit=three_months, period_start=dt.date(2026, 5, 1))
    payment_record(actor=alice, unit=three_months, amount_fen=20_000, method="cash", bill_ids=[may.pk])
    # May first, as the payer said; the rest pays the oldest open line (March), nothing idles as prepaid
    assert _open(three_months) == [2_100, 0, 17_900]
    assert prepaid_balances([three_months.pk]) == {}


def test_an_overpayment_becomes_prepaid_and_pays_the_next_bill(alice, three_months, billed_estate):
    payment_record(actor=alice, unit=three_months, amount_fen=60_000, method="pos")
    assert prepaid_balances([three_months.pk]) == {three_months.pk: 60_000 - 3 * 17_900}
    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 6, 1))
    june = Bill.objects.get(unit=three_months, period_start=dt.date(2026, 6, 1))
    assert june.settled_fen == 60_000 - 3 * 17_900
    assert prepaid_balances([three_months.pk]) == {}


def test_receipt_numbers_run_in_sequence_per_project(alice, three_months):
    numbers = [payment_record(actor=alice, unit=three_months, amount_fen=100, method="cash").receipt_no
               for _ in range(3)]
    year = timezone.localdate().year
    assert numbers == [f"T1-{year}-000001", f"T1-{year}-000002", f"T1-{year}-000003"]


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"amount_fen": 0}, "amount_fen", "金额必须大于 0"),
    ({"amount_fen": -500}, "amount_fen", "金额必须大于 0"),
    ({"amount_fen": 5_000_001}, "amount_fen", "现金单笔不能超过 ¥50,000.00"),
    ({"method": "transfer"}, "reference", "需要填写流水号"),
    ({"method": "bitcoin"}, "method", "未知的收款方式"),
    ({"paid_at": timezone.now() + dt.timedelta(days=1)}, "paid_at", "不能晚于现在"),
])
def test_bad_payments_are_refused_and_nothing_is_written(alice, three_months, kwargs, field, message):
    args = {"actor": alice, "unit": three_months, "amount_fen": 10_000, "method": "cash"} | kwargs
    with pytest.raises(ValidationError) as info:
        payment_record(**args)
    assert message in " ".join(info.value.message_dict[field])
    assert Payment.objects.count() == 0 and Allocation.objects.count() == 0
    assert _open(three_months) == [0, 0, 0]


def test_money_must_be_integer_fen(alice, three_months):
    from decimal import Decimal

    with pytest.raises(ValidationError, match="整数"):
        payment_record(actor=alice, unit=three_months, amount_fen=Decimal("100.5"), method="cash")


def test_a_bank_reference_is_posted_once(alice, three_months):
    payment_record(actor=alice, unit=three_months, amount_fen=10_000, method="transfer", reference="B123")
    with pytest.raises(ValidationError, match="已登记过"):
        payment_record(actor=alice, unit=three_months, amount_fen=10_000, method="transfer", reference="B123")


def test_a_line_of_another_unit_cannot_be_chosen(alice, three_months, billed_estate):
    other = Bill.objects.filter(unit=billed_estate["units"][1]).first()
    with pytest.raises(ValidationError, match="不属于该房屋"):
        payment_record(actor=alice, unit=three_months, amount_fen=100, method="cash", bill_ids=[other.pk])
    assert Payment.objects.count() == 0


def test_a_bounced_transfer_is_reversed_and_the_lines_reopen(alice, three_months):
    payment = payment_record(actor=alice, unit=three_months, amount_fen=40_000, method="transfer", reference="X1")
    reversal = payment_reverse(actor=alice, payment=payment, reason="退票")
    assert reversal.amount_fen == -40_000 and reversal.reverses == payment
    assert _open(three_months) == [0, 0, 0]
    assert prepaid_balances([three_months.pk]) == {}
    with pytest.raises(ValidationError):
        payment_reverse(actor=alice, payment=payment, reason="again")


def test_the_account_summary_reports_arrears(alice, three_months, billed_estate):
    payment_record(actor=alice, unit=three_months, amount_fen=17_900, method="cash")
    rows = {s.unit_id: s for s in account_summaries(as_of=dt.date(2026, 5, 20),
                                                    project_id=billed_estate["project"].pk)}
    mine = rows[three_months.pk]
    assert mine.overdue_fen == 2 * 17_900 and mine.overdue_periods == 2
    assert mine.oldest_due == dt.date(2026, 4, 15) and mine.days_overdue == 35
    assert len(rows) == 36
    before_due = {s.unit_id for s in account_summaries(as_of=dt.date(2026, 3, 15))}
    assert before_due == set()
