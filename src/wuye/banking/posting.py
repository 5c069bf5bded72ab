"""Posting many bank-transfer payments at once (a statement import), with billing's own rules.

``payment_record`` costs about 14 ms a payment on SQLite, over half of it in the receivers of
``arrears_reduced`` (dunning's account refresh, casework's promise check), so 10,000 statement lines took
well over two minutes. This path keeps every rule of ``payment_record`` and differs only in how often it
talks to the database:

- the same checks (whole fen > 0, the method's single-payment limit, a reference, not in the future, the
  reference never used before) — a line that fails one is returned with billing's message, not posted;
- the same unit locks (``SELECT … FOR UPDATE`` on the units, in id order, as ``prepaid_apply`` does), the
  same open lines in the same legal order as ``billing.services.open_bills`` (read for all units at once,
  locked) and the same allocation as ``billing.services._allocate`` for new money (oldest first, each line up
  to what it owes, the rest stays on the payment as prepaid); allocation rows are inserted and the cached
  ``Bill.settled_fen`` set in two statements; ``tests/banking/test_posting.py`` checks the result equals
  ``payment_record``'s, allocation for allocation;
- receipt numbers from the project's receipt book: one UPDATE reserves the block, the format is billing's;
- one ``payment.record`` audit event per payment, as ``payment_record`` writes, inserted in one statement;
- ``arrears_reduced`` once per unit that had money applied, sent after the import commits (a Huey task, in
  chunks, each in its own transaction), so dunning and casework react within seconds without making the
  import itself wait for 10,000 account refreshes.

This belongs in billing (``payments_record_bulk``); it lives here until billing takes it over.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wuye.accounts.models import AuditEvent, User
from wuye.billing.choices import PaymentMethod
from wuye.billing.models import Allocation, Bill, Payment, ReceiptCounter
from wuye.billing.services import METHOD_LIMIT_FEN
from wuye.common.bulk import insert_rows, update_rows
from wuye.common.formatting import format_yuan
from wuye.estate.models import Project, Unit

CHUNK = 500


@dataclass
class PaymentDraft:
    key: int  # the caller's id for this payment (a statement line's pk)
    unit_id: int
    amount_fen: int
    paid_at: dt.datetime
    payer_name: str
    reference: str
    note: str


def _check(draft: PaymentDraft, method: str, now: dt.datetime) -> str:
    """payment_record's checks; '' when the draft may be posted."""
    if not isinstance(draft.amount_fen, int) or isinstance(draft.amount_fen, bool) or draft.amount_fen <= 0:
        return "金额必须大于 0。"
    if draft.amount_fen > METHOD_LIMIT_FEN[method]:
        return f"{PaymentMethod(method).label}单笔不能超过 {format_yuan(METHOD_LIMIT_FEN[method])}。"
    if not draft.reference.strip():
        return "该收款方式需要填写流水号/凭证号。"
    if draft.paid_at > now + dt.timedelta(minutes=5):
        return "收款时间不能晚于现在。"
    return ""


def _reserve_receipts(project: Project, year: int, count: int) -> list[str]:
    counter = ReceiptCounter.objects.filter(project=project, year=year)
    if not counter.update(last=F("last") + count):
        ReceiptCounter.objects.get_or_create(project=project, year=year)
        counter.update(last=F("last") + count)
    last = counter.values_list("last", flat=True).get()
    return [f"{project.code}-{year}-{n:06d}" for n in range(last - count + 1, last + 1)]


