"""Read queries of the legal module: limitation clocks (for the engine's 时效保全 step, the statement page, the
worklist and the API), cases visible to a user, and the legal role's numbers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from wuye.accounts.models import User
from wuye.accounts.selectors import project_scope_q
from wuye.billing.models import Allocation, Payment
from wuye.legal.choices import ClockState, Stage
from wuye.legal.clocks import LineClock, limitation_clocks
from wuye.legal.limitation import YEARS, add_years
from wuye.legal.models import CaseCost, CaseDeadline, CaseLine, ClockSummary, LegalCase

__all__ = ["LineClock", "limitation_clocks", "expiring_periods", "clocks_by_bill", "expiring_counts",
           "cases_visible", "clock_summary_compute"]

DEFAULT_WITHIN_DAYS = 90
HOLIDAY_MARGIN_DAYS = 15  # the longest a holiday extension can move an expiry (Spring Festival, National Day)


def _due_before(as_of: dt.date, within_days: int) -> dt.date:
    """Lines due on or after this day cannot run out within ``within_days``: even without any interruption their
    period ends later (interruptions only move it later still)."""
    return add_years(as_of + dt.timedelta(days=within_days + HOLIDAY_MARGIN_DAYS), -YEARS) + dt.timedelta(days=1)


def expiring_periods(*, as_of: dt.date, within_days: int = DEFAULT_WITHIN_DAYS, project_id: int | None = None,
                     unit_ids=None) -> dict[tuple[int, int], list[str]]:
    """(unit, debtor) → the billing periods (first days, ISO, ascending) with an open line whose limitation
    period runs out within ``within_days`` days of ``as_of`` and has not run out yet: what a 时效保全 demand
    names so the clock is reset before it runs out (the daily run reads it through
    ``settings.WUYE_LIMITATION_READER``). Only lines due early enough to qualify are read (``_due_before``)."""
    out: dict[tuple[int, int], set[dt.date]] = defaultdict(set)
    for lc in limitation_clocks(as_of=as_of, project_id=project_id, unit_ids=unit_ids,
                                due_before=_due_before(as_of, within_days)):
        left = lc.clock.days_left(as_of)
        if 0 <= left <= within_days:
            out[(lc.unit_id, lc.party_id)].add(lc.period_start)
    return {key: [p.isoformat() for p in sorted(periods)] for key, periods in out.items()}


def clocks_by_bill(unit_ids, as_of: dt.date) -> dict[int, LineClock]:
    """bill id → the clock of each open, matured line of the units, with the events named (pages)."""
    return {lc.bill_id: lc for lc in limitation_clocks(as_of=as_of, unit_ids=list(unit_ids), detail=True)}


def expiring_counts(unit_ids, as_of: dt.date, within_days: int = 60) -> dict[tuple[int, int], tuple[int, int]]:
    """(unit, debtor) → (periods running out within ``within_days``, periods already time-barred): the worklist."""
    soon: dict[tuple[int, int], set] = defaultdict(set)
    barred: dict[tuple[int, int], set] = defaultdict(set)
    for lc in limitation_clocks(as_of=as_of, unit_ids=list(unit_ids), due_before=_due_before(as_of, within_days)):
        left = lc.clock.days_left(as_of)
        key = (lc.unit_id, lc.party_id)
        if left < 0:
            barred[key].add(lc.period_start)
        elif left <= within_days:
            soon[key].add(lc.period_start)
    return {k: (len(soon.get(k, ())), len(barred.get(k, ()))) for k in set(soon) | set(barred)}


@dataclass
class ClockCounts:
    lines: int = 0
    within_30: int = 0
    within_60: int = 0
    within_90: int = 0
    barred: int = 0
    barred_fen: int = 0
    unchecked: int = 0


def clock_counts(clocks: list[LineClock], as_of: dt.date) -> dict[int, ClockCounts]:
    """project → how many open lines run out within 30/60/90 days, are barred, or await the holiday check."""
    out: dict[int, ClockCounts] = defaultdict(ClockCounts)
    for lc in clocks:
        c = out[lc.project_id]
        c.lines += 1
        left = lc.clock.days_left(as_of)
        if left < 0:
            c.barred += 1
            c.barred_fen += lc.open_fen
        else:
            c.within_30 += left <= 30
            c.within_60 += left <= 60
            c.within_90 += left <= 90
        c.unchecked += lc.clock.holiday_unchecked
    return out


def clock_summary_compute(*, as_of: dt.date, project_id: int | None = None) -> dict[int, ClockCounts]:
    """Compute the counts for one project or all, and keep them (``ClockSummary``) for the numbers page."""
    import time

    t0 = time.monotonic()
    counts = clock_counts(limitation_clocks(as_of=as_of, project_id=project_id), as_of)
    seconds = time.monotonic() - t0
    for pid, c in counts.items():
        ClockSummary.objects.update_or_create(project_id=pid, defaults={
            "as_of": as_of, "lines": c.lines, "within_30": c.within_30, "within_60": c.within_60,
            "within_90": c.within_90, "barred": c.barred, "barred_fen": c.barred_fen, "unchecked": c.unchecked,
            "seconds": seconds})
    stale = ClockSummary.objects.exclude(project_id__in=list(counts))
    if project_id is not None:
        stale = stale.filter(project_id=project_id)
    stale.update(as_of=as_of, lines=0, within_30=0, within_60=0, within_90=0, barred=0, barred_fen=0, unchecked=0)
    return counts


# --- cases -------------------------------------------------------------------------------------------------

def cases_visible(user: User) -> QuerySet[LegalCase]:
    """Cases of the projects the user works in (legal, managers and admins only; see permissions)."""
    return (LegalCase.objects.filter(project_scope_q(user, "project__"))
            .select_related("project", "party", "owner"))


def notices_waiting(user: User):
    """The 期限提醒 waiting for ``user``: sent to them, not read, on a deadline still open of an open case they may
    see now (a reminder of a project they no longer work in names that project's debtor: it is not shown). The
    projects are matched inside the query, so counting it is one statement (the sidebar badge)."""
    from django.db.models import Exists, OuterRef

    from wuye.legal.models import DeadlineNotice

    qs = DeadlineNotice.objects.filter(recipient=user, read_at__isnull=True, deadline__done_on__isnull=True,
                                       deadline__case__closed_on__isnull=True)
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if user.territory_bound:
        return qs.filter(deadline__case__in=cases_visible(user))
    through = User.projects.through
    mine = through.objects.filter(user_id=user.pk)
    return qs.filter(Q(Exists(mine.filter(project_id=OuterRef("deadline__case__project_id")))) | ~Exists(mine))


def owners_for(project_id: int) -> QuerySet[User]:
    """Who may hold a case of the project (承办人): active legal staff, managers and admins working there (a user
    without projects works in all of them)."""
    from wuye.legal.permissions import LEGAL_ROLES

    return (User.objects.filter(is_active=True).filter(Q(role__in=list(LEGAL_ROLES)) | Q(is_superuser=True))
            .filter(Q(projects__id=project_id) | Q(projects__isnull=True)).distinct().order_by("username"))


def case_or_none(user: User, pk: int) -> LegalCase | None:
    return cases_visible(user).filter(pk=pk).first()


def recoveries(case_ids: list[int]) -> list[tuple[int, dt.date, int]]:
    """(case, day, fen) of money applied to each case's lines since the case was opened (reversals net out).
    "Since" is since the case was written: its frozen figures already left out every allocation existing then
    (a payment earlier on the opening day, or between a back-dated opening day and the day it was entered), so
    frozen principal − recovered − waived since = open now, as the evidence pack reconciles it."""
    by_bill: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
    for case_id, bill_id, created in CaseLine.objects.filter(case_id__in_ids=case_ids).values_list(
            "case_id", "bill_id", "case__created_at"):
        by_bill[bill_id].append((case_id, created))
    if not by_bill:
        return []
    out = []
    for bill_id, day, fen, at in Allocation.objects.filter(bill_id__in_ids=list(by_bill)).values_list(
            "bill_id", "applied_on", "amount_fen", "created_at"):
        for case_id, created in by_bill[bill_id]:
            if at > created:
                out.append((case_id, day, fen))
    return out


def recovered_by_case(case_ids: list[int]) -> dict[int, int]:
    """case → money applied to its lines since it was opened."""
    out: dict[int, int] = defaultdict(int)
    for case_id, _day, fen in recoveries(case_ids):
        out[case_id] += fen
    return dict(out)


def costs_by_case(case_ids: list[int]) -> dict[int, int]:
    return dict(CaseCost.objects.filter(case_id__in_ids=case_ids).values_list("case_id")
                .annotate(t=Sum("amount_fen")).values_list("case_id", "t"))


def payments_since_opening(case: LegalCase) -> list[Payment]:
    """Payments on the case's units since the opening day (shown on the case at once, whatever they paid)."""
    units = list(case.lines.values_list("unit_id", flat=True).distinct())
    start = dt.datetime.combine(case.opened_on, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(hours=8)
    return list(Payment.objects.filter(unit_id__in=units, paid_at__gte=start).select_related("unit")
                .prefetch_related("allocations__bill").order_by("paid_at", "pk"))


@dataclass
class Numbers:
    by_stage: list[tuple[str, str, int]]
    deadlines: list[CaseDeadline]
    summaries: list[ClockSummary]
    per_case: list[dict]
    per_month: list[dict]


def numbers_for(user: User, *, today: dt.date, deadline_days: int = 30) -> Numbers:
    """The legal role's numbers: open cases by stage, deadlines coming up, periods expiring in 30/60/90 days by
    project (from the daily summary), recovered against costs per case and per month."""
    cases = cases_visible(user)
    counts = dict(cases.filter(closed_on__isnull=True).values_list("stage").annotate(n=Count("pk"))
                  .values_list("stage", "n"))
    by_stage = [(s.value, s.label, counts.get(s.value, 0)) for s in Stage if s != Stage.CLOSED]
    by_stage.append((Stage.CLOSED.value, Stage.CLOSED.label, cases.filter(closed_on__isnull=False).count()))
    # due within the window, or already in their own reminder window (the daily job marks those: an enforcement
    # deadline is reminded 60 days ahead, longer than any page's window)
    deadlines = list(CaseDeadline.objects.filter(case__in=cases, done_on__isnull=True)
                     .filter(Q(due_on__lte=today + dt.timedelta(days=deadline_days)) | Q(reminded_on__isnull=False))
                     .select_related("case", "case__party").order_by("due_on", "pk")[:50])
    summaries = list(ClockSummary.objects.filter(project_scope_q(user, "project__")).select_related("project")
                     .order_by("project__code"))
    case_list = list(cases.order_by("-opened_on", "-pk")[:200])
    ids = [c.pk for c in case_list]
    recovered = recovered_by_case(ids)
    costs = costs_by_case(ids)
    per_case = [{"case": c, "recovered_fen": recovered.get(c.pk, 0), "costs_fen": costs.get(c.pk, 0),
                 "net_fen": recovered.get(c.pk, 0) - costs.get(c.pk, 0)} for c in case_list]
    month_rec: dict[dt.date, int] = defaultdict(int)
    for _case_id, day, fen in recoveries(list(cases.values_list("pk", flat=True))):
        month_rec[day.replace(day=1)] += fen
    month_cost: dict[dt.date, int] = defaultdict(int)
    for month, fen in (CaseCost.objects.filter(case__in=cases).annotate(m=TruncMonth("on")).values_list("m")
                       .annotate(t=Sum("amount_fen")).values_list("m", "t")):
        month_cost[_month(month)] += fen or 0
    months = sorted(set(month_rec) | set(month_cost), reverse=True)[:24]
    per_month = [{"month": m, "recovered_fen": month_rec.get(m, 0), "costs_fen": month_cost.get(m, 0)}
                 for m in months]
    return Numbers(by_stage, deadlines, summaries, per_case, per_month)


def _month(value) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.replace(day=1)


def open_referrals(user: User):
    """Lawyer-letter referral tasks still open in the user's projects (each may become a case)."""
    from wuye.dunning.choices import TaskKind, TaskStatus
    from wuye.dunning.models import Task

    return (Task.objects.filter(project_scope_q(user, "project__"), kind=TaskKind.REFERRAL, status=TaskStatus.OPEN)
            .select_related("unit", "project").order_by("due_on", "pk"))


def state_label(state: str) -> str:
    return ClockState(state).label


def deadline_q_due(today: dt.date) -> Q:
    return Q(done_on__isnull=True, due_on__lte=today)
