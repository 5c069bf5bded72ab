"""Staff pages of billing: a unit's statement and desk payments, receipts, bill runs, approvals."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuye.accounts.selectors import scope_project_ids
from wuye.billing import documents, forms, installments, prepay, services
from wuye.billing import takings as takings_mod
from wuye.billing.choices import ApprovalStatus
from wuye.billing.models import Adjustment, Bill, BillRun, InstallmentPlan, Payment, PrepayAgreement
from wuye.billing.permissions import can_approve, can_record_payments
from wuye.billing.selectors import statement_for_unit
from wuye.common.formatting import format_yuan, rmb_upper
from wuye.common.forms import form_errors_text, validation_errors_text
from wuye.common.once import once_per_submit
from wuye.common.params import date_param, id_or_none, id_param
from wuye.estate.selectors import projects_visible, unit_visible_or_404, units_visible


def _unit(request, pk):
    return unit_visible_or_404(request.user, pk)


@login_required
@once_per_submit
def unit_statement(request, pk: int):
    unit = _unit(request, pk)
    as_of = timezone.localdate()
    statement = statement_for_unit(unit, as_of=as_of)
    clocks = _limitation_clocks([unit.pk], as_of)
    for line in statement.lines:
        line.clock = clocks.get(line.bill.pk)
    open_lines = [line.bill for line in statement.lines if line.open_fen > 0]
    form = forms.DeskPaymentForm(request.POST or None, open_bills=open_lines)
    if request.method == "POST":
        if not can_record_payments(request.user):
            raise PermissionDenied("只有财务、经理和管理员可以登记收款。")
        if form.is_valid():
            d = form.cleaned_data
            try:
                payment = services.payment_record(
                    actor=request.user, unit=unit, amount_fen=d["amount"], method=d["method"],
                    payer_name=d["payer_name"], reference=d["reference"], note=d["note"],
                    bill_ids=d["bills"] or None, tendered_fen=d.get("tendered"))
            except ValidationError as exc:
                # the service's findings go next to their fields, like the form's own
                names = {"amount_fen": "amount", "tendered_fen": "tendered", "bill_ids": "bills"}
                for key, errs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                    name = names.get(key, key)
                    form.add_error(name if name in form.fields else None, errs)
                messages.error(request, "未入账，请按提示修改。")
            else:
                change = f"找零 {format_yuan(payment.change_fen)}。" if payment.change_fen is not None else ""
                messages.success(request, f"已收款，收据号 {payment.receipt_no}。{change}")
                return redirect(f"{reverse('billing:unit-statement', args=[unit.pk])}?paid={payment.pk}")
        else:
            messages.error(request, "未入账，请按提示修改。")
    plans = list(unit.installment_plans.prefetch_related("items").select_related("requested_by", "decided_by"))
    standing = installments.installment_standing(plans, as_of)
    for plan in plans:
        plan.standing = standing.get(plan.pk)
    paid = id_or_none(request.GET.get("paid"))
    last_payment = unit.payments.filter(pk=paid).first() if paid is not None else None
    return render(request, "billing/statement.html", {
        "unit": unit, "statement": statement, "form": form, "as_of": as_of, "last_payment": last_payment,
        "can_pay": can_record_payments(request.user), "adjust_form": forms.AdjustmentRequestForm(auto_id=False),
        "plans": plans, "installment_form": forms.InstallmentForm(),
        "delivery_form": forms.DeliveryForm(periods=_periods(statement)),
        "deliveries": unit.statement_deliveries.select_related("recorded_by")[:20],
        **_prepay_context(unit, as_of),
    })


def _limitation_clocks(unit_ids: list[int], as_of: dt.date) -> dict:
    """bill id → its limitation clock, from the legal module through a setting (billing does not import legal)."""
    path = getattr(settings, "WUYE_LIMITATION_CLOCKS", "")
    return import_string(path)(unit_ids, as_of) if path else {}


def _prepay_context(unit, as_of: dt.date) -> dict:
    """The pay-ahead offers open today, each with its quote for this unit or the reason it cannot be taken."""
    offers = list(prepay.offers_open(unit.project, as_of))
    quotes = []
    for offer in offers:
        try:
            quotes.append((offer, prepay.prepay_quote(unit=unit, offer=offer, on=as_of), ""))
        except ValidationError as exc:
            quotes.append((offer, None, validation_errors_text(exc)))
    return {"prepay_quotes": quotes, "prepay_form": forms.PrepayTakeForm(offers=offers),
            "prepay_agreements": unit.prepay_agreements.select_related("offer", "payment")[:10]}


@login_required
@require_POST
@once_per_submit
def prepay_take(request, pk: int):
    """Finance takes a pay-ahead offer for the unit at the desk."""
    unit = _unit(request, pk)
    offers = list(prepay.offers_open(unit.project, timezone.localdate()))
    form = forms.PrepayTakeForm(request.POST, offers=offers)
    if not form.is_valid():
        messages.error(request, _("未办理：") + form_errors_text(form))
        return redirect("billing:unit-statement", pk=unit.pk)
    d = form.cleaned_data
    try:
        agreement = prepay.prepay_take(actor=request.user, unit=unit, offer=next(o for o in offers if o.pk == d["offer"]),
                                       amount_fen=d["amount"], method=d["method"], reference=d["reference"],
                                       payer_name=d["payer_name"])
    except ValidationError as exc:
        messages.error(request, _("未办理：") + validation_errors_text(exc))
        return redirect("billing:unit-statement", pk=unit.pk)
    messages.success(request, _("已办理预缴优惠，收据号 %(no)s。") % {"no": agreement.payment.receipt_no})
    return redirect("billing:receipt", pk=agreement.payment_id)


@login_required
def prepay_offers(request, pk: int):
    """A project's pay-ahead offers: managers set them up and stop them; finance sees them."""
    from wuye.billing.models import FeeItem, PrepayOffer

    project = get_object_or_404(projects_visible(request.user), pk=pk)
    if not (can_approve(request.user) or can_record_payments(request.user)):
        raise PermissionDenied(_("只有财务和经理可以查看预缴优惠。"))
    items = list(FeeItem.objects.filter(project=project, active=True).exclude(pricing="entered"))
    form = forms.PrepayOfferForm(request.POST or None, fee_items=items)
    if request.method == "POST":
        close = request.POST.get("close")
        try:
            if close:
                prepay.prepay_offer_close(actor=request.user,
                                          offer=get_object_or_404(PrepayOffer, pk=id_param(request.POST, "close", 0),
                                                                project=project))
                messages.success(request, _("方案已停用。"))
                return redirect("billing:prepay-offers", pk=project.pk)
            if form.is_valid():
                d = form.cleaned_data
                prepay.prepay_offer_save(actor=request.user, project=project, name=d["name"],
                                         fee_item=next(i for i in items if i.pk == d["fee_item"]), months=d["months"],
                                         discount_percent=d["discount_percent"], valid_from=d["valid_from"],
                                         valid_to=d["valid_to"])
                messages.success(request, _("方案已设定。"))
                return redirect("billing:prepay-offers", pk=project.pk)
            messages.error(request, _("未设定：") + form_errors_text(form))
        except ValidationError as exc:
            messages.error(request, _("未设定：") + validation_errors_text(exc))
    offers = PrepayOffer.objects.filter(project=project).select_related("fee_item", "created_by") \
        .annotate(taken=Count("agreements"))
    return render(request, "billing/prepay_offers.html", {"project": project, "offers": offers, "form": form,
                                                          "can_manage": can_approve(request.user)})


