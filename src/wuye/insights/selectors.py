"""Reads of the insights app: a month's figures (snapshots for closed months, the stored live figures for the
month in progress), roll-ups by company / project / building / collector / fee item, the 24-month trend,
targets and the drill-down list of units behind a figure."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, Count, F, Min, Q, QuerySet, Sum, When
from django.utils import timezone

from wuye.accounts.models import Territory, User
from wuye.accounts.selectors import project_scope_q, unit_scope_q
from wuye.common.lookups import Ids
from wuye.common.memo import memoized
from wuye.estate.models import Project
from wuye.insights.metrics import AGE_BOUNDS, Window, add_months, month_start, rows
from wuye.insights.models import MEASURES, FigureKind, MonthClose, MonthFigure, MonthRollup, Target

DIMENSIONS = {"company": (), "project": ("project_id",), "building": ("project_id", "building_id"),
              "collector": ("collector_id",), "fee_item": ("project_id", "fee_item_id")}
SOURCE_LABELS = {"close": "已月结（快照 + 调整）", "live": "本月临时快照", "computed": "未月结（按账目计算）",
                 "missing": "本月还没有临时快照", "unclosed": "未月结"}


def project_ids(user: User) -> list[int] | None:
    """The projects whose figures ``user`` may read; None means every project (once per request)."""
    def read() -> list[int] | None:
        q = project_scope_q(user)
        if q == Q():
            return None
        return list(Project.objects.filter(q).values_list("id", flat=True))

    ids = memoized(("insights_project_ids", user.pk), read)
    return None if ids is None else list(ids)


def percent(num: int, den: int) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class Figures:
    """One group's figures and the rates derived from them."""

    key: tuple
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    adjust: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))

    def add(self, row: dict, adjustment: bool = False) -> None:
        for m in MEASURES:
            self.values[m] += row[m]
            if adjustment:
                self.adjust[m] += row[m]

    @property
    def collection_rate(self) -> Decimal | None:
        return percent(self.values["collected_fen"], self.values["billed_fen"])

    @property
    def household_rate(self) -> Decimal | None:
        return percent(self.values["units_settled"], self.values["units_billed"])

    @property
    def clearance_rate(self) -> Decimal | None:
        return percent(self.values["old_collected_fen"], self.values["old_start_fen"])

    @property
    def arrears_fen(self) -> int:
        return self.values["current_open_fen"] + self.values["old_open_fen"]

    @property
    def adjusted(self) -> bool:
        return any(self.adjust.values())

    def as_dict(self) -> dict:
        return {**self.values, "collection_rate": self.collection_rate, "household_rate": self.household_rate,
                "clearance_rate": self.clearance_rate, "arrears_fen": self.arrears_fen,
                "adjustment": {k: v for k, v in self.adjust.items() if v}}


@dataclass
class Month:
    period: dt.date
    source: str  # close | live | computed | missing (no provisional snapshot yet) | unclosed (past, not closed)
    as_of: dt.datetime | None
    rows: list[dict] | None = None  # computed months: dimension ids, measures, kind
    qs: QuerySet | None = None      # stored months: their MonthFigure rows (grouped in the database)
    rqs: QuerySet | None = None     # … and their MonthRollup rows (every dimension but buildings)
    revisions: int = 0              # closed months: how many rechecks wrote adjustment rows
    cache: dict = field(default_factory=dict)
    scope: tuple[int, ...] | None = None  # the projects in view (None: every project)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]

    @property
    def has_figures(self) -> bool:
        return self.source in ("close", "live", "computed")

    @property
    def stale(self) -> bool:
        """A provisional snapshot older than WUYE_INSIGHTS_LIVE_MAX_AGE_SECONDS (the hourly job has not run)."""
        return bool(self.source == "live" and self.as_of and (timezone.now() - self.as_of).total_seconds()
                    > settings.WUYE_INSIGHTS_LIVE_MAX_AGE_SECONDS)


