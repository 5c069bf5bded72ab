"""Staff pages of casework: the collector's worklist and contact form (mobile-first), a unit's case page,
disputes and work orders, finance checks, talking points, and the manager's desk."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from wuye.accounts.choices import Role
from wuye.accounts.models import Territory, User
from wuye.accounts.permissions import can_manage_team
from wuye.billing import installments
from wuye.billing import services as billing
from wuye.billing.models import Adjustment, Bill, InstallmentPlan
from wuye.billing.permissions import can_approve
from wuye.casework import selectors, services
from wuye.casework.choices import QUICK_OUTCOMES, ContactChannel, DisputeStatus, Outcome, WorkOrderStatus
from wuye.casework.forms import (
    ApprovalFilterForm,
    ClassForm,
    ContactForm,
    ResolveForm,
    TalkingPointForm,
    VisitForm,
    WorklistFilter,
    WorkOrderForm,
    WorkOrderUpdateForm,
)
from wuye.casework.models import ContactAttempt, TalkingPoint, VisitPhoto
from wuye.common.forms import validation_errors_text
from wuye.common.once import new_key, once_per_submit
from wuye.common.params import date_param, id_or_none, id_param
from wuye.common.templatetags.wuye import with_unit
from wuye.common.views import redirect_next
from wuye.dunning import services as dunning
from wuye.dunning.choices import AccountClass
from wuye.dunning.models import Episode, Task
from wuye.estate.models import Building
from wuye.estate.selectors import liable_party, projects_visible, unit_visible_or_404
from wuye.estate.serializers import masked_contact_value

PAGE = 50


def _manager(user) -> None:
    if not can_manage_team(user):
        raise PermissionDenied("只有经理和管理员可以使用经理工作台。")


def _add_errors(form, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    rename = rename or {}
    for key, errs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        key = rename.get(key, key)
        form.add_error(key if key in form.fields else None, errs)


# --- worklist ----------------------------------------------------------------------------------------------

def _worklist_for_request(request):
    user = request.user
    collectors = [(u.pk, str(u)) for u in User.objects.filter(role=Role.COLLECTOR, is_active=True)
                  .order_by("username")] if not user.territory_bound else []
    if user.territory_bound:  # a collector picks among the buildings of their territory (in its projects: a
        # territory row's project is its building's, so the projects are not read apart)
        in_reach = Building.objects.filter(pk__in=Territory.objects.filter(user=user).values("building_id"))
    else:
        in_reach = Building.objects.filter(project__in=projects_visible(user))
    reach = list(in_reach.select_related("project").order_by("project__code", "code")[:500])
    buildings = [(b.pk, f"{b.project.name} {b.name}") for b in reach]
    form = WorklistFilter(request.GET or None, collectors=collectors, buildings=buildings)
    data = form.cleaned_data if form.is_valid() else {}
    if request.GET and not form.is_valid():
        messages.error(request, "筛选条件有误：" + "；".join(f"{form.fields[k].label}：{v[0]}"
                                                        for k, v in form.errors.items() if k in form.fields))
    day = data.get("date") or timezone.localdate()
    collector = None
    if data.get("collector"):
        collector = User.objects.filter(pk=data["collector"]).first()
    wl = selectors.worklist(user=user, day=day, collector=collector, building_id=data.get("building"),
                            floor_from=data.get("floor_from"), floor_to=data.get("floor_to"),
                            account_class=data.get("account_class") or "", min_fen=data.get("min_fen"),
                            building_names={b.pk: b.name for b in reach})  # read for the filter already
    return form, wl


class _Link:
    """A page's address with one id in it, split once: half a million ``reverse`` calls a day are the worklist's
    fifty cards times eleven links."""

    def __init__(self, name: str):
        self.before, self.after = reverse(name, args=[987654321]).split("987654321")

    def __call__(self, pk: int) -> str:
        return f"{self.before}{pk}{self.after}"


_LINKS: dict[str, _Link] = {}


def _link(name: str, pk: int) -> str:
    made = _LINKS.get(name) or _LINKS.setdefault(name, _Link(name))
    return made(pk)


_QUICK_BUTTON = ('\n        <button class="btn btn-outline-secondary btn-sm" hx-post="{quick}" hx-vals=\'{{"_once": "{once}", '
                 '"outcome": "{value}", "task": "{task}", "party": "{party}"}}\' hx-target="#actions-{key}" '
                 'hx-swap="outerHTML">{label}</button>\n        ')


def _card_links(rows, here: str) -> None:
    """Each card's links (``r.links``), its one-tap buttons (``r.quick_html``) and its talking points
    (``r.points_html``), built in Python in one pass over the page's cards: with ``{% url %}`` eleven times a
    card the template spent more time resolving addresses than drawing the cards, and the four buttons and
    three points a card were a third of what remained (the HTML is the same, character for character)."""
    back = quote(here, safe="/")  # as the template filter urlencode quotes it
    buttons = [(escape(value), escape(label)) for value, label in ((o.value, o.label) for o in QUICK_OUTCOMES)]
    for r in rows:  # (ids and a percent-encoded path: nothing in them for HTML to escape)
        party = r.party_id or ""
        task = r.task_ids[0] if r.task_ids else ""
        quick, key, once = _link("casework:quick", r.unit_id), r.key, new_key()  # one key for the card's taps
        r.quick_html = mark_safe("".join(_QUICK_BUTTON.format(quick=quick, once=once, value=value, task=task,
                                                              party=party, key=key, label=label)
                                         for value, label in buttons))
        # a talking point is written by a manager: escaped, its {房号} filled with the card's unit
        r.points_html = mark_safe("".join(f"<li><strong>{escape(p.title)}</strong>：{escape(with_unit(p.body, r.code))}"
                                          "</li>" for p in r.points))
        r.links = {
            "case": _link("casework:case", r.unit_id), "quick": quick,
            "promise": mark_safe(f"{_link('casework:contact', r.unit_id)}?outcome=promised&party={party}"
                       + (f"&task={task}" if task else "") + f"&next={back}"),
            "contact": mark_safe(f"{_link('casework:contact', r.unit_id)}?party={party}&"
                       + (f"task={task}&" if task else "") + f"next={back}"),
            "visit": mark_safe(f"{_link('casework:visit', r.unit_id)}?party={party}" + (f"&task={task}" if task else "")
                     + f"&next={back}"),
            "doorstep": mark_safe(f"{_link('portal-admin:doorstep', r.unit_id)}?party={party}"),
            "send": _link("portal-admin:doorstep-send", r.unit_id),
            "reveal": _link("estate:contact-reveal", r.phone_id) if r.phone_id else "",
            "task": task, "party": party}


@login_required
def worklist(request):
    """今日工作清单 — the collector's accounts, most urgent first, with one-tap outcomes."""
    form, wl = _worklist_for_request(request)
    by_risk = request.GET.get("sort") == "risk"
    if by_risk:  # 预警 first: the accounts likeliest to reach 90 days, then the usual order
        wl.rows.sort(key=lambda r: -(r.risk or 0.0))
    page = Paginator(wl.rows, PAGE).get_page(request.GET.get("page"))
    _card_links(page.object_list, request.get_full_path())
    return render(request, "casework/worklist.html", {
        "by_risk": by_risk, "risk_high": settings.WUYE_RISK_HIGH,
        "form": form, "wl": wl, "page_obj": page,
        "priority_labels": selectors.PRIORITY_LABELS,
        "counts": [(p, selectors.PRIORITY_LABELS[p], n) for p, n in sorted(wl.counts.items())],
    })


