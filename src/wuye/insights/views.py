"""The manager's pages: the home page with charts, the drill-down list of units, Excel exports, targets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from wuye.common.forms import form_errors_text
from wuye.common.middleware import charts_policy
from wuye.common.params import date_param, id_or_none, id_param
from wuye.common.views import redirect_next
from wuye.estate.models import Project
from wuye.estate.selectors import projects_visible
from wuye.insights import permissions, selectors, tables
from wuye.insights.exports import table_xlsx
from wuye.insights.forms import ExpenseForm
from wuye.insights.incentives import collector_incentives
from wuye.insights.metrics import add_months, month_start
from wuye.legal.models import ClockSummary


def _period(request) -> dt.date:
    today = timezone.localdate()
    raw = request.GET.get("period", "")
    period = date_param({"period": f"{raw}-01"}, "period") if raw else month_start(today)
    return min(period, month_start(today))


def _drill(request) -> selectors.Drill:
    """The drill-down's list: a month's stored snapshot (``period=YYYY-MM``; without it the month in progress,
    whose provisional snapshot is at most an hour old), or — for the month in progress without a snapshot yet —
    what is open today, from the ledger."""
    return selectors.drill_month(_period(request))


def _int(request, name: str) -> int | None:
    return id_param(request.GET, name)


HOME_ROWS = 30  # projects and fee items on the home page (those billing most); every table's export has all


def dashboard_context(request, period: dt.date) -> dict:
    user = request.user
    month = selectors.month_figures(period, user=user)
    ids = selectors.project_ids(user)
    goals = selectors.targets(period, ids)
    by_project = selectors.rollup(month, "project")
    company = selectors.total(month)
    points = selectors.trend(user=user)
    built = {
        "projects": tables.projects(month, goals, limit=HOME_ROWS),
        "buildings": tables.buildings(month),
        "collectors": tables.collectors(month),
        "fee_items": tables.fee_items(month, limit=HOME_ROWS),
        "ageing": tables.ageing(month),
        "trend": tables.trend(points),
        "incentives": tables.incentives(collector_incentives(month, project_ids=ids), month),
        "adjustments": tables.adjustments(month),
    }
    clocks = ClockSummary.objects.all() if ids is None else ClockSummary.objects.filter(project_id__in=ids)
    barred = [(c.barred, c.barred_fen, c.as_of) for c in clocks]
    target = selectors.company_target(month, by_project, goals)
    chart = {
        "trend": {"labels": [p["label"] for p in points],
                  "collection": [_f(p["collection_rate"]) for p in points],
                  "household": [_f(p["household_rate"]) for p in points],
                  "clearance": [_f(p["clearance_rate"]) for p in points],
                  "nobill": [p["no_bill"] or None for p in points], "links": built["trend"].links},
        "projects": {"labels": [r[0] for r in built["projects"].rows],
                     "actual": [_f(r[3]) for r in built["projects"].rows],
                     "target": [_f(r[10]) for r in built["projects"].rows],
                     "nobill": [r[3] if isinstance(r[3], str) else None for r in built["projects"].rows],
                     "links": built["projects"].links},
        "ageing": {"labels": [r[0] for r in built["ageing"].rows], "values": [_f(r[1]) for r in built["ageing"].rows],
                   "links": built["ageing"].links},
        "buildings": {"labels": [str(r[0]) for r in built["buildings"].rows],
                      "values": [_f(r[1]) for r in built["buildings"].rows], "links": built["buildings"].links},
        "collectors": {"labels": [str(r[0]) for r in built["collectors"].rows if r[1] != "—"],
                       "values": [_f(r[4]) for r in built["collectors"].rows if r[1] != "—"],
                       "links": [link for r, link in built["collectors"].pairs if r[1] != "—"]},
    }
    return {
        "month": month, "period": period, "company": company, "target": target,
        "drill_all": tables.month_drill(month),
        "gap": (company.collection_rate - target) if (target is not None and company.collection_rate is not None)
        else None,
        "tables": built, "chart": chart, "definitions": tables.DEFINITIONS,
        "no_bill": tables.no_bill_label(tables.project_cycles(ids).values()) if (
            month.has_figures and not company.values["billed_fen"]) else "",
        "trend_no_bill": built["trend"].notes,
        "barred": sum(b[0] for b in barred), "barred_fen": sum(b[1] for b in barred),
        "barred_as_of": max((b[2] for b in barred), default=None),
        "months": [add_months(month_start(timezone.localdate()), -i) for i in range(24)],
        "can_set_targets": permissions.can_set_targets(user),
        "refusal": _refusal(month.source == "unclosed", period),
        "projects": projects_visible(user).order_by("name") if permissions.can_set_targets(user) else [],
    }


def _refusal(unclosed: bool, period: dt.date) -> str:
    """Why the month shown cannot be closed from the page (its button is then not offered), for a past month
    nobody closed: too far back (a month before the first bill is refused when asked: pages read no bill)."""
    from wuye.insights.services import refresh_refusal

    return refresh_refusal(period, ledger=False) if unclosed else ""


def _f(value):
    """A number for the charts; None for a missing figure or a cell that says why there is none (本月无账单)."""
    return tables.rate_value(value)


@login_required
@charts_policy
def home(request):
    """经营分析首页 — the manager's month at a glance: rate vs target, 24-month trend, ageing, buildings, league."""
    permissions.require_view(request.user)
    period = _period(request)
    return render(request, "insights/home.html", dashboard_context(request, period))