def _periods(statement) -> list:
    return sorted({line.bill.period_start for line in statement.lines if not line.bill.is_void}, reverse=True)


@login_required
@require_POST
@once_per_submit
def statement_delivery(request, pk: int):
    unit = _unit(request, pk)
    statement = statement_for_unit(unit, as_of=timezone.localdate())
    form = forms.DeliveryForm(request.POST, periods=_periods(statement))
    if not form.is_valid():
        messages.error(request, "未登记：" + form_errors_text(form))
        return redirect("billing:unit-statement", pk=unit.pk)
    d = form.cleaned_data
    try:
        services.statement_delivery_record(
            actor=request.user, unit=unit, period_start=d["period"], method=d["method"],
            delivered_on=d["delivered_on"], signed_by=d["signed_by"], signer_relation=d["signer_relation"],
            reference=d["reference"])
    except ValidationError as exc:
        messages.error(request, "未登记：" + validation_errors_text(exc))
    else:
        messages.success(request, "送达已登记。")
    return redirect("billing:unit-statement", pk=unit.pk)


@login_required
@require_POST
@once_per_submit
def installment_request(request, pk: int):
    unit = _unit(request, pk)
    form = forms.InstallmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "未提交：" + form_errors_text(form))
        return redirect("billing:unit-statement", pk=unit.pk)
    d = form.cleaned_data
    open_fen = statement_for_unit(unit, as_of=timezone.localdate()).open_fen
    refused = installments.schedule_refusal(d["count"], d["first_due"])
    if refused:
        messages.error(request, "未提交：" + "；".join(refused.values()))
        return redirect("billing:unit-statement", pk=unit.pk)
    try:
        plan = installments.installment_request(
            actor=request.user, unit=unit, reason=d["reason"],
            schedule=installments.equal_schedule(open_fen, d["count"], d["first_due"]) if open_fen > 0 else [])
    except ValidationError as exc:
        messages.error(request, "未提交：" + validation_errors_text(exc))
    else:
        messages.success(request, "分期已生效。" if plan.status == "active" else "分期申请已提交经理审批。")
    return redirect("billing:unit-statement", pk=unit.pk)


