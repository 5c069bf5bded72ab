"""Staff pages of payment on the doorstep: the QR code of a debtor's pay link, sending it in one tap, recording a
transfer for finance; and finance's page that confirms or rejects those records."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from wuye.billing.permissions import can_record_payments
from wuye.casework.services import debtor_for, debtors_of
from wuye.common.formatting import yuan_to_fen
from wuye.common.forms import bootstrap, validation_errors_text
from wuye.common.once import once_per_submit
from wuye.common.params import id_or_none, id_param
from wuye.dunning.choices import ActionStatus
from wuye.dunning.manual import message_cap_free_at
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint
from wuye.estate.selectors import liable_party, projects_visible, unit_visible_or_404
from wuye.estate.serializers import masked_contact_value
from wuye.portal import field
from wuye.portal.choices import FieldPaymentMethod, FieldPaymentStatus
from wuye.portal.models import FieldPayment
from wuye.portal.qr import qr_png_data_uri

SEND_KINDS = {ContactKind.MOBILE: "sms", ContactKind.WECHAT: "wechat"}


class FieldPaymentForm(forms.Form):
    amount = forms.DecimalField(label="金额（元）", max_digits=14, decimal_places=2, min_value=Decimal("0.01"),
                                error_messages={"required": "请填写金额。", "invalid": "请输入金额（元），最多两位小数。",
                                                "min_value": "金额必须大于 0。", "max_decimal_places": "金额最多两位小数。"})
    method = forms.ChoiceField(label="转账方式", choices=FieldPaymentMethod.choices)
    reference = forms.CharField(label="转账流水号", max_length=64,
                                error_messages={"required": "请填写转账流水号。", "max_length": "流水号不能超过 64 个字符。"})
    paid_on = forms.DateField(label="转账日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                              error_messages={"required": "请填写转账日期。", "invalid": "日期格式应为 YYYY-MM-DD。"})
    note = forms.CharField(label="备注", required=False, max_length=300,
                           error_messages={"max_length": "备注不能超过 300 字。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bootstrap(self)
        self.fields["amount"].widget.attrs["inputmode"] = "decimal"


def _party(request, unit):
    today = timezone.localdate()
    raw = request.POST.get("party") or request.GET.get("party") or ""
    party_id = id_or_none(raw)
    try:
        return debtor_for(unit, today, party_id=party_id)
    except ValidationError:
        return liable_party(unit, today)


def _chosen_periods(request, lines) -> list[str]:
    """The periods ticked (ISO first days) among the debtor's open ones; none ticked means all."""
    own = {b.period_start.isoformat() for b in lines}
    raw = request.POST.getlist("period") or request.GET.getlist("period")
    chosen = sorted(p for p in raw if p in own)
    return chosen if chosen and len(chosen) < len(own) else []


def _doorstep_unit(request, pk: int):
    unit = unit_visible_or_404(request.user, pk)
    if not field.can_work_doorstep(request.user):
        raise PermissionDenied("只有收费员、客服和经理可以上门收款或发送缴费链接。")
    return unit


@login_required
def doorstep(request, pk: int):
    """上门收款 — the debtor's periods (tick some or pay all), the QR code of their pay link for the owner to
    scan, one-tap sending of the link to a contact on record, and the form for a transfer made at the door."""
    return _render_doorstep(request, _doorstep_unit(request, pk))


def _render_doorstep(request, unit, form: FieldPaymentForm | None = None, status: int = 200):
    """The doorstep page; ``form`` is a transfer form refused, shown with its errors by their fields."""
    party = _party(request, unit)
    pid = party.pk if party else None
    lines = field.open_lines(unit, pid)
    chosen = _chosen_periods(request, lines)
    url = field.doorstep_link(actor=request.user, unit=unit, party_id=pid, periods=chosen) if lines else ""
    periods: dict[str, dict] = {}
    for b in lines:
        row = periods.setdefault(b.period_start.isoformat(), {"start": b.period_start, "fen": 0, "ids": [],
                                                             "overdue": False})
        row["fen"] += b.amount_fen - b.settled_fen
        row["ids"].append(b.pk)
        row["overdue"] = row["overdue"] or b.due_date < timezone.localdate()
    contacts = []
    if party is not None:
        for c in ContactPoint.objects.filter(party=party, kind__in=list(SEND_KINDS)).exclude(
                validity__in=list(DEAD_VALIDITIES)).order_by("-is_primary", "pk"):
            contacts.append((c, SEND_KINDS[c.kind], masked_contact_value(c, request.user)))
    free_at = message_cap_free_at(unit=unit, party_id=pid) if lines else None
    if form is None:
        form = FieldPaymentForm(initial={"paid_on": timezone.localdate(), "method": FieldPaymentMethod.WECHAT,
                                         "amount": Decimal(sum(r["fen"] for k, r in periods.items()
                                                               if not chosen or k in chosen)) / 100})
    return render(request, "portal/doorstep.html", {
        "unit": unit, "party": party, "debtors": debtors_of(unit, timezone.localdate()),
        "periods": periods.values(), "chosen": chosen, "url": url,
        "qr": qr_png_data_uri(url, scale=6) if url else "",
        "total_fen": sum(r["fen"] for k, r in periods.items() if not chosen or k in chosen),
        "contacts": contacts, "free_at": free_at, "form": form,
        "recent": FieldPayment.objects.filter(unit=unit).select_related("recorded_by", "payment")[:10],
    }, status=status)


