"""Recording many payments of one project at once (a bank statement, a direct-debit result file).

``payments_record_bulk`` is ``payment_record`` for a batch: the same rules, the same result allocation for
allocation (``tests/billing/test_bulk.py`` posts the same payments both ways and compares), and billing's own
helpers for each of them — not copies:

- each payment passes ``services.payment_errors`` (whole fen > 0, the method's single-payment limit
  ``METHOD_LIMIT_FEN``, a reference where the method needs one, not in the future) and its reference must
  be new; a payment that fails is returned with billing's message and not posted, the others are;
- the units are locked as ``payment_record`` and ``prepaid_apply`` lock them (``SELECT … FOR UPDATE``, id
  order), their open lines are read once, locked, in ``services.OPEN_BILL_ORDER``, and each payment is
  planned by ``services._plan_allocations`` in the order the money arrived (oldest line first, each up to
  what it owes, the rest stays on the payment as prepaid);
- receipt numbers come from ``services.receipt_numbers`` (one UPDATE reserves a block);
- where the project charges late fees at settlement, ``services.settlement_fee_lines`` charges them for
  each line a payment settles, exactly as ``payment_record`` does, and the rest of that payment pays them;
- allocations go through ``services._record_allocations`` (one insert, one update of the cached
  ``Bill.settled_fen``); one ``payment.record`` audit event per payment, inserted together;
- ``arrears_reduced_many`` is sent once per batch of units after the transaction commits, from a Huey task
  (``billing.tasks.arrears_reduced_many_send``) in chunks, so dunning and casework react within seconds
  without making the import wait for thousands of account refreshes. ``payment_record`` sends the per-unit
  ``arrears_reduced`` inside its transaction instead.

The number of statements grows with the number of chunks of 500 units, not with the number of payments.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from wuye.accounts.models import AuditEvent, User
from wuye.accounts.services import audit_event
from wuye.billing.choices import Pricing
from wuye.billing.models import Bill, BillRun, Payment
from wuye.billing.services import (
    OPEN_BILL_ORDER,
    REFERENCE_USED,
    _plan_allocations,
    _record_allocations,
    bill_plan,
    payment_errors,
    plan_context,
    receipt_numbers,
    settlement_fee_lines,
    settlement_fees_context,
)
from wuye.common.changes import units_changed
from wuye.estate.choices import OccupancyState, OccupantRole
from wuye.estate.models import Project, Unit

CHUNK = 500
_UNSAVED = 1 << 62  # sorts after every saved id


@dataclass
class PaymentDraft:
    """One payment to record: ``key`` is the caller's id for it (e.g. a statement line's pk)."""

    key: int
    unit_id: int
    amount_fen: int
    paid_at: dt.datetime
    payer_name: str
    reference: str
    note: str


def _refusal(draft: PaymentDraft, method: str, now: dt.datetime) -> str:
    errors = payment_errors(amount_fen=draft.amount_fen, method=method, reference=draft.reference,
                            paid_at=draft.paid_at, now=now)
    return " ".join(errors.values())


@dataclass(slots=True)
class OpenLine:
    """An open bill line as the planner needs it (read as plain values: model instances cost half a second per
    10,000-line statement)."""

    pk: int
    unit_id: int
    project_id: int
    party_id: int
    fee_item_id: int
    sort: int  # the fee item's sort, part of the legal order
    period_start: dt.date
    period_end: dt.date
    due_date: dt.date
    amount_fen: int
    settled_fen: int
    late_fee_of_id: int | None


_OPEN_LINE_FIELDS = ("id", "unit_id", "project_id", "party_id", "fee_item_id", "fee_item__sort", "period_start",
                     "period_end", "due_date", "amount_fen", "settled_fen", "late_fee_of_id")


def _legal_key(line: OpenLine | Bill) -> tuple:
    """``OPEN_BILL_ORDER`` in Python: a line charged during the batch has no id yet and sorts last among equals,
    as the newest row does in the database."""
    sort = line.sort if isinstance(line, OpenLine) else line.fee_item.sort
    return line.due_date, line.period_start, sort, line.pk or _UNSAVED


@transaction.atomic
def payments_record_bulk(
    *, actor: User | None, actor_label: str, project: Project, method: str, drafts: list[PaymentDraft],
) -> tuple[dict[int, Payment], dict[int, str]]:
    """Record and allocate many payments of one project, each as ``payment_record`` would.

    Returns ``({key: payment}, {key: refusal message})``: refused drafts write nothing, the others are posted
    in one transaction. Every payment is attributed to ``actor`` (a person) or ``actor_label`` (a job)."""
    if actor is None and not actor_label:
        raise ValueError("payments need a person or a job as their actor")
    now = timezone.now()
    refused: dict[int, str] = {}
    ok: list[PaymentDraft] = []
    seen_refs: set[str] = set()
    for d in drafts:
        d.reference = d.reference.strip()
        message = _refusal(d, method, now)
        if not message and d.reference and d.reference in seen_refs:
            message = REFERENCE_USED
        seen_refs.add(d.reference)
        (refused.__setitem__(d.key, message) if message else ok.append(d))
    refs = [d.reference for d in ok if d.reference]
    used: set[str] = set()
    for start in range(0, len(refs), CHUNK):
        used.update(Payment.objects.filter(method=method, reference__in=refs[start:start + CHUNK], amount_fen__gt=0)
                    .values_list("reference", flat=True))
    for d in [d for d in ok if d.reference in used]:
        refused[d.key] = REFERENCE_USED
    ok = [d for d in ok if d.reference not in used]
    if not ok:
        return {}, refused
    unit_ids = sorted({d.unit_id for d in ok})
    if Unit.objects.filter(pk__in=unit_ids).exclude(project=project).exists():
        raise ValidationError({"unit": "房屋不属于该项目。"})
    for start in range(0, len(unit_ids), CHUNK):  # the lock payment_record and prepaid_apply take
        list(Unit.objects.select_for_update().filter(pk__in=unit_ids[start:start + CHUNK]).order_by("pk")
             .values_list("pk", flat=True))
    ok.sort(key=lambda d: (d.paid_at, d.key))  # money that arrived first pays first
    by_year: dict[int, list[PaymentDraft]] = defaultdict(list)
    for d in ok:
        by_year[timezone.localtime(d.paid_at).year].append(d)
    receipts: dict[int, str] = {}
    for year, items in sorted(by_year.items()):
        for d, number in zip(items, receipt_numbers(project, year, len(items)), strict=True):
            receipts[d.key] = number
    payments = [Payment(project=project, unit_id=d.unit_id, payer_name=d.payer_name[:100], amount_fen=d.amount_fen,
                        method=method, paid_at=d.paid_at, reference=d.reference, note=d.note[:300],
                        created_by=actor, actor_label=actor_label[:60], receipt_no=receipts[d.key]) for d in ok]
    Payment.objects.bulk_create(payments, batch_size=2000)

    open_lines = _open_lines_locked(unit_ids)
    latest = max(timezone.localtime(d.paid_at).date() for d in ok)
    fees_ctx = settlement_fees_context(project, [b for lines in open_lines.values() for b in lines], latest)
    planned: list[tuple[int, OpenLine | Bill, int, dt.date]] = []
    touched: dict[int, OpenLine | Bill] = {}  # id() of the line → line: new fee lines have no pk yet
    charged: list[Bill] = []
    applied_of: dict[int, int] = {}
    fees_of: dict[int, list[Bill]] = {}
    for d, payment in zip(ok, payments, strict=True):
        day = timezone.localtime(d.paid_at).date()
        lines = open_lines.get(d.unit_id, [])
        rows, applied = _plan_allocations(payment.pk, lines, d.amount_fen, day)
        fees = settlement_fee_lines(fees_ctx, rows, day, payment) if fees_ctx else []
        if fees:
            more, extra = _plan_allocations(payment.pk, fees, d.amount_fen - applied, day)
            rows, applied = rows + more, applied + extra
            charged.extend(fees)
            fees_fen = [b for b in fees if b.settled_fen < b.amount_fen]
            lines = sorted(lines + fees_fen, key=_legal_key)
        planned.extend(rows)
        for row in rows:
            touched[id(row[1])] = row[1]
        open_lines[d.unit_id] = [b for b in lines if b.settled_fen < b.amount_fen]
        applied_of[payment.pk] = applied
        fees_of[payment.pk] = fees
    if charged:
        settled_now = {id(b): b.settled_fen for b in charged}
        for b in charged:  # inserted as charged; the allocations below settle them as they do any line
            b.settled_fen = 0
        Bill.objects.bulk_create(charged, batch_size=2000)
        for b in charged:
            b.settled_fen = settled_now[id(b)]
    _record_allocations([(p, b.pk, fen, day) for p, b, fen, day in planned],
                        settled={b.pk: b.settled_fen for b in touched.values()})
    AuditEvent.objects.bulk_create([audit_event(
        actor=actor, actor_label=actor_label, verb="payment.record", obj=p, obj_repr=p.receipt_no,
        after={"amount_fen": p.amount_fen, "method": method, "applied_fen": applied_of[p.pk],
               "prepaid_fen": p.amount_fen - applied_of[p.pk], "chosen": [], "bulk": True,
               **({"late_fee_fen": sum(b.amount_fen for b in fees_of[p.pk]),
                   "late_fees": [b.pk for b in fees_of[p.pk]]} if fees_of[p.pk] else {})})
        for p in payments], batch_size=2000)
    reduced: dict[int, dt.date] = {}
    for p in payments:  # as payment_record: the signal carries the day the money arrived
        if applied_of[p.pk]:
            reduced[p.unit_id] = max(reduced.get(p.unit_id, dt.date.min), timezone.localtime(p.paid_at).date())
    if reduced:
        transaction.on_commit(lambda: _notify_later(reduced))
    units_changed(unit_ids)
    return {d.key: p for d, p in zip(ok, payments, strict=True)}, refused


def _open_lines_locked(unit_ids: list[int]) -> dict[int, list[OpenLine]]:
    """unit → its open lines, locked, in ``OPEN_BILL_ORDER`` (the order of ``services.open_bills``)."""
    out: dict[int, list[OpenLine]] = defaultdict(list)
    for start in range(0, len(unit_ids), CHUNK):
        rows = (Bill.objects.select_for_update(of=("self",))
                .filter(unit_id__in=unit_ids[start:start + CHUNK], is_void=False, settled_fen__lt=F("amount_fen"))
                .order_by("unit_id", *OPEN_BILL_ORDER).values_list(*_OPEN_LINE_FIELDS))
        for row in rows:
            out[row[1]].append(OpenLine(*row))
    return out


def _notify_later(reduced: dict[int, dt.date]) -> None:
    from wuye.billing.tasks import arrears_reduced_many_send

    items = [(unit_id, day.isoformat()) for unit_id, day in sorted(reduced.items())]
    for start in range(0, len(items), CHUNK):
        arrears_reduced_many_send(items[start:start + CHUNK])


def notify_arrears_reduced(items: list[tuple[int, str]]) -> None:
    """Send ``arrears_reduced_many`` for these (unit, ISO day) pairs, in one transaction: dunning and casework
    react set-based (a per-unit signal cost ~25 ms a unit, minutes for a large statement)."""
    from wuye.billing.signals import arrears_reduced_many

    with transaction.atomic():
        arrears_reduced_many.send(sender=Payment, units={unit_id: dt.date.fromisoformat(day)
                                                         for unit_id, day in items})


# --- bill lines in one statement (PostgreSQL) --------------------------------------------------------------

_BILL_LINES_SQL = """
WITH owner AS (
    SELECT DISTINCT ON (o.unit_id) o.unit_id, o.party_id
    FROM estate_occupancy o JOIN estate_unit ou ON ou.id = o.unit_id
    WHERE ou.project_id = %(project)s AND o.role = %(owner_role)s AND o.start <= %(start)s
      AND (o."end" IS NULL OR o."end" >= %(start)s)
    ORDER BY o.unit_id, o.start DESC, o.id DESC
), rate AS (
    SELECT DISTINCT ON (r.fee_item_id, r.property_type) r.id, r.fee_item_id, r.property_type, r.price,
           r.vacant_price
    FROM billing_rate r
    WHERE r.fee_item_id = ANY(%(items)s) AND r.effective_from <= %(start)s
    ORDER BY r.fee_item_id, r.property_type, r.effective_from DESC, r.id DESC
), line AS (
    SELECT u.id AS unit_id, u.code AS unit_code, fi.sort AS item_sort, fi.code AS item_code, fi.id AS fee_item_id,
           fi.pricing, u.area, COALESCE(ow.party_id, %(developer)s) AS party_id,
           CASE WHEN rt.id IS NOT NULL THEN rt.price ELSE ra.price END AS price,
           CASE WHEN rt.id IS NOT NULL THEN rt.vacant_price ELSE ra.vacant_price END AS vacant_price,
           u.state = %(vacant)s AS vacant_state
    FROM estate_unit u
    CROSS JOIN billing_feeitem fi
    LEFT JOIN rate rt ON rt.fee_item_id = fi.id AND rt.property_type = u.property_type
    LEFT JOIN rate ra ON ra.fee_item_id = fi.id AND ra.property_type = ''
    LEFT JOIN owner ow ON ow.unit_id = u.id
    WHERE u.project_id = %(project)s AND fi.id = ANY(%(items)s) AND (rt.id IS NOT NULL OR ra.id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM billing_bill b
                      WHERE b.project_id = %(project)s AND b.period_start = %(start)s AND NOT b.is_void
                        AND b.unit_id = u.id AND b.fee_item_id = fi.id)
), priced AS (
    SELECT l.*, l.vacant_state AND l.vacant_price IS NOT NULL AS vacant,
           CASE WHEN l.vacant_state AND l.vacant_price IS NOT NULL THEN l.vacant_price ELSE l.price END AS p
    FROM line l
), lines AS (
    SELECT q.unit_id, q.party_id, q.fee_item_id, q.unit_code, q.item_sort, q.item_code,
           (CASE WHEN q.pricing = %(per_area)s THEN round(q.area * q.p * %(months)s * 100)
                 ELSE round(q.p * %(months)s * 100) END)::bigint AS amount_fen,
           CASE WHEN q.pricing = %(per_area)s THEN q.area::text || 'm² × ¥' || trim_scale(q.p)::text || '/m²/月'
                ELSE '¥' || trim_scale(q.p)::text || '/户/月' END
           || CASE WHEN q.vacant THEN '（空置）' ELSE '' END || ' × ' || %(months)s::text || '个月' AS rule
    FROM priced q
), ins AS (
    INSERT INTO billing_bill (project_id, unit_id, party_id, fee_item_id, run_id, period_start, period_end,
                              amount_fen, due_date, rule, settled_fen, is_void, created_at)
    SELECT %(project)s, unit_id, party_id, fee_item_id, %(run)s, %(start)s, %(end)s, amount_fen, %(due)s, rule, 0,
           false, %(now)s
    FROM lines WHERE amount_fen > 0
    ORDER BY unit_code, item_sort, item_code
    RETURNING unit_id, amount_fen
)
SELECT count(*), COALESCE(sum(amount_fen), 0), COALESCE(array_agg(DISTINCT unit_id), '{}') FROM ins
"""

_UNITS_WITHOUT_OWNER_SQL = """
SELECT EXISTS (SELECT 1 FROM estate_unit u WHERE u.project_id = %(project)s AND NOT EXISTS (
    SELECT 1 FROM estate_occupancy o WHERE o.unit_id = u.id AND o.role = %(owner_role)s AND o.start <= %(start)s
      AND (o."end" IS NULL OR o."end" >= %(start)s)))
