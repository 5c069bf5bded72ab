"""Pay-ahead discounts (预缴优惠): a manager's offer, taken at the desk, given as each period is billed."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wuye.billing.choices import AdjustmentKind
from wuye.billing.ledger import check_ledger
from wuye.billing.models import Adjustment, Allocation, Bill, Payment, PrepayAgreement
from wuye.billing.prepay import prepay_offer_save, prepay_quote, prepay_take
from wuye.billing.selectors import prepaid_balances, statement_for_unit
from wuye.billing.services import (
    adjustment_request,
    bill_generate,
    bill_run_reverse,
    payment_record,
    payment_reverse,
)

D = dt.date
TODAY = D(2026, 12, 1)
PAID = dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)  # 10:00 in Shanghai


@pytest.fixture
def offer(alice, billed_estate):
    """12 months of 物业服务费 ahead, 5 % off, takeable through December 2026."""
    return prepay_offer_save(actor=alice, project=billed_estate["project"], name="年缴九五折",
                             fee_item=billed_estate["fee_item"], months=12, discount_percent=Decimal("5"),
                             valid_from=D(2026, 11, 1), valid_to=D(2026, 12, 31))


def test_the_quote_is_the_standard_less_the_discount_rounded_once(offer, billed_estate):
    unit = billed_estate["units"][0]  # 89.50 m² × ¥2.00 = ¥179.00 a month
    quote = prepay_quote(unit=unit, offer=offer, on=TODAY)
    assert [p[0] for p in quote.periods][:2] == [D(2026, 12, 1), D(2027, 1, 1)] and len(quote.periods) == 12
    assert quote.gross_fen == 12 * 17_900 == 214_800
    assert quote.discount_fen == 10_740  # 2,148.00 × 5 % = 107.40
    assert sum(p[2] for p in quote.periods) == 10_740 and {p[2] for p in quote.periods} == {895}
    assert quote.payable_fen == 204_060


def test_taken_at_the_desk_and_given_period_by_period(alice, offer, billed_estate):
    unit = billed_estate["units"][0]
    agreement = prepay_take(actor=alice, unit=unit, offer=offer, amount_fen=204_060, method="cash", paid_at=PAID)
    assert prepaid_balances([unit.pk])[unit.pk] == 204_060
    assert agreement.payment.note.startswith("预缴优惠")
    bill_generate(actor=alice, project=unit.project, period=D(2026, 12, 1))
    bill = Bill.objects.get(unit=unit, period_start=D(2026, 12, 1))
    adj = Adjustment.objects.get(bill=bill)
    assert (adj.kind, adj.amount_fen, adj.status) == (AdjustmentKind.PREPAY_DISCOUNT, 895, "approved")
    assert adj.requested_by == alice and adj.decided_by == offer.created_by and adj.prepay_period.agreement == agreement
    assert bill.settled_fen == bill.amount_fen == 17_900  # 179.00 − 8.95 discount paid from prepaid
    assert Allocation.objects.get(bill=bill).amount_fen == 17_005
    # a second run of the same period gives nothing twice
    assert bill_generate(actor=alice, project=unit.project, period=D(2026, 12, 1)) is None
    assert Adjustment.objects.filter(bill__unit=unit).count() == 1
    line = next(ln for ln in statement_for_unit(unit, as_of=TODAY).lines if ln.bill.pk == bill.pk)
    assert line.adjusted_fen == 895 and "预缴优惠" in line.notes
    assert check_ledger().mismatches == 0


def test_a_reversed_run_moves_the_discount_to_the_new_line(alice, offer, billed_estate):
    unit = billed_estate["units"][0]
    prepay_take(actor=alice, unit=unit, offer=offer, amount_fen=204_060, method="cash", paid_at=PAID)
    run = bill_generate(actor=alice, project=unit.project, period=D(2026, 12, 1))
    bill_run_reverse(actor=alice, run=run, reason="单价录错")
    bill_generate(actor=alice, project=unit.project, period=D(2026, 12, 1))
    live = Bill.objects.get(unit=unit, period_start=D(2026, 12, 1), is_void=False)
    assert live.adjustments.get().amount_fen == 895 and live.settled_fen == live.amount_fen
    assert prepaid_balances([unit.pk])[unit.pk] == 204_060 - 17_005
    assert check_ledger().mismatches == 0


@pytest.mark.parametrize(("case", "field", "message"), [
    ("arrears", "unit", "还有未缴费用"),
    ("expired", "offer", "不在办理期内"),
    ("amount", "amount_fen", "实收金额应为 ¥2,040.60"),
    ("method", "amount_fen", "现金单笔不能超过"),
])
def test_refusals_write_nothing(alice, offer, billed_estate, case, field, message):
    unit = billed_estate["units"][0]
    amount, kwargs = 204_060, {}
    if case == "arrears":
        bill_generate(actor=alice, project=unit.project, period=D(2026, 11, 1))
    if case == "expired":
        offer.valid_to = D(2026, 11, 30)
        offer.save()
    if case == "amount":
        amount = 214_800
    if case == "method":
        offer.months, offer.discount_percent = 12, Decimal("5")
        offer.save()
        from wuye.billing.models import Rate

        Rate.objects.filter(fee_item=offer.fee_item).update(price=Decimal("50"))
        amount = prepay_quote(unit=unit, offer=offer, on=TODAY).payable_fen
    before = (Payment.objects.count(), PrepayAgreement.objects.count())
    with pytest.raises(ValidationError) as exc:
        prepay_take(actor=alice, unit=unit, offer=offer, amount_fen=amount, method="cash", **kwargs, paid_at=PAID)
    assert message in " ".join(exc.value.message_dict[field])
    assert (Payment.objects.count(), PrepayAgreement.objects.count()) == before


def test_only_a_manager_sets_up_an_offer(bob, billed_estate):
    with pytest.raises(ValidationError, match="只有经理"):
        prepay_offer_save(actor=bob, project=billed_estate["project"], name="x", fee_item=billed_estate["fee_item"],
                          months=12, discount_percent=Decimal("5"), valid_from=TODAY, valid_to=TODAY)


def test_a_bounced_prepayment_is_reversed_only_before_a_discount_was_given(alice, offer, billed_estate):
    unit, other = billed_estate["units"][0], billed_estate["units"][1]
    first = prepay_take(actor=alice, unit=unit, offer=offer, amount_fen=204_060, method="transfer", reference="P1", paid_at=PAID)
    payment_reverse(actor=alice, payment=first.payment, reason="退票")
    first.refresh_from_db()
    assert first.cancelled_at is not None
    bill_generate(actor=alice, project=unit.project, period=D(2026, 12, 1))
    assert not Adjustment.objects.filter(bill__unit=unit).exists()  # a cancelled agreement gives nothing
    payment_record(actor=alice, unit=other, amount_fen=18_100, method="cash")  # December, billed and paid
    quote = prepay_quote(unit=other, offer=offer, on=TODAY)
    assert quote.periods[0][0] == D(2027, 1, 1)  # December is billed: the offer covers the next 12 months
    second = prepay_take(actor=alice, unit=other, offer=offer, amount_fen=quote.payable_fen, method="transfer",
                         reference="P2", paid_at=PAID)
    bill_generate(actor=alice, project=unit.project, period=D(2027, 1, 1))
    with pytest.raises(ValidationError, match="享受了优惠"):
        payment_reverse(actor=alice, payment=second.payment, reason="退票")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.sampled_from(["run", "reverse_run", "void_reissue", "pay", "take_other"]), max_size=8),
       percent=st.sampled_from([Decimal("5"), Decimal("7.5"), Decimal("10")]),
       months=st.sampled_from([3, 6, 12]))
def test_no_fen_is_created_or_lost(alice, billed_estate, steps, percent, months):
    """Random bill runs, run reversals, void-and-reissue and payments around pay-ahead agreements: every fen
    received is either applied or prepaid, every line's settled amount is its allocations plus adjustments,
    each period's discount is given at most once on a live line, and check_ledger stays clean."""
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        project = billed_estate["project"]
        offer = prepay_offer_save(actor=alice, project=project, name="预缴", fee_item=billed_estate["fee_item"],
                                  months=months, discount_percent=percent, valid_from=D(2026, 11, 1),
                                  valid_to=D(2026, 12, 31))
        units = billed_estate["units"][:3]
        q = prepay_quote(unit=units[0], offer=offer, on=TODAY)
        prepay_take(actor=alice, unit=units[0], offer=offer, amount_fen=q.payable_fen, method="cash", paid_at=PAID)
        period, runs, n = D(2026, 12, 1), [], 0
        for step in steps:
            n += 1
            if step == "run":
                run = bill_generate(actor=alice, project=project, period=period)
                runs.append(run)
                period = D(period.year + period.month // 12, period.month % 12 + 1, 1)
            elif step == "reverse_run" and runs and runs[-1] is not None and not runs[-1].reversed_at:
                bill_run_reverse(actor=alice, run=runs[-1], reason="重出")
                bill_generate(actor=alice, project=project, period=runs[-1].period)
            elif step == "void_reissue":
                bill = Bill.objects.filter(unit=units[0], is_void=False, late_fee_of__isnull=True).order_by("-id").first()
                if bill:
                    adjustment_request(actor=alice, bill=bill, kind="void", reason="面积更正",
                                       reissue_amount_fen=bill.amount_fen - 100)
            elif step == "pay":
                payment_record(actor=alice, unit=units[1], amount_fen=10_000 + n, method="cash")
            elif step == "take_other":
                try:
                    q2 = prepay_quote(unit=units[2], offer=offer, on=TODAY)
                except ValidationError:
                    continue
                prepay_take(actor=alice, unit=units[2], offer=offer, amount_fen=q2.payable_fen, method="cash", paid_at=PAID)
        received = Payment.objects.aggregate(t=Sum("amount_fen"))["t"] or 0
        applied = Allocation.objects.aggregate(t=Sum("amount_fen"))["t"] or 0
        assert received == applied + sum(prepaid_balances().values())
        assert all(v >= 0 for v in prepaid_balances().values())
        for agreement in PrepayAgreement.objects.all():
            for period_row in agreement.periods.all():
                given_live = period_row.adjustments.filter(bill__is_void=False)
                assert given_live.count() <= 1
                assert (given_live.aggregate(t=Sum("amount_fen"))["t"] or 0) <= period_row.discount_fen
            assert sum(p.discount_fen for p in agreement.periods.all()) == agreement.discount_fen
        assert check_ledger().mismatches == 0
    finally:
        transaction.savepoint_rollback(sid)


def test_a_manager_sets_up_an_offer_on_its_page_and_finance_takes_it_at_the_desk(alice, client, billed_estate):
    project, unit = billed_estate["project"], billed_estate["units"][0]
    client.force_login(alice)
    url = f"/billing/projects/{project.pk}/prepay-offers/"
    bad = client.post(url, {"name": "年缴", "fee_item": billed_estate["fee_item"].pk, "months": 12,
                            "discount_percent": "50", "valid_from": "2026-11-01", "valid_to": "2027-01-31"},
                      follow=True).content.decode()
    assert "优惠比例须大于 0 且不超过 30%" in bad and not project.prepay_offers.exists()
    client.post(url, {"name": "年缴九五折", "fee_item": billed_estate["fee_item"].pk, "months": 12,
                      "discount_percent": "5", "valid_from": "2026-11-01", "valid_to": "2099-12-31"})
    offer = project.prepay_offers.get()
    assert offer.created_by == alice
    page = client.get(f"/billing/units/{unit.pk}/").content.decode()
    assert "年缴九五折" in page and "办理预缴优惠" in page and "优惠" in page
    quote = prepay_quote(unit=unit, offer=offer, on=dt.date.today())
    wrong = client.post(f"/billing/units/{unit.pk}/prepay/", {"offer": offer.pk, "amount": "100.00",
                                                              "method": "cash"}, follow=True).content.decode()
    assert "实收金额应为" in wrong and not PrepayAgreement.objects.exists()
    yuan = f"{quote.payable_fen // 100}.{quote.payable_fen % 100:02d}"
    receipt = client.post(f"/billing/units/{unit.pk}/prepay/", {"offer": offer.pk, "amount": yuan,
                                                                "method": "cash"}, follow=True).content.decode()
    agreement = PrepayAgreement.objects.get()
    assert agreement.payment.amount_fen == quote.payable_fen
    assert "预缴优惠：年缴九五折" in receipt and "107.40" in receipt  # the discount on the receipt