def provisional_at(period: dt.date) -> dt.datetime | None:
    """When the provisional snapshot of ``period`` (the month in progress) was last taken, if there is one: an
    incremental refresh that found nothing changed writes no figure row, so it is the snapshot's state that says
    (``LiveSnapshot.taken_at``, decision 177), not the rows' stamps."""
    from wuye.insights.models import LiveSnapshot

    return LiveSnapshot.objects.filter(period=period).values_list("taken_at", flat=True).first()


def month_figures(period: dt.date, *, user: User, today: dt.date | None = None, compute: bool = False) -> Month:
    """The figures of ``period`` the user may see: the closed snapshot with its adjustments; for the month in
    progress its provisional snapshot, however old (``Month.stale`` says when the hourly job is late); for a past
    month not closed, nothing (source ``unclosed``). Pages and the API never compute over the ledger: a month
    without a snapshot is ``missing`` / ``unclosed`` and a manager may ask for it (``views.refresh``).

    ``compute=True`` (scripts, tests): compute what is missing from the ledger instead — the month in progress
    by writing its provisional snapshot, a past month as of its last day without storing it."""
    from wuye.insights.services import live_refresh

    today = today or timezone.localdate()
    period = month_start(period)
    ids = project_ids(user)
    cols = ("project_id", "building_id", "collector_id", "fee_item_id", "kind", *MEASURES)
    closing = MonthClose.objects.filter(period=period).first()
    if closing is not None:
        kinds = [FigureKind.CLOSE, FigureKind.ADJUST]
        source, as_of = "close", closing.rechecked_at or closing.closed_at
    elif period == month_start(today):
        as_of = provisional_at(period)
        if as_of is None or (compute and (timezone.now() - as_of).total_seconds()
                             > settings.WUYE_INSIGHTS_LIVE_MAX_AGE_SECONDS):
            if not compute:
                return Month(period, "missing", None, rows=[])
            live_refresh(today=today)
            as_of = provisional_at(period)
        kinds = [FigureKind.LIVE]
        source = "live"
    elif not compute:
        return Month(period, "unclosed", None, rows=[])
    else:
        found = rows(Window.of(period, today))
        data = [dict(zip(cols, (*k, "computed", *(v[m] for m in MEASURES)), strict=True))
                for k, v in found.items() if ids is None or k[0] in ids]
        return Month(period, "computed", timezone.now(), rows=data)
    qs = MonthFigure.objects.filter(period=period, kind__in=kinds)
    rqs = MonthRollup.objects.filter(period=period, kind__in=kinds)
    if ids is not None:
        qs, rqs = qs.filter(project_id__in=ids), rqs.filter(project_id__in=ids)
    return Month(period, source, as_of, qs=qs, rqs=rqs, revisions=closing.revisions if closing else 0,
                 scope=None if ids is None else tuple(sorted(ids)))


def rollup(month: Month, by: str) -> list[Figures]:
    """Group a month's rows by a dimension (``DIMENSIONS``). Fee items read the per-item rows; every other
    dimension reads the all-items rows (which alone count households and prepaid balances). Stored months
    are grouped by the database, once per dimension and request."""
    if by not in month.cache:
        month.cache[by] = _rollup_stored(month, by) if month.qs is not None else _rollup_rows(month, by)
    return month.cache[by]


def top_by_arrears(month: Month, by: str, limit: int) -> list[Figures]:
    """The ``limit`` groups owing most (当期欠费 + 陈欠 at the month's end), ordered in the database for stored
    months (the home page's buildings: 10 of thousands)."""
    if month.qs is None:
        groups = sorted(rollup(month, by), key=lambda f: (-f.arrears_fen, f.key))
        return [f for f in groups if f.arrears_fen > 0][:limit]
    return _rollup_stored(month, by, limit=limit)


# a stored snapshot's roll-ups, shared between requests (decision 198): the rows of a snapshot never change
# without its stamp changing — a provisional one is rewritten only by ``live_refresh``, which stamps
# ``LiveSnapshot.taken_at``; a close only by its rechecks, which stamp ``rechecked_at`` — so the stamp is in the key
ROLLUP_CACHE_SECONDS = 3600


