"""The ledger check: recompute every cached figure from the entries and report differences."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Min

from wuye.billing.choices import AdjustmentKind, ApprovalStatus
from wuye.billing.models import Bill, BillDispute, UnitBalance
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


# Every line's cached figures beside what its entries give, only where they differ: the allocations and the
# approved adjustments are each grouped once and hash-joined (a correlated sum per line read three indexes per
# line, 7 million lines at a million units).
_BILLS_SQL = """
SELECT b.id, b.unit_id, b.amount_fen, b.settled_fen, COALESCE(a.t, 0), COALESCE(j.t, 0), b.is_void,
       COALESCE(j.voids, 0) > 0
FROM billing_bill b
LEFT JOIN (SELECT x.bill_id, SUM(x.amount_fen) AS t FROM billing_allocation x {alloc_join} GROUP BY x.bill_id) a
       ON a.bill_id = b.id
LEFT JOIN (SELECT x.bill_id, SUM(x.amount_fen) AS t,
                  SUM(CASE WHEN x.kind IN (%(void)s, %(run_reversal)s) THEN 1 ELSE 0 END) AS voids
           FROM billing_adjustment x {adj_join} WHERE x.status = %(approved)s GROUP BY x.bill_id) j
       ON j.bill_id = b.id
WHERE {bill_where}
  AND (b.settled_fen <> COALESCE(a.t, 0) + COALESCE(j.t, 0) OR b.is_void <> (COALESCE(j.voids, 0) > 0)
       OR COALESCE(a.t, 0) < 0 OR COALESCE(a.t, 0) > b.amount_fen OR b.settled_fen > b.amount_fen)
ORDER BY b.id
LIMIT 1000
"""


def check_ledger(*, rebuild: bool = False, project_id: int | None = None) -> LedgerReport:
    report = LedgerReport()
    params = {"void": AdjustmentKind.VOID, "run_reversal": AdjustmentKind.RUN_REVERSAL,
              "approved": ApprovalStatus.APPROVED, "project": project_id}
    if project_id is None:
        where = {"alloc_join": "", "adj_join": "", "bill_where": "TRUE"}
    else:
        scoped = "JOIN billing_bill xb ON xb.id = x.bill_id AND xb.project_id = %(project)s"
        where = {"alloc_join": scoped, "adj_join": scoped, "bill_where": "b.project_id = %(project)s"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT unit_id) FROM billing_bill"
                       + ("" if project_id is None else " WHERE project_id = %(project)s"), params)
        report.bills_checked, report.units_checked = cursor.fetchone()
        cursor.execute(_BILLS_SQL.format(**where), params)
        wrong = cursor.fetchall()
    for bill_id, unit_id, amount, settled, alloc, adj, is_void, void_now in wrong:
        is_void, void_now, alloc, adj = bool(is_void), bool(void_now), int(alloc), int(adj)
        report.mismatches += 1
        report.problems.append(
            f"bill {bill_id} (unit {unit_id}): cached settled {settled} void {is_void}, "
            f"entries give {alloc} + {adj} void {void_now} of {amount}")
        if rebuild:
            Bill.objects.filter(pk=bill_id).update(settled_fen=alloc + adj, is_void=void_now)
            units_changed([unit_id])
    _check_balances(report, rebuild=rebuild, project_id=project_id)
    _check_disputed(report, rebuild=rebuild, project_id=project_id)
    _check_pauses(report, rebuild=rebuild, project_id=project_id)
    return report


def _check_pauses(report: LedgerReport, *, rebuild: bool, project_id: int | None) -> None:
    """An installment pause still open under a plan no longer in good standing (decision 207): the fee would
    stay stopped on a broken plan's lines. Rebuilt by ending it on the day the plan's status changed (never
    before its own start). One query over the open pauses — few: only kept plans have them."""
    from django.db.models import F, OuterRef, Subquery
    from django.db.models.functions import Greatest

    from wuye.billing.models import BillFeePause, InstallmentPlan

    stale = (BillFeePause.objects.filter(ends_on__isnull=True).exclude(plan__status=InstallmentPlan.Status.ACTIVE)
             .order_by("pk"))
    if project_id is not None:
        stale = stale.filter(plan__project_id=project_id)
    rows = list(stale.values_list("pk", "bill_id", "plan_id", "plan__status", "plan__unit_id"))
    for _pk, bill_id, plan_id, status, unit_id in rows:
        report.mismatches += 1
        if len(report.problems) < 1100:
            report.problems.append(f"bill {bill_id} (unit {unit_id}): late fee paused under plan {plan_id}, "
                                   f"which is {status}")
    if rebuild and rows:
        ids = [r[0] for r in rows]
        changed_on = InstallmentPlan.objects.filter(pk=OuterRef("plan_id")).values("status_changed_on")
        BillFeePause.objects.filter(pk__in=ids, plan__status_changed_on__isnull=False).update(
            ends_on=Greatest(F("starts_on"), Subquery(changed_on)))
        BillFeePause.objects.filter(pk__in=ids, ends_on__isnull=True).update(ends_on=F("starts_on"))
        units_changed(sorted({r[4] for r in rows}))


# ``Bill.disputed_since`` beside the earliest start of the line's open dispute intervals (decision 194), only where
# they differ. Read from the two small sides — the marked lines (partial index ``bill_disputed``) and the open
# intervals — and compared here: one statement joining them to the lines made PostgreSQL read all of them
# (over a second at 1M, seq or primary-key scan, for 38,573 marked lines).
def _check_disputed(report: LedgerReport, *, rebuild: bool, project_id: int | None) -> None:
    from wuye.billing.disputes import disputed_since_sync

    marked_qs = Bill.objects.filter(disputed_since__isnull=False).order_by()  # (the default order joins three tables)
    if project_id is not None:
        marked_qs = marked_qs.filter(project_id=project_id)
    marked = {pk: (unit_id, since) for pk, unit_id, since in marked_qs.values_list("pk", "unit_id", "disputed_since")}
    first = dict(BillDispute.objects.filter(ends_on__isnull=True).order_by().values("bill_id")
                 .annotate(first=Min("starts_on")).values_list("bill_id", "first"))
    unmarked = sorted(set(first) - set(marked))
    units: dict[int, int] = {}
    for start in range(0, len(unmarked), 5000):
        qs = Bill.objects.filter(pk__in=unmarked[start:start + 5000]).order_by()
        if project_id is not None:
            qs = qs.filter(project_id=project_id)
        units.update(qs.values_list("pk", "unit_id"))
    rows = sorted([(pk, unit_id, since, first.get(pk)) for pk, (unit_id, since) in marked.items()
                   if first.get(pk) != since] + [(pk, unit_id, None, first[pk]) for pk, unit_id in units.items()])
    for bill_id, unit_id, cached, opened in rows:
        report.mismatches += 1
        if len(report.problems) < 1100:
            report.problems.append(f"bill {bill_id} (unit {unit_id}): cached disputed since {cached}, "
                                   f"open dispute intervals give {opened}")
    if rebuild and rows:
        disputed_since_sync([r[0] for r in rows])
        units_changed([r[1] for r in rows])


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
