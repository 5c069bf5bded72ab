"""Read queries of casework: the collector's worklist (set-based, a fixed number of queries), suggested talking
points, the manager's desk (approvals, escalations) and the daily debrief."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.module_loading import import_string

from wuye.accounts.choices import Role
from wuye.accounts.models import Territory, User
from wuye.accounts.selectors import NOTHING, unit_scope_q
from wuye.billing.models import Adjustment, Bill, InstallmentPlan, Payment
from wuye.casework.choices import DISPUTE_OUTCOMES, DisputeReason, DisputeStatus, Outcome
from wuye.casework.models import ContactAttempt, Dispute, PaymentCheck, Promise, TalkingPoint, WorkOrder
from wuye.common.formatting import format_yuan, mask_phone
from wuye.common.lookups import Ids, ids_q
from wuye.dunning.choices import AccountClass, HoldKind, TaskKind, TaskStatus
from wuye.dunning.models import Episode, Hold, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind, OccupantRole
from wuye.estate.models import Building, ContactPoint, Occupancy, Party, Unit
from wuye.estate.selectors import current_occupancy_q, projects_visible

LARGE_FEN = 200_000  # ¥2,000 and more counts as a large arrears
OLD_DAYS = 90  # three months and more counts as old
NEW_DAYS = 30  # at most a month overdue counts as new
POINTS_PER_ROW = 3
LIMITATION_DAYS = 60  # warn of periods whose limitation period runs out within this many days

# priority → why the row is where it is
PRIORITY_LABELS = {
    1: "承诺到期/失约",
    2: "催缴任务",
    3: "暂未明确：每日电话",
    4: "大额或长期欠费",
    5: "新增欠费",
    6: "其他欠费",
}


@dataclass
class WorkRow:
    """One account on the worklist: a unit and the debtor liable for its overdue lines (a unit sold with
    unpaid periods on both sides is two rows — each shows only that debtor's periods and amount)."""

    unit_id: int
    code: str
    building: str
    floor: int | None
    owner: str
    phone_id: int | None
    phone_masked: str
    overdue_fen: int
    days_overdue: int
    periods: int
    account_class: str
    priority: int = 6
    why: str = ""
    task_ids: list[int] = field(default_factory=list)
    promise_on: dt.date | None = None
    promise_fen: int | None = None
    promise_open: bool = False
    disputed: bool = False
    dispute_reasons: list[str] = field(default_factory=list)
    last_on: dt.date | None = None
    last_outcome: str = ""
    last_by: str = ""
    points: list[TalkingPoint] = field(default_factory=list)
    broken_promises: int = 0  # promises the owner has broken (on any of their units)
    next_step: str = ""  # what happens next on this account (the follow-up its state and class drive)
    limitation_soon: int = 0  # periods whose limitation period runs out within LIMITATION_DAYS
    limitation_barred: int = 0  # periods already time-barred
    party_id: int | None = None  # the debtor
    ladder_done: bool = False  # every stage of the ladder has been issued: a manager decides what next
    former_owner: bool = False  # the debtor no longer owns the unit (sold): reached at their own contacts
    risk: float | None = None  # 预警: probability of being 90+ days overdue within 3 months (None: not scored)
    risk_reasons: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A stable id for the row in pages (unit and debtor)."""
        return f"{self.unit_id}-{self.party_id or 0}"

    @property
    def amount(self) -> str:
        return format_yuan(self.overdue_fen)

    @property
    def class_label(self) -> str:
        return AccountClass(self.account_class).label if self.account_class else "未分类"

    @property
    def last_outcome_label(self) -> str:
        return Outcome(self.last_outcome).label if self.last_outcome else ""


@dataclass
class Worklist:
    day: dt.date
    rows: list[WorkRow]
    counts: dict[int, int]
    note: str = ""


def broken_promises_subquery(party_ref: str) -> Subquery:
    """How many promises the party (``OuterRef(party_ref)``) has broken: their record, shown to the collector."""
    return Subquery(Promise.objects.filter(party_id=OuterRef(party_ref), hold__outcome="broken")
                    .order_by().values("party_id").annotate(n=Count("pk")).values("n")[:1],
                    output_field=IntegerField())


def broken_promises_of(party_id: int | None) -> int:
    if party_id is None:
        return 0
    return Promise.objects.filter(party_id=party_id, hold__outcome="broken").count()


def _scope_for(user: User, collector: User | None) -> tuple[Q, User | None, str]:
    """Which units the list covers: the requesting collector's territory; a manager picks a collector."""
    if user.territory_bound:
        return unit_scope_q(user), user, ""
    if collector is None:
        return NOTHING, None, "请选择收费员查看其工作清单。"
    if not collector.territory_bound:
        return NOTHING, None, "所选用户不是收费员。"
    visible = set(projects_visible(user).values_list("pk", flat=True))
    q = NOTHING
    for t in Territory.objects.filter(user=collector, project_id__in=visible):
        q |= t.unit_q()
    return q, collector, ""


def _prefixed(q: Q, prefix: str) -> Q:
    """Re-root a filter on Unit at a relation (``unit__``)."""
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    for child in q.children:
        if isinstance(child, Q):
            out.children.append(_prefixed(child, prefix))
        else:
            key, value = child
            out.children.append((f"{prefix}{key}", value))
    return out


def worklist(*, user: User, day: dt.date, collector: User | None = None, building_id: int | None = None,
             floor_from: int | None = None, floor_to: int | None = None, account_class: str = "",
             min_fen: int | None = None, building_names: dict[int, str] | None = None) -> Worklist:
    """The collector's accounts in arrears on ``day``, most urgent first: promises due today or broken
    yesterday, the engine's call/visit tasks, accounts to call daily (暂未明确), large or old arrears, new
    arrears, the rest. A fixed number of queries whatever the size of the territory. ``building_names``: the
    names of buildings the caller has read already (the page's filter lists them); only the others are read."""
    scope, owner_user, note = _scope_for(user, collector)
    if scope == NOTHING:
        return Worklist(day, [], {}, note or "您没有责任区。")
    # The territory's units first (the building/floor index), then their open lines by unit id through the
    # open-lines index, then names for the accounts found: one query joining bills to units, buildings and
    # parties let the planner hash the whole estate's buildings and walk every line of every unit (45–90 ms
    # at 1M units against 9 ms). The unit ids go as ranges of consecutive ids (``ids_q``, decision 199).
    units = Unit.objects.filter(scope)
    if building_id:
        units = units.filter(building_id=building_id)
    if floor_from is not None:
        units = units.filter(floor__gte=floor_from)
    if floor_to is not None:
        units = units.filter(floor__lte=floor_to)
    places = {pk: (code, floor, building) for pk, code, floor, building in units.order_by().values_list(
        "pk", "code", "floor", "building_id")}  # no order: a dict (Unit's default order joins the project)
    if not places:
        return Worklist(day, [], {}, "")
    grouped = (Bill.objects.filter(ids_q("unit_id", places), is_void=False, settled_fen__lt=F("amount_fen"),
                                   due_date__lt=day)
               .values("unit_id", "party_id")
               .annotate(overdue=Sum(F("amount_fen") - F("settled_fen")), oldest=Min("due_date"),
                         periods=Count("period_start", distinct=True))
               .order_by())
    if min_fen:
        grouped = grouped.filter(overdue__gte=min_fen)
    grouped = list(grouped)
    if not grouped:
        return Worklist(day, [], {}, "")
    ids = sorted({r["unit_id"] for r in grouped})
    in_ids = Ids(ids)  # one value to Django: a list would be walked id by id in every filter below
    debtor_ids = sorted({r["party_id"] for r in grouped if r["party_id"] is not None})
    buildings = dict(building_names or {})
    if unnamed := sorted({places[u][2] for u in ids} - buildings.keys()):
        buildings.update(Building.objects.filter(pk__in_ids=Ids(unnamed)).values_list("pk", "name"))
    debtors_read = {pk: (name, broken) for pk, name, broken in Party.objects.filter(pk__in_ids=Ids(debtor_ids))
                    .annotate(broken=broken_promises_subquery("pk")).values_list("pk", "name", "broken")}
    rows: dict[tuple[int, int], WorkRow] = {}
    by_unit: dict[int, list[WorkRow]] = defaultdict(list)
    for r in grouped:
        code, floor, building = places[r["unit_id"]]
        name, broken = debtors_read.get(r["party_id"], ("", 0))
        row = rows[(r["unit_id"], r["party_id"])] = WorkRow(
            unit_id=r["unit_id"], code=code, building=buildings.get(building, ""), floor=floor,
            owner=name or "", phone_id=None, phone_masked="",
            overdue_fen=r["overdue"] or 0, days_overdue=(day - r["oldest"]).days, periods=r["periods"] or 0,
            account_class="", party_id=r["party_id"], broken_promises=broken or 0)
        by_unit[r["unit_id"]].append(row)

    def rows_of(unit_id: int, party_id: int | None) -> list[WorkRow]:
        """The rows a unit-level record (party unknown) or a debtor's record applies to."""
        if party_id is None:
            return by_unit.get(unit_id, [])
        row = rows.get((unit_id, party_id))
        return [row] if row else []

    # the owner in force: a debtor who is not (any more) is the former owner, reached at their own contacts
    owner_now: dict[int, int] = {}
    for unit_id, party_id in (Occupancy.objects.filter(current_occupancy_q(day), unit_id__in_ids=in_ids,
                                                       role=OccupantRole.OWNER)
                              .order_by("unit_id", "start", "id").values_list("unit_id", "party_id")):
        owner_now[unit_id] = party_id  # the latest owner wins
    debtors = {party for _u, party in rows}
    for (unit_id, party_id), row in rows.items():
        row.former_owner = unit_id in owner_now and owner_now[unit_id] != party_id
    phones: dict[int, tuple[int, str]] = {}
    for pk, party_id, value in (ContactPoint.objects.filter(party_id__in_ids=Ids(list(debtors)),
                                                            kind__in=[ContactKind.MOBILE, ContactKind.LANDLINE])
                                .exclude(validity__in=list(DEAD_VALIDITIES))
                                .order_by("party_id", "is_primary", "-id").values_list("pk", "party_id", "value")):
        phones[party_id] = (pk, value)  # the primary (then the oldest) wins
    for (_unit_id, party_id), row in rows.items():
        if party_id in phones:
            row.phone_id = phones[party_id][0]
            row.phone_masked = phones[party_id][1] if user.sees_pii else mask_phone(phones[party_id][1])

    for unit_id, party_id, klass, done in Episode.objects.filter(
            unit_id__in_ids=in_ids, closed_on__isnull=True).values_list("unit_id", "party_id", "account_class",
                                                                     "ladder_done_on"):
        for row in rows_of(unit_id, party_id):
            row.account_class, row.ladder_done = klass, done is not None

    yesterday = day - dt.timedelta(days=1)
    for unit_id, party_id, kind, until, amount, outcome, released, reason in (
            Hold.objects.filter(unit_id__in_ids=in_ids, kind__in=[HoldKind.PROMISE, HoldKind.DISPUTE])
            .filter(Q(released_on__isnull=True) | Q(outcome="broken", released_on__gte=yesterday))
            .values_list("unit_id", "party_id", "kind", "until", "amount_fen", "outcome", "released_on",
                         "dispute__reason")):
        for row in rows_of(unit_id, party_id):
            if kind == HoldKind.PROMISE:
                row.promise_on, row.promise_fen, row.promise_open = until, amount, released is None
                if until == day and not released:
                    row.priority, row.why = 1, "今天是承诺缴费日"
                elif until is not None and until < day and outcome != "kept":
                    row.priority, row.why = 1, f"承诺 {until:%m月%d日} 缴费未兑现"
            elif released is None:
                row.disputed = True
                if reason:
                    row.dispute_reasons.append(reason)

    task_q = Q(assigned_to=owner_user) | Q(assigned_to__isnull=True)
    for unit_id, party_id, pk, title in (Task.objects.filter(task_q, unit_id__in_ids=in_ids, status=TaskStatus.OPEN,
                                                             kind__in=[TaskKind.CALL, TaskKind.VISIT],
                                                             due_on__lte=day)
                                         .order_by("due_on", "pk")
                                         .values_list("unit_id", "action__party_id", "pk", "title")):
        for row in rows_of(unit_id, party_id)[:1]:
            row.task_ids.append(pk)
            if row.priority > 2:
                row.priority, row.why = 2, title.removeprefix(row.code).strip()  # the card shows the unit already

    latest = (ContactAttempt.objects.filter(unit_id__in_ids=in_ids).values("unit_id", "party_id").annotate(m=Max("pk"))
              .values("m"))
    for unit_id, party_id, on, outcome, by_name, by_username in ContactAttempt.objects.filter(
            pk__in=latest).values_list("unit_id", "party_id", "on", "outcome", "made_by__display_name",
                                       "made_by__username"):
        for row in rows_of(unit_id, party_id):
            row.last_on, row.last_outcome, row.last_by = on, outcome, by_name or by_username or ""

    _limitation(rows, day)
    _risk(rows)

    points = list(TalkingPoint.objects.filter(active=True).order_by("sort", "pk"))
    by_class: dict[str, list[TalkingPoint]] = defaultdict(list)
    by_reason: dict[str, list[TalkingPoint]] = defaultdict(list)
    general = []
    for p in points:
        if p.account_class:
            by_class[p.account_class].append(p)
        elif p.reason:
            by_reason[p.reason].append(p)
        else:
            general.append(p)

    out = []
    for row in rows.values():
        if account_class and row.account_class != account_class:
            continue
        if row.priority > 2:
            if row.account_class == AccountClass.UNDECIDED:
                row.priority, row.why = 3, "暂未明确，今天再联系一次"
            elif row.overdue_fen >= LARGE_FEN or row.days_overdue >= OLD_DAYS:
                row.priority, row.why = 4, f"欠费 {row.amount}，逾期 {row.days_overdue} 天"
            elif row.ladder_done:
                row.priority, row.why = 4, f"催缴步骤已全部执行（逾期 {row.days_overdue} 天），待经理决定"
            elif row.days_overdue <= NEW_DAYS:
                row.priority, row.why = 5, f"新增欠费（逾期 {row.days_overdue} 天）"
            else:
                row.priority, row.why = 6, f"逾期 {row.days_overdue} 天"
        row.next_step = _next_step(row, day)
        chosen = [p for r in row.dispute_reasons for p in by_reason.get(r, [])] + by_class.get(row.account_class, [])
        row.points = (chosen + general)[:POINTS_PER_ROW]
        out.append(row)
    out.sort(key=lambda r: (r.priority, -r.overdue_fen, -r.days_overdue, r.code))
    counts: dict[int, int] = defaultdict(int)
    for row in out:
        counts[row.priority] += 1
    return Worklist(day, out, dict(counts), "")


def _limitation(rows: dict[tuple[int, int], WorkRow], day: dt.date) -> None:
    """Periods about to become (or already) time-barred, per debtor, from the legal module's clocks through a
    setting (casework does not import legal): ``WUYE_LIMITATION_COUNTS(unit_ids, as_of, within_days)`` →
    {(unit, debtor): (soon, barred)}."""
    path = getattr(settings, "WUYE_LIMITATION_COUNTS", "")
    if not path or not rows:
        return
    counts = import_string(path)(sorted({unit_id for unit_id, _party in rows}), day, LIMITATION_DAYS)
    for key, row in rows.items():
        row.limitation_soon, row.limitation_barred = counts.get(key, (0, 0))


def _risk(rows: dict[tuple[int, int], WorkRow]) -> None:
    """The early-warning score of each row's unit, from the insights module through a setting (casework does
    not import insights): ``WUYE_RISK_SCORES(unit_ids)`` → {unit: (probability, [reason labels])}."""
    path = getattr(settings, "WUYE_RISK_SCORES", "")
    if not path or not rows:
        return
    scores = import_string(path)(sorted({unit_id for unit_id, _party in rows}))
    for (unit_id, _party), row in rows.items():
        if unit_id in scores:
            row.risk, row.risk_reasons = scores[unit_id]


# what each class has the engine do next (domain.md, "Classifying each unpaid account")
NEXT_BY_CLASS = {
    AccountClass.UNDECIDED: "每个工作日电话，直到约定缴费日期",
    AccountClass.UNREACHABLE: "查找新号码并上门寻访",
    AccountClass.AWAY: "每个工作日电话，引导远程缴费",
    AccountClass.REFUSING: "重点跟进：记录原因，报经理定处理方式",
}


def _next_step(row: WorkRow, day: dt.date) -> str:
    """The row's next step in words: the promise's reminder or date, a broken promise, today's task, a dispute
    on hold, else the follow-up the class drives."""
    if row.promise_on is not None and row.promise_open:
        remind = row.promise_on - dt.timedelta(days=1)
        if row.promise_on == day:
            return "今天是承诺缴费日，未缴则明天按失约跟进"
        if remind == day:
            return "今天提醒：明天是承诺缴费日"
        if remind > day:
            return f"{remind.month}月{remind.day}日 承诺前一天提醒"
    if row.promise_on is not None and not row.promise_open and row.priority == 1:
        return "失约：今天立即联系"
    if row.task_ids:
        return f"今天：{row.why}" if row.priority == 2 else "今天有催缴任务"
    if row.disputed:
        return "争议处理中，暂停升级催缴"
    if row.ladder_done:
        return "催缴步骤已全部执行：待经理决定分期、减免、转介律师或继续跟进"
    return NEXT_BY_CLASS.get(row.account_class, "")


def points_for(account_class: str, reasons: list[str] | None = None) -> list[TalkingPoint]:
    """Talking points for the contact form: the class's and the reasons' first, then the general ones."""
    qs = TalkingPoint.objects.filter(active=True).filter(
        Q(account_class=account_class, reason="") | Q(reason__in=reasons or [], account_class="")
        | Q(account_class="", reason=""))
    return sorted(qs, key=lambda p: (0 if p.reason else 1 if p.account_class else 2, p.sort, p.pk))


@dataclass
class OwedPeriod:
    """One billing period a debtor still owes on a unit: its lines (fee item, open amount) and due date."""

    period: dt.date
    due_date: dt.date
    open_fen: int
    items: list[tuple[str, int]]
    overdue: bool


def owed_by_period(unit_id: int, party_id: int | None, day: dt.date) -> list[OwedPeriod]:
    """What one debtor owes on the unit, period by period (their own lines only; oldest first)."""
    from wuye.billing.models import Bill

    out: dict[dt.date, OwedPeriod] = {}
    for start, due, amount, settled, item in (
            Bill.objects.filter(unit_id=unit_id, party_id=party_id, is_void=False, settled_fen__lt=F("amount_fen"))
            .order_by("period_start", "due_date", "pk")
            .values_list("period_start", "due_date", "amount_fen", "settled_fen", "fee_item__name")):
        row = out.setdefault(start, OwedPeriod(start, due, 0, [], False))
        row.open_fen += amount - settled
        row.items.append((item, amount - settled))
        row.due_date = min(row.due_date, due)
        row.overdue = row.overdue or due < day
    return list(out.values())


def contacts_of(unit_id: int) -> QuerySet[ContactAttempt]:
    return (ContactAttempt.objects.filter(unit_id=unit_id).select_related("made_by", "contact_point", "corrects")
            .order_by("-made_at", "-pk"))


def corrected_ids(unit_id: int) -> set[int]:
    return set(ContactAttempt.objects.filter(unit_id=unit_id, corrects__isnull=False)
               .values_list("corrects_id", flat=True))


def disputes_visible(user: User) -> QuerySet[Dispute]:
    return Dispute.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "opened_by", "hold")