@login_required
@require_POST
@once_per_submit
def send(request, pk: int):
    """One tap: the pay link to a contact on record (SMS or WeChat). htmx gets a line back; a plain post
    returns to the page with a message."""
    unit = _doorstep_unit(request, pk)
    party = _party(request, unit)
    pid = party.pk if party else None
    raw = request.POST.get("contact") or ""
    contact = ContactPoint.objects.filter(pk=cid, party_id=pid).first() if (cid := id_or_none(raw)) else None
    error = ok = ""
    if contact is None:
        error = "请选择这位欠费人的手机号码或微信。"
    else:
        lines = field.open_lines(unit, pid)
        try:
            action = field.pay_link_send(actor=request.user, unit=unit, party_id=pid, contact=contact,
                                         channel=SEND_KINDS.get(contact.kind, ""),
                                         periods=_chosen_periods(request, lines))
        except ValidationError as exc:
            error = "未发送：" + validation_errors_text(exc)
        else:
            if action.status in (ActionStatus.SENT, ActionStatus.DELIVERED):
                ok = f"缴费链接已发送至 {masked_contact_value(contact, request.user)}（{action.get_channel_display()}）。"
            else:
                error = f"发送{action.get_status_display()}：{action.last_error or '请稍后在发件箱查看'}"
    if request.headers.get("HX-Request"):
        return render(request, "casework/_flash.html", {"error": error, "success": ok, "testid": "link-sent"},
                      status=400 if error else 200)
    (messages.error if error else messages.success)(request, error or ok)
    back = reverse("portal-admin:doorstep", args=[unit.pk]) + (f"?party={pid}" if pid else "")
    return redirect(back)


@login_required
@require_POST
@once_per_submit
def field_payment_new(request, pk: int):
    unit = _doorstep_unit(request, pk)
    party = _party(request, unit)
    pid = party.pk if party else None
    form = FieldPaymentForm(request.POST)
    lines = field.open_lines(unit, pid)
    chosen = set(_chosen_periods(request, lines))
    back = reverse("portal-admin:doorstep", args=[unit.pk]) + (f"?party={pid}" if pid else "")
    if not form.is_valid():  # each error beside its field, nothing recorded
        return _render_doorstep(request, unit, form, status=400)
    d = form.cleaned_data
    try:
        amount_fen = yuan_to_fen(d["amount"])
    except (InvalidOperation, ValueError):
        amount_fen = 0
    try:
        row = field.field_payment_record(
            actor=request.user, unit=unit, party_id=pid, amount_fen=amount_fen, method=d["method"],
            reference=d["reference"], paid_on=d["paid_on"], note=d["note"],
            bill_ids=[b.pk for b in lines if b.period_start.isoformat() in chosen])
    except ValidationError as exc:
        for key, texts in (exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}).items():
            key = {"amount_fen": "amount"}.get(key, key)
            for text in texts:
                form.add_error(key if key in form.fields else None, text)
        return _render_doorstep(request, unit, form, status=400)
    messages.success(request, f"已登记上门收款 {row.get_method_display()} 流水号 {row.reference}，待财务确认后入账。")
    return redirect(back)


@login_required
def field_payments(request):
    """上门收款确认 — finance checks each transfer a collector recorded and posts it, or sends it back."""
    if not can_record_payments(request.user):
        raise PermissionDenied("只有财务、经理和管理员可以确认上门收款。")
    projects = projects_visible(request.user)
    qs = FieldPayment.objects.filter(project__in=projects).select_related("unit", "party", "recorded_by",
                                                                          "decided_by", "payment")
    if request.method == "POST":
        row = get_object_or_404(qs, pk=id_param(request.POST, "field_payment", 0))
        try:
            if request.POST.get("decision") == "confirm":
                payment = field.field_payment_confirm(actor=request.user, field_payment=row,
                                                      note=request.POST.get("note", ""))
                messages.success(request, f"已入账，收据号 {payment.receipt_no}。")
            else:
                field.field_payment_reject(actor=request.user, field_payment=row, note=request.POST.get("note", ""))
                messages.success(request, "已退回，未入账。")
        except ValidationError as exc:
            messages.error(request, "未处理：" + validation_errors_text(exc))
        return redirect("portal-admin:field-payments")
    status = request.GET.get("status", FieldPaymentStatus.PENDING)
    if status in FieldPaymentStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("recorded_at", "pk") if status == FieldPaymentStatus.PENDING else qs, 50)
    return render(request, "portal/field_payments.html", {
        "page_obj": page.get_page(request.GET.get("page")), "status": status,
        "statuses": FieldPaymentStatus.choices})
