"""Pages of the legal role: cases by stage and deadline, a case's file (statement with clocks, events, deadlines,
money, 支付令 check, documents, evidence packs), numbers, delivery proofs, document templates, the court-fee
calculator. Thin: forms parse, services write, selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Min, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from wuye.accounts.selectors import scope_project_ids
from wuye.common.forms import form_errors_text, validation_errors_text
from wuye.common.once import once_per_submit
from wuye.common.params import id_or_none
from wuye.common.views import redirect_next
from wuye.dunning.choices import ActionStatus, Channel
from wuye.dunning.models import Action, Task
from wuye.estate.selectors import projects_visible, units_visible
from wuye.legal import documents, selectors, services
from wuye.legal.choices import DocumentKind, Event, Stage
from wuye.legal.courtfee import court_fee
from wuye.legal.eligibility import payment_order_conditions
from wuye.legal.forms import (
    CaseOpenForm,
    CostForm,
    CourtFeeForm,
    DeadlineForm,
    EventForm,
    OwnerForm,
    ProofForm,
    TemplateForm,
)
from wuye.legal.models import CaseDeadline, DeliveryProof, DocumentTemplate, EvidencePack
from wuye.legal.pack import build_pack
from wuye.legal.permissions import can_upload_proof, require_legal
from wuye.legal.signers import unaccepted_deliveries


def _legal(request):
    require_legal(request.user)


def _case(request, pk):
    _legal(request)
    case = selectors.case_or_none(request.user, pk)
    if case is None:
        raise Http404("案件不存在或不在您的项目内。")
    return case


@login_required
def case_list(request):
    """法务案件 — the legal role's first page: cases by stage, the next deadline of each, referrals waiting."""
    _legal(request)
    stage = request.GET.get("stage", "open")
    qs = selectors.cases_visible(request.user).annotate(
        next_deadline=Min("deadlines__due_on", filter=Q(deadlines__done_on__isnull=True)))
    if stage == "open":
        qs = qs.filter(closed_on__isnull=True)
    elif stage in Stage.values:
        qs = qs.filter(stage=stage)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(party__name__contains=q) | Q(lines__unit__code__icontains=q)).distinct()
    qs = qs.order_by("next_deadline", "-opened_on", "-pk")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    today = timezone.localdate()
    numbers = selectors.numbers_for(request.user, today=today, deadline_days=14)
    return render(request, "legal/case_list.html", {
        "page_obj": page, "stage": stage, "q": q, "stages": Stage.choices, "numbers": numbers, "today": today,
        "notices": list(selectors.notices_waiting(request.user).select_related("deadline__case")
                        .order_by("deadline__due_on", "pk")[:50]),
        "referrals": list(selectors.open_referrals(request.user)[:20]),
        "open_form": CaseOpenForm(projects=projects_visible(request.user)),
    })


@login_required
@require_POST
def notices_read(request):
    """「知道了」 on the reminders the user was sent (their own only)."""
    _legal(request)
    ids = [pk for x in request.POST.getlist("notice") if (pk := id_or_none(x)) is not None]
    services.deadline_notice_read(actor=request.user, notice_ids=ids)
    return redirect("legal:case-list")


@login_required
@require_POST
@once_per_submit
def case_open(request):
    _legal(request)
    form = CaseOpenForm(request.POST, projects=projects_visible(request.user))
    if not form.is_valid():
        messages.error(request, "未立案：" + form_errors_text(form))
        return redirect("legal:case-list")
    d = form.cleaned_data
    unit = units_visible(request.user).filter(project=d["project"], code=d["unit_code"].strip()).first()
    if unit is None:
        messages.error(request, f"未立案：{d['project'].name}没有房号“{d['unit_code']}”。")
        return redirect("legal:case-list")
    from wuye.legal.services import _referral_party

    party = _referral_party(Task(unit=unit, project=unit.project), timezone.localdate())
    if party is None:
        messages.error(request, "未立案：无法确定该房屋的缴费责任人。")
        return redirect("legal:case-list")
    try:
        case = services.case_open(actor=request.user, project=d["project"], party=party, note=d["note"])
    except ValidationError as exc:
        messages.error(request, "未立案：" + validation_errors_text(exc))
        return redirect("legal:case-list")
    messages.success(request, f"已立案 {case.number}。")
    return redirect("legal:case", pk=case.pk)