def work_orders_visible(user: User) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "dispute", "created_by")


def payment_checks_visible(user: User) -> QuerySet[PaymentCheck]:
    return PaymentCheck.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "contact__made_by")


# --- the manager's desk ------------------------------------------------------------------------------------

@dataclass
class Approvals:
    adjustments: list[Adjustment]
    plans: list[InstallmentPlan]
    referrals: list[Task]


def approvals_pending(user: User) -> Approvals:
    """Waivers, voids and write-offs, installment plans and lawyer-letter referrals waiting for a decision."""
    projects = projects_visible(user)
    return Approvals(
        adjustments=list(Adjustment.objects.filter(status="pending", bill__project__in=projects)
                         .select_related("bill__unit", "bill__fee_item", "requested_by").order_by("requested_at")),
        plans=list(InstallmentPlan.objects.filter(status=InstallmentPlan.Status.PENDING, project__in=projects)
                   .select_related("unit", "requested_by").prefetch_related("items").order_by("requested_at")),
        referrals=list(Task.objects.filter(kind=TaskKind.REFERRAL, status=TaskStatus.OPEN, project__in=projects)
                       .select_related("unit", "assigned_to").order_by("due_on", "pk")),
    )


def escalations_open(user: User) -> list[Task]:
    return list(Task.objects.filter(kind=TaskKind.ESCALATE, status=TaskStatus.OPEN,
                                    project__in=projects_visible(user))
                .select_related("unit", "assigned_to", "action").order_by("due_on", "pk"))


