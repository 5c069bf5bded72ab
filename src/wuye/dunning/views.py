"""Staff pages of the collection engine: overview with "tomorrow", policies and steps, templates, the
outbox, tasks, the holiday schedule, and a unit's collection page."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.forms import modelformset_factory
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from wuye.accounts.permissions import can_manage_team
from wuye.common.forms import bootstrap, validation_errors_text
from wuye.common.params import date_param, id_param
from wuye.common.views import redirect_next
from wuye.dunning import calendar as workcal
from wuye.dunning import services
from wuye.dunning.choices import ActionStatus, Channel, DayKind, HoldKind, TaskStatus
from wuye.dunning.engine import dunning_run
from wuye.dunning.forms import HoldForm, StepForm, TemplateForm, steps_from_formset
from wuye.dunning.models import (
    Action,
    CalendarDay,
    CalendarYear,
    CollectionSettings,
    MessageTemplate,
    Policy,
    Run,
    Step,
)
from wuye.dunning.selectors import actions_visible, collection_state, overview_figures, tasks_visible
from wuye.estate.models import Unit
from wuye.estate.selectors import projects_visible, unit_visible_or_404, units_visible

PAGE = 50


def _manager(user) -> None:
    if not can_manage_team(user):
        raise PermissionDenied("只有经理和管理员可以修改催缴策略。")


def _calendar_alert(today: dt.date) -> str:
    """Names the first date within 45 days that no calendar source covers (nothing is scheduled on it)."""
    return workcal.Calendar().coverage_alert(today, days=45)


FIGURES_PAGE = 50  # projects per page of the collection overview's figures


@login_required
def overview(request):
    """Today's outbox by status, recent runs, every project as the last run left it (stored figures: a few
    grouped queries for any number of projects), and — only when asked for one project — what would happen
    on a given day (a dry run of that project's ladder, decision 101)."""
    projects = list(projects_visible(request.user).order_by("code"))
    today = timezone.localdate()
    project_id = id_param(request.GET, "project")
    wanted = "project" in request.GET or "date" in request.GET
    project = next((p for p in projects if p.pk == project_id), None) or (projects[0] if projects else None)
    day = date_param(request.GET, "date", today + dt.timedelta(days=1))
    rows, total = [], 0
    preview = None
    if project is not None and wanted:
        scope = (list(units_visible(request.user).filter(project=project).values_list("pk", flat=True))
                 if request.user.territory_bound else None)
        preview = dunning_run(as_of=day, project=project, dry_run=True, unit_ids=scope)
        for out in preview.outcomes:
            live = [d for d in out.decisions if not d.superseded]
            if not live and not out.held:
                continue
            total += 1
            if len(rows) < 300:
                rows.append({"unit_id": out.unit_id, "decisions": live, "held": out.held})
        units = Unit.objects.in_bulk([r["unit_id"] for r in rows])
        for r in rows:
            r["unit"] = units.get(r["unit_id"])
    runs = Run.objects.filter(Q(project__in=projects) | Q(project__isnull=True)).order_by("-started_at")[:10]
    # a group of hundreds of projects: their figures a page at a time (the 489 projects of the 1M estate took
    # 0.3 s to count and draw on every visit); today's outbox by status counted in the same pass over the
    # day's actions as the projects' figures (decision 197)
    listed = Paginator(projects, FIGURES_PAGE).get_page(request.GET.get("page"))
    figures, counts = overview_figures(request.user, list(listed), today=today)
    return render(request, "dunning/overview.html", {
        "projects": projects, "project": project, "day": day, "rows": rows, "total": total, "preview": preview,
        "previewed": project is not None and wanted, "figures": figures,
        "page_obj": listed,
        "counts": [(s.label, counts.get(s.value, 0)) for s in ActionStatus], "runs": runs,
        "alert": _calendar_alert(today)})


@login_required
def policies(request):
    projects = projects_visible(request.user)
    rows = (Policy.objects.filter(project__in=projects).select_related("project")
            .annotate(n=Count("steps")).order_by("project__code", "segment", "name"))
    return render(request, "dunning/policies.html", {
        "policies": rows, "templates": MessageTemplate.objects.filter(project__isnull=True).order_by("code")})


@login_required
def policy_detail(request, pk: int):
    """A ladder: its steps, editable by managers (order, trigger, channel, template, assignee, conditions)."""
    policy = get_object_or_404(Policy.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    StepFormSet = modelformset_factory(Step, form=StepForm, extra=1, can_delete=True)
    qs = policy.steps.select_related("template").order_by("order", "pk")
    formset = StepFormSet(request.POST or None, queryset=qs)
    if request.method == "POST":
        _manager(request.user)
        policy_form_ok = True
        active = request.POST.get("active") == "on"
        try:
            valid_from = dt.date.fromisoformat(request.POST["valid_from"]) if request.POST.get("valid_from") else None
            valid_to = dt.date.fromisoformat(request.POST["valid_to"]) if request.POST.get("valid_to") else None
        except ValueError:
            messages.error(request, "生效日期格式应为 YYYY-MM-DD。")
            policy_form_ok = False
        if policy_form_ok and formset.is_valid():
            try:
                services.policy_save(actor=request.user, policy=policy, active=active, valid_from=valid_from,
                                     valid_to=valid_to, steps=steps_from_formset(formset))
            except ValidationError as exc:
                for message in exc.messages:
                    formset._non_form_errors.append(message)
            else:
                messages.success(request, "策略已保存，下次每日运行起生效。")
                return redirect("dunning:policy-detail", pk=policy.pk)
    for form in formset:
        bootstrap(form)
    rules = CollectionSettings.objects.filter(project_id=policy.project_id).first() or CollectionSettings()
    return render(request, "dunning/policy_detail.html", {"policy": policy, "formset": formset, "rules": rules})


@login_required
def template_edit(request, pk: int):
    template = get_object_or_404(MessageTemplate.objects.filter(
        Q(project__isnull=True) | Q(project__in=projects_visible(request.user))), pk=pk)
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST":
        _manager(request.user)
        if form.is_valid():
            try:
                services.template_save(actor=request.user, template=template, body=form.cleaned_data["body"],
                                       subject=form.cleaned_data["subject"],
                                       provider_template_id=form.cleaned_data["provider_template_id"])
            except ValidationError as exc:
                form.add_error(None, validation_errors_text(exc))
            else:
                messages.success(request, f"模板已保存为第 {template.version} 版。")
                return redirect("dunning:policies")
    bootstrap(form)
    return render(request, "dunning/template_edit.html", {"template": template, "form": form})


@login_required
def outbox(request):
    qs = actions_visible(request.user).order_by("-decided_on", "-pk")
    status, channel = request.GET.get("status", ""), request.GET.get("channel", "")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    day = date_param(request.GET, "date")
    if day is not None:
        qs = qs.filter(decided_on=day)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "dunning/outbox.html", {
        "page_obj": page, "statuses": ActionStatus.choices, "channels": Channel.choices, "status": status,
        "channel": channel})


@login_required
def tasks(request):
    qs = tasks_visible(request.user).order_by("due_on", "pk")
    state = request.GET.get("status", TaskStatus.OPEN)
    if state:
        qs = qs.filter(status=state)
    if request.GET.get("mine"):
        qs = qs.filter(assigned_to=request.user)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "dunning/tasks.html", {"page_obj": page, "status": state,
                                                  "statuses": TaskStatus.choices})