@login_required
@require_POST
@once_per_submit
def referral_open(request, task_id: int):
    _legal(request)
    task = get_object_or_404(selectors.open_referrals(request.user), pk=task_id)
    try:
        case = services.case_open_from_referral(actor=request.user, task=task)
    except ValidationError as exc:
        messages.error(request, "未立案：" + validation_errors_text(exc))
        return redirect("legal:case-list")
    messages.success(request, f"已由转介立案 {case.number}，转介任务已办结。")
    return redirect("legal:case", pk=case.pk)


def _demand_actions(case):
    units = list(case.lines.values_list("unit_id", flat=True).distinct())
    actions = list(Action.objects.filter(unit_id__in=units, channel__in=[Channel.REGISTERED, Channel.NOTICE],
                                         status__in=[ActionStatus.SENT, ActionStatus.DELIVERED,
                                                     ActionStatus.UNCERTAIN])
                   .select_related("unit", "step").prefetch_related("delivery_proofs").order_by("-sent_at", "-pk")[:50])
    return _with_proof_forms(actions)


def _with_proof_forms(actions):
    """Each demand gets its own upload form (ids unique on the page, so each label names one field)."""
    for a in actions:
        a.proof_form = ProofForm(auto_id=f"proof{a.pk}_%s").for_channel(a.channel)
    return actions


@login_required
def case_detail(request, pk: int):
    case = _case(request, pk)
    today = timezone.localdate()
    lines = list(case.lines.select_related("unit", "bill").order_by("period_start", "unit_id", "pk"))
    clocks = {lc.bill_id: lc for lc in selectors.limitation_clocks(
        as_of=today, bill_ids=[x.bill_id for x in lines], detail=True)}
    for x in lines:
        x.clock = clocks.get(x.bill_id)
        x.open_now = x.bill.amount_fen - x.bill.settled_fen if not x.bill.is_void else 0
    expiring = sum(1 for x in lines if x.clock and x.open_now > 0 and 0 <= x.clock.clock.days_left(today) <= 90)
    recovered = selectors.recovered_by_case([case.pk]).get(case.pk, 0)
    costs = list(case.costs.select_related("created_by"))
    return render(request, "legal/case_detail.html", {
        "case": case, "lines": lines, "today": today, "expiring": expiring,
        "events": list(case.events.select_related("created_by").order_by("on", "pk")),
        "deadlines": list(case.deadlines.select_related("source").order_by("done_on", "due_on", "pk")),
        "judgment": services.judgment_dates(case),
        "costs": costs, "costs_fen": sum(c.amount_fen for c in costs), "recovered_fen": recovered,
        "payments": selectors.payments_since_opening(case),
        "conditions": payment_order_conditions(case, as_of=today),
        "packs": list(case.packs.select_related("built_by")[:10]),
        "demands": _demand_actions(case),
        "documents": DocumentKind.choices,
        "fee": _fee_preview(case),
        "event_form": EventForm(initial={"on": today}), "deadline_form": DeadlineForm(),
        "cost_form": CostForm(initial={"on": today}),
        "owner_form": OwnerForm(project_id=case.project_id, initial={"owner": case.owner_id},
                                auto_id="owner_%s") if case.is_open else None,
    })


def _fee_preview(case):
    claim = case.claim_fen
    if claim <= 0:
        return None
    return {"lawsuit": court_fee(claim, "lawsuit"), "summary": court_fee(claim, "summary"),
            "payment_order": court_fee(claim, "payment_order")}