UNITS_PAGE = 50         # units a page
UNITS_COUNT_CAP = 1000  # counted up to this; beyond, "1,000+"


@login_required
def units(request):
    """The units behind a figure: a month's snapshot (closed, or the provisional one of the month in progress) or
    what is overdue today, narrowed by project, building, collector, fee item or ageing bucket (within the user's
    scope), a page at a time. A past month nobody closed has no list: the page says so."""
    permissions.require_view(request.user)
    filters = {name: _int(request, name) for name in ("project", "building", "collector", "fee_item")}
    bucket = request.GET.get("bucket") if request.GET.get("bucket") in selectors.BUCKETS else None
    drill = _drill(request)
    if drill.state == "unclosed":
        page = selectors.Page([], 1, UNITS_PAGE, False, 0, False)
    else:
        qs = selectors.units_in_arrears(user=request.user, bucket=bucket,
                                        period=drill.period if drill.stored else None, **filters)
        page = selectors.page_of(qs, request.GET.get("page"), size=UNITS_PAGE, cap=UNITS_COUNT_CAP)
    table = tables.units(page.rows)
    described = []
    if filters["project"]:
        # named only when the user may see it: the id of another project names nothing (its list is empty)
        described.append(projects_visible(request.user).filter(pk=filters["project"]).values_list("name", flat=True)
                         .first())
    if bucket:
        described.append(f"逾期 {tables.AGE_LABELS[bucket]}")
    return render(request, "insights/units.html", {
        "page_obj": page, "drill": drill, "closed": drill.period if drill.state == "close" else None,
        "table": table, "rows": list(zip(table.rows, table.links, strict=True)),
        "query": request.GET.urlencode(), "described": [d for d in described if d],
        "can_refresh": permissions.can_set_targets(request.user),
        "refusal": _refusal(drill.state == "unclosed", drill.period)})


@login_required
@require_POST
def refresh(request):
    """A manager asks for a month's snapshot: the provisional one of the month in progress, or the close of a past
    month nobody closed. Queued as a job (it reads the whole ledger); the page shows it when it is written."""
    from wuye.insights.tasks import month_snapshot

    if not permissions.can_set_targets(request.user):
        raise Http404
    from wuye.insights.services import refresh_refusal

    raw = request.POST.get("period", "")
    period = date_param({"period": f"{raw}-01"}, "period") if raw else month_start(timezone.localdate())
    if refusal := refresh_refusal(period):
        messages.error(request, refusal)
        return redirect_next(request, reverse("insights:home"))
    if selectors.closed_period(period):
        messages.info(request, f"{period:%Y-%m} 不需要刷新。")
    else:
        month_snapshot(period.isoformat(), actor_label=f"manager:{request.user.username}"[:60])
        messages.success(request, f"已开始计算 {period:%Y-%m} 的数字（整个账本，约一分钟），完成后刷新本页即可看到。")
    return redirect_next(request, f"{reverse('insights:home')}?period={period:%Y-%m}")


EXPORTABLE = ("projects", "buildings", "collectors", "fee_items", "ageing", "trend", "units", "steps", "incentives",
              "adjustments", "credit", "risk", "expenses")