@login_required
@require_POST
@once_per_submit
def quick_outcome(request, pk: int):
    """htmx: one tap records a simple outcome (no answer, busy, switched off, away) and redraws the card."""
    unit = unit_visible_or_404(request.user, pk)
    outcome = request.POST.get("outcome", "")
    if outcome not in QUICK_OUTCOMES:
        return render(request, "casework/_flash.html", {"error": "该结果需要填写联系表单。"}, status=400)
    task = Task.objects.filter(pk=_int(request.POST.get("task")), unit=unit).first()
    party_id = _int(request.POST.get("party")) or None
    try:
        attempt = services.contact_record(actor=request.user, unit=unit, channel=ContactChannel.CALL,
                                          outcome=outcome, task=task, party_id=party_id)
    except ValidationError as exc:
        return render(request, "casework/_flash.html", {"error": validation_errors_text(exc)}, status=400)
    klass = Episode.objects.filter(unit=unit, closed_on__isnull=True, party_id=attempt.party_id).values_list(
        "account_class", flat=True).first()
    return render(request, "casework/_recorded.html", {
        "unit": unit, "outcome": Outcome(outcome).label, "klass": AccountClass(klass).label if klass else "",
        "attempt": attempt, "undo_minutes": services.UNDO_MINUTES})


@login_required
@require_POST
def undo(request, pk: int):
    """htmx: undo a one-tap outcome just recorded (a correction naming it; the class and tasks come back)."""
    attempt = get_object_or_404(ContactAttempt.objects.select_related("unit"), pk=pk)
    unit_visible_or_404(request.user, attempt.unit_id)
    try:
        services.contact_undo(actor=request.user, attempt=attempt)
    except ValidationError as exc:
        return render(request, "casework/_flash.html", {"error": validation_errors_text(exc)}, status=400)
    klass = Episode.objects.filter(unit=attempt.unit, closed_on__isnull=True, party_id=attempt.party_id).values_list(
        "account_class", flat=True).first()
    return render(request, "casework/_flash.html", {
        "success": f"已撤销“{Outcome(attempt.outcome).label}”" + (f" · 分类：{AccountClass(klass).label}" if klass else ""),
        "testid": "undone"})