@login_required
@require_POST
def installment_decide(request, pk: int):
    plan = get_object_or_404(InstallmentPlan.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    return _decide(request, lambda approve, note: installments.installment_decide(
        actor=request.user, plan=plan, approve=approve, note=note))


def _decide(request, decide):
    """Approve or reject from the approvals page; the service checks who may."""
    try:
        decide(request.POST.get("approve") == "1", request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, validation_errors_text(exc))
    else:
        messages.success(request, "已处理。")
    return redirect("billing:approvals")


@login_required
def receipt(request, pk: int):
    payment = get_object_or_404(Payment.objects.select_related("unit", "project", "created_by"), pk=pk)
    _unit(request, payment.unit_id)
    allocations = list(payment.allocations.select_related("bill", "bill__fee_item").order_by("bill__period_start"))
    applied = sum(a.amount_fen for a in allocations)
    return render(request, "billing/receipt.html", {
        "payment": payment, "allocations": allocations, "upper": rmb_upper(payment.amount_fen),
        "lines": documents.receipt_lines(allocations),
        "applied": applied, "prepaid_fen": payment.amount_fen - applied,
        "fees_charged": documents.fees_charged(payment),
        "agreement": PrepayAgreement.objects.filter(payment=payment).select_related("offer").first()})


@login_required
@require_POST
@once_per_submit
def adjustment_request(request, pk: int):
    bill = get_object_or_404(Bill, pk=pk)
    _unit(request, bill.unit_id)
    form = forms.AdjustmentRequestForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            adj = services.adjustment_request(
                actor=request.user, bill=bill, kind=d["kind"], reason=d["reason"],
                amount_fen=d["amount"] if d["kind"] != "void" else None,
                reissue_amount_fen=d["amount"] if d["kind"] == "void" else None)
        except ValidationError as exc:
            messages.error(request, "未提交：" + validation_errors_text(exc))
        else:
            messages.success(request, "已生效。" if adj.status == ApprovalStatus.APPROVED else "已提交经理审批。")
    else:
        messages.error(request, "未提交：" + form_errors_text(form))
    return redirect("billing:unit-statement", pk=bill.unit_id)


@login_required
def approvals(request):
    """The approvals page moved to the manager's desk (one page for waivers, plans and referrals)."""
    if not can_approve(request.user):
        raise PermissionDenied("只有经理可以审批。")
    return redirect("casework:desk-approvals")


@login_required
@require_POST
def approval_decide(request, pk: int):
    adj = get_object_or_404(Adjustment.objects.filter(bill__project__in=projects_visible(request.user)), pk=pk)
    return _decide(request, lambda approve, note: services.adjustment_decide(
        actor=request.user, adjustment=adj, approve=approve, note=note))


@login_required
def runs(request):
    if not (can_approve(request.user) or can_record_payments(request.user)):
        raise PermissionDenied("只有财务和经理可以出账。")
    projects = projects_visible(request.user).order_by("code")
    form = forms.RunForm(request.POST or None)
    plan = None
    project = None
    if request.method == "POST" and form.is_valid():
        project = get_object_or_404(projects, pk=id_param(request.POST, "project", 0))
        try:
            if request.POST.get("post") == "1":
                run = services.bill_generate(actor=request.user, project=project, period=form.cleaned_data["period"])
                messages.success(request, f"已出账 {run.bills_created} 行。" if run else "没有新的账单需要出账。")
                return redirect("billing:runs")
            plan = services.bill_plan(project=project, period=form.cleaned_data["period"])
        except ValidationError as exc:
            messages.error(request, validation_errors_text(exc))
    recent = BillRun.objects.filter(project__in=projects).select_related("project", "created_by")[:50]
    return render(request, "billing/runs.html", {"form": form, "projects": projects, "plan": plan,
                                                 "project": project, "runs": recent})


@login_required
@require_POST
def run_reverse(request, pk: int):
    run = get_object_or_404(BillRun.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    try:
        n = services.bill_run_reverse(actor=request.user, run=run, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, validation_errors_text(exc))
    else:
        messages.success(request, f"已撤销 {n} 行账单，已收款项转入预存。")
    return redirect("billing:runs")


@login_required
def receipt_pdf(request, pk: int):
    """The receipt as PDF: A4 by default, ``?size=80mm`` for the desk's thermal printer."""
    payment = get_object_or_404(Payment.objects.select_related("unit", "project", "created_by"), pk=pk)
    _unit(request, payment.unit_id)
    size = "80mm" if request.GET.get("size") == "80mm" else "a4"
    return HttpResponse(documents.receipt_pdf(payment, size=size), content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{payment.receipt_no or payment.pk}-{size}.pdf"'})


def _cashiers(user) -> list[tuple[int, str]]:
    """The finance staff ``user`` works with (a shared project, or company-wide) — never another project's."""
    return [(u.pk, str(u)) for u in takings_mod.handover_people(user)]


TAKINGS_PAGE = 100  # payments listed per page of the day's takings (the Excel has every one)


@login_required
@once_per_submit
def takings(request):
    """收款日报 — the day's takings by cashier and method, the payments, the handovers; Excel with
    ``?format=xlsx``. Finance and managers; the cashier's own shift and the 交班 form are on the same page."""
    if not (can_record_payments(request.user) or can_approve(request.user)):
        raise PermissionDenied("只有财务、经理和管理员可以查看收款日报。")
    people = _cashiers(request.user)
    filt = forms.TakingsFilter(request.GET or None, people=people)
    data = filt.cleaned_data if filt.is_valid() else {}
    day = data.get("date") or timezone.localdate()
    report = takings_mod.takings_for_day(projects=projects_visible(request.user), day=day,
                                         company_wide=scope_project_ids(request.user) is None,
                                         cashier_id=data.get("cashier"))
    if request.GET.get("format") == "xlsx":
        return FileResponse(takings_mod.takings_xlsx(report), as_attachment=True, filename=f"收款日报-{day:%Y%m%d}.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    can_pay = can_record_payments(request.user)
    hand_form = forms.HandoverForm(request.POST or None, people=[p for p in people if p[0] != request.user.pk])
    if request.method == "POST":
        if not can_pay:
            raise PermissionDenied("只有财务、经理和管理员可以交班。")
        if hand_form.is_valid():
            d = hand_form.cleaned_data
            from wuye.accounts.models import User

            try:
                handover = takings_mod.handover_record(
                    actor=request.user, cash_counted_fen=d["counted"], note=d["note"],
                    handed_to=User.objects.filter(pk=d["handed_to"]).first() if d["handed_to"] else None)
            except ValidationError as exc:
                names = {"cash_counted_fen": "counted"}
                for key, errs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                    name = names.get(key, key)
                    hand_form.add_error(name if name in hand_form.fields else None, errs)
            else:
                messages.success(request, f"已交班：{handover.payments_count} 笔，合计 {format_yuan(handover.total_fen)}，"
                                          f"实点现金 {format_yuan(handover.cash_counted_fen)}。")
                return redirect("billing:takings")
    shift = takings_mod.shift_open(request.user) if can_pay else None
    page = Paginator(report.payments, TAKINGS_PAGE).get_page(request.GET.get("page"))
    return render(request, "billing/takings.html", {
        "filt": filt, "day": day, "report": report, "page_obj": page, "methods": takings_mod.METHOD_ORDER,
        "method_words": [takings_mod.METHOD_WORDS[m] for m in takings_mod.METHOD_ORDER],
        "shift": shift, "hand_form": hand_form, "query": request.GET.urlencode()})


def _statement_for_download(request, pk: int):
    unit = _unit(request, pk)
    as_of = date_param(request.GET, "as_of", timezone.localdate())
    return unit, statement_for_unit(unit, as_of=as_of)


def _statement_party(request, statement) -> int | None:
    """``?party=``: one debtor of a sold unit, who sees their own lines only (404 for a party with none)."""
    if not request.GET.get("party"):
        return None
    party_id = id_or_none(request.GET["party"]) or 0
    if party_id not in {x.bill.party_id for x in statement.lines}:
        raise Http404("该房屋没有此缴费责任人的账单。")
    return party_id


@login_required
def statement_pdf(request, pk: int):
    unit, statement = _statement_for_download(request, pk)
    party_id = _statement_party(request, statement)
    return HttpResponse(documents.statement_pdf(unit, statement, party_id=party_id), content_type="application/pdf",
                        headers={
        "Content-Disposition": f'inline; filename="statement-{unit.pk}-{statement.as_of:%Y%m%d}.pdf"'})


@login_required
def statement_xlsx(request, pk: int):
    unit, statement = _statement_for_download(request, pk)
    party_id = _statement_party(request, statement)
    if party_id is not None:
        statement = documents.statement_for_party(statement, party_id)
    return FileResponse(documents.statement_xlsx(unit, statement), as_attachment=True,
                        filename=f"对账单-{unit.code}-{statement.as_of:%Y%m%d}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
def owner_statement(request, pk: int):
    """Every unit an owner holds now (within what the user may see): owed, overdue, late fee, prepaid."""
    from wuye.estate.models import Party

    party = get_object_or_404(Party, pk=pk)
    units = list(units_visible(request.user).filter(occupancies__party=party, occupancies__role="owner",
                                                     occupancies__end__isnull=True).distinct())
    if not units:
        raise Http404("该业户名下没有您可查看的房屋。")
    as_of = timezone.localdate()
    rows = [(unit, statement_for_unit(unit, as_of=as_of)) for unit in units]
    totals = {key: sum(getattr(st, key) for _, st in rows)
              for key in ("open_fen", "overdue_fen", "late_fee_fen", "court_late_fee_fen", "prepaid_fen")}
    return render(request, "billing/owner_statement.html", {"party": party, "rows": rows, "totals": totals,
                                                            "as_of": as_of})


@login_required
@require_POST
@once_per_submit
def late_fee_post(request, pk: int):
    unit = _unit(request, pk)
    try:
        lines = services.late_fee_post(actor=request.user, unit=unit, as_of=timezone.localdate(),
                                       reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, "未计收：" + validation_errors_text(exc))
    else:
        messages.success(request, f"已计收违约金 {len(lines)} 行。")
    return redirect("billing:unit-statement", pk=unit.pk)


@login_required
def billing_policy(request, pk: int):
    """A project's billing policy: everyone who handles money reads it; managers change it (audited)."""
    from wuye.billing.policy import EDITABLE, billing_policy_save

    project = get_object_or_404(projects_visible(request.user), pk=pk)
    if not (can_approve(request.user) or can_record_payments(request.user)):
        raise PermissionDenied(_("只有财务和经理可以查看收费政策。"))
    policy = services.policy_for(project)
    can_edit = can_approve(request.user)
    cycle_locked = Bill.objects.filter(project=project).exists()
    form = forms.BillingPolicyForm(request.POST if request.method == "POST" else None, instance=policy,
                                   cycle_locked=cycle_locked)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("只有经理或管理员可以修改收费政策。"))
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
            try:
                billing_policy_save(actor=request.user, project=project, data=data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, _("收费政策已保存，自下一次出账起生效。"))
                return redirect("billing:policy", pk=project.pk)
        messages.error(request, _("未保存：") + form_errors_text(form))
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "billing/policy.html", {"project": project, "form": form, "can_edit": can_edit,
                                                   "cycle_locked": cycle_locked})