def _shared_key(month: Month, by: str, limit: int | None) -> str | None:
    if month.source not in ("close", "live") or month.as_of is None:
        return None
    if by == "building" and not limit:
        return None  # every building (an export's, thousands of rows): not kept in each worker's memory
    scope = "all" if month.scope is None else hashlib.sha1(
        ",".join(map(str, month.scope)).encode(), usedforsecurity=False).hexdigest()
    return (f"insights:rollup:{month.period:%Y-%m}:{month.source}:{month.as_of.isoformat()}:{month.revisions}:"
            f"{by}:{limit or 0}:{scope}")


def _rollup_stored(month: Month, by: str, limit: int | None = None) -> list[Figures]:
    """``_rollup_grouped`` once per snapshot and scope (``_shared_key``), then from the cache."""
    key = _shared_key(month, by, limit)
    if key is not None:
        hit = cache.get(key)
        if hit is not None:
            return [Figures(k, dict(v), dict(a)) for k, v, a in hit]
    out = _rollup_grouped(month, by, limit)
    if key is not None:
        cache.set(key, [(f.key, f.values, f.adjust) for f in out], ROLLUP_CACHE_SECONDS)
    return out


def _rollup_grouped(month: Month, by: str, limit: int | None = None) -> list[Figures]:
    dims = DIMENSIONS[by]
    source = month.qs if "building_id" in dims else month.rqs
    qs = source.filter(fee_item__isnull=by != "fee_item").order_by()
    sums = {f"sum__{m}": Sum(m) for m in MEASURES}
    if month.source == "close" and month.revisions:
        sums |= {f"adj__{m}": Sum(Case(When(kind=FigureKind.ADJUST, then=F(m)), default=0)) for m in MEASURES}
    if limit:
        # the groups owing most first, on their arrears alone; then every figure of those few
        top = list(qs.values(*dims).annotate(arrears=Sum(F("current_open_fen") + F("old_open_fen")))
                   .filter(arrears__gt=0).order_by("-arrears", *dims)[:limit])
        if not top:
            return []
        chosen = Q()
        for t in top:
            chosen |= Q(**{d: t[d] for d in dims})
        found = {tuple(g[d] for d in dims): g for g in qs.filter(chosen).values(*dims).annotate(**sums)}
        groups = [found[tuple(t[d] for d in dims)] for t in top]
    else:
        groups = list(qs.values(*dims).annotate(**sums)) if dims else [qs.aggregate(**sums)]
    out = []
    for g in groups:
        if g["sum__billed_fen"] is None:
            continue  # no rows at all
        f = Figures(tuple(g[d] for d in dims))
        for m in MEASURES:
            f.values[m] = int(g[f"sum__{m}"] or 0)
            f.adjust[m] = int(g.get(f"adj__{m}") or 0)
        out.append(f)
    return out


def _rollup_rows(month: Month, by: str) -> list[Figures]:
    dims = DIMENSIONS[by]
    out: dict[tuple, Figures] = {}
    for row in month.rows:
        if (row["fee_item_id"] is None) == (by == "fee_item"):
            continue
        key = tuple(row[d] for d in dims)
        out.setdefault(key, Figures(key)).add(row, adjustment=row["kind"] == FigureKind.ADJUST)
    return list(out.values())


def people(month: Month, ids) -> dict[int, User]:
    """The users the month's tables name (collectors), read once for every table of the page that names them."""
    known: dict[int, User | None] = month.cache.setdefault("people", {})
    missing = [pk for pk in ids if pk not in known]
    if missing:
        found = {u.pk: u for u in User.objects.filter(pk__in=missing)}
        known.update({pk: found.get(pk) for pk in missing})
    return {pk: known[pk] for pk in ids if known[pk] is not None}


def total(month: Month) -> Figures:
    groups = rollup(month, "company")
    return groups[0] if groups else Figures(())