@login_required
@require_POST
def task_close(request, pk: int):
    task = get_object_or_404(tasks_visible(request.user), pk=pk)
    try:
        raw_day = request.POST.get("signed_on") or ""
        try:
            signed_on = dt.date.fromisoformat(raw_day) if raw_day else None
        except ValueError:
            raise ValidationError({"signed_on": "签收日期格式应为 YYYY-MM-DD。"}) from None
        services.task_close(actor=request.user, task=task, note=request.POST.get("note", ""),
                            signed_by=request.POST.get("signed_by", ""), relation=request.POST.get("relation", ""),
                            unsigned=request.POST.get("unsigned") == "1",
                            signed_on=signed_on)
    except ValidationError as exc:
        messages.error(request, validation_errors_text(exc))
    else:
        messages.success(request, "任务已完成。")
    return redirect_next(request, "dunning:tasks")


@login_required
def calendar_days(request):
    """The official schedule: what the package covers, what was entered, which years are confirmed as
    completely entered, a form for next year's schedule and the confirmation of a year."""
    today = timezone.localdate()
    if request.method == "POST":
        _manager(request.user)
        action = request.POST.get("action", "enter")
        try:
            if action == "confirm":
                year = _year(request.POST.get("year"))
                services.calendar_year_confirm(actor=request.user, year=year, note=request.POST.get("note", ""))
                done = f"已确认 {year} 年安排已完整录入：该年未录入的日期按普通工作日和周末安排。"
            elif action == "withdraw":
                year = _year(request.POST.get("year"))
                services.calendar_year_withdraw(actor=request.user, year=year)
                done = f"已撤销 {year} 年的确认：该年未录入的日期不再安排任何联系。"
            else:
                days = services.parse_schedule(request.POST.get("schedule", ""))
                n = services.calendar_days_enter(actor=request.user, days=days,
                                                 complete=request.POST.get("complete") == "on",
                                                 note=request.POST.get("note", ""))
                done = f"已录入 {n} 天。"
        except ValidationError as exc:
            messages.error(request, validation_errors_text(exc))
        else:
            messages.success(request, done)
            return redirect("dunning:calendar")
    cal = workcal.Calendar()
    years = (CalendarDay.objects.filter(date__year__gt=workcal.PACKAGE_YEARS.stop - 1)
             .values_list("date__year").annotate(holidays=Count("pk", filter=Q(kind=DayKind.HOLIDAY)),
                                                 n=Count("pk")).order_by("date__year"))
    confirmed = {y.year: y for y in CalendarYear.objects.select_related("confirmed_by")}
    year_rows = [{"year": y, "holidays": h, "days": n, "confirmed": confirmed.get(y)} for y, h, n in years]
    year_rows += [{"year": y, "holidays": 0, "days": 0, "confirmed": c} for y, c in confirmed.items()
                  if y not in {r["year"] for r in year_rows}]
    until = cal.covered_until(today)
    return render(request, "dunning/calendar.html", {
        "entered": CalendarDay.objects.select_related("entered_by").order_by("-date")[:200],
        "package_years": f"{workcal.PACKAGE_YEARS.start}–{workcal.PACKAGE_YEARS.stop - 1}",
        "covered_until": until, "first_uncovered": until + dt.timedelta(days=1) if until else today,
        "alert": _calendar_alert(today), "years": sorted(year_rows, key=lambda r: r["year"]),
        "kinds": DayKind.choices, "schedule": request.POST.get("schedule", ""),
        "next_year": max(today.year + 1, workcal.PACKAGE_YEARS.stop)})


