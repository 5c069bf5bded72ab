"""The ledger check: recompute every cached figure from the entries and report differences."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from wuye.billing.choices import AdjustmentKind, ApprovalStatus
from wuye.billing.models import Adjustment, Allocation, Bill, UnitBalance
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
    _check_balances(report, rebuild=rebuild, project_id=project_id)
    return report


# Each unit's prepaid balance from the entries beside the cached one (UnitBalance), only where they differ or
# the entries give a negative balance: one grouped pass over payments and allocations.
_BALANCE_SQL = """
SELECT COALESCE(e.unit_id, c.unit_id), e.fen, c.prepaid_fen
FROM (SELECT unit_id, sum(fen) AS fen FROM (
          SELECT unit_id, amount_fen AS fen FROM billing_payment WHERE {pay_where}
          UNION ALL
          SELECT p.unit_id, -a.amount_fen FROM billing_allocation a JOIN billing_payment p ON p.id = a.payment_id
          WHERE {alloc_where}) d
      GROUP BY unit_id) e
FULL OUTER JOIN (SELECT unit_id, prepaid_fen FROM billing_unitbalance WHERE {cache_where}) c
     ON c.unit_id = e.unit_id
WHERE COALESCE(e.fen, 0) <> COALESCE(c.prepaid_fen, 0) OR e.fen < 0
ORDER BY 1
"""


def _check_balances(report: LedgerReport, *, rebuild: bool, project_id: int | None) -> None:
    if project_id is None:
        where = {"pay_where": "TRUE", "alloc_where": "TRUE", "cache_where": "TRUE"}
        params: list = []
    else:
        where = {"pay_where": "project_id = %s", "alloc_where": "p.project_id = %s", "cache_where": "project_id = %s"}
        params = [project_id] * 3
    with connection.cursor() as cursor:
        cursor.execute(_BALANCE_SQL.format(**where), params)
        rows = cursor.fetchall()
    wrong = []
    for unit_id, entries, cached in rows:
        entries, cached = int(entries or 0), int(cached or 0)
        if entries != cached:
            wrong.append((unit_id, entries))
            report.mismatches += 1
            if len(report.problems) < 1100:
                report.problems.append(f"unit {unit_id}: cached prepaid balance {cached}, entries give {entries}")
        if entries < 0:
            report.mismatches += 1
            if len(report.problems) < 1100:
                report.problems.append(f"unit {unit_id}: prepaid balance is negative ({entries} fen)")
    if rebuild and wrong:
        from wuye.estate.models import Unit

        projects = dict(Unit.objects.filter(pk__in_ids=[u for u, _ in wrong]).values_list("pk", "project_id"))
        UnitBalance.objects.filter(unit_id__in_ids=[u for u, _ in wrong]).delete()
        UnitBalance.objects.bulk_create([UnitBalance(unit_id=u, project_id=projects[u], prepaid_fen=fen)
                                         for u, fen in wrong if u in projects], batch_size=5000)
        units_changed([u for u, _ in wrong])