# --- contact form and case page ----------------------------------------------------------------------------

def _int(raw) -> int:
    """A query or form id as an int (0 for anything that is not one)."""
    return id_or_none(raw) or 0


def _phones(unit, user, on, party_id: int | None = None, task=None):
    """The debtor a contact is with (``services.debtor_for``) and their phone numbers for the form."""
    try:
        party = services.debtor_for(unit, on, party_id=party_id, task=task)
    except ValidationError:
        party = liable_party(unit, on)
    if party is None:
        return party, []
    return party, [(c.pk, f"{masked_contact_value(c, user)}（{c.get_validity_display()}）")
                   for c in party.contacts.filter(kind__in=["mobile", "landline"])]


@login_required
@once_per_submit
def contact(request, pk: int):
    """记录联系 — the contact form (mobile-first)."""
    unit = unit_visible_or_404(request.user, pk)
    today = timezone.localdate()
    party_id = _int(request.POST.get("party") or request.GET.get("party")) or None
    task_hint = Task.objects.filter(pk=_int(request.POST.get("task") or request.GET.get("task")), unit=unit).first()
    party, phones = _phones(unit, request.user, today, party_id, task_hint)
    initial = {"outcome": request.GET.get("outcome", ""), "task": _int(request.GET.get("task")) or None,
               "corrects": _int(request.GET.get("corrects")) or None, "channel": ContactChannel.CALL}
    def lines():
        return services.disputable_lines(unit, party.pk if party else None)

    # the open lines are read to draw the form or to check ticked ones, not for a post that ticks none
    needed = request.method != "POST" or bool(request.POST.getlist("bill_ids"))
    form = ContactForm(request.POST or None, phones=phones, initial=initial, today=today,
                       bills=lines() if needed else None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        cp = party.contacts.filter(pk=d["contact_point"]).first() if party and d["contact_point"] else None
        task = (task_hint if task_hint is not None and task_hint.pk == d["task"]  # read once above
                else Task.objects.filter(pk=d["task"], unit=unit).first() if d["task"] else None)
        corrects = ContactAttempt.objects.filter(pk=d["corrects"], unit=unit).first() if d["corrects"] else None
        try:
            services.contact_record(
                actor=request.user, unit=unit, channel=d["channel"], outcome=d["outcome"], note=d["note"],
                reason=d["reason"], follow_up_on=d["follow_up_on"], on=d["on"], contact_point=cp, task=task,
                promised_on=d["promised_on"], amount_fen=d["amount_fen"], hold_until=d["hold_until"],
                developer_warranty=d["developer_warranty"], installments=d["installments"], corrects=corrects,
                party_id=party.pk if party else None, bill_ids=d.get("bill_ids") or None)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"{unit.code}：已记录“{Outcome(d['outcome']).label}”。")
            return redirect_next(request, "casework:worklist")
    if not needed:  # the form comes back (an error): it shows the lines to tick
        form.set_bills(lines())
    mine = Episode.objects.filter(unit=unit, closed_on__isnull=True)
    if party is not None:
        mine = mine.filter(party=party)
    klass = mine.values_list("account_class", flat=True).first()
    reasons = list(selectors.disputes_visible(request.user).filter(unit=unit, status=DisputeStatus.OPEN)
                   .values_list("reason", flat=True))
    return render(request, "casework/contact.html", {
        "unit": unit, "party": party, "form": form, "points": selectors.points_for(klass or "", reasons),
        "recent": list(selectors.contacts_of(unit.pk)[:5]), "next": request.GET.get("next", ""),
        "corrects": ContactAttempt.objects.filter(pk=initial["corrects"] or 0, unit=unit).first(),
        "open_fen": services.open_fen_of(unit, party.pk if party else None),
        "klass_label": AccountClass(klass).label if klass else "",
        "debtors": services.debtors_of(unit, today),
    })


