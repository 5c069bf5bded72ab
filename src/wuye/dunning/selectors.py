"""Read queries of the collection engine: a unit's collection state, the "tomorrow" preview, lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, QuerySet

from wuye.accounts.models import User
from wuye.accounts.selectors import unit_scope_q
from wuye.dunning import calendar as workcal
from wuye.dunning.choices import AccountClass, ActionStatus, Segment
from wuye.dunning.engine import (
    Outcome,
    Rules,
    accounts_for,
    attach_risk,
    decide,
    fit_stage,
    ladder_of,
    ladders_for,
    segments_for,
    working_day,
)
from wuye.dunning.models import Action, Episode, HeldAccount, Hold, ProjectDecisionState, Run, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint, Party, Project, Unit
from wuye.estate.selectors import liable_party


@dataclass
class DebtorState:
    """One account of a unit — a debtor and the periods they are liable for — as the engine sees it."""

    party_id: int | None
    party_name: str
    former_owner: bool  # no longer owns the unit (sold): dunned for their own periods at their own contacts
    overdue_fen: int
    overdue_periods: int
    days_overdue: int
    stage: int
    stage_name: str
    account_class: str
    account_class_label: str
    today: Outcome | None
    ladder_done: bool = False


@dataclass
class CollectionState:
    unit: Unit
    as_of: dt.date
    segment: str
    segment_label: str
    policy: str
    stage: int
    stage_name: str
    account_class: str  # 催缴分类 of the open episode ("" when not in arrears or not yet classed)
    account_class_label: str
    reachable: bool  # a live mobile, e-mail or WeChat contact of the liable party
    holds: list[Hold]
    today: Outcome | None
    actions: list[Action] = field(default_factory=list)
    debtors: list[DebtorState] = field(default_factory=list)  # one per account (after a sale, more than one)


def collection_state(unit: Unit, *, as_of: dt.date) -> CollectionState:
    """One unit's segment, policy, ladder position per debtor, holds, what the engine would do today and its
    actions. The top-level stage, class and decision are those of the owner liable today when they owe,
    else of the first debtor."""
    project = unit.project
    segment = segments_for(project, as_of, [unit.pk]).get(unit.pk, Segment.RESIDENTIAL)
    ladders = ladders_for(project, as_of)
    ladder = ladder_of(ladders, segment)
    rules = Rules.of(project, working_day=working_day(workcal.Calendar(), as_of))
    party = liable_party(unit, as_of)
    accounts = list(accounts_for(project, as_of, [unit.pk], segments={unit.pk: segment}))
    accounts.sort(key=lambda a: (a.party_id != (party.pk if party else None), a.party_id or 0))
    attach_risk(accounts, ladders.values())
    names = dict(Party.objects.filter(pk__in=[a.party_id for a in accounts if a.party_id]).values_list("pk", "name"))
    debtors = []
    for acc in accounts:
        fit_stage(acc, ladder)
        outcome = decide(acc, ladder, as_of, rules) if ladder else None
        debtors.append(DebtorState(
            party_id=acc.party_id, party_name=names.get(acc.party_id, ""),
            former_owner=party is not None and acc.party_id != party.pk, overdue_fen=acc.summary.overdue_fen,
            overdue_periods=acc.summary.overdue_periods, days_overdue=acc.summary.days_overdue, stage=acc.stage,
            stage_name="、".join(st.name for st in ladder.stages if st.order == acc.stage) if ladder else "",
            account_class=acc.account_class,
            account_class_label=AccountClass(acc.account_class).label if acc.account_class else "",
            today=outcome, ladder_done=bool(outcome and outcome.ladder_done)))
    first = debtors[0] if debtors else None
    reachable = bool(party) and ContactPoint.objects.filter(
        party=party, kind__in=[ContactKind.MOBILE, ContactKind.EMAIL, ContactKind.WECHAT]).exclude(
        validity__in=list(DEAD_VALIDITIES)).exists()
    return CollectionState(
        unit=unit, as_of=as_of, segment=segment, segment_label=Segment(segment).label,
        policy=ladder.policy.name if ladder else "", stage=first.stage if first else 0,
        account_class=first.account_class if first else "",
        account_class_label=first.account_class_label if first else "",
        stage_name=first.stage_name if first else "", reachable=reachable,
        holds=list(Hold.objects.filter(unit=unit, released_on__isnull=True).order_by("starts_on")),
        today=first.today if first else None,
        actions=list(Action.objects.filter(unit=unit).select_related("step", "assigned_to")
                     .order_by("-decided_on", "-pk")[:200]),
        debtors=debtors)


def actions_visible(user: User) -> QuerySet[Action]:
    return Action.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "step", "assigned_to")


def tasks_visible(user: User) -> QuerySet[Task]:
    qs = Task.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "assigned_to", "action")
    if user.territory_bound:
        qs = qs.filter(Q(assigned_to=user) | Q(assigned_to__isnull=True))
    return qs


@dataclass
class ProjectFigures:
    """A project's collection as the last daily run left it (stored figures, nothing re-decided)."""

    project: Project
    last_run_on: dt.date | None  # the business date of the last run that covered the project
    in_arrears: int  # accounts in arrears now: open 欠费周期 (one per unit and debtor)
    actions: int  # actions the last run decided
    waiting: int  # of those, not sent yet (pending or being sent)
    held: int  # accounts the last run held (promise, dispute, plan …)