def step_window(request) -> tuple[dt.date, dt.date]:
    """Decision days to analyse: ``start``/``end`` (default the 60 days ending 30 days ago, so every 30-day
    outcome is in); ``end`` never later than 30 days ago, at most a year."""
    latest = timezone.localdate() - dt.timedelta(days=30)
    # dates between 1900 and 2100 (a 400 otherwise): ?end=0001-01-01 made the window's arithmetic overflow (500)
    end = min(date_param(request.GET, "end", latest), latest)
    start = date_param(request.GET, "start", end - dt.timedelta(days=59))
    return max(min(start, end), end - dt.timedelta(days=365)), end


@login_required
def steps(request):
    """催缴步骤效果 — what each ladder step recovers against similar accounts not contacted that day."""
    from wuye.insights.steps import step_effects

    permissions.require_view(request.user)
    start, end = step_window(request)
    table = tables.steps(step_effects(start=start, end=end, project_ids=selectors.project_ids(request.user)))
    return render(request, "insights/steps.html", {"t": table, "start": start, "end": end,
                                                    "export_query": f"start={start}&end={end}"})


@login_required
def export(request, table: str):
    """Any table of the pages as .xlsx (formula-safe cells)."""
    permissions.require_view(request.user)
    if table not in EXPORTABLE:
        raise Http404
    if table in ("credit", "risk", "expenses"):
        return _export_other(request, table)
    period = _period(request)
    if table == "units":
        filters = {name: _int(request, name) for name in ("project", "building", "collector", "fee_item")}
        bucket = request.GET.get("bucket") if request.GET.get("bucket") in selectors.BUCKETS else None
        drill = _drill(request)
        if drill.state == "unclosed":
            built = tables.units([])
            subtitle = f"{tables.period_label(drill.period)}尚未月结：没有该月月末的明细"
        else:
            built = tables.units(selectors.units_in_arrears(user=request.user, bucket=bucket,
                                                            period=drill.period if drill.stored else None,
                                                            **filters)[:100_000])
            if drill.state == "close":
                subtitle = f"{tables.period_label(drill.period)}月结快照"
            elif drill.state == "live":
                subtitle = f"本月临时快照（截至 {timezone.localtime(drill.as_of):%m-%d %H:%M}）"
            else:  # the month in progress before its first snapshot: today's open lines
                subtitle = f"截至 {timezone.localdate():%Y-%m-%d}"
    elif table == "steps":
        from wuye.insights.steps import step_effects

        start, end = step_window(request)
        built = tables.steps(step_effects(start=start, end=end, project_ids=selectors.project_ids(request.user)))
        subtitle = f"决策日 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    elif table == "trend":
        built, subtitle = tables.trend(selectors.trend(user=request.user)), ""
    elif table == "adjustments":
        built = tables.adjustments(selectors.month_figures(period, user=request.user))
        subtitle = f"{tables.period_label(period)}月结后调整"
    else:
        month = selectors.month_figures(period, user=request.user)
        if table == "projects":
            built = tables.projects(month, selectors.targets(period, selectors.project_ids(request.user)))
        elif table == "incentives":
            built = tables.incentives(collector_incentives(month, project_ids=selectors.project_ids(request.user)),
                                      month)
        elif table == "buildings":
            built = tables.buildings(month, limit=None)
        else:
            built = getattr(tables, table)(month)
        subtitle = f"{tables.period_label(period)}（{month.source_label}）"
    name = f"{built.title}-{period:%Y-%m}.xlsx"
    return FileResponse(table_xlsx(built, subtitle=subtitle), as_attachment=True, filename=name,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


RISK_EXPORT_ROWS = 5000  # the riskiest accounts in the export (the page shows 50)


def _export_other(request, table: str):
    """The exports of the credit, early-warning and disclosure pages."""
    today = timezone.localdate()
    if table == "credit":
        built, subtitle = tables.credit(credit_rows(request.user, today)[0]), f"截至 {today:%Y-%m-%d}（只有户数）"
    elif table == "risk":
        ctx = risk_context(request.user, top=RISK_EXPORT_ROWS)
        built = tables.risk(ctx)
        subtitle = (f"模型训练于 {timezone.localtime(ctx['model'].trained_at):%Y-%m-%d %H:%M}；仅供员工安排工作"
                    if ctx["model"] else "尚未训练预警模型")
    else:
        from wuye.insights.disclosure import quarter_bounds
        from wuye.insights.models import Expense

        project = projects_visible(request.user).filter(pk=_int(request, "project") or 0).first()
        if project is None:
            raise Http404
        year, quarter = _quarter_params(request, request.GET)
        first, last = quarter_bounds(year, quarter)
        built = tables.expenses(Expense.objects.filter(project=project, spent_on__gte=first, spent_on__lte=last)
                                .order_by("spent_on", "id"))
        subtitle = f"{project.name} {year} 年第 {quarter} 季度"
    title = built[0].title if isinstance(built, list) else built.title
    return FileResponse(table_xlsx(built, subtitle=subtitle), as_attachment=True, filename=f"{title}-{today}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
@require_POST
def targets(request):
    """A manager sets a project's target 收费率 (and 清欠率) for a month."""
    from wuye.insights.services import target_set

    if not permissions.can_set_targets(request.user):
        raise Http404
    try:
        project = projects_visible(request.user).get(pk=int(request.POST.get("project", "0")))
        period = dt.date.fromisoformat(f"{request.POST.get('period', '')}-01")
        rate = Decimal(request.POST.get("collection_rate", ""))
        clearance = request.POST.get("clearance_rate", "").strip()
        target_set(actor=request.user, project=project, period=period, collection_rate=rate,
                   clearance_rate=Decimal(clearance) if clearance else None)
        messages.success(request, f"已设定 {project.name} {period:%Y-%m} 的目标收费率 {rate}%。")
    except (ValueError, InvalidOperation, Project.DoesNotExist):
        messages.error(request, "请选择项目和月份，并填写 0–100 之间的目标。")
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect("insights:home")


@login_required
def credit(request):
    """业主信用等级 — how many owners have each grade (counts only), the rules and the guardrails."""
    from wuye.insights.credit import RULES

    permissions.require_view(request.user)
    today = timezone.localdate()
    rows, total = credit_rows(request.user, today)
    return render(request, "insights/credit.html", {"rows": rows, "rules": RULES, "today": today, "total": total})


def credit_rows(user, today: dt.date) -> tuple[list[tuple], int]:
    """[(grade, meaning, owners, share %)] in the user's projects, and the number of owners graded."""
    from wuye.insights.credit import GRADES, distribution

    counts = distribution(today=today, project_ids=selectors.project_ids(user))
    total = sum(counts.values())
    return [(g, GRADES[g], counts[g], selectors.percent(counts[g], total)) for g in GRADES], total


def _quarter_params(request, source) -> tuple[int, int]:
    today = timezone.localdate()
    last_q = (today.month - 1) // 3  # the last finished quarter (0: last year's fourth)
    default_year, default_q = (today.year, last_q) if last_q else (today.year - 1, 4)
    try:
        year, quarter = int(source.get("year", default_year)), int(source.get("quarter", default_q))
    except ValueError:
        return default_year, default_q
    return (year, quarter) if 1 <= quarter <= 4 and 2000 <= year <= 2100 else (default_year, default_q)


@login_required
def disclosure(request):
    """收支公示 (staff): the quarter's expenses (finance enters them), the figures as they would be published,
    publishing (managers) and the published quarters with their poster and public page."""
    from wuye.insights.disclosure import min_units, quarter_bounds, quarter_figures
    from wuye.insights.models import Disclosure, Expense, ExpenseCategory

    permissions.require_view(request.user)
    projects = projects_visible(request.user).order_by("name")
    project = projects.filter(pk=_int(request, "project") or 0).first() or projects.first()
    year, quarter = _quarter_params(request, request.GET)
    ctx = {"projects": projects, "project": project, "year": year, "quarter": quarter,
           "categories": ExpenseCategory.choices, "min_units": min_units(),
           "can_publish": permissions.can_set_targets(request.user),
           "published": Disclosure.objects.filter(project__in=projects).select_related("project")[:40]}
    if project is not None:
        first, last = quarter_bounds(year, quarter)
        ctx["expenses"] = Expense.objects.filter(project=project, spent_on__gte=first, spent_on__lte=last)
        ctx["export_query"] = f"project={project.pk}&year={year}&quarter={quarter}"
        ctx["preview"] = quarter_figures(project=project, year=year, quarter=quarter)
    return render(request, "insights/disclosure.html", ctx)


@login_required
@require_POST
def disclosure_expense(request):
    from wuye.insights.disclosure import expense_record

    permissions.require_view(request.user)
    project = projects_visible(request.user).filter(pk=_int_post(request, "project") or 0).first()
    if project is None:
        raise Http404
    form = ExpenseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "支出未录入：" + form_errors_text(form))
    else:
        d = form.cleaned_data
        try:
            expense_record(actor=request.user, project=project, category=d["category"], amount_fen=d["amount"],
                           spent_on=d["spent_on"], voucher_no=d["voucher_no"], note=d["note"])
            messages.success(request, "支出已录入。")
        except ValidationError as exc:
            messages.error(request, "支出未录入：" + "；".join(exc.messages))
    year, quarter = _quarter_params(request, request.POST)
    return redirect(f"{reverse('insights:disclosure')}?project={project.pk}&year={year}&quarter={quarter}")


@login_required
@require_POST
def disclosure_publish(request):
    from wuye.insights.disclosure import disclosure_publish as publish

    permissions.require_view(request.user)
    project = projects_visible(request.user).filter(pk=_int_post(request, "project") or 0).first()
    if project is None:
        raise Http404
    year, quarter = _quarter_params(request, request.POST)
    try:
        publish(actor=request.user, project=project, year=year, quarter=quarter)
        messages.success(request, f"{project.name} {year} 年第 {quarter} 季度收支已公示。")
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect(f"{reverse('insights:disclosure')}?project={project.pk}&year={year}&quarter={quarter}")


def _int_post(request, name: str) -> int | None:
    return id_or_none(request.POST.get(name))


@login_required
def disclosure_poster(request, pk: int):
    """The A4 poster of a published quarter (print from the browser)."""
    from wuye.insights.models import Disclosure

    permissions.require_view(request.user)
    d = get_object_or_404(Disclosure.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    return render(request, "insights/poster.html", {"d": d, "f": d.figures, "public": False})


def disclosure_public(request, code: str, year: int, quarter: int):
    """The public page of a published quarter (no login): aggregates only, until it expires."""
    from wuye.insights.models import Disclosure

    d = get_object_or_404(Disclosure, project__code=code, year=year, quarter=quarter,
                          expires_on__gte=timezone.localdate())
    return render(request, "insights/poster.html", {"d": d, "f": d.figures, "public": True})


RISK_BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01))