"""


def bill_lines_insert(*, project: Project, period: dt.date, actor: User | None,
                      actor_label: str) -> tuple[BillRun, list[int]] | None:
    """``services.bill_plan`` + insert, as one INSERT … SELECT on PostgreSQL: the same lines (amount, rule text,
    liable party, due date, order of ids), none for a unit × fee item already billed in the period. Returns the
    run and the units billed, or None (and no run) when nothing is new. Runs inside ``bill_generate``'s
    transaction, under its project lock."""
    ctx = plan_context(project, period)
    if not ctx.items:
        return None
    params = {"project": project.pk, "owner_role": OccupantRole.OWNER, "start": ctx.start, "end": ctx.end,
              "due": ctx.due_date, "items": [i.pk for i in ctx.items], "developer": project.developer_id,
              "vacant": OccupancyState.VACANT, "per_area": Pricing.PER_AREA, "months": ctx.months,
              "now": timezone.now()}
    with connection.cursor() as cursor:
        if project.developer_id is None:
            cursor.execute(_UNITS_WITHOUT_OWNER_SQL, params)
            if cursor.fetchone()[0]:
                bill_plan(project=project, period=period)  # raises, naming the units, when one would be billed
        run = BillRun.objects.create(project=project, period=ctx.start, created_by=actor, actor_label=actor_label)
        cursor.execute(_BILL_LINES_SQL, {**params, "run": run.pk})
        count, amount, units = cursor.fetchone()
    if not count:
        run.delete()
        return None
    run.bills_created, run.amount_fen = count, int(amount)
    run.save(update_fields=["bills_created", "amount_fen"])
    return run, sorted(units)
