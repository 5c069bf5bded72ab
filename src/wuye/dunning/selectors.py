"""Read queries of the collection engine: a unit's collection state, the "tomorrow" preview, lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from wuye.accounts.models import User
from wuye.accounts.selectors import unit_scope_q
from wuye.dunning import calendar as workcal
from wuye.dunning.choices import AccountClass, Segment
from wuye.dunning.engine import (
    Outcome,
    Rules,
    accounts_for,
    attach_risk,
    decide,
    ladder_of,
    ladders_for,
    segments_for,
    working_day,
)
from wuye.dunning.models import Action, Hold, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint, Party, Unit
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