@login_required
@once_per_submit
def visit(request, pk: int):
    """上门记录 — what was found at the door, who was met, a photo as evidence (mobile-first)."""
    unit = unit_visible_or_404(request.user, pk)
    today = timezone.localdate()
    party_id = _int(request.POST.get("party") or request.GET.get("party")) or None
    form = VisitForm(request.POST or None, request.FILES or None, today=today,
                     initial={"task": request.GET.get("task")})
    party = None
    try:
        party = services.debtor_for(unit, today, party_id=party_id)
    except ValidationError:
        party = liable_party(unit, today)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        task = Task.objects.filter(pk=d["task"], unit=unit).first() if d["task"] else None
        try:
            services.visit_record(actor=request.user, unit=unit, outcome=d["outcome"], person_met=d["person_met"],
                                  relationship=d["relationship"], note=d["note"], photo=d["photo"], on=d["on"],
                                  task=task, party_id=party.pk if party else None, follow_up_on=d["follow_up_on"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"{unit.code}：已记录上门“{Outcome(d['outcome']).label}”。")
            return redirect_next(request, "casework:case", pk=unit.pk)
    return render(request, "casework/visit.html", {
        "unit": unit, "party": party, "form": form, "next": request.GET.get("next", ""),
        "open_fen": services.open_fen_of(unit, party.pk if party else None),
        "photo_max_mb": _photo_max_mb()})


def _photo_max_mb() -> int:
    from wuye.casework.evidence import max_bytes

    return max_bytes() // 1048576


@login_required
def visit_photo(request, pk: int):
    """A visit photo (evidence), for those who may see the unit."""
    shot = get_object_or_404(VisitPhoto, pk=pk)
    unit_visible_or_404(request.user, shot.unit_id)
    response = FileResponse(shot.file.open("rb"), content_type=shot.content_type)
    response["Content-Disposition"] = f'inline; filename="{shot.sha256[:16]}{".png" if "png" in shot.content_type else ".jpg"}"'
    return response


@login_required
@once_per_submit
def case(request, pk: int):
    """The collector's case page for a unit and one debtor: what they owe by period, phone (masked, one tap to
    call), pay link / QR buttons, last contacts, promises, talking points, the evidence (visit photos with
    their hash); the class with a manual override."""
    unit = unit_visible_or_404(request.user, pk)
    today = timezone.localdate()
    debtors = services.debtors_of(unit, today)
    party_id = _int(request.GET.get("party")) or None
    try:
        party = services.debtor_for(unit, today, party_id=party_id)
    except ValidationError:
        party = liable_party(unit, today)
    pid = party.pk if party else None
    episode = (Episode.objects.filter(unit=unit, closed_on__isnull=True, party_id=pid).first()
               or Episode.objects.filter(unit=unit, closed_on__isnull=True).first())
    form = ClassForm(request.POST or None, initial={"account_class": episode.account_class if episode else ""})
    if request.method == "POST" and form.is_valid():
        try:
            services.account_class_override(actor=request.user, unit=unit, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "催缴分类已调整。")
            return redirect("casework:case", pk=unit.pk)
    reasons = list(selectors.disputes_visible(request.user).filter(unit=unit, status=DisputeStatus.OPEN)
                   .values_list("reason", flat=True))
    klass = episode.account_class if episode else ""
    periods = selectors.owed_by_period(unit.pk, pid, today)
    return render(request, "casework/case.html", {
        "unit": unit, "episode": episode, "form": form, "contacts": list(selectors.contacts_of(unit.pk)[:30]),
        "corrected": selectors.corrected_ids(unit.pk), "party": party, "debtors": debtors,
        "periods": periods, "owed_fen": sum(p.open_fen for p in periods),
        "overdue_fen": sum(p.open_fen for p in periods if p.overdue),
        "phones": [(c, masked_contact_value(c, request.user)) for c in services.live_phones(party)],
        "points": selectors.points_for(klass, reasons)[:6],
        "promises": list(unit.promises.select_related("hold", "made_by").order_by("-pk")[:20]),
        "disputes": list(unit.disputes.select_related("opened_by").order_by("-pk")[:20]),
        "photos": list(VisitPhoto.objects.filter(unit=unit).select_related("uploaded_by", "contact")[:50]),
        "broken_promises": selectors.broken_promises_of(pid),
        "undo_minutes": services.UNDO_MINUTES,
    })


# --- disputes and work orders ------------------------------------------------------------------------------

@login_required
def disputes(request):
    status = request.GET.get("status", DisputeStatus.OPEN)
    qs = selectors.disputes_visible(request.user).order_by("-opened_on", "-pk")
    if status in DisputeStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "casework/disputes.html", {"page_obj": page, "status": status,
                                                      "statuses": DisputeStatus.choices})


