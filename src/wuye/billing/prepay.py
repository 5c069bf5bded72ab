"""Pay-ahead discounts (预缴优惠): pay N months of a fee item at once, X % off.

The design keeps the ledger append-only and each figure explainable on the statement:

- a manager sets up an offer (``prepay_offer_save``): fee item, months, percentage, the dates it can be taken;
  setting it up is the approval of every discount given under it;
- at the desk finance takes the offer for a unit (``prepay_take``): the system quotes the covered periods from
  the fee standard in force for each (the same ``line_amount`` a bill run uses), the discount is rounded once
  on the total (``round_fen``, half away from zero) and spread over the periods by largest remainder, and the
  owner pays the total less the discount. The payment is an ordinary payment: with no open lines it goes to
  the unit's prepaid balance; the agreement and its periods record what was promised;
- as each covered period is billed, ``services.prepay_discounts_apply`` puts that period's discount on the
  new line as an approved adjustment (kind 预缴优惠, requested by the desk user, approved by the offer's
  manager) and the prepaid money pays the rest, as it pays any new line. No money exists before the bill it
  belongs to: the discount is never a credit up front, so prepaid is always real money received.

Refused: units with any open line (settle what is billed first — otherwise prepaid money would go to the
old lines and the last discounted periods would be left unpaid), offers outside their dates or inactive, an
amount other than the quoted one, and whatever ``payment_record`` refuses. Nothing is written then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.choices import Pricing
from wuye.billing.models import Bill, FeeItem, PrepayAgreement, PrepayOffer, PrepayPeriod
from wuye.billing.permissions import can_approve, can_record_payments
from wuye.billing.services import (
    _rates_in_force,
    add_months,
    cycle_start_months,
    largest_remainder,
    line_amount,
    payment_record,
    policy_for,
)
from wuye.common.formatting import format_yuan, round_fen
from wuye.estate.models import Project, Unit


@dataclass
class Quote:
    """What taking an offer means for a unit: the periods covered, each at the standard and its discount."""

    offer: PrepayOffer
    periods: list[tuple[dt.date, int, int]] = field(default_factory=list)  # (period start, gross, discount)

    @property
    def gross_fen(self) -> int:
        return sum(p[1] for p in self.periods)

    @property
    def discount_fen(self) -> int:
        return sum(p[2] for p in self.periods)

    @property
    def payable_fen(self) -> int:
        return self.gross_fen - self.discount_fen

    @property
    def explanation(self) -> str:
        first, last = self.periods[0][0], self.periods[-1][0]
        return (f"{first:%Y-%m} 起 {self.offer.months} 个月{self.offer.fee_item.name}：标准 {format_yuan(self.gross_fen)}"
                f" × {self.offer.discount_percent.normalize():f}% = 优惠 {format_yuan(self.discount_fen)}（四舍五入到分），"
                f"实收 {format_yuan(self.payable_fen)}；最后一期 {last:%Y-%m}")


@transaction.atomic
def prepay_offer_save(
    *, actor: User, project: Project, name: str, fee_item: FeeItem, months: int, discount_percent: Decimal,
    valid_from: dt.date, valid_to: dt.date,
) -> PrepayOffer:
    """A manager sets up a pay-ahead offer for a project."""
    if not can_approve(actor):
        raise ValidationError({"actor": "只有经理可以设定预缴优惠。"})
    errors = {}
    cycle = policy_for(project).cycle_months
    if not name.strip():
        errors["name"] = "请填写方案名称。"
    if fee_item.project_id != project.pk or fee_item.pricing == Pricing.ENTERED:
        errors["fee_item"] = "收费项目须是本项目按面积或按户计费的项目。"
    if not isinstance(months, int) or months <= 0 or months % cycle:
        errors["months"] = f"预缴月数须是账期（{cycle} 个月）的正整数倍。"
    if not isinstance(discount_percent, Decimal) or not Decimal("0") < discount_percent <= Decimal("30"):
        errors["discount_percent"] = "优惠比例须大于 0 且不超过 30%。"
    if valid_to < valid_from:
        errors["valid_to"] = "办理截止日不能早于起始日。"
    if errors:
        raise ValidationError(errors)
    offer = PrepayOffer.objects.create(project=project, name=name.strip(), fee_item=fee_item, months=months,
                                       discount_percent=discount_percent, valid_from=valid_from, valid_to=valid_to,
                                       created_by=actor)
    audit_record(actor=actor, verb="prepay.offer", obj=offer,
                 after={"months": months, "discount_percent": discount_percent, "valid_from": valid_from,
                        "valid_to": valid_to, "fee_item": fee_item.pk})
    return offer


@transaction.atomic
def prepay_offer_close(*, actor: User, offer: PrepayOffer) -> PrepayOffer:
    """Stop an offer (agreements already taken keep their discounts)."""
    if not can_approve(actor):
        raise ValidationError({"actor": "只有经理可以停用预缴优惠。"})
    PrepayOffer.objects.filter(pk=offer.pk).update(active=False)
    audit_record(actor=actor, verb="prepay.offer.close", obj=offer)
    offer.active = False
    return offer


def offers_open(project: Project, on: dt.date):
    return PrepayOffer.objects.filter(project=project, active=True, valid_from__lte=on, valid_to__gte=on) \
        .select_related("fee_item").order_by("months", "id")


def _cycle_start(policy, on: dt.date) -> dt.date:
    starts = cycle_start_months(policy)
    day = on.replace(day=1)
    while day.month not in starts:
        day = add_months(day, -1)
    return day


def prepay_quote(*, unit: Unit, offer: PrepayOffer, on: dt.date) -> Quote:
    """The periods and amounts taking ``offer`` on ``on`` would cover (no writes); refuses with a reason."""
    if offer.project_id != unit.project_id:
        raise ValidationError({"offer": "该优惠方案不属于这套房屋的项目。"})
    if not offer.active or not offer.valid_from <= on <= offer.valid_to:
        raise ValidationError({"offer": f"该优惠方案不在办理期内（{offer.valid_from:%Y-%m-%d} 至 "
                                        f"{offer.valid_to:%Y-%m-%d}{'' if offer.active else '，已停用'}）。"})
    open_fen = (Bill.objects.filter(unit=unit, is_void=False, settled_fen__lt=F("amount_fen"))
                .aggregate(t=Sum(F("amount_fen") - F("settled_fen")))["t"] or 0)
    if open_fen:
        raise ValidationError({"unit": f"该房屋还有未缴费用 {format_yuan(open_fen)}，请先结清已出账的费用，"
                                       f"再办理预缴优惠。"})
    policy = policy_for(unit.project)
    cycle = policy.cycle_months
    if offer.months % cycle:
        raise ValidationError({"offer": f"预缴月数须是账期（{cycle} 个月）的整数倍。"})
    item = offer.fee_item
    area, state, ptype = Unit.objects.filter(pk=unit.pk).values_list("area", "state", "property_type").get()
    first = _cycle_start(policy, on)
    last_billed = Bill.objects.filter(unit=unit, fee_item=item, is_void=False, late_fee_of__isnull=True) \
        .aggregate(m=Max("period_start"))["m"]
    last_covered = PrepayPeriod.objects.filter(agreement__unit=unit, agreement__offer__fee_item=item,
                                               agreement__cancelled_at__isnull=True) \
        .aggregate(m=Max("period_start"))["m"]
    for last in (last_billed, last_covered):
        if last is not None:
            first = max(first, add_months(last, cycle))
    starts = [add_months(first, cycle * k) for k in range(offer.months // cycle)]
    grosses = []
    for start in starts:
        rates = _rates_in_force(unit.project, start)
        rate = rates.get((item.pk, ptype)) or rates.get((item.pk, ""))
        if rate is None:
            raise ValidationError({"offer": f"{start:%Y-%m} 没有适用于该房屋的{item.name}收费标准。"})
        # the amount the bill run will post for that period (vacant units at their own rate)
        grosses.append(line_amount(item, rate, area=area, state=state, months=cycle)[0])
    gross = sum(grosses)
    discount = round_fen(Decimal(gross) * offer.discount_percent / Decimal(100))
    if discount <= 0 or discount >= gross:
        raise ValidationError({"offer": "该房屋按此方案没有可计算的优惠。"})
    shares = largest_remainder(discount, grosses)
    return Quote(offer, list(zip(starts, grosses, shares, strict=True)))


@transaction.atomic
def prepay_take(
    *, actor: User, unit: Unit, offer: PrepayOffer, amount_fen: int, method: str, reference: str = "",
    payer_name: str = "", paid_at: dt.datetime | None = None,
) -> PrepayAgreement:
    """Finance takes a pay-ahead offer for a unit: the quoted amount is received (to prepaid) and the discount
    of each covered period is recorded, to be given as that period is billed."""
    if not can_record_payments(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以办理预缴。"})
    Unit.objects.select_for_update().filter(pk=unit.pk).first()  # one agreement at a time per unit
    day = timezone.localtime(paid_at).date() if paid_at else timezone.localdate()
    quote = prepay_quote(unit=unit, offer=offer, on=day)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen != quote.payable_fen:
        raise ValidationError({"amount_fen": f"实收金额应为 {format_yuan(quote.payable_fen)}（标准 "
                                             f"{format_yuan(quote.gross_fen)}，优惠 {format_yuan(quote.discount_fen)}）。"})
    payment = payment_record(actor=actor, unit=unit, amount_fen=amount_fen, method=method, paid_at=paid_at,
                             payer_name=payer_name, reference=reference, note=f"预缴优惠：{offer.name}"[:300])
    agreement = PrepayAgreement.objects.create(project_id=unit.project_id, unit=unit, offer=offer, payment=payment,
                                               gross_fen=quote.gross_fen, discount_fen=quote.discount_fen,
                                               created_by=actor)
    PrepayPeriod.objects.bulk_create(PrepayPeriod(agreement=agreement, period_start=start, gross_fen=gross,
                                                  discount_fen=share) for start, gross, share in quote.periods)
    audit_record(actor=actor, verb="prepay.take", obj=agreement,
                 after={"offer": offer.pk, "payment": payment.pk, "gross_fen": quote.gross_fen,
                        "discount_fen": quote.discount_fen, "periods": [p[0] for p in quote.periods]})
    return agreement