@login_required
@require_POST
@once_per_submit
def case_event(request, pk: int):
    case = _case(request, pk)
    form = EventForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "未登记：" + form_errors_text(form))
        return redirect("legal:case", pk=case.pk)
    d = form.cleaned_data
    try:
        services.case_event_add(actor=request.user, case=case, event=d["event"], on=d["on"], note=d["note"],
                                law_firm=d["law_firm"], lawyer_name=d["lawyer_name"],
                                lawyer_licence=d["lawyer_licence"], court=d["court"], docket_no=d["docket_no"],
                                mediator=d["mediator"], amount_fen=d["amount"], due_on=d["due_on"],
                                outcome=d["outcome"], document=d["document"], served_on=d["served_on"])
    except ValidationError as exc:
        messages.error(request, "未登记：" + validation_errors_text(exc))
    else:
        messages.success(request, f"已登记：{Event(d['event']).label}。")
    return redirect("legal:case", pk=case.pk)


@login_required
@require_POST
@once_per_submit
def case_owner(request, pk: int):
    case = _case(request, pk)
    form = OwnerForm(request.POST, project_id=case.project_id)
    if not form.is_valid():
        messages.error(request, "未更换：" + form_errors_text(form))
        return redirect("legal:case", pk=case.pk)
    try:
        services.case_assign(actor=request.user, case=case, owner=form.cleaned_data["owner"],
                             note=form.cleaned_data["note"])
    except ValidationError as exc:
        messages.error(request, "未更换：" + validation_errors_text(exc))
    else:
        messages.success(request, f"承办人已改为 {form.cleaned_data['owner']}。")
    return redirect("legal:case", pk=case.pk)


@login_required
@require_POST
@once_per_submit
def case_deadline(request, pk: int):
    case = _case(request, pk)
    form = DeadlineForm(request.POST)
    if form.is_valid():
        try:
            services.deadline_add(actor=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, "未登记：" + validation_errors_text(exc))
        else:
            messages.success(request, "期限已登记。")
    else:
        messages.error(request, "未登记：" + form_errors_text(form))
    return redirect("legal:case", pk=case.pk)


@login_required
@require_POST
def deadline_done(request, pk: int):
    _legal(request)
    deadline = get_object_or_404(CaseDeadline.objects.filter(case__in=selectors.cases_visible(request.user)), pk=pk)
    try:
        services.deadline_done(actor=request.user, deadline=deadline)
    except ValidationError as exc:
        messages.error(request, validation_errors_text(exc))
    return redirect("legal:case", pk=deadline.case_id)


@login_required
@require_POST
@once_per_submit
def case_cost(request, pk: int):
    case = _case(request, pk)
    form = CostForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.cost_add(actor=request.user, case=case, kind=d["kind"], amount_fen=d["amount"], on=d["on"],
                              note=d["note"])
        except ValidationError as exc:
            messages.error(request, "未登记：" + validation_errors_text(exc))
        else:
            messages.success(request, "费用已登记。")
    else:
        messages.error(request, "未登记：" + form_errors_text(form))
    return redirect("legal:case", pk=case.pk)


@login_required
def case_document(request, pk: int, kind: str, fmt: str):
    case = _case(request, pk)
    if kind not in DocumentKind.values or fmt not in ("pdf", "docx"):
        raise Http404
    d = documents.draft(case, kind, as_of=timezone.localdate())
    name = f"{case.number}-{DocumentKind(kind).label.split('（')[0]}.{fmt}"
    if fmt == "pdf":
        data, ctype = documents.draft_pdf(d), "application/pdf"
    else:
        data = documents.draft_docx(d)
        ctype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    response = HttpResponse(data, content_type=ctype)
    response["Content-Disposition"] = _disposition(name, inline=fmt == "pdf")
    return response


def _disposition(name: str, inline: bool = False) -> str:
    from urllib.parse import quote

    return f"{'inline' if inline else 'attachment'}; filename=\"{quote(name)}\"; filename*=UTF-8''{quote(name)}"


@login_required
@require_POST
def case_pack(request, pk: int):
    case = _case(request, pk)
    pack = build_pack(actor=request.user, case=case)
    messages.success(request, f"证据包已生成：{pack.pages} 页，{pack.exhibits} 项证据，用时 {pack.seconds:.1f} 秒。")
    return redirect("legal:case", pk=case.pk)