@dataclass
class HardCase:
    """难点 — an account the manager should hear about in the debrief."""

    unit_id: int
    code: str
    what: str
    note: str = ""


@dataclass
class DebriefRow:
    collector: User
    contacts: int = 0
    reached: int = 0
    promises_made: int = 0
    promised_fen: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    collected_fen: int = 0
    hard_cases: list[HardCase] = field(default_factory=list)

    @property
    def collected(self) -> str:
        return format_yuan(self.collected_fen)

    @property
    def promised(self) -> str:
        return format_yuan(self.promised_fen)


UNREACHED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.SWITCHED_OFF, Outcome.DEAD_NUMBER})


def debrief(*, user: User, day: dt.date) -> list[DebriefRow]:
    """What each collector did on ``day``: contacts (and how many reached someone), promises made, kept and
    broken, money received for the units of their territory, and the hard cases (refusals and disputes, dead
    numbers, broken promises). A fixed number of queries whatever the number of collectors."""
    visible = projects_visible(user)
    collectors = list(User.objects.filter(role=Role.COLLECTOR, is_active=True,
                                          territories__project__in=visible).distinct().order_by("username"))
    rows = {c.pk: DebriefRow(c) for c in collectors}
    if not rows:
        return []
    for by, outcome, n in (ContactAttempt.objects.filter(on=day, made_by__in=list(rows), project__in=visible)
                           .values_list("made_by", "outcome").annotate(n=Count("pk")).values_list(
                               "made_by", "outcome", "n")):
        rows[by].contacts += n
        if outcome not in UNREACHED:
            rows[by].reached += n
    for by, n, fen in (Promise.objects.filter(made_on=day, made_by__in=list(rows), project__in=visible)
                       .values_list("made_by").annotate(n=Count("pk"), fen=Sum("amount_fen"))
                       .values_list("made_by", "n", "fen")):
        rows[by].promises_made, rows[by].promised_fen = n, fen or 0
    for by, outcome, n in (Promise.objects.filter(hold__released_on=day, hold__outcome__in=["kept", "broken"],
                                                  made_by__in=list(rows), project__in=visible)
                           .values_list("made_by", "hold__outcome").annotate(n=Count("pk"))
                           .values_list("made_by", "hold__outcome", "n")):
        if outcome == "kept":
            rows[by].promises_kept = n
        else:
            rows[by].promises_broken = n
    # money received on the day for the units of each collector's territory (one read of the territories, one
    # of the day's payments: a unit's building and floor say whose it is)
    ranges: dict[int, list[tuple[int | None, int | None, int]]] = defaultdict(list)
    for building_id, lo, hi, by in Territory.objects.filter(user_id__in=list(rows), project__in=visible).values_list(
            "building_id", "floor_from", "floor_to", "user_id"):
        ranges[building_id].append((lo, hi, by))
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=1)
    for building_id, floor, fen in (Payment.objects.filter(project__in=visible, paid_at__gte=start, paid_at__lt=end,
                                                           unit__building_id__in=list(ranges))
                                    .values_list("unit__building_id", "unit__floor").annotate(fen=Sum("amount_fen"))
                                    .values_list("unit__building_id", "unit__floor", "fen")):
        for lo, hi, by in ranges[building_id]:
            if (lo is None or (floor is not None and floor >= lo)) and (hi is None or (floor is not None
                                                                                      and floor <= hi)):
                rows[by].collected_fen += fen or 0
                break
    hard_outcomes = list(DISPUTE_OUTCOMES | {Outcome.DEAD_NUMBER})
    for by, unit_id, code, outcome, reason, note in (
            ContactAttempt.objects.filter(on=day, made_by__in=list(rows), outcome__in=hard_outcomes,
                                          project__in=visible)
            .order_by("made_at", "pk").values_list("made_by", "unit_id", "unit__code", "outcome", "reason", "note")):
        what = Outcome(outcome).label + (f"（{DisputeReason(reason).label}）" if reason else "")
        rows[by].hard_cases.append(HardCase(unit_id, code, what, note))
    for by, unit_id, code, until, fen in (
            Promise.objects.filter(hold__released_on=day, hold__outcome="broken", made_by__in=list(rows),
                                   project__in=visible)
            .order_by("pk").values_list("made_by", "unit_id", "unit__code", "promised_on", "amount_fen")):
        rows[by].hard_cases.append(HardCase(unit_id, code, "承诺失约",
                                            f"承诺 {until.month}月{until.day}日 缴 {format_yuan(fen)}"))
    return list(rows.values())


