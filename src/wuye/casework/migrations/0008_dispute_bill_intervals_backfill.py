"""Disputes recorded before lines carried their disputed days (``billing.BillDispute``, decision 194) get them:

- every dispute: an interval from ``opened_on`` on each line it named, or — when it named none — on each line
  of the unit that was owing on that day (written by then, not void, less paid and adjusted by then than
  billed); open disputes' intervals stay open, resolved ones end on ``resolved_on`` (the fee runs again then);
- every line with ``disputed_since`` (demo history, nothing else wrote it): an open interval from that day with
  no dispute, as the late-fee code read it until now;
- ``Bill.disputed_since`` becomes the earliest start of the line's open intervals.

Set-based on the historical models (a migration must not import live code): a few reads per 500 disputes or
lines, then bulk inserts and one update per start day. One audit event per dispute and one per unit of legacy
lines, naming the migration. Run twice, it finds nothing to do. Reversing leaves the rows (they are correct).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db import migrations
from django.db.models import Exists, OuterRef

CHUNK = 500
LABEL = "migration:casework.0008_dispute_bill_intervals_backfill"
TZ = ZoneInfo("Asia/Shanghai")


def _chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def backfill(apps, schema_editor) -> None:
    Dispute = apps.get_model("casework", "Dispute")
    Bill = apps.get_model("billing", "Bill")
    BillDispute = apps.get_model("billing", "BillDispute")
    Allocation = apps.get_model("billing", "Allocation")
    Adjustment = apps.get_model("billing", "Adjustment")
    AuditEvent = apps.get_model("accounts", "AuditEvent")

    done = set(BillDispute.objects.filter(dispute_ref__isnull=False).values_list("dispute_ref", flat=True)
               .distinct())
    disputes = [d for d in Dispute.objects.order_by("pk").values_list(
        "pk", "unit_id", "project_id", "bill_ids", "opened_on", "status", "resolved_on") if d[0] not in done]
    rows: list = []
    events: list = []
    touched: set[int] = set()
    for chunk in _chunks(disputes):
        units = sorted({d[1] for d in chunk})
        lines: dict[int, list[tuple]] = defaultdict(list)  # unit → (bill, amount, written on)
        for pk, unit_id, amount, created in (Bill.objects.filter(unit_id__in=units, is_void=False)
                                             .values_list("pk", "unit_id", "amount_fen", "created_at")):
            lines[unit_id].append((pk, amount, created.astimezone(TZ).date()))
        ids = [b for xs in lines.values() for b, _, _ in xs]
        paid: dict[int, list[tuple]] = defaultdict(list)  # bill → (day, fen) paid or adjusted
        for bill_ids in _chunks(ids):
            for bill_id, day, fen in Allocation.objects.filter(bill_id__in=bill_ids).values_list(
                    "bill_id", "applied_on", "amount_fen"):
                paid[bill_id].append((day, fen))
            for bill_id, at, fen in Adjustment.objects.filter(bill_id__in=bill_ids, status="approved").values_list(
                    "bill_id", "decided_at", "amount_fen"):
                paid[bill_id].append((at.astimezone(TZ).date() if at else dt.date.min, fen))
        for pk, unit_id, project_id, named, opened_on, status, resolved_on in chunk:
            named_ids = {int(b) for b in named or []}
            if named_ids:
                bills = sorted(b for b, _, _ in lines[unit_id] if b in named_ids)
            else:  # every line owing on the day it was raised
                bills = sorted(b for b, amount, written in lines[unit_id] if written <= opened_on
                               and sum(fen for day, fen in paid[b] if day < opened_on) < amount)
            ends_on = None
            if status == "resolved":
                ends_on = max(resolved_on or opened_on, opened_on)
            rows += [BillDispute(bill_id=b, dispute_ref=pk, starts_on=opened_on, ends_on=ends_on) for b in bills]
            touched.update(bills)
            events.append(AuditEvent(
                actor_label=LABEL, verb="billing.dispute_backfill", object_type="estate.unit",
                object_id=str(unit_id), object_repr=f"房屋 {unit_id}", project_id=project_id,
                after={"dispute": pk, "bills": bills, "starts_on": opened_on.isoformat(),
                       "ends_on": ends_on.isoformat() if ends_on else None},
                note=f"补记争议 #{pk} 的账单争议期间（争议期间不计违约金）"))

    # (a line with an open interval already — from an earlier pass — is no longer a bare mark)
    marked = BillDispute.objects.filter(bill_id=OuterRef("pk"), ends_on__isnull=True)
    legacy = list(Bill.objects.filter(disputed_since__isnull=False).exclude(Exists(marked))
                  .order_by("pk").values_list("pk", "unit_id", "project_id", "disputed_since"))
    per_unit: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, unit_id, project_id, since in legacy:
        rows.append(BillDispute(bill_id=pk, dispute_ref=None, starts_on=since))
        per_unit[(unit_id, project_id)].append(pk)
        touched.add(pk)
    for (unit_id, project_id), bills in sorted(per_unit.items()):
        events.append(AuditEvent(
            actor_label=LABEL, verb="billing.dispute_backfill", object_type="estate.unit", object_id=str(unit_id),
            object_repr=f"房屋 {unit_id}", project_id=project_id, after={"dispute": None, "bills": bills},
            note="补记已标记争议账单的争议期间（自争议起始日起不计违约金）"))
    BillDispute.objects.bulk_create(rows, batch_size=1_000)

    # disputed_since: the earliest start among the line's open intervals
    first: dict[int, dt.date | None] = dict.fromkeys(touched)
    for bill_ids in _chunks(sorted(touched)):
        for bill_id, starts in BillDispute.objects.filter(bill_id__in=bill_ids, ends_on__isnull=True).values_list(
                "bill_id", "starts_on"):
            first[bill_id] = starts if first[bill_id] is None else min(first[bill_id], starts)
    current = {}
    for bill_ids in _chunks(sorted(touched)):
        current.update(Bill.objects.filter(pk__in=bill_ids).values_list("pk", "disputed_since"))
    by_day: dict[dt.date | None, list[int]] = defaultdict(list)
    for bill_id, day in first.items():
        if current.get(bill_id) != day:
            by_day[day].append(bill_id)
    for day, bill_ids in by_day.items():
        for part in _chunks(sorted(bill_ids)):
            Bill.objects.filter(pk__in=part).update(disputed_since=day)
    AuditEvent.objects.bulk_create(events, batch_size=1_000)


class Migration(migrations.Migration):

    dependencies = [
        ("casework", "0007_visits"),
        ("billing", "0008_bill_dispute_intervals"),
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