@login_required
@once_per_submit
def dispute_detail(request, pk: int):
    dispute = get_object_or_404(selectors.disputes_visible(request.user), pk=pk)
    wo_form = WorkOrderForm(request.POST if request.POST.get("action") == "work_order" else None)
    resolve_form = ResolveForm(request.POST if request.POST.get("action") == "resolve" else None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "work_order" and wo_form.is_valid():
                services.work_order_open(actor=request.user, dispute=dispute, **wo_form.cleaned_data)
                messages.success(request, "工单已派给工程部。")
                return redirect("casework:dispute", pk=pk)
            if request.POST.get("action") == "resolve" and resolve_form.is_valid():
                services.dispute_resolve(actor=request.user, dispute=dispute, note=resolve_form.cleaned_data["note"])
                messages.success(request, "争议已解决，已恢复催缴并交回收费员跟进。")
                return redirect("casework:dispute", pk=pk)
        except ValidationError as exc:
            messages.error(request, validation_errors_text(exc))
    return render(request, "casework/dispute.html", {
        "dispute": dispute, "work_orders": list(dispute.work_orders.select_related("created_by", "closed_by")),
        "bills": list(Bill.objects.filter(pk__in=dispute.bill_ids or [], unit_id=dispute.unit_id)
                      .select_related("fee_item").order_by("period_start", "pk")),
        "wo_form": wo_form, "resolve_form": resolve_form, **_work_order_rights(request.user),
    })


def _work_order_rights(user) -> dict:
    """What the user may do with work orders, for the pages (the services check again)."""
    statuses = [(v, label) for v, label in WorkOrderStatus.choices if v != WorkOrderStatus.OPEN
                and (v != WorkOrderStatus.CANCELLED or services.can_cancel_work_order(user))]
    return {"statuses": statuses, "can_open_wo": services.can_open_work_order(user),
            "can_update_wo": services.can_work_on_work_order(user)}


@login_required
def work_orders(request):
    qs = selectors.work_orders_visible(request.user).order_by("status", "due_on", "pk")
    if request.GET.get("open", "1") == "1":
        qs = qs.filter(status__in=[WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS])
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "casework/work_orders.html", {"page_obj": page, "today": timezone.localdate(),
                                                         **_work_order_rights(request.user)})