def open_disputes_count(user: User) -> int:
    return disputes_visible(user).filter(status=DisputeStatus.OPEN).count()


# --- territory board ---------------------------------------------------------------------------------------

@dataclass
class FloorCell:
    floor: int
    units: int
    collector: User | None = None


@dataclass
class BuildingCard:
    building: object
    units: int
    floors: list[FloorCell] = field(default_factory=list)

    @property
    def collectors(self) -> list[User]:
        """Who answers for the building's floors (one name when the whole building is one person's)."""
        seen: dict[int, User] = {}
        for cell in self.floors:
            if cell.collector is not None:
                seen.setdefault(cell.collector.pk, cell.collector)
        return list(seen.values())

    @property
    def unassigned_floors(self) -> int:
        return sum(1 for cell in self.floors if cell.collector is None)


@dataclass
class CollectorColumn:
    user: User
    territories: list[Territory] = field(default_factory=list)
    units: int = 0


@dataclass
class TerritoryBoard:
    project: object | None
    buildings: list[BuildingCard]
    collectors: list[CollectorColumn]


def territory_board(*, user: User, project) -> TerritoryBoard:
    """The buildings of a project with each floor's responsible collector, and the collectors with their
    territories: four queries whatever the size of the project."""

    collectors = {u.pk: CollectorColumn(u) for u in User.objects.filter(role=Role.COLLECTOR, is_active=True)
                  .order_by("username")}
    if project is None:
        return TerritoryBoard(None, [], list(collectors.values()))
    cards = {b.pk: BuildingCard(b, 0) for b in Building.objects.filter(project=project).order_by("code", "pk")}
    for building_id, floor, n in (Unit.objects.filter(project=project).values_list("building_id", "floor")
                                  .annotate(n=Count("pk")).order_by("building_id", "floor")):
        if building_id in cards and floor is not None:
            cards[building_id].floors.append(FloorCell(floor, n))
            cards[building_id].units += n
    territories = list(Territory.objects.filter(project=project).select_related("user", "building")
                       .order_by("building__code", "floor_from", "pk"))
    for t in territories:
        column = collectors.get(t.user_id)
        if column is None:  # a collector who left or changed role still shows while they hold a territory
            column = collectors[t.user_id] = CollectorColumn(t.user)
        column.territories.append(t)
        card = cards.get(t.building_id)
        if card is None:
            continue
        for cell in card.floors:
            if (t.floor_from is None or cell.floor >= t.floor_from) and (t.floor_to is None or cell.floor <= t.floor_to):
                cell.collector = t.user
                column.units += cell.units
    return TerritoryBoard(project, list(cards.values()), list(collectors.values()))


