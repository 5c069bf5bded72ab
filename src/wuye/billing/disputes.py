"""Disputed days of bill lines (``BillDispute``, decision 194): no 违约金 accrues on them.

Casework opens and resolves disputes (it sits below billing and calls these); every late-fee reader passes a
line's intervals to ``latefee.compute`` — read here set-based, one query per batch of lines (``intervals_for``),
together with the days an installment plan in good standing paused the fee (``BillFeePause``, decision 207).

- ``lines_mark``: the named lines get an open interval from the day the dispute was raised (a line already open
  under the same dispute is left as it is). Only the unit's live lines still owing can be marked.
- ``lines_unmark``: a dispute's open intervals end on the resolution day; the fee runs again from it. A dispute
  hold that merely expires does not end them: the amount is still disputed.
- ``Bill.disputed_since`` stays "disputed now": the earliest start among a line's open intervals, else empty
  (the 支付令 check and the daily run's hold of demo-history disputes read it).

Every mark and unmark is audited (a person or a job) and announced through ``common.changes``, so the
incremental daily run and the month's provisional figures see the account again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import CharField, F, Min, OuterRef, Q, Subquery, Value

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.latefee import DISPUTE, INSTALLMENT, Interval
from wuye.billing.models import Bill, BillDispute, BillFeePause
from wuye.common.changes import units_changed
from wuye.common.lookups import Ids

CHUNK = 5000


def _interval_rows(lines: Q):
    """The dispute intervals and the installment pauses (decision 207) of the lines ``lines`` picks (a filter on
    ``bill_id`` or ``bill__…``, which both tables take), in one statement: (bill id, start, end, kind)."""
    def rows(model, kind):
        return (model.objects.filter(lines).order_by()
                .annotate(kind=Value(kind, output_field=CharField())).values_list("bill_id", "starts_on", "ends_on",
                                                                               "kind"))

    return rows(BillDispute, DISPUTE).union(rows(BillFeePause, INSTALLMENT), all=True)


def _collect(out: dict, rows) -> None:
    for bill_id, a, b, kind in rows:
        out[bill_id].append((a, b) if kind == DISPUTE else (a, b, kind))


def intervals_for(bill_ids: Iterable[int]) -> dict[int, list[Interval]]:
    """bill id → the days no late fee accrues on it: its disputed intervals (open and closed) as ``(start, end)``
    and its installment pauses as ``(start, end, "installment")`` (``latefee.compute`` names each kind); one query
    per 5,000 lines, lines without any absent."""
    ids = sorted({int(b) for b in bill_ids})
    out: dict[int, list[Interval]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        _collect(out, _interval_rows(Q(bill_id__in_ids=Ids(ids[start:start + CHUNK]))))
    return dict(out)


def intervals_for_units(unit_ids: Iterable[int]) -> dict[int, list[Interval]]:
    """``intervals_for`` every line of these units (a statement of many units): one query per 5,000 units."""
    ids = sorted({int(u) for u in unit_ids})
    out: dict[int, list[Interval]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        _collect(out, _interval_rows(Q(bill__unit_id__in_ids=Ids(ids[start:start + CHUNK]))))
    return dict(out)


def intervals_carry(from_bill_id: int, to_bill_id: int) -> None:
    """A corrected line (voided and reissued: the same debt, the same due date) keeps the days no late fee ran on
    the line it replaces — its dispute intervals and installment pauses, open or ended — so a dispute's
    resolution or a plan's break ends them on the reissue too."""
    BillDispute.objects.bulk_create(
        BillDispute(bill_id=to_bill_id, dispute_ref=ref, starts_on=a, ends_on=b) for ref, a, b in
        BillDispute.objects.filter(bill_id=from_bill_id).values_list("dispute_ref", "starts_on", "ends_on"))
    BillFeePause.objects.bulk_create(
        BillFeePause(bill_id=to_bill_id, plan_id=plan, starts_on=a, ends_on=b) for plan, a, b in
        BillFeePause.objects.filter(bill_id=from_bill_id).values_list("plan_id", "starts_on", "ends_on"))
    disputed_since_sync([to_bill_id])


