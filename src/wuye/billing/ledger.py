"""The ledger check: recompute every cached figure from the entries and report differences."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from wuye.billing.choices import AdjustmentKind, ApprovalStatus
from wuye.billing.models import Adjustment, Allocation, Bill
from wuye.billing.selectors import prepaid_balances
from wuye.common.changes import units_changed


@dataclass
class LedgerReport:
    units_checked: int = 0
    bills_checked: int = 0
    mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"units_checked": self.units_checked, "bills_checked": self.bills_checked,
                "mismatches": self.mismatches, "problems": self.problems[:50]}


def _recomputed():
    alloc = (Allocation.objects.filter(bill=OuterRef("pk")).values("bill")
             .annotate(t=Sum("amount_fen")).values("t"))
    adj = (Adjustment.objects.filter(bill=OuterRef("pk"), status=ApprovalStatus.APPROVED).values("bill")
           .annotate(t=Sum("amount_fen")).values("t"))
    voided = Adjustment.objects.filter(bill=OuterRef("pk"), status=ApprovalStatus.APPROVED,
                                       kind__in=[AdjustmentKind.VOID, AdjustmentKind.RUN_REVERSAL])
    zero = Value(0, output_field=IntegerField())
    return Bill.objects.annotate(
        alloc_fen=Coalesce(Subquery(alloc, output_field=IntegerField()), zero),
        adj_fen=Coalesce(Subquery(adj, output_field=IntegerField()), zero),
        void_now=Exists(voided),
    )


def check_ledger(*, rebuild: bool = False, project_id: int | None = None) -> LedgerReport:
    report = LedgerReport()
    bills = _recomputed()
    units = Bill.objects.all()
    if project_id is not None:
        bills, units = bills.filter(project_id=project_id), units.filter(project_id=project_id)
    report.bills_checked = bills.count()
    report.units_checked = units.values("unit_id").distinct().count()
    expected = F("alloc_fen") + F("adj_fen")
    wrong = bills.filter(~Q(settled_fen=expected) | ~Q(is_void=F("void_now")) | Q(alloc_fen__lt=0)
                         | Q(alloc_fen__gt=F("amount_fen")) | Q(**{"settled_fen__gt": F("amount_fen")}))
    for b in wrong.values("id", "unit_id", "amount_fen", "settled_fen", "alloc_fen", "adj_fen", "is_void",
                          "void_now")[:1000]:
        report.mismatches += 1
        report.problems.append(
            f"bill {b['id']} (unit {b['unit_id']}): cached settled {b['settled_fen']} void {b['is_void']}, "
            f"entries give {b['alloc_fen']} + {b['adj_fen']} void {b['void_now']} of {b['amount_fen']}")
        if rebuild:
            Bill.objects.filter(pk=b["id"]).update(settled_fen=b["alloc_fen"] + b["adj_fen"], is_void=b["void_now"])
            units_changed([b["unit_id"]])
    negative = {u: v for u, v in prepaid_balances(project_id=project_id).items() if v < 0}
    for unit_id, fen in sorted(negative.items())[:100]:
        report.mismatches += 1
        report.problems.append(f"unit {unit_id}: prepaid balance is negative ({fen} fen)")
    return report