@transaction.atomic
def payments_record_bulk(
    *, actor: User | None, actor_label: str, project: Project, method: str, drafts: list[PaymentDraft],
) -> tuple[dict[int, Payment], dict[int, str]]:
    """Record and allocate many payments of one project. Returns ({key: payment}, {key: refusal message})."""
    if actor is None and not actor_label:
        raise ValueError("payments need a person or a job as their actor")
    now = timezone.now()
    refused: dict[int, str] = {}
    ok: list[PaymentDraft] = []
    seen_refs: set[str] = set()
    for d in drafts:
        d.reference = d.reference.strip()
        message = _check(d, method, now)
        if not message and d.reference in seen_refs:
            message = "该流水号已登记过，不能重复入账。"
        seen_refs.add(d.reference)
        (refused.__setitem__(d.key, message) if message else ok.append(d))
    refs = [d.reference for d in ok]
    used: set[str] = set()
    for start in range(0, len(refs), CHUNK):
        used.update(Payment.objects.filter(method=method, reference__in=refs[start:start + CHUNK], amount_fen__gt=0)
                    .values_list("reference", flat=True))
    for d in [d for d in ok if d.reference in used]:
        refused[d.key] = "该流水号已登记过，不能重复入账。"
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
        for d, number in zip(items, _reserve_receipts(project, year, len(items)), strict=True):
            receipts[d.key] = number
    payments = [Payment(project=project, unit_id=d.unit_id, payer_name=d.payer_name[:100], amount_fen=d.amount_fen,
                        method=method, paid_at=d.paid_at, reference=d.reference, note=d.note[:300],
                        created_by=actor, actor_label=actor_label[:60], receipt_no=receipts[d.key]) for d in ok]
    Payment.objects.bulk_create(payments, batch_size=2000)
    open_lines = _open_lines_locked(unit_ids)
    allocations: list[tuple] = []
    touched: dict[int, list] = {}
    applied_of: dict[int, int] = {}
    created = timezone.now()
    for d, payment in zip(ok, payments, strict=True):
        # billing's _allocate for new money: the unit's open lines in legal order, oldest first, each
        # up to what it still owes; what is left stays on the payment as prepaid
        day = timezone.localtime(d.paid_at).date()
        applied = 0
        lines = open_lines.get(d.unit_id, [])
        for line in lines:
            if d.amount_fen - applied <= 0:
                break
            take = min(line[2] - line[3], d.amount_fen - applied)
            if take <= 0:
                continue
            allocations.append((payment.pk, line[0], take, day, created))
            line[3] += take
            applied += take
            touched[line[0]] = line
        open_lines[d.unit_id] = [line for line in lines if line[3] < line[2]]
        applied_of[payment.pk] = applied
    insert_rows(Allocation, ["payment_id", "bill_id", "amount_fen", "applied_on", "created_at"], allocations)
    update_rows(Bill, ["settled_fen"], [(bill_id, line[3]) for bill_id, line in sorted(touched.items())])
    AuditEvent.objects.bulk_create([AuditEvent(
        actor=actor if actor is not None and actor.pk else None, actor_label=actor_label[:100],
        verb="payment.record", object_type=Payment._meta.label_lower, object_id=str(p.pk),
        object_repr=f"{p.receipt_no}"[:200], project_id=project.pk,
        after={"amount_fen": p.amount_fen, "method": method, "applied_fen": applied_of[p.pk],
               "prepaid_fen": p.amount_fen - applied_of[p.pk], "chosen": [], "bulk": True})
        for p in payments], batch_size=2000)
    reduced: dict[int, dt.date] = {}
    for p in payments:  # as payment_record: the signal carries the day the money arrived
        if applied_of[p.pk]:
            reduced[p.unit_id] = max(reduced.get(p.unit_id, dt.date.min), timezone.localtime(p.paid_at).date())
    if reduced:
        transaction.on_commit(lambda: _notify_later(reduced))
    return {d.key: p for d, p in zip(ok, payments, strict=True)}, refused


def _open_lines_locked(unit_ids: list[int]) -> dict[int, list[list]]:
    """unit → its open lines as [id, unit, amount, settled], locked, in billing's legal order (the order of
    ``billing.services.open_bills``: due date, period, fee item, id; a test keeps the two in step)."""
    out: dict[int, list[list]] = defaultdict(list)
    for start in range(0, len(unit_ids), CHUNK):
        rows = (Bill.objects.select_for_update().filter(unit_id__in=unit_ids[start:start + CHUNK], is_void=False,
                                                        settled_fen__lt=F("amount_fen"))
                .order_by("unit_id", "due_date", "period_start", "fee_item__sort", "id")
                .values_list("id", "unit_id", "amount_fen", "settled_fen"))
        for row in rows:
            out[row[1]].append(list(row))
    return out


def _notify_later(reduced: dict[int, dt.date]) -> None:
    from wuye.banking.tasks import send_arrears_reduced

    items = [(unit_id, day.isoformat()) for unit_id, day in sorted(reduced.items())]
    for start in range(0, len(items), CHUNK):
        send_arrears_reduced(items[start:start + CHUNK])


def notify_arrears_reduced(items: list[tuple[int, str]]) -> None:
    """Send billing's ``arrears_reduced_many`` for these (unit, ISO day) pairs, in one transaction: dunning
    and casework react set-based (a per-unit signal cost ~25 ms a unit, minutes for a large statement)."""
    from wuye.billing.signals import arrears_reduced_many

    with transaction.atomic():
        arrears_reduced_many.send(sender=Payment, units={unit_id: dt.date.fromisoformat(day)
                                                         for unit_id, day in items})
