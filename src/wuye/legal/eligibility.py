"""Conditions for a 支付令 (民事诉讼法 225–228; 民诉法解释 427–440) and for suing at all (民法典 944(2)):
each condition is checked on the case as it stands and says, when it fails, what fails and where.

1. 金钱给付、已到期、数额确定 — every period claimed is past its due date and no adjustment of it is waiting
   for a decision (a void or waiver under review makes the amount uncertain);
2. 无争议 — no open dispute of the debtor's units covers a period claimed, and no line is marked disputed;
3. 可送达 — a deliverable address in China on record: a live postal address of the debtor, or the unit
   itself when the debtor lives there; a debtor who cannot be found (无法联系) or an address abroad fails;
4. 违约金有合同约定 — the late fee is claimed only where the contract sets a rate (else it is left out);
5. 未过诉讼时效 — periods time-barred on the filing day are left out; at least one period must remain. Each
   line's clock is computed afresh on that day (``clocks.limitation_clocks``), not read from the expiry frozen
   at opening: an acknowledgement since (a promise or an installment plan) revives a period the opening found barred,
   and an interruption undone since (a payment reversed, a promise withdrawn) no longer keeps one alive — so the
   check covers exactly the periods the 支付令申请书 and 起诉状 drafts claim (decision 130);
6. 已书面催告 — a written demand naming every period claimed reached the debtor and its deadline has passed
   (or the law firm's letter was delivered); without it the next step is that demand, not a filing;
7. 仍有欠款 — something claimed is still unpaid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Q
from django.utils import timezone

from wuye.billing.models import Adjustment, Bill
from wuye.billing.services import policy_for
from wuye.casework.choices import DisputeStatus
from wuye.casework.models import Dispute
from wuye.dunning.choices import AccountClass, ActionStatus, Channel
from wuye.dunning.models import Action, Episode
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind, OccupancyState
from wuye.estate.models import ContactPoint, Unit
from wuye.estate.selectors import liable_party_ids
from wuye.legal.choices import Event
from wuye.legal.signers import unaccepted_deliveries

ABROAD_WORDS = ("香港", "澳门", "台湾", "境外", "国外", "海外", "USA", "U.S.A", "Canada", "Australia", "Japan",
                "Singapore", "United Kingdom", "美国", "加拿大", "澳大利亚", "日本", "新加坡", "英国", "新西兰")
WRITTEN = (Channel.SMS, Channel.WECHAT, Channel.EMAIL, Channel.NOTICE, Channel.REGISTERED)


@dataclass(frozen=True)
class Condition:
    code: str
    label: str
    ok: bool
    detail: str


def _periods(lines) -> str:
    return "、".join(sorted({f"{line.period_start:%Y-%m}" for line in lines}))


def barred_lines(lines, as_of: dt.date) -> set[int]:
    """Bill ids of the case lines whose limitation period has run out by ``as_of`` — the live clock of each line
    on that day (one grouped read for all of them), as the documents compute it."""
    from wuye.legal.clocks import limitation_clocks

    bill_ids = [x.bill_id for x in lines]
    if not bill_ids:
        return set()
    clocks = {lc.bill_id: lc.clock for lc in limitation_clocks(as_of=as_of, bill_ids=bill_ids)}
    # a line the read no longer returns (voided since) keeps the verdict frozen at opening
    return {x.bill_id for x in lines if (clocks[x.bill_id].barred(as_of) if x.bill_id in clocks
                                         else x.barred or x.expiry < as_of)}


def payment_order_conditions(case, *, as_of: dt.date) -> list[Condition]:
    """The 支付令 conditions for ``case`` on ``as_of``; a lawsuit needs 6 and 7 (``lawsuit_conditions``)."""
    lines = list(case.lines.all())
    barred_ids = barred_lines(lines, as_of)
    live = [x for x in lines if x.bill_id not in barred_ids]
    bill_ids = [x.bill_id for x in live]
    open_now = dict(Bill.objects.filter(pk__in=bill_ids).values_list("pk", F("amount_fen") - F("settled_fen")))
    claimed = [x for x in live if open_now.get(x.bill_id, 0) > 0]
    out = []

    not_due = [x for x in claimed if x.due_date >= as_of]
    pending = set(Adjustment.objects.filter(bill_id__in=[x.bill_id for x in claimed], status="pending")
                  .values_list("bill_id", flat=True))
    uncertain = [x for x in claimed if x.bill_id in pending]
    if not_due:
        detail = f"账期 {_periods(not_due)} 尚未到缴费截止日"
    elif uncertain:
        detail = f"账期 {_periods(uncertain)} 有待审批的作废/减免，金额尚未确定"
    else:
        detail = "所主张各期均已到期、金额确定"
    out.append(Condition("matured", "金钱给付，已到期且数额确定", not (not_due or uncertain), detail))

    units = sorted({x.unit_id for x in claimed})
    disputed: set[int] = set(Bill.objects.filter(pk__in=[x.bill_id for x in claimed], disputed_since__isnull=False)
                             .values_list("pk", flat=True))
    for unit_id, bills in Dispute.objects.filter(unit_id__in=units, status=DisputeStatus.OPEN).values_list(
            "unit_id", "bill_ids"):
        named = {int(b) for b in bills or []}
        for x in claimed:
            if x.unit_id == unit_id and (not named or x.bill_id in named):
                disputed.add(x.bill_id)
    hit = [x for x in claimed if x.bill_id in disputed]
    out.append(Condition("undisputed", "债权债务无争议", not hit,
                         f"账期 {_periods(hit)} 有未解决的争议" if hit else "所主张各期没有未解决的争议"))

    out.append(_address(case, units))

    per_mille = policy_for(case.project).late_fee_per_mille
    out.append(Condition("late_fee_clause", "违约金以合同约定为限", True,
                         f"合同约定日 {per_mille.normalize():f}‰，按法院通常支持的标准主张" if per_mille > 0
                         else "合同没有违约金条款，申请书不主张违约金"))

    barred = [x for x in lines if x.bill_id in barred_ids]
    if not live:
        out.append(Condition("limitation", "在诉讼时效期间内", False, "所有账期均已超过诉讼时效"))
    else:
        revived = [x for x in live if x.barred]
        detail = f"已过时效的账期 {_periods(barred)} 不列入" if barred else "各期均在诉讼时效期间内"
        if revived:
            detail += f"；账期 {_periods(revived)} 立案时已过时效，此后债务人同意履行（承诺缴费或分期协议），列入"
        out.append(Condition("limitation", "在诉讼时效期间内", True, detail))

    out.append(_demanded(case, claimed, as_of))
    out.append(Condition("owing", "仍有欠款", bool(claimed),
                         "仍欠 " + _periods(claimed) if claimed else "所主张的账期已全部缴清或已过时效"))
    return out


def lawsuit_conditions(case, *, as_of: dt.date) -> list[Condition]:
    return [c for c in payment_order_conditions(case, as_of=as_of) if c.code in ("demand", "owing", "limitation")]


def failed(conditions: list[Condition]) -> list[Condition]:
    return [c for c in conditions if not c.ok]


def _address(case, unit_ids: list[int]) -> Condition:
    label = "有可送达的境内地址"
    party = case.party
    addresses = list(ContactPoint.objects.filter(party=party, kind=ContactKind.ADDRESS)
                     .exclude(validity__in=list(DEAD_VALIDITIES)).values_list("value", flat=True))
    abroad = [a for a in addresses if any(w.lower() in a.lower() for w in ABROAD_WORDS)]
    domestic = [a for a in addresses if a not in abroad]
    unreachable = Episode.objects.filter(unit_id__in=unit_ids, closed_on__isnull=True,
                                         account_class=AccountClass.UNREACHABLE).exists()
    # the unit is the debtor's address only while they are its owner and live there: a seller's old flat, where
    # the buyer lives now, is no address for the seller
    self_occupied = list(Unit.objects.filter(pk__in=unit_ids, state=OccupancyState.SELF_OCCUPIED)
                         .values_list("pk", flat=True))
    owners = liable_party_ids(self_occupied, timezone.localdate()) if self_occupied else {}
    lives_there = any(owners.get(u) == party.pk for u in self_occupied)
    if unreachable and not domestic:
        return Condition("address", label, False, "债务人下落不明（催缴分类：无法联系），且没有有效的通讯地址")
    if domestic:
        return Condition("address", label, True, f"通讯地址：{domestic[0]}")
    if abroad:
        return Condition("address", label, False, f"登记的地址在境外（{abroad[0]}），支付令无法在境内送达")
    if lives_there:
        return Condition("address", label, True, "债务人自住，可向房屋所在地送达")
    return Condition("address", label, False, "没有登记有效的通讯地址，且债务人不在该房屋居住")


def _demanded(case, claimed, as_of: dt.date) -> Condition:
    """Every period claimed was named in a written demand that reached the debtor and whose deadline passed."""
    label = "已书面催告且期限已过"
    if case.events.filter(event=Event.LETTER_DELIVERED, on__lt=as_of).exists():
        return Condition("demand", label, True, "律师函已送达")
    units = sorted({x.unit_id for x in claimed})
    covered: dict[int, set[str]] = {}
    qs = Action.objects.filter(unit_id__in=units, status=ActionStatus.DELIVERED, channel__in=list(WRITTEN))
    # a demand counts for the debtor it was addressed to (rows from before the outbox recorded one: whoever owed)
    qs = qs.filter(Q(party_id=case.party_id) | Q(party__isnull=True))
    # a notice signed for by someone who could not receive it for the debtor is no demand (decision 160)
    qs = qs.exclude(pk__in=list(unaccepted_deliveries(unit_ids=units)))
    for unit_id, periods, deadline, delivered in qs.values_list("unit_id", "periods", "deadline", "delivered_at"):
        last_day = deadline or (timezone.localtime(delivered).date() if delivered else None)
        if last_day is not None and last_day < as_of:
            covered.setdefault(unit_id, set()).update(periods or [])
    missing = [x for x in claimed if x.period_start.isoformat() not in covered.get(x.unit_id, set())]
    if missing:
        return Condition("demand", label, False,
                         f"账期 {_periods(missing)} 没有已送达且已过期限的书面催告（先发催告函，民法典 944 条）")
    return Condition("demand", label, True, "各期均有已送达的书面催告，缴费期限已过")