@login_required
def pack_download(request, pk: int, fmt: str):
    _legal(request)
    pack = get_object_or_404(EvidencePack.objects.filter(case__in=selectors.cases_visible(request.user))
                             .select_related("case"), pk=pk)
    if fmt not in ("pdf", "zip"):
        raise Http404
    f = pack.pdf if fmt == "pdf" else pack.zip
    name = f"{pack.case.number}-证据包-{pack.built_at:%Y%m%d%H%M}.{fmt}"
    response = FileResponse(f.open("rb"), content_type="application/pdf" if fmt == "pdf" else "application/zip")
    response["Content-Disposition"] = _disposition(name, inline=fmt == "pdf")
    return response


# --- delivery proofs ----------------------------------------------------------------------------------------

def _proof_actions(user):
    units = units_visible(user).values("pk")
    return (Action.objects.filter(unit_id__in=units, channel__in=[Channel.REGISTERED, Channel.NOTICE],
                                  status__in=[ActionStatus.SENT, ActionStatus.DELIVERED, ActionStatus.UNCERTAIN])
            .select_related("unit", "step").order_by("-sent_at", "-pk"))


@login_required
def proofs(request):
    """送达凭证 — written demands (registered letters, EMS, notices) and their proofs; upload one per demand."""
    if not can_upload_proof(request.user):
        raise PermissionDenied("您的角色不能上传送达凭证。")
    qs = _proof_actions(request.user)
    code = request.GET.get("unit", "").strip()
    if code:
        qs = qs.filter(unit__code__icontains=code)
    pending = request.GET.get("pending", "1")
    if pending == "signer":
        # delivered, but signed by someone who cannot receive for the debtor: not counted by the clock (decision
        # 160); listed to follow up (send again by post), never rewritten
        unaccepted = unaccepted_deliveries(unit_ids=list(qs.order_by().values_list("unit_id", flat=True).distinct())
                                           if code else None)
        qs = qs.filter(pk__in=list(unaccepted))
    elif pending == "1":
        qs = qs.exclude(status=ActionStatus.DELIVERED)
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    page.object_list = _with_proof_forms(list(page.object_list))
    if pending != "signer":
        unaccepted = unaccepted_deliveries(unit_ids=[a.unit_id for a in page.object_list])
    for a in page.object_list:
        a.unaccepted = unaccepted.get(a.pk)
    recent = DeliveryProof.objects.filter(unit_id__in=units_visible(request.user).values("pk")).select_related(
        "unit", "uploaded_by")[:20]
    return render(request, "legal/proofs.html", {"page_obj": page, "recent": recent,
                                                 "unit": code, "pending": pending})


@login_required
@require_POST
@once_per_submit
def proof_upload(request, action_id: int):
    if not can_upload_proof(request.user):
        raise PermissionDenied("您的角色不能上传送达凭证。")
    action = get_object_or_404(_proof_actions(request.user), pk=action_id)
    form = ProofForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "未上传：" + form_errors_text(form))
        return redirect_next(request, "legal:proofs")
    d = form.cleaned_data
    try:
        proof = services.proof_upload(actor=request.user, upload=d["file"], kind=d["kind"], action=action,
                                      tracking_no=d["tracking_no"], signed_by=d["signed_by"], relation=d["relation"],
                                      signed_on=d["signed_on"], delivered=d["delivered"])
    except ValidationError as exc:
        messages.error(request, "未上传：" + validation_errors_text(exc))
    else:
        messages.success(request, f"送达凭证已保存（SHA-256 {proof.sha256[:16]}…）"
                         + ("，该催缴已记为送达。" if proof.delivered else "。"))
    return redirect_next(request, "legal:proofs")


@login_required
def proof_file(request, pk: int):
    if not can_upload_proof(request.user):
        raise PermissionDenied
    proof = get_object_or_404(DeliveryProof.objects.filter(unit_id__in=units_visible(request.user).values("pk")),
                              pk=pk)
    response = FileResponse(proof.file.open("rb"), content_type=proof.content_type)
    response["Content-Disposition"] = _disposition(f"proof-{proof.pk}{proof.file.name[-4:]}", inline=True)
    return response