def targets(period: dt.date, ids: list[int] | None) -> dict[int, Target]:
    qs = Target.objects.filter(period=month_start(period))
    if ids is not None:
        qs = qs.filter(project_id__in=ids)
    return {t.project_id: t for t in qs}


def company_target(month: Month, by_project: list[Figures], goals: dict[int, Target]) -> Decimal | None:
    """The company's target 收费率: the projects' targets weighted by what each billed this month."""
    weight = sum(f.values["billed_fen"] for f in by_project if f.key[0] in goals)
    if not weight:
        return None
    num = sum(goals[f.key[0]].collection_rate * f.values["billed_fen"] for f in by_project if f.key[0] in goals)
    return (num / weight).quantize(Decimal("0.01"), ROUND_HALF_UP)


def trend(*, user: User, today: dt.date | None = None, months: int = 24) -> list[dict]:
    """收费率, 户收费率 and 清欠率 per month for the last ``months`` months (closed snapshots with their
    adjustments; the month in progress from its live figures) — one grouped query."""
    today = today or timezone.localdate()
    current = month_start(today)
    first = add_months(current, -(months - 1))
    ids = project_ids(user)
    closed = set(MonthClose.objects.filter(period__gte=first).values_list("period", flat=True))
    qs = MonthRollup.objects.filter(period__gte=first, fee_item__isnull=True).filter(
        Q(kind__in=[FigureKind.CLOSE, FigureKind.ADJUST], period__in=closed)
        | Q(kind=FigureKind.LIVE, period=current))
    if ids is not None:
        qs = qs.filter(project_id__in=ids)
    sums = {r["period"]: r for r in qs.values("period").annotate(
        billed=Sum("billed_fen"), collected=Sum("collected_fen"), units=Sum("units_billed"),
        settled=Sum("units_settled"), old=Sum("old_start_fen"), cleared=Sum("old_collected_fen"),
        arrears=Sum(F("current_open_fen") + F("old_open_fen")))}
    # a month with figures but nothing billed: every project in view bills every 3 or 6 months and this is not
    # one of its billing months — said as such (``no_bill``), not left as a silent gap in the chart
    # (a closed month without a single row in view billed nothing either)
    periods = [add_months(first, i) for i in range(months)]
    stored = {p: p in closed or (p == current and p in sums) for p in periods}
    quiet = {p for p in periods if stored[p] and not (sums.get(p) or {}).get("billed")}
    no_bill = ""
    if quiet:
        from wuye.insights.tables import no_bill_label, project_cycles

        no_bill = no_bill_label(project_cycles(ids).values())
    out = []
    for period in periods:
        r = sums.get(period)
        out.append({"period": period, "label": f"{period:%Y-%m}",
                    "collection_rate": percent(r["collected"], r["billed"]) if r else None,
                    "household_rate": percent(r["settled"], r["units"]) if r else None,
                    "clearance_rate": percent(r["cleared"], r["old"]) if r else None,
                    "arrears_fen": int(r["arrears"] or 0) if r else None,
                    "stored": stored[period], "no_bill": no_bill if period in quiet else ""})
    return out


def adjustment_lines(month: Month) -> list[dict]:
    """A closed month's figures as closed, then each later recheck's change as its own line (月结后调整), then
    the figures now: [{revision (None: the close), recorded_at, measures…}] — one grouped query on the roll-ups,
    one on the snapshot rows for the times. Empty for a month without adjustments."""
    if month.source != "close" or not month.revisions or month.rqs is None:
        return []
    found = list(month.rqs.filter(fee_item__isnull=True).order_by().values("kind", "revision").annotate(
        collected=Sum("collected_fen"), settled=Sum("units_settled"), cleared=Sum("old_collected_fen"),
        arrears=Sum(F("current_open_fen") + F("old_open_fen")), prepaid=Sum("prepaid_fen")))
    if not any(r["kind"] == FigureKind.ADJUST for r in found):
        return []  # none in the user's projects
    when = dict(MonthFigure.objects.filter(period=month.period, kind=FigureKind.ADJUST).order_by()
                .values("revision").annotate(at=Min("recorded_at")).values_list("revision", "at"))
    closing = MonthClose.objects.filter(period=month.period).values_list("closed_at", flat=True).first()
    out = []
    for r in sorted(found, key=lambda r: (r["kind"] != FigureKind.CLOSE, r["revision"])):
        closed = r["kind"] == FigureKind.CLOSE
        out.append({"revision": None if closed else r["revision"],
                    "recorded_at": closing if closed else when.get(r["revision"]),
                    **{k: int(r[k] or 0) for k in ("collected", "settled", "cleared", "arrears", "prepaid")}})
    return out