@login_required
@require_POST
@once_per_submit
def work_order_update(request, pk: int):
    wo = get_object_or_404(selectors.work_orders_visible(request.user), pk=pk)
    form = WorkOrderUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.work_order_update(actor=request.user, work_order=wo, **form.cleaned_data)
            messages.success(request, "工单已更新。")
        except ValidationError as exc:
            messages.error(request, validation_errors_text(exc))
    else:
        messages.error(request, "请选择工单状态。")
    return redirect_next(request, "casework:work-orders")


@login_required
def checks(request):
    qs = selectors.payment_checks_visible(request.user).order_by("status", "-created_at")
    if request.method == "POST":
        check = get_object_or_404(qs, pk=id_param(request.POST, "check", 0))
        try:
            services.payment_check_resolve(actor=request.user, check=check, found=request.POST.get("found") == "1",
                                           note=request.POST.get("note", ""))
            messages.success(request, "核对结果已记录。")
        except ValidationError as exc:
            messages.error(request, validation_errors_text(exc))
        return redirect("casework:checks")
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "casework/checks.html", {"page_obj": page})


# --- talking points ----------------------------------------------------------------------------------------

@login_required
def talking_points(request, pk: int | None = None):
    point = get_object_or_404(TalkingPoint, pk=pk) if pk else None
    form = None
    if can_manage_team(request.user):
        initial = ({"title": point.title, "body": point.body, "account_class": point.account_class,
                    "reason": point.reason, "sort": point.sort, "active": point.active} if point else None)
        form = TalkingPointForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.talking_point_save(actor=request.user, point=point, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, "话术已保存。")
                return redirect("casework:talking-points")
    elif request.method == "POST":
        raise PermissionDenied("只有经理可以修改话术。")
    return render(request, "casework/talking_points.html", {
        "points": TalkingPoint.objects.order_by("sort", "pk"), "form": form, "point": point})


# --- the manager's desk ------------------------------------------------------------------------------------