def _year(raw) -> int:
    try:
        year = int(raw or "")
    except ValueError:
        raise ValidationError({"year": "请填写年份，如 2027。"}) from None
    if not 2000 <= year <= 2100:
        raise ValidationError({"year": "年份应在 2000–2100 之间。"})
    return year


@login_required
def unit_collection(request, pk: int):
    unit = unit_visible_or_404(request.user, pk)
    as_of = timezone.localdate()
    state = collection_state(unit, as_of=as_of)
    form = HoldForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.hold_place(actor=request.user, unit=unit, **form.cleaned_data)
            except ValidationError as exc:
                messages.error(request, validation_errors_text(exc))
            else:
                messages.success(request, "已暂停催缴。")
                return redirect("dunning:unit", pk=unit.pk)
    bootstrap(form)
    return render(request, "dunning/unit.html", {"unit": unit, "state": state, "form": form,
                                                 "HoldKind": HoldKind})


@login_required
@require_POST
def hold_release(request, pk: int, hold_pk: int):
    unit = unit_visible_or_404(request.user, pk)
    hold = get_object_or_404(unit.holds.filter(released_on__isnull=True), pk=hold_pk)
    services.hold_release(actor=request.user, hold=hold, note=request.POST.get("note", "") or "人工解除")
    messages.success(request, "已解除暂停，下次每日运行时从当前阶段继续。")
    return redirect("dunning:unit", pk=unit.pk)


@login_required
def action_detail(request, pk: int):
    action = get_object_or_404(actions_visible(request.user), pk=pk)
    return render(request, "dunning/action_detail.html", {
        "action": action, "events": action.events.all(), "ActionStatus": ActionStatus})


@login_required
@require_POST
def action_verify(request, pk: int):
    """Settle a 待核实 message: the person says whether the provider sent it (with what they checked)."""
    action = get_object_or_404(actions_visible(request.user), pk=pk)
    try:
        services.action_uncertain_resolve(actor=request.user, action=action,
                                          went_out=request.POST.get("went_out") == "1",
                                          note=request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, validation_errors_text(exc))
    else:
        messages.success(request, "已记录核实结果。")
    return redirect("dunning:action-detail", pk=action.pk)