# --- drill-down: the units behind a figure (live: what is open today) ------------------------------------------

BUCKETS = {name: (low, high) for name, (low, high) in zip(
    [n for _, n in AGE_BOUNDS] + ["age_over_3y_fen"],
    [(1, 30), (31, 90), (91, 180), (181, 365), (366, 730), (731, 1095), (1096, None)], strict=True)}


@dataclass(frozen=True)
class Drill:
    """Which list a drill-down shows: ``today`` (the lines open now, from the ledger), ``close`` (a closed month's
    per-unit snapshot with its adjustments), ``live`` (the provisional snapshot of the month in progress, taken at
    ``as_of``) or ``unclosed`` (a past month nobody closed: there is no list as of its end to show)."""

    state: str
    period: dt.date | None = None
    as_of: dt.datetime | None = None

    @property
    def stored(self) -> bool:
        return self.state in ("close", "live")


def drill_month(period: dt.date | None, *, today: dt.date | None = None) -> Drill:
    """The list behind ``?period=YYYY-MM`` (None: today's open lines)."""
    if period is None:
        return Drill("today")
    today = today or timezone.localdate()
    period = month_start(period)
    closing = MonthClose.objects.filter(period=period).first()
    if closing is not None:
        return Drill("close", period, closing.rechecked_at or closing.closed_at)
    if period >= month_start(today):
        at = provisional_at(period)
        return Drill("live", period, at) if at else Drill("today")
    return Drill("unclosed", period)


def closed_period(period: dt.date | None) -> dt.date | None:
    """``period`` when it is a closed month (its drill-down reads the snapshot), else None."""
    if period is None:
        return None
    period = month_start(period)
    return period if MonthClose.objects.filter(period=period).exists() else None


def units_in_arrears(*, user: User, as_of: dt.date | None = None, project: int | None = None,
                     building: int | None = None, collector: int | None = None, fee_item: int | None = None,
                     bucket: str | None = None, period: dt.date | None = None):
    """Units with overdue principal as of ``as_of`` (default today), within the user's scope, narrowed by the
    figure clicked: one grouped query over the open-line index. Values: unit, codes, names, open, oldest.

    With ``period`` a month with a stored snapshot (closed, or the provisional snapshot of the month in
    progress): the units its snapshot was made of, with the amounts at that month's end (snapshot rows plus
    later adjustment rows, so the list adds up to the figure shown), read from ``UnitTotal`` in index order."""
    from wuye.billing.models import Bill

    if period is not None:
        return _units_stored(user=user, period=month_start(period), project=project, building=building,
                             collector=collector, fee_item=fee_item, bucket=bucket)
    as_of = as_of or timezone.localdate()
    qs = Bill.objects.filter(is_void=False, late_fee_of__isnull=True, settled_fen__lt=F("amount_fen"),
                             due_date__lt=as_of).filter(unit_scope_q(user, "unit__"))
    if project:
        qs = qs.filter(project_id=project)
    if building:
        qs = qs.filter(unit__building_id=building)
    if fee_item:
        qs = qs.filter(fee_item_id=fee_item)
    if collector:
        q = Q(pk__in=[])
        for t in Territory.objects.filter(user_id=collector):
            q |= t.unit_q("unit__")
        qs = qs.filter(q)
    if bucket in BUCKETS:
        low, high = BUCKETS[bucket]
        qs = qs.filter(due_date__lte=as_of - dt.timedelta(days=low))
        if high is not None:
            qs = qs.filter(due_date__gte=as_of - dt.timedelta(days=high))
    return (qs.values("unit_id", "unit__code", "unit__building__name", "unit__project__name")
            .annotate(open_fen=Sum(F("amount_fen") - F("settled_fen")), oldest_due=Min("due_date"),
                      lines=Count("id"))
            .order_by("-open_fen", "unit__code"))