# --- numbers, templates, calculator -------------------------------------------------------------------------

@login_required
def numbers(request):
    _legal(request)
    today = timezone.localdate()
    if request.method == "POST":
        project_id = request.POST.get("project")
        visible = set(projects_visible(request.user).values_list("pk", flat=True))
        ids = [pid] if (pid := id_or_none(project_id)) is not None else sorted(visible)
        for pid in ids:
            if pid in visible:
                selectors.clock_summary_compute(as_of=today, project_id=pid)
        messages.success(request, "诉讼时效概况已重新计算。")
        return redirect("legal:numbers")
    data = selectors.numbers_for(request.user, today=today)
    return render(request, "legal/numbers.html", {"n": data, "today": today})


def _template_project(request, visible):
    """The project whose wording the page shows: ``?project=`` (blank: the company-wide wording); by default the
    user's first project when they work in some projects only, else the company-wide one."""
    raw = request.POST.get("project", request.GET.get("project"))
    if raw is None:
        return None if scope_project_ids(request.user) is None else visible.first()
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404
    return get_object_or_404(visible, pk=int(raw))


@login_required
def templates(request):
    """One kind of document's wording: the company-wide version or one project's own, and where which applies
    (decision 201)."""
    _legal(request)
    kind = request.GET.get("kind") or request.POST.get("kind") or DocumentKind.LAWYER_LETTER
    if kind not in DocumentKind.values:
        raise Http404
    visible = projects_visible(request.user).order_by("name", "pk")
    project = _template_project(request, visible)
    pid = project.pk if project is not None else None
    try:
        services.require_template_scope(request.user, project)
        may_edit, refusal = True, ""
    except PermissionDenied as exc:
        may_edit, refusal = False, str(exc)
    tpl = documents.template_row_for(kind, pid)
    own = tpl is not None and tpl.project_id == pid  # the shown text is this choice's own row
    title, body, version = documents.template_for(kind, pid)
    form = TemplateForm(request.POST or None, initial={"title": title, "body": body})
    here = f"/legal/templates/?kind={kind}&project={pid or ''}"
    if request.method == "POST":
        if not may_edit:
            messages.error(request, "未保存：" + refusal)
            return redirect(here)
        if request.POST.get("action") == "drop" and project is not None:
            if services.template_drop(actor=request.user, kind=kind, project=project):
                messages.success(request, f"已删除“{project.name}”的项目模板，该项目的文书草稿改用公司通用模板。")
            return redirect(here)
        if form.is_valid():
            try:
                services.template_save(actor=request.user, kind=kind, project=project, **form.cleaned_data)
            except ValidationError as exc:
                messages.error(request, "未保存：" + validation_errors_text(exc))
            else:
                messages.success(request, f"“{project.name}”的项目模板已保存。" if project else "公司通用模板已保存。")
                return redirect(here)
    if not may_edit:
        for field in form.fields.values():
            field.disabled = True
    company = documents.template_row_for(kind, None)
    overrides = list(DocumentTemplate.objects.filter(kind=kind, project__in=visible)
                     .select_related("project", "updated_by").order_by("project__name", "project_id"))
    return render(request, "legal/templates.html", {
        "form": form, "kind": kind, "kinds": DocumentKind.choices, "tpl": tpl if own else None,
        "inherited": tpl if not own else None, "version": version, "placeholders": documents.PLACEHOLDERS,
        "project": project, "projects": visible, "may_edit": may_edit, "refusal": refusal,
        "company": company, "overrides": overrides, "others": visible.count() - len(overrides),
        "company_wide": scope_project_ids(request.user) is None})


@login_required
def calculator(request):
    _legal(request)
    form = CourtFeeForm(request.GET or None)
    result = None
    if request.GET and form.is_valid():
        try:
            result = court_fee(form.cleaned_data["amount"], form.cleaned_data["kind"])
        except ValueError as exc:
            form.add_error("amount", str(exc))
    return render(request, "legal/calculator.html", {"form": form, "result": result})