@login_required
def notices(request):
    """书面通知打印 — by default every written notice and registered letter not printed yet (whatever day it was
    decided), one PDF per building with its count; printing marks them printed (a POST). ``?date=`` lists a
    day's notices instead, to print them again. The EMS mailing list as Excel."""
    from django.http import HttpResponse

    from wuye.dunning.notices import ems_list_xlsx, notices_pdf
    from wuye.dunning.services import notices_mark_printed
    from wuye.estate.selectors import buildings_visible, projects_visible

    buildings = buildings_visible(request.user).order_by("project__code", "code")
    params = request.POST if request.method == "POST" else request.GET
    day = date_param(params, "date", None)
    qs = (actions_visible(request.user).filter(channel__in=[Channel.NOTICE, Channel.REGISTERED])
          .exclude(status=ActionStatus.CANCELLED))
    qs = qs.filter(decided_on=day) if day else qs.filter(printed_at__isnull=True)
    building = buildings.filter(pk=id_param(params, "building", 0)).first()
    fmt = params.get("format")
    if building is not None and fmt in ("pdf", "xlsx"):
        actions = list(qs.filter(unit__building=building).select_related("unit__project", "step__template")
                       .order_by("unit__floor", "unit__number", "pk"))
        stamp = f"{day:%Y%m%d}" if day else f"未打印-{timezone.localdate():%Y%m%d}"
        if fmt == "pdf":
            if day is None and request.method != "POST":
                raise PermissionDenied("打印未打印的通知请用页面上的“打印”按钮。")
            # figures of the day it is printed (a payment since the run is never demanded again); accounts
            # settled by now get no page and their demands are withdrawn with the reason
            pdf = notices_pdf(actions, as_of=timezone.localdate(), actor=request.user)
            if request.method == "POST":  # this print run: mark what it printed (not what it withdrew)
                notices_mark_printed(actor=request.user, action_ids=list(
                    Action.objects.filter(pk__in=[a.pk for a in actions]).exclude(status=ActionStatus.CANCELLED)
                    .values_list("pk", flat=True)))
            if not pdf:
                messages.info(request, "所选楼栋的书面通知均已无需打印：欠费人已缴清，相关催告已取消并记录原因。")
                return redirect(f"{request.path}?date={day:%Y-%m-%d}" if day else request.path)
            resp = HttpResponse(pdf, content_type="application/pdf")
            name = f"notices-{building.project.code}-{building.code}-{stamp}.pdf"
        else:
            resp = HttpResponse(ems_list_xlsx([a for a in actions if a.channel == Channel.REGISTERED],
                                              as_of=timezone.localdate())
                                .getvalue(), content_type="application/vnd.openxmlformats-officedocument."
                                                          "spreadsheetml.sheet")
            name = f"ems-{building.project.code}-{building.code}-{stamp}.xlsx"
        resp["Content-Disposition"] = f'attachment; filename="{name}"'
        return resp
    # one count per building (order_by() so the grouping is by building only)
    counts = dict(qs.order_by().values_list("unit__building_id").annotate(n=Count("pk")))
    rows = [(b, counts[b.pk]) for b in buildings if counts.get(b.pk)]
    return render(request, "dunning/notices.html", {
        "rows": rows, "day": day, "total": sum(n for _, n in rows),
        "projects": projects_visible(request.user).order_by("code")})


@login_required
def referral_draft(request, pk: int):
    """The case summary for the law firm of a lawyer-letter referral (a draft, never a lawyer's letter)."""
    from django.http import HttpResponse

    from wuye.dunning.notices import Settled, referral_draft_pdf

    action = get_object_or_404(actions_visible(request.user).select_related("unit__project"), pk=pk,
                               channel=Channel.REFERRAL)
    try:
        pdf = referral_draft_pdf(action, as_of=timezone.localdate(), actor=request.user)
    except Settled:
        messages.info(request, "欠费人所转介的账期已无到期未缴的费用，不再转介；该转介已取消并记录原因。")
        return redirect("dunning:action-detail", pk=action.pk)
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="referral-{action.unit.project.code}-{action.unit.code}.pdf"'
    return resp


@login_required
def poster(request):
    """The notice-board poster of a project: when and how to pay, naming no one."""
    from django.db.models import Min
    from django.http import HttpResponse

    from wuye.billing.models import Bill
    from wuye.dunning.notices import poster_pdf
    from wuye.estate.selectors import projects_visible

    project = get_object_or_404(projects_visible(request.user), pk=id_param(request.GET, "project", 0))
    today = timezone.localdate()
    nxt = Bill.objects.filter(project=project, is_void=False, due_date__gte=today).aggregate(
        due=Min("due_date"), period=Min("period_start"))
    period = nxt["period"]
    label = f"{period.year}年{period.month}月" if period else f"{today.year}年{today.month}月"
    resp = HttpResponse(poster_pdf(project, as_of=today, period_label=label, deadline=nxt["due"]),
                        content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="poster-{project.code}-{today:%Y%m%d}.pdf"'
    return resp