def _in_scope(qs: QuerySet, user: User) -> QuerySet:
    if getattr(user, "territory_bound", False):
        return qs.filter(unit_scope_q(user, "unit__"))
    ids = project_ids(user)
    return qs if ids is None else qs.filter(project_id__in=ids)


UNIT_VALUES = ("unit_id", "unit__code", "unit__building__name", "unit__project__name")


def _units_stored(*, user: User, period: dt.date, project, building, collector, fee_item, bucket):
    from wuye.insights.models import UnitFigure, UnitTotal

    bucket = bucket if bucket in BUCKETS else None
    if fee_item:  # per fee item: the per-unit rows themselves (a fee item's link always names its project)
        kinds = ([FigureKind.CLOSE, FigureKind.ADJUST] if MonthClose.objects.filter(period=period).exists()
                 else [FigureKind.LIVE])
        qs = _in_scope(UnitFigure.objects.filter(period=period, kind__in=kinds, fee_item_id=fee_item), user)
        for name, value in (("project_id", project), ("building_id", building), ("collector_id", collector),
                            ("bucket", bucket)):
            if value:
                qs = qs.filter(**{name: value})
        return (qs.values(*UNIT_VALUES)
                .annotate(open_fen=Sum("open_fen"), oldest_due=Min("oldest_due"), lines=Sum("lines"))
                .filter(open_fen__gt=0).order_by("-open_fen", "unit_id"))
    qs = _in_scope(UnitTotal.objects.filter(period=period, bucket=bucket or ""), user)
    for name, value in (("project_id", project), ("building_id", building), ("collector_id", collector)):
        if value:
            qs = qs.filter(**{name: value})
    return qs.values(*UNIT_VALUES, "open_fen", "oldest_due", "lines").order_by("-open_fen", "unit_id")


@dataclass
class Page:
    """One page of a long list without counting all of it: the rows, whether more follow, and the number of
    rows counted up to ``cap`` (``count_label`` says "1,000+" beyond)."""

    rows: list
    number: int
    size: int
    has_next: bool
    count: int
    capped: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def count_label(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


def page_of(qs, number, *, size: int = 50, cap: int = 1000) -> Page:
    """Page ``number`` (1-based; junk is 1) of ``qs``: one read of ``size`` + 1 rows, and a count capped at
    ``cap`` only when the page does not already show where the list ends."""
    try:
        number = max(1, min(int(number), 100_000))
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * size
    rows = list(qs[offset:offset + size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    if not has_next and (rows or number == 1):
        return Page(rows, number, size, False, offset + len(rows), False)
    counted = qs[:cap + 1].count() if offset + size <= cap else cap + 1
    return Page(rows, number, size, has_next, min(counted, cap), counted > cap)


# --- early warning (预警) ---------------------------------------------------------------------------------------

def risk_by_unit(unit_ids: list[int]) -> dict[int, tuple[float, list[str]]]:
    """The stored early-warning scores of these units: {unit: (probability, [reason labels])} (the worklist)."""
    from wuye.insights.models import RiskScore
    from wuye.insights.risk import FEATURE_LABELS

    out = {}
    for unit_id, p, reasons in RiskScore.objects.filter(unit_id__in_ids=Ids(unit_ids)).values_list(
            "unit_id", "probability", "reasons"):
        out[unit_id] = (p, [FEATURE_LABELS.get(name, name) for name, _ in reasons])
    return out