@login_required
def desk_approvals(request):
    """审批 — the one approvals page: waivers, voids and write-offs, installment plans and lawyer-letter
    referrals in one table, filtered (project, kind, amount, collector), paged, with select-all and one reason
    for a bulk approve or reject; referrals come grouped by project."""
    if not can_approve(request.user):
        raise PermissionDenied("只有经理可以审批。")
    user = request.user
    projects = [(p.pk, p.name) for p in projects_visible(user).order_by("code")]
    params = request.POST if request.method == "POST" else request.GET
    form = ApprovalFilterForm(params or None, projects=projects, kinds=selectors.APPROVAL_KINDS,
                              people=selectors.approval_people(user))
    data = form.cleaned_data if form.is_valid() else {}
    flt = selectors.ApprovalFilter(project_id=data.get("project"), kind=data.get("kind") or "",
                                   min_fen=data.get("min_fen"), max_fen=data.get("max_fen"),
                                   collector_id=data.get("collector"))
    if request.method == "POST":
        approve = request.POST.get("approve") == "1"
        if request.POST.get("scope") == "all":  # every request matching the filters, on every page
            items = [(r.kind, r.pk) for r in selectors.approval_rows(user, flt)]
        else:
            items = []
            for raw in request.POST.getlist("items"):
                kind, _, pk = raw.partition(":")
                if (item_id := id_or_none(pk)) is not None:
                    items.append((kind, item_id))
        try:
            counts = services.approvals_decide_bulk(actor=user, items=items, approve=approve,
                                                    note=request.POST.get("note", ""))
        except ValidationError as exc:
            messages.error(request, validation_errors_text(exc))
        else:
            words = [f"{label} {counts[k]} 项" for k, label in
                     (("adjustment", "减免/作废/核销"), ("plan", "分期"), ("referral", "律师函转介")) if counts[k]]
            messages.success(request, ("已批准：" if approve else "已驳回：") + "，".join(words) + "。")
        query = {k: v for k, v in request.POST.items() if k in form.fields and v}
        return redirect(f"{request.path}?{urlencode(query)}" if query else request.path)
    rows = selectors.approval_rows(user, flt) if not form.errors else []
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    groups = defaultdict(int)
    by_kind = defaultdict(int)
    for r in rows:
        by_kind[r.kind_label] += 1
        if r.kind == "referral":
            groups[r.project_name] += 1
    blocks: list[dict] = []  # the page's rows; referrals under a heading per project
    for r in page.object_list:
        name = r.project_name if r.kind == "referral" else None
        if not blocks or blocks[-1]["project"] != name:
            blocks.append({"project": name, "group": f"g{len(blocks)}", "rows": [], "total": groups.get(name, 0)})
        blocks[-1]["rows"].append(r)
    return render(request, "casework/desk_approvals.html", {
        "form": form, "page_obj": page, "total": len(rows), "by_kind": sorted(by_kind.items()), "blocks": blocks,
        "filters": {k: v for k, v in params.items() if k in form.fields and v},
    })


@login_required
@require_POST
@once_per_submit
def desk_decide(request, kind: str, pk: int):
    """Approve or reject with a reason; billing's services decide adjustments and plans."""
    if not can_approve(request.user):
        raise PermissionDenied("只有经理可以审批。")
    approve, note = request.POST.get("approve") == "1", request.POST.get("note", "").strip()
    projects = projects_visible(request.user)
    try:
        if kind == "adjustment":
            adj = get_object_or_404(Adjustment, pk=pk, bill__project__in=projects)
            billing.adjustment_decide(actor=request.user, adjustment=adj, approve=approve, note=note)
        elif kind == "plan":
            plan = get_object_or_404(InstallmentPlan, pk=pk, project__in=projects)
            installments.installment_decide(actor=request.user, plan=plan, approve=approve, note=note)
        elif kind == "referral":
            task = get_object_or_404(Task, pk=pk, kind="referral", project__in=projects)
            if not approve and not note:
                raise ValidationError({"note": "驳回时请填写理由。"})
            dunning.task_close(actor=request.user, task=task,
                               note=("同意转介律所" if approve else "暂不转介") + (f"：{note}" if note else ""))
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, validation_errors_text(exc))
    else:
        messages.success(request, "已批准。" if approve else "已驳回。")
    query = {k: v for k, v in request.POST.items() if k in ApprovalFilterForm.base_fields and v}
    return redirect(reverse("casework:desk-approvals") + (f"?{urlencode(query)}" if query else ""))


@login_required
def desk_escalations(request):
    _manager(request.user)
    if request.method == "POST":
        task = get_object_or_404(Task, pk=id_param(request.POST, "task", 0), kind="escalate",
                                 project__in=projects_visible(request.user))
        note = request.POST.get("note", "").strip()
        if not note:
            messages.error(request, "请填写处理意见。")
        else:
            try:
                dunning.task_close(actor=request.user, task=task, note=note)
                messages.success(request, "已记录处理意见。")
            except ValidationError as exc:
                messages.error(request, validation_errors_text(exc))
        return redirect("casework:desk-escalations")
    return render(request, "casework/desk_escalations.html", {
        "tasks": selectors.escalations_open(request.user),
        "disputes": list(selectors.disputes_visible(request.user).filter(status=DisputeStatus.OPEN)
                         .order_by("opened_on")[:100]),
    })


