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
    decide,
    ladder_of,
    ladders_for,
    segments_for,
    working_day,
)
from wuye.dunning.models import Action, Hold, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint, Unit
from wuye.estate.selectors import liable_party


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


def collection_state(unit: Unit, *, as_of: dt.date) -> CollectionState:
    """One unit's segment, policy, ladder position, holds, what the engine would do today and its actions."""
    project = unit.project
    segment = segments_for(project, as_of, [unit.pk]).get(unit.pk, Segment.RESIDENTIAL)
    ladders = ladders_for(project, as_of)
    ladder = ladder_of(ladders, segment)
    acc = next(iter(accounts_for(project, as_of, [unit.pk], segments={unit.pk: segment})), None)
    rules = Rules.of(project, working_day=working_day(workcal.Calendar(), as_of))
    outcome = decide(acc, ladder, as_of, rules) if acc and ladder else None
    stage = acc.stage if acc else 0
    stage_name = ""
    if ladder and stage:
        stage_name = "、".join(s.name for s in ladder.stages if s.order == stage)
    party = liable_party(unit, as_of)
    reachable = bool(party) and ContactPoint.objects.filter(
        party=party, kind__in=[ContactKind.MOBILE, ContactKind.EMAIL, ContactKind.WECHAT]).exclude(
        validity__in=list(DEAD_VALIDITIES)).exists()
    return CollectionState(
        unit=unit, as_of=as_of, segment=segment, segment_label=Segment(segment).label,
        policy=ladder.policy.name if ladder else "", stage=stage,
        account_class=acc.account_class if acc else "",
        account_class_label=AccountClass(acc.account_class).label if acc and acc.account_class else "", stage_name=stage_name, reachable=reachable,
        holds=list(Hold.objects.filter(unit=unit, released_on__isnull=True).order_by("starts_on")),
        today=outcome,
        actions=list(Action.objects.filter(unit=unit).select_related("step", "assigned_to")
                     .order_by("-decided_on", "-pk")[:200]))


def actions_visible(user: User) -> QuerySet[Action]:
    return Action.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "step", "assigned_to")


def tasks_visible(user: User) -> QuerySet[Task]:
    qs = Task.objects.filter(unit_scope_q(user, "unit__")).select_related("unit", "assigned_to", "action")
    if user.territory_bound:
        qs = qs.filter(Q(assigned_to=user) | Q(assigned_to__isnull=True))
    return qs