def project_figures(user: User, projects: list[Project]) -> list[ProjectFigures]:
    """The collection overview's figures for every project in ``projects`` (``overview_figures`` without the
    day's outbox)."""
    return overview_figures(user, projects)[0]


def overview_figures(user: User, projects: list[Project], *, today: dt.date | None = None,
                     ) -> tuple[list[ProjectFigures], dict[str, int]]:
    """The collection overview's figures for every project in ``projects``, read from what the daily runs
    stored (their 暂停记录, the open 欠费周期 and the actions of the last run date), within ``user``'s scope —
    and, with ``today``, the count by status of every action decided that day in ``user``'s scope (the day's
    outbox). Five grouped queries whatever the number of projects; no dry run (decision 101). The actions of
    the projects' last run days and the day's outbox are counted in one pass over the action index
    ``action_by_day_status_project``: on the day of a run they are the same rows, read twice before
    (decision 197)."""
    ids = [p.pk for p in projects]
    scope = unit_scope_q(user, "unit__")
    last: dict[int, dt.date] = {}
    arrears: dict[int, int] = {}
    if ids:
        last = {pid: on for pid, on in ProjectDecisionState.objects.filter(
            project_id__in=ids, last_on__isnull=False).values_list("project_id", "last_on")}
        # runs recorded without the incremental state (and whole-estate runs, which name no project)
        runs = dict(Run.objects.filter(Q(project_id__in=ids) | Q(project__isnull=True)).values("project_id")
                    .annotate(on=Max("run_date")).values_list("project_id", "on"))
        everywhere = runs.pop(None, None)
        for pid in ids:
            known = [d for d in (last.get(pid), runs.get(pid), everywhere) if d is not None]
            if known:
                last[pid] = max(known)
        # COUNT(*): the open episodes from the index (project, closed_on) alone
        arrears = dict(Episode.objects.filter(scope, project_id__in=ids, closed_on__isnull=True).order_by()
                       .values("project_id").annotate(n=Count("*")).values_list("project_id", "n"))
    days = sorted(set(last.values()))
    acted: dict[tuple[int, dt.date], tuple[int, int]] = {}
    held: dict[tuple[int, dt.date], int] = {}
    counts: dict[str, int] = {}
    parts = ([Q(project_id__in=ids, decided_on__in=days)] if days else []) + (
        [Q(decided_on=today)] if today is not None else [])
    if parts:
        wanted = parts[0] if len(parts) == 1 else parts[0] | parts[1]
        waiting = (ActionStatus.PENDING, ActionStatus.SENDING)
        page = set(ids)
        # COUNT(*) grouped by the index's own columns in its order: an index-only read of the days' entries,
        # aggregated as they come (no hash)
        for on, status, pid, n in (Action.objects.filter(scope, wanted).order_by()
                                   .values("decided_on", "status", "project_id").annotate(n=Count("*"))
                                   .values_list("decided_on", "status", "project_id", "n")):
            if on == today:
                counts[status] = counts.get(status, 0) + n
            if pid in page and on == last.get(pid):
                a, w = acted.get((pid, on), (0, 0))
                acted[(pid, on)] = (a + n, w + (n if status in waiting else 0))
    if days:
        for pid, on, n in (HeldAccount.objects.filter(scope, project_id__in=ids, run_date__in=days).order_by()
                           .values("project_id", "run_date").annotate(n=Count("*"))
                           .values_list("project_id", "run_date", "n")):
            held[(pid, on)] = n
    out = []
    for p in projects:
        on = last.get(p.pk)
        n, w = acted.get((p.pk, on), (0, 0))
        out.append(ProjectFigures(project=p, last_run_on=on, in_arrears=arrears.get(p.pk, 0), actions=n,
                                  waiting=w, held=held.get((p.pk, on), 0)))
    return out, counts
