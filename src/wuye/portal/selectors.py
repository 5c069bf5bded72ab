"""Read queries of the portal: an owner's bill as the link shows it, finance's list, contact preferences."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, Q, Value, When

from wuye.billing.selectors import Statement, StatementLine, statement_for_unit
from wuye.estate.choices import ContactKind, OccupantRole
from wuye.estate.models import ContactPoint, Occupancy
from wuye.portal.choices import PARKED_RESULTS, OrderStatus
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


def owner_bill(unit, *, as_of: dt.date) -> OwnerBill:
    statement = statement_for_unit(unit, as_of=as_of)
    groups: OrderedDict[dt.date, PeriodGroup] = OrderedDict()
    for line in statement.lines:
        if line.open_fen > 0:
            groups.setdefault(line.bill.period_start, PeriodGroup(line.bill.period_start)).lines.append(line)
    late = [line for line in statement.lines if line.late_fee and line.late_fee.amount_fen > 0]
    today = as_of
    owner = (Occupancy.objects.filter(unit=unit, role=OccupantRole.OWNER, start__lte=today)
             .exclude(end__lt=today).select_related("party").order_by("-start").first())
    name, phone = "", ""
    if owner is not None:
        from wuye.common.formatting import mask_phone

        name = _mask_name(owner.party.name)
        contact = (ContactPoint.objects.filter(party=owner.party, kind=ContactKind.MOBILE)
                   .order_by("-is_primary", "id").first())
        phone = mask_phone(contact.value) if contact else ""
    return OwnerBill(statement, list(groups.values()), late, name, phone)


def finance_orders(project_ids: Iterable[int] | None = None):
    """Orders, parked and unresolved first, then newest."""
    qs = PaymentOrder.objects.select_related("unit", "payment")
    if project_ids is not None:
        qs = qs.filter(project_id__in=list(project_ids))
    return qs.annotate(rank=Case(When(status=OrderStatus.PARKED, resolved_at__isnull=True, then=Value(0)),
                                 default=Value(1), output_field=IntegerField())).order_by("rank", "-created_at")


def parked_notifications_q() -> Q:
    return Q(result__in=list(PARKED_RESULTS), resolved_at__isnull=True)


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
        qs = qs.filter(unit_id__in=list(unit_ids))
    return set(qs.values_list("unit_id", flat=True))


def contact_preferences(unit_ids: Iterable[int]) -> dict[int, ContactPreference]:
    return {p.unit_id: p for p in ContactPreference.objects.filter(unit_id__in=list(unit_ids))}