@login_required
def desk_team(request):
    """Hand a collector's territory over (when someone leaves): buildings/floors and open tasks move."""
    _manager(request.user)
    collectors = User.objects.filter(role=Role.COLLECTOR).order_by("username")
    if request.method == "POST":
        src = collectors.filter(pk=id_param(request.POST, "from_user", 0)).first()
        dst = collectors.filter(pk=id_param(request.POST, "to_user", 0)).first()
        if src is None or dst is None:
            messages.error(request, "请选择交出人和接手人。")
        else:
            try:
                n_terr, n_tasks = services.territory_handover(actor=request.user, from_user=src, to_user=dst)
            except ValidationError as exc:
                messages.error(request, validation_errors_text(exc))
            else:
                messages.success(request, f"已将 {n_terr} 个责任区和 {n_tasks} 项待办任务从 {src} 移交给 {dst}。")
        return redirect_next(request, "casework:desk-team")
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    def per_collector(rows):
        """How many ``rows`` (grouped by the collector) each collector has, counted apart: one GROUP BY over
        territories joined to tasks counted every (territory, open task) pair of a collector first."""
        return Coalesce(Subquery(rows.order_by().annotate(n=Count("pk")).values("n")[:1],
                                 output_field=IntegerField()), 0)

    rows = collectors.annotate(
        n_territories=per_collector(Territory.objects.filter(user=OuterRef("pk")).values("user")),
        n_tasks=per_collector(Task.objects.filter(assigned_to=OuterRef("pk"), status="open").values("assigned_to")))
    return render(request, "casework/desk_team.html", {"collectors": rows})


@login_required
def desk_territories(request):
    """责任区分配 — drag a building (or one floor of it) onto a collector; the same form works without a mouse.
    Open tasks on the moved units go to the new collector. Hand over everything of a leaving collector below."""
    _manager(request.user)
    projects = list(projects_visible(request.user).order_by("code"))
    project = next((p for p in projects if str(p.pk) == (request.POST.get("project") or request.GET.get("project"))),
                   projects[0] if projects else None)
    if request.method == "POST":
        building = Building.objects.filter(project=project, pk=_int(request.POST.get("building"))).first()
        raw_floor, raw_user = (request.POST.get("floor") or "").strip(), request.POST.get("to_user") or ""
        to_user = User.objects.filter(pk=user_id).first() if (user_id := id_or_none(raw_user)) else None
        try:
            if building is None:
                raise ValidationError({"building": "请选择楼栋。"})
            if raw_user not in ("", "none") and to_user is None:
                raise ValidationError({"to_user": "请选择收费员。"})
            try:
                floor = int(raw_floor) if raw_floor else None
            except ValueError as exc:
                raise ValidationError({"floor": "楼层应为整数，整栋分配时留空。"}) from exc
            moved = services.territory_move(actor=request.user, building=building, to_user=to_user, floor=floor)
        except ValidationError as exc:
            messages.error(request, "未分配：" + validation_errors_text(exc))
        else:
            where = f"{building.name}{f' {floor} 层' if floor is not None else '（整栋）'}"
            messages.success(request, f"{where} 已交由 {to_user or '无人（未分配）'} 负责"
                                      + (f"，{moved} 项待办任务随之移交。" if moved else "。"))
        return redirect(f"{request.path}?project={project.pk if project else ''}")
    board = selectors.territory_board(user=request.user, project=project)
    return render(request, "casework/desk_territories.html", {
        "board": board, "projects": projects, "project": project,
        "leavers": User.objects.filter(role=Role.COLLECTOR).order_by("username"),
    })


@login_required
def desk_debrief(request):
    _manager(request.user)
    day = timezone.localdate() - dt.timedelta(days=1)
    day = date_param(request.GET, "date", day)
    return render(request, "casework/desk_debrief.html", {"day": day,
                                                          "rows": selectors.debrief(user=request.user, day=day)})