# --- the approvals queue (issue 17 item 5) -------------------------------------------------------------------

APPROVAL_KINDS = (("waive_principal", "减免本金"), ("void", "作废账单"), ("write_off", "核销/和解"),
                  ("plan", "分期"), ("referral", "律师函转介"))
_KIND_WORDS = dict(APPROVAL_KINDS)


@dataclass
class ApprovalRow:
    """One request waiting for the manager, whatever its kind (the page shows them in one table)."""

    kind: str  # "adjustment" | "plan" | "referral" — the service that decides it
    pk: int
    kind_code: str  # waive_principal | void | write_off | plan | referral
    project_id: int
    project_name: str
    unit_id: int
    unit_code: str
    amount_fen: int
    reason: str
    requester: str
    at: dt.datetime | dt.date | None
    detail: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.pk}"

    @property
    def kind_label(self) -> str:
        return _KIND_WORDS.get(self.kind_code, self.kind_code)

    @property
    def section(self) -> int:
        return 1 if self.kind == "referral" else 0


@dataclass
class ApprovalFilter:
    project_id: int | None = None
    kind: str = ""
    min_fen: int | None = None
    max_fen: int | None = None
    collector_id: int | None = None


def _amount_q(field_name: str, f: ApprovalFilter) -> Q:
    q = Q()
    if f.min_fen is not None:
        q &= Q(**{f"{field_name}__gte": f.min_fen})
    if f.max_fen is not None:
        q &= Q(**{f"{field_name}__lte": f.max_fen})
    return q


