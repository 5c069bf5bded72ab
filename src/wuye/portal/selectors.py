"""Read queries of the portal: an owner's bill as the link shows it, finance's list, contact preferences."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Case, F, IntegerField, Q, Value, When

from wuye.billing.models import Allocation, Bill, Payment
from wuye.billing.selectors import Statement, StatementLine, statement_for_unit
from wuye.common.lookups import Ids
from wuye.estate.choices import ContactKind, OccupantRole
from wuye.estate.models import ContactPoint, Occupancy, Party
from wuye.portal.choices import PARKED_RESULTS, NotificationResult, OrderStatus
from wuye.portal.models import ContactPreference, PaymentNotification, PaymentOrder


@dataclass
class PeriodGroup:
    """The open lines of one billing period, so an owner can choose periods to pay."""

    period: dt.date
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def open_fen(self) -> int:
        return sum(line.open_fen for line in self.lines)

    @property
    def bill_ids(self) -> str:
        return ",".join(str(line.bill.pk) for line in self.lines)


@dataclass
class OwnerBill:
    statement: Statement
    periods: list[PeriodGroup]
    late_lines: list[StatementLine]  # lines with a late fee accrued to date (not yet charged)
    owner_name: str  # masked
    phone: str  # masked


def _mask_name(name: str) -> str:
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 2) if len(name) > 1 else name


def owner_bill(unit, *, as_of: dt.date, party_id: int | None = None) -> OwnerBill:
    """The bill a link shows. With ``party_id`` (every link made since links carry their party): only that
    party's lines — after a sale each period belongs to the party liable then (``Bill.party``) — the payments
    that went to those lines only (or were made through that party's orders), and that party's own masked
    name and phone. Nothing of another party's debt, periods, payments or name. A unit whose lines are all
    that party's shows as it always did (with the prepaid balance, which is the unit's)."""
    statement = statement_for_unit(unit, as_of=as_of)
    if party_id is not None and any(line.bill.party_id != party_id for line in statement.lines):
        mine = [line for line in statement.lines if line.bill.party_id == party_id]
        statement = Statement(statement.unit_id, statement.as_of, mine,
                              visible_payments(statement.payments, {line.bill.pk for line in mine}, party_id),
                              prepaid_fen=0)
    groups: OrderedDict[dt.date, PeriodGroup] = OrderedDict()
    for line in statement.lines:
        if line.open_fen > 0:
            groups.setdefault(line.bill.period_start, PeriodGroup(line.bill.period_start)).lines.append(line)
    late = [line for line in statement.lines if line.late_fee and line.late_fee.amount_fen > 0]
    if party_id is None:
        owner = (Occupancy.objects.filter(unit=unit, role=OccupantRole.OWNER, start__lte=as_of)
                 .exclude(end__lt=as_of).select_related("party").order_by("-start").first())
        party = owner.party if owner is not None else None
    else:
        party = Party.objects.filter(pk=party_id).first()
    name, phone = "", ""
    if party is not None:
        from wuye.common.formatting import mask_phone

        name = _mask_name(party.name)
        contact = (ContactPoint.objects.filter(party=party, kind=ContactKind.MOBILE)
                   .order_by("-is_primary", "id").first())
        phone = mask_phone(contact.value) if contact else ""
    return OwnerBill(statement, list(groups.values()), late, name, phone)


def visible_payments(payments: list[Payment], bill_ids: set[int], party_id: int) -> list[Payment]:
    """Of a unit's payments, those a party may see: money that paid only that party's lines, or that came
    through that party's own online orders; a reversal goes with the payment it reverses. Two queries."""
    ids = [p.pk for p in payments]
    touched: dict[int, set[int]] = defaultdict(set)
    for payment_id, bill_id in Allocation.objects.filter(payment_id__in=ids, amount_fen__gt=0).values_list(
            "payment_id", "bill_id"):
        touched[payment_id].add(bill_id)
    own_orders = set(PaymentOrder.objects.filter(payment_id__in=ids).filter(
        Q(party_id=party_id) | Q(party__isnull=True, link__party_id=party_id)).values_list("payment_id", flat=True))
    shown = {p.pk for p in payments if p.amount_fen > 0 and (
        p.pk in own_orders or (touched.get(p.pk) and touched[p.pk] <= bill_ids))}
    return [p for p in payments if p.pk in shown or (p.amount_fen < 0 and p.reverses_id in shown)]


def scope_payment_ids(unit, party_id: int | None) -> set[int] | None:
    """The payments a link of ``party_id`` may open (receipts); None means all of the unit's. Four queries."""
    if party_id is None:
        return None
    bills = list(Bill.objects.filter(unit=unit).values_list("pk", "party_id"))
    if all(p == party_id for _, p in bills):
        return None
    mine = {pk for pk, p in bills if p == party_id}
    return {p.pk for p in visible_payments(list(Payment.objects.filter(unit=unit)), mine, party_id)}