def open_line_ids(unit_id: int, party_id: int | None = None) -> list[int]:
    """The unit's live lines still owing (what a dispute that names no line covers) — one debtor's when
    ``party_id`` is given (after a sale, the debtor who raised it)."""
    lines = Bill.objects.filter(unit_id=unit_id, is_void=False, settled_fen__lt=F("amount_fen"))
    if party_id is not None:
        lines = lines.filter(party_id=party_id)
    return list(lines.order_by("pk").values_list("pk", flat=True))


def disputed_since_sync(bill_ids: Iterable[int]) -> None:
    """``Bill.disputed_since`` ← the earliest start of the line's open intervals (empty when none)."""
    ids = sorted({int(b) for b in bill_ids})
    first = (BillDispute.objects.filter(bill_id=OuterRef("pk"), ends_on__isnull=True).order_by()
             .values("bill_id").annotate(m=Min("starts_on")).values("m"))
    for start in range(0, len(ids), CHUNK):
        Bill.objects.filter(pk__in=ids[start:start + CHUNK]).update(disputed_since=Subquery(first))


@transaction.atomic
def lines_mark(*, unit, bill_ids: Iterable[int], on: dt.date, dispute_ref: int | None, actor: User | None,
               actor_label: str = "", note: str = "") -> list[int]:
    """Mark ``bill_ids`` of ``unit`` disputed from ``on`` under dispute ``dispute_ref``. Lines of another unit,
    void or settled ones are skipped, as are lines already open under this dispute. Returns the lines marked."""
    wanted = sorted({int(b) for b in bill_ids})
    if not wanted:
        return []
    eligible = set(Bill.objects.filter(pk__in=wanted, unit_id=unit.pk, is_void=False,
                                       settled_fen__lt=F("amount_fen")).values_list("pk", flat=True))
    already = set(BillDispute.objects.filter(bill_id__in=eligible, dispute_ref=dispute_ref, ends_on__isnull=True)
                  .values_list("bill_id", flat=True)) if dispute_ref is not None else set()
    todo = sorted(eligible - already)
    if not todo:
        return []
    BillDispute.objects.bulk_create([BillDispute(bill_id=b, dispute_ref=dispute_ref, starts_on=on) for b in todo])
    disputed_since_sync(todo)
    audit_record(actor=actor, actor_label=actor_label, verb="billing.dispute_mark", obj=unit, note=note,
                 after={"dispute": dispute_ref, "bills": todo, "starts_on": on})
    units_changed([unit.pk])
    return todo


@transaction.atomic
def lines_unmark(*, unit, dispute_ref: int, on: dt.date, actor: User | None, actor_label: str = "",
                 note: str = "") -> list[int]:
    """End the open intervals of dispute ``dispute_ref`` on ``on`` (the resolution day; never before an
    interval's start). Returns the lines whose interval ended."""
    rows = list(BillDispute.objects.select_for_update().filter(dispute_ref=dispute_ref, ends_on__isnull=True)
                .order_by("pk").values_list("pk", "bill_id", "starts_on"))
    if not rows:
        return []
    by_end: dict[dt.date, list[int]] = defaultdict(list)
    for pk, _bill, starts in rows:
        by_end[max(on, starts)].append(pk)
    for end, pks in by_end.items():
        BillDispute.objects.filter(pk__in=pks).update(ends_on=end)
    bills = sorted({b for _, b, _ in rows})
    disputed_since_sync(bills)
    audit_record(actor=actor, actor_label=actor_label, verb="billing.dispute_unmark", obj=unit, note=note,
                 after={"dispute": dispute_ref, "bills": bills, "ends_on": on})
    units_changed([unit.pk])
    return bills