def _user_name(first: str | None, display: str | None, username: str | None) -> str:
    return display or first or username or ""


def approval_rows(user: User, f: ApprovalFilter | None = None) -> list[ApprovalRow]:
    """Everything waiting for a decision that ``user`` may see, filtered: three set-based queries (values only),
    sorted so that waivers and plans come first by project then by date, and referrals after them grouped by
    project. A referral's amount is what the unit owes today (open principal of its bills)."""
    f = f or ApprovalFilter()
    projects = projects_visible(user)
    rows: list[ApprovalRow] = []
    adjustment_kinds = {"waive_principal", "void", "write_off"}
    if not f.kind or f.kind in adjustment_kinds:
        qs = Adjustment.objects.filter(status="pending", bill__project__in=projects)
        if f.kind:
            qs = qs.filter(kind=f.kind)
        else:
            qs = qs.filter(kind__in=adjustment_kinds)
        if f.project_id:
            qs = qs.filter(bill__project_id=f.project_id)
        if f.collector_id:
            qs = qs.filter(requested_by_id=f.collector_id)
        qs = qs.annotate(shown_fen=models_case_void()).filter(_amount_q("shown_fen", f))
        for r in qs.values("pk", "kind", "bill__project_id", "bill__project__name", "bill__unit_id",
                           "bill__unit__code", "shown_fen", "reason", "requested_by__display_name",
                           "requested_by__username", "requested_at", "bill__period_start", "bill__fee_item__name"):
            rows.append(ApprovalRow(
                kind="adjustment", pk=r["pk"], kind_code=r["kind"], project_id=r["bill__project_id"],
                project_name=r["bill__project__name"], unit_id=r["bill__unit_id"], unit_code=r["bill__unit__code"],
                amount_fen=r["shown_fen"] or 0, reason=r["reason"],
                requester=_user_name(None, r["requested_by__display_name"], r["requested_by__username"]) or "业主",
                at=r["requested_at"],
                detail=f"{r['bill__period_start']:%Y-%m} {r['bill__fee_item__name']}"))
    if not f.kind or f.kind == "plan":
        qs = InstallmentPlan.objects.filter(status=InstallmentPlan.Status.PENDING, project__in=projects)
        if f.project_id:
            qs = qs.filter(project_id=f.project_id)
        if f.collector_id:
            qs = qs.filter(requested_by_id=f.collector_id)
        qs = qs.filter(_amount_q("total_fen", f)).annotate(n_items=Count("items"))
        for r in qs.values("pk", "project_id", "project__name", "unit_id", "unit__code", "total_fen", "reason",
                           "requested_by__display_name", "requested_by__username", "requested_at", "n_items"):
            rows.append(ApprovalRow(
                kind="plan", pk=r["pk"], kind_code="plan", project_id=r["project_id"],
                project_name=r["project__name"], unit_id=r["unit_id"], unit_code=r["unit__code"],
                amount_fen=r["total_fen"], reason=r["reason"],
                requester=_user_name(None, r["requested_by__display_name"], r["requested_by__username"]) or "业主在线",
                at=r["requested_at"], detail=f"{r['n_items']} 期"))
    if not f.kind or f.kind == "referral":
        owed = (Bill.objects.filter(unit_id=OuterRef("unit_id"), is_void=False, late_fee_of__isnull=True)
                .values("unit_id").annotate(s=Sum(F("amount_fen") - F("settled_fen"))).values("s")[:1])
        qs = Task.objects.filter(kind=TaskKind.REFERRAL, status=TaskStatus.OPEN, project__in=projects)
        if f.project_id:
            qs = qs.filter(project_id=f.project_id)
        if f.collector_id:
            qs = qs.filter(assigned_to_id=f.collector_id)
        qs = qs.annotate(owed_fen=Subquery(owed, output_field=IntegerField())).filter(_amount_q("owed_fen", f))
        for r in qs.values("pk", "project_id", "project__name", "unit_id", "unit__code", "owed_fen", "title",
                           "detail", "assigned_to__display_name", "assigned_to__username", "due_on"):
            rows.append(ApprovalRow(
                kind="referral", pk=r["pk"], kind_code="referral", project_id=r["project_id"],
                project_name=r["project__name"], unit_id=r["unit_id"], unit_code=r["unit__code"],
                amount_fen=r["owed_fen"] or 0, reason=r["title"],
                requester=_user_name(None, r["assigned_to__display_name"], r["assigned_to__username"]),
                at=r["due_on"], detail=(r["detail"] or "")[:120]))

    def when(row: ApprovalRow) -> tuple:
        at = row.at
        if isinstance(at, dt.datetime):
            return (at.date(), at.time())
        return (at or dt.date.min, dt.time())

    rows.sort(key=lambda r: (r.section, r.project_name, when(r), r.pk))
    return rows


def models_case_void():
    """The amount a request is about: a void's reissue amount when it has one, else the requested amount."""
    from django.db.models import Case, When

    return Case(When(kind="void", reissue_amount_fen__isnull=False, then=F("reissue_amount_fen")),
                default=F("amount_fen"))


def approval_people(user: User) -> list[tuple[int, str]]:
    """The collectors (and customer service) whose requests and referrals the manager may filter by."""
    return [(u.pk, str(u)) for u in User.objects.filter(role__in=[Role.COLLECTOR, Role.SERVICE], is_active=True)
            .order_by("username")]