def orders_needing_finance_q() -> Q:
    """Orders finance must look at: parked (money not posted), a refund whose outcome is not known yet
    (退款待核实), or a paid order whose automatic refund (it was paid twice) did not go through."""
    return (Q(status=OrderStatus.PARKED, resolved_at__isnull=True) | Q(status=OrderStatus.REFUNDING)
            | (Q(status=OrderStatus.PAID, resolved_at__isnull=True) & ~Q(park_reason="")))


def finance_orders(project_ids: Iterable[int] | None = None):
    """Orders, those needing finance first, then newest."""
    qs = PaymentOrder.objects.select_related("unit", "payment")
    if project_ids is not None:
        qs = qs.filter(project_id__in=list(project_ids))
    return qs.annotate(rank=Case(When(orders_needing_finance_q(), then=Value(0)),
                                 default=Value(1), output_field=IntegerField())).order_by("rank", "-created_at")


def parked_notifications_q() -> Q:
    """Notifications waiting for finance. A copy that failed while another copy of the same transaction
    posted it is not one of them (it is a duplicate, whatever order the copies finished in)."""
    posted_by_another = Q(result=NotificationResult.PARKED_ERROR, order__payment__isnull=False,
                          order__transaction_id=F("transaction_id"))
    return Q(result__in=list(PARKED_RESULTS), resolved_at__isnull=True) & ~posted_by_another


def finance_notifications(project_ids: Iterable[int] | None = None):
    """Notifications, parked and unresolved first. Notifications for unknown orders have no project."""
    qs = PaymentNotification.objects.select_related("order", "order__unit")
    if project_ids is not None:
        qs = qs.filter(Q(order__project_id__in=list(project_ids)) | Q(order__isnull=True))
    return qs.annotate(rank=Case(When(parked_notifications_q(), then=Value(0)), default=Value(1),
                                 output_field=IntegerField())).order_by("rank", "-received_at", "-id")


def opted_out_unit_ids(unit_ids: Iterable[int] | None = None) -> set[int]:
    """Units whose owner opted out of non-essential messages (pre-due reminders, notices that are not a
    demand). Dunning reads this through ``settings.WUYE_CONTACT_PREFERENCES``."""
    qs = ContactPreference.objects.filter(opt_out_non_essential=True)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids([int(u) for u in unit_ids]))
    return set(qs.values_list("unit_id", flat=True))


def contact_preferences(unit_ids: Iterable[int]) -> dict[int, ContactPreference]:
    return {p.unit_id: p for p in ContactPreference.objects.filter(unit_id__in=list(unit_ids))}


@dataclass
class PendingRequest:
    """An owner's request still being handled, shown on their bill so they do not ask twice."""

    kind: str  # "installment" | "dispute"
    title: str
    detail: str
    since: dt.datetime | None


def pending_requests(unit, *, party_id: int | None = None) -> list[PendingRequest]:
    """The unit's installment plan waiting for the manager (or already running), and the owner's disputes
    still open — for a link bound to a party, only the disputes raised through that party's links."""
    from wuye.billing.models import InstallmentPlan
    from wuye.common.formatting import format_yuan
    from wuye.portal.choices import RequestKind, RequestStatus
    from wuye.portal.models import OwnerRequest

    out: list[PendingRequest] = []
    for plan in (InstallmentPlan.objects.filter(unit=unit, status__in=[InstallmentPlan.Status.PENDING,
                                                                       InstallmentPlan.Status.ACTIVE])
                 .prefetch_related("items").order_by("requested_at")):
        n = len(plan.items.all())
        if plan.status == InstallmentPlan.Status.PENDING:
            out.append(PendingRequest("installment", "分期申请审批中",
                                      f"{n} 期，共 {format_yuan(plan.total_fen)}；物业经理审批后会通知您。",
                                      plan.requested_at))
        else:
            first_open = next((i for i in plan.items.all()), None)
            out.append(PendingRequest("installment", "分期执行中",
                                      f"{n} 期，共 {format_yuan(plan.total_fen)}"
                                      + (f"；第一期 {first_open.due_date:%Y-%m-%d}" if first_open else ""),
                                      plan.decided_at))
    disputes = OwnerRequest.objects.filter(unit=unit, kind=RequestKind.DISPUTE).filter(
        Q(dispute__status="open") | Q(dispute__isnull=True, status__in=[RequestStatus.OPEN, RequestStatus.FORWARDED]))
    if party_id:
        disputes = disputes.filter(Q(link__party_id=party_id) | Q(link__isnull=True))
    for req in disputes.order_by("created_at"):
        out.append(PendingRequest("dispute", "异议核实中", (req.text or "")[:80], req.created_at))
    return out
