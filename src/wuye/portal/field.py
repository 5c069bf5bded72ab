"""Payment on the doorstep: what a collector (or customer service) does for an owner standing in front of them.

- ``doorstep_link``: the debtor's pay link of the day (the same one the day's reminders carry, one per unit,
  party and day: ``links.pay_links_for``), optionally opening with some periods chosen — shown as a QR code on
  the collector's phone for the owner to scan and pay online;
- ``pay_link_send``: the same link by SMS or WeChat to a contact on record, in one tap — an arrears message
  under every rule the ladder's messages obey (``dunning.manual``: contact hours, the cap, guardrails, the
  outbox's evidence);
- ``field_payment_record`` / ``field_payment_confirm`` / ``field_payment_reject``: a transfer the owner made at
  the door, recorded with its reference for finance, who posts it through billing's ``payment_record`` only
  when the money is found.

The portal sits below casework in the flow, so it may use casework's scope check; casework's pages reach these
views by URL name only.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.permissions import can_work_doorstep
from wuye.accounts.services import audit_record
from wuye.billing.models import Bill, Payment
from wuye.billing.permissions import can_record_payments
from wuye.billing.services import METHOD_LIMIT_FEN, payment_record
from wuye.casework.services import require_unit_scope
from wuye.common.formatting import format_yuan
from wuye.dunning.manual import pay_link_message_send
from wuye.dunning.models import Action
from wuye.estate.models import ContactPoint, Unit
from wuye.portal import links
from wuye.portal.choices import FieldPaymentMethod, FieldPaymentStatus
from wuye.portal.models import FieldPayment

MAX_FIELD_PAYMENT_DAYS = 7  # a transfer recorded at the door is from today or the last few days


def require_doorstep(user: User, unit: Unit) -> None:
    if not can_work_doorstep(user):
        raise PermissionDenied("只有收费员、客服和经理可以上门收款或发送缴费链接。")
    require_unit_scope(user, unit)


def open_lines(unit: Unit, party_id: int | None) -> list[Bill]:
    """The debtor's open lines on the unit (their own periods only), oldest first."""
    return list(Bill.objects.filter(unit=unit, party_id=party_id, is_void=False, settled_fen__lt=F("amount_fen"))
                .select_related("fee_item").order_by("period_start", "due_date", "pk"))


def doorstep_link(*, actor: User, unit: Unit, party_id: int | None, periods: list[str] | None = None) -> str:
    """The debtor's pay link of the day, opening with ``periods`` (ISO first days) chosen when given."""
    require_doorstep(actor, unit)
    today = timezone.localdate()
    url = links.pay_links_for([(unit.pk, party_id)], issued_on=today,
                              created_by_label=f"user:{actor.username}").get((unit.pk, party_id), "")
    if url and periods:
        url += "?" + urllib.parse.urlencode({"periods": ",".join(sorted(periods))})
    return url


def pay_link_send(*, actor: User, unit: Unit, party_id: int | None, contact: ContactPoint, channel: str,
                  periods: list[str] | None = None) -> Action:
    """Send the debtor's pay link to one of their contacts on record (SMS or WeChat), now."""
    require_doorstep(actor, unit)
    url = doorstep_link(actor=actor, unit=unit, party_id=party_id, periods=periods)
    return pay_link_message_send(actor=actor, unit=unit, party_id=party_id, contact=contact, channel=channel,
                                 link=url)