@login_required
def risk(request):
    """预警 — the early-warning model: its validation against the days-overdue rule (AUC, calibration), what it
    learnt, how the accounts in the user's projects are spread, and the riskiest ones with their reasons."""
    permissions.require_view(request.user)
    return render(request, "insights/risk.html", risk_context(request.user))


def risk_context(user, top: int = 50) -> dict:
    from django.conf import settings
    from django.db.models import Count, Q

    from wuye.insights.models import RiskModel, RiskScore
    from wuye.insights.risk import BASELINE_DAYS, FEATURE_LABELS

    model = RiskModel.objects.first()
    ctx = {"model": model, "high": settings.WUYE_RISK_HIGH, "baseline_days": BASELINE_DAYS}
    if model is not None:
        m = model.metrics
        ctx["m"] = m
        ctx["calibration"] = [(i + 1, round(p * 100, 1), round(f * 100, 1), n)
                              for i, (p, f, n) in enumerate(m.get("calibration", []))]
        ctx["coefficients"] = sorted(((FEATURE_LABELS.get(name, name), round(c, 3))
                                      for name, c in zip(model.features, model.coef, strict=True)),
                                     key=lambda r: -abs(r[1]))
        ids = selectors.project_ids(user)
        scores = RiskScore.objects.all() if ids is None else RiskScore.objects.filter(project_id__in=ids)
        bands = scores.aggregate(**{f"b{i}": Count("pk", filter=Q(probability__gte=lo, probability__lt=hi))
                                    for i, (lo, hi) in enumerate(RISK_BANDS)})
        ctx["bands"] = [(f"{int(lo * 100)}–{min(100, int(hi * 100))}%", bands[f"b{i}"])
                        for i, (lo, hi) in enumerate(RISK_BANDS)]
        chosen = scores.select_related("unit__building", "unit__project").order_by("-probability", "unit_id")[:top]
        ctx["top"] = [(s.unit, round(s.probability * 100, 1),
                       "、".join(FEATURE_LABELS.get(n, n) for n, _ in s.reasons)) for s in chosen]
    return ctx


@login_required
def report_pdf(request, month: str):
    """月度收缴报告 (PDF) of a closed month, for the owners' committee and head office: aggregates only."""
    from django.http import HttpResponse

    from wuye.insights.report import monthly_report
    from wuye.insights.report import report_pdf as render_pdf

    permissions.require_view(request.user)
    period = date_param({"period": f"{month}-01"}, "period")
    try:
        report = monthly_report(period, user=request.user)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(render_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="report-{period:%Y-%m}.pdf"'
    return response