@transaction.atomic
def field_payment_record(
    *, actor: User, unit: Unit, party_id: int | None, amount_fen: int, method: str, reference: str,
    paid_on: dt.date, bill_ids: list[int] | None = None, note: str = "",
) -> FieldPayment:
    """Record a transfer the owner made at the door, for finance to confirm. Nothing is posted yet."""
    require_doorstep(actor, unit)
    today = timezone.localdate()
    reference, note = (reference or "").strip(), (note or "").strip()
    errors: dict[str, str] = {}
    if method not in FieldPaymentMethod.values:
        errors["method"] = "请选择转账方式。"
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        errors["amount_fen"] = "金额必须大于 0。"
    elif method in FieldPaymentMethod.values and amount_fen > METHOD_LIMIT_FEN[method]:
        errors["amount_fen"] = f"单笔不能超过 {format_yuan(METHOD_LIMIT_FEN[method])}。"
    if not reference:
        errors["reference"] = "请填写转账流水号（业主手机上转账记录里的单号）。"
    elif len(reference) > 64:
        errors["reference"] = "流水号不能超过 64 个字符。"
    if paid_on is None:
        errors["paid_on"] = "请填写转账日期。"
    elif paid_on > today:
        errors["paid_on"] = "转账日期不能晚于今天。"
    elif (today - paid_on).days > MAX_FIELD_PAYMENT_DAYS:
        errors["paid_on"] = f"只能登记 {MAX_FIELD_PAYMENT_DAYS} 天内的转账；更早的请交财务按银行流水核对。"
    if len(note) > 300:
        errors["note"] = "备注不能超过 300 字。"
    lines = {b.pk: b for b in open_lines(unit, party_id)}
    chosen = [int(i) for i in (bill_ids or [])]
    if any(i not in lines for i in chosen):
        errors["bill_ids"] = "所选账期不属于这位欠费人或已结清。"
    if not errors and reference and (
            FieldPayment.objects.filter(method=method, reference=reference).exclude(
                status=FieldPaymentStatus.REJECTED).exists()
            or Payment.objects.filter(method=method, reference=reference, amount_fen__gt=0).exists()):
        errors["reference"] = "该流水号已登记过，不能重复登记。"
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            row = FieldPayment.objects.create(
                project_id=unit.project_id, unit=unit, party_id=party_id, amount_fen=amount_fen, method=method,
                reference=reference, paid_on=paid_on, bill_ids=chosen, note=note, recorded_by=actor)
    except IntegrityError as exc:  # a twin registered at the same moment
        raise ValidationError({"reference": "该流水号已登记过，不能重复登记。"}) from exc
    audit_record(actor=actor, verb="portal.field_payment", obj=unit, note=note,
                 after={"field_payment": row.pk, "amount_fen": amount_fen, "method": method,
                        "reference": reference, "bill_ids": chosen, "party": party_id})
    return row


def _require_finance(actor: User) -> None:
    if not can_record_payments(actor):
        raise PermissionDenied("只有财务、经理和管理员可以确认上门收款。")


@transaction.atomic
def field_payment_confirm(*, actor: User, field_payment: FieldPayment, note: str = "") -> Payment:
    """Finance found the money: post it through billing (the periods the owner chose first), keep the
    payment on the row. A reference billing has seen already is refused there (no double posting)."""
    _require_finance(actor)
    row = FieldPayment.objects.select_for_update().get(pk=field_payment.pk)
    if row.status != FieldPaymentStatus.PENDING:
        raise ValidationError({"field_payment": f"该登记已处理（{row.get_status_display()}）。"})
    if row.recorded_by_id == actor.pk:
        raise ValidationError({"field_payment": "登记人不能确认自己登记的收款，请由另一位财务人员确认。"})
    open_ids = {b.pk for b in open_lines(row.unit, row.party_id)}
    chosen = [i for i in row.bill_ids if i in open_ids]
    party_name = row.party.name if row.party_id else ""
    payment = payment_record(
        actor=actor, unit=row.unit, amount_fen=row.amount_fen, method=row.method, reference=row.reference,
        paid_at=min(timezone.make_aware(dt.datetime.combine(row.paid_on, dt.time(12, 0))), row.recorded_at),
        payer_name=party_name,
        bill_ids=chosen or None, only_chosen=bool(chosen),
        note=f"上门收款登记 {row.pk}（{row.recorded_by}）" + (f"：{row.note}" if row.note else ""))
    row.status, row.decided_by, row.decided_at = FieldPaymentStatus.CONFIRMED, actor, timezone.now()
    row.decision_note, row.payment = (note or "").strip()[:300], payment
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "payment"])
    audit_record(actor=actor, verb="portal.field_payment_confirm", obj=row.unit, note=note,
                 after={"field_payment": row.pk, "payment": payment.pk, "receipt_no": payment.receipt_no})
    return payment


@transaction.atomic
def field_payment_reject(*, actor: User, field_payment: FieldPayment, note: str) -> FieldPayment:
    """Finance did not find the money: the registration is closed with a reason; nothing is posted."""
    _require_finance(actor)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "退回时请填写原因（例如：账户中未找到该笔转账）。"})
    row = FieldPayment.objects.select_for_update().get(pk=field_payment.pk)
    if row.status != FieldPaymentStatus.PENDING:
        raise ValidationError({"field_payment": f"该登记已处理（{row.get_status_display()}）。"})
    row.status, row.decided_by, row.decided_at, row.decision_note = (
        FieldPaymentStatus.REJECTED, actor, timezone.now(), note[:300])
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, verb="portal.field_payment_reject", obj=row.unit, note=note,
                 after={"field_payment": row.pk})
    return row
