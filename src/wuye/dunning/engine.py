"""The daily run: for every account, decide what happens today and write it to the outbox.

Inputs are read set-based, once per project: billing's account summaries (a fixed number of grouped
queries), each unit's segment, open arrears episodes with the steps already taken in them, holds, disputed
lines, territories. ``decide`` is then a pure function per account (no database access), so the same code
serves the run, the dry run, the "tomorrow" page and the API.

Idempotency: each action has the unique key (unit, step, cycle) and a deterministic ``out_id``; inserts
skip keys that exist. The run commits per chunk of accounts, so a crash leaves whole chunks; a re-run sees
the same inputs and the actions already written, and ends with exactly the outbox of one clean run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, lru_cache, partial
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.module_loading import import_string

from wuye.accounts.choices import Role
from wuye.accounts.models import Territory, User
from wuye.billing.models import Allocation, Bill, UnitBalance
from wuye.billing.selectors import AccountSummary, account_summaries
from wuye.common.bulk import Analyzer, Shape, insert_rows_ignore_conflicts, insert_shaped
from wuye.common.lookups import Ids, int_array
from wuye.common.memory import collector_paused
from wuye.dunning import calendar as workcal
from wuye.dunning import cycles
from wuye.dunning.choices import (
    MESSAGE_CHANNELS,
    NEVER_SENT,
    PERSON_CHANNELS,
    WRITTEN_DEMAND_CHANNELS,
    AccountClass,
    ActionStatus,
    Assignee,
    Channel,
    Event,
    HoldKind,
    HoldReason,
    Segment,
    StepKind,
    TaskStatus,
)
from wuye.dunning.models import (
    Action,
    ActionEvent,
    CollectionSettings,
    DecisionState,
    Episode,
    HeldAccount,
    Hold,
    MessageTemplate,
    Policy,
    ProjectDecisionState,
    Run,
    SegmentOverride,
    Step,
    Task,
)
from wuye.dunning.signals import promises_broken
from wuye.estate.choices import OccupancyState, OccupantRole, ProjectKind, PropertyType
from wuye.estate.models import Occupancy, Project, Unit
from wuye.estate.selectors import current_occupancy_q

CHUNK = 20_000
JOB_LABEL = "job:dunning_run"


# --- inputs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HoldInfo:
    id: int
    kind: str
    starts_on: dt.date
    until: dt.date | None
    outcome: str
    reason: str
    party_id: int | None = None  # None: the whole unit

    def applies_to(self, party_id: int | None) -> bool:
        return self.party_id is None or party_id is None or self.party_id == party_id


@dataclass(frozen=True)
class Demand:
    """A written demand (a notice signed for, a registered letter delivered) that reached the debtor: the
    periods it named and the last day it gave to pay."""

    periods: frozenset[str]  # first days of the billing periods, ISO
    deadline: dt.date | None
    delivered_on: dt.date


@dataclass
class Account:
    """Everything ``decide`` needs about one account: a unit and the debtor liable for its open lines
    (after a sale the seller's periods and the buyer's are two accounts)."""

    summary: AccountSummary
    segment: str
    episode_id: int | None = None  # the open arrears episode of this debtor
    episode_opened: dt.date | None = None  # the day it opened (it names the episode in cycle keys)
    ladder_done_on: dt.date | None = None  # the run found the ladder ended (recorded on the episode)
    account_class: str = ""  # 催缴分类 of the open episode, set by casework
    fired: dict[int, dt.date] = field(default_factory=dict)  # step id → last decided in this episode
    stage: int = 0  # highest ladder stage reached in this episode (stages only: never events or repeats)
    stage_on: dt.date | None = None
    stage_step: int | None = None  # the step of that stage (of the ladder in force then: see ``fit_stage``)
    stage_channels: frozenset[str] = frozenset()  # channels of every stage reached in this episode
    last_message_on: dt.date | None = None  # last arrears message decided (``cycles.counts_towards_message_cap``)
    holds: list[HoldInfo] = field(default_factory=list)
    disputed: bool = False
    opted_out: bool = False  # the owner declined non-essential messages (pre-due reminders by message)
    demands: list[Demand] = field(default_factory=list)  # written demands that reached this debtor
    open_periods: frozenset[str] = frozenset()  # overdue periods still open (read when ``demands`` is not empty)
    written_waiting: dt.date | None = None  # a written demand issued and not yet delivered (or its deadline)
    signer_failed: bool = False  # office: a notice could not be handed to anyone (no signer reached)
    prepaid_out_due: dt.date | None = None  # the bill on which prepaid money ran out (``prepaid_run_outs``)
    expiring: tuple[str, ...] = ()  # periods whose limitation period ends soon (the legal module's reader)
    risk: float | None = None  # 预警分 of the unit (``attach_risk``; only read when a step of its ladder uses it)

    @property
    def unit_id(self) -> int:
        return self.summary.unit_id

    @property
    def party_id(self) -> int | None:
        return self.summary.party_id

    @property
    def key(self) -> tuple[int, int | None]:
        return (self.summary.unit_id, self.summary.party_id)

    @property
    def episode(self) -> cycles.Episode | None:
        if self.episode_opened is None:
            return None
        return cycles.Episode(self.episode_opened, self.summary.party_id)

    @property
    def episode_cycle(self) -> str | None:
        """The key of the episode's ladder stages (``A<opened>/p<debtor>``)."""
        return cycles.stage(self.episode) if self.episode is not None else None


@dataclass(frozen=True)
class Decision:
    unit_id: int
    step: Step
    cycle: str
    not_before: dt.date
    why: str
    superseded: str = ""  # written as already cancelled, with this reason (keeps the key, sends nothing)
    party_id: int | None = None
    periods: tuple[str, ...] = ()  # what a referral refers (the periods a delivered demand covered)


@dataclass
class Outcome:
    unit_id: int
    decisions: list[Decision] = field(default_factory=list)
    held: tuple[str, str] | None = None  # (HoldReason, detail)
    broken_promises: list[int] = field(default_factory=list)  # hold ids whose date passed unpaid
    note: str = ""
    party_id: int | None = None
    ladder_done: bool = False  # every stage of the ladder has been issued: a manager decides what next


@dataclass
class Ladder:
    """A policy's steps split by role (built once per policy)."""

    policy: Policy
    pre_due: list[Step]
    stages: list[Step]  # non-repeating OVERDUE / AFTER_PREVIOUS, by order
    repeating: list[Step]
    events: dict[str, list[Step]]

    @classmethod
    def of(cls, policy: Policy, steps: Iterable[Step]) -> Ladder:
        steps = sorted((s for s in steps if s.active), key=lambda s: (s.order, s.pk or 0))
        events: dict[str, list[Step]] = defaultdict(list)
        for s in steps:
            if s.kind == StepKind.EVENT:
                events[s.event].append(s)
        return cls(
            policy=policy,
            pre_due=sorted((s for s in steps if s.kind == StepKind.PRE_DUE), key=lambda s: s.days or 0),
            stages=[s for s in steps if s.kind in (StepKind.OVERDUE, StepKind.AFTER_PREVIOUS) and not s.repeating],
            repeating=[s for s in steps if s.kind == StepKind.OVERDUE and s.repeating],
            events=dict(events),
        )

    # offsets ``next_decision`` adds to an account's dates, computed once per ladder (not once per account)
    @cached_property
    def pre_due_offsets(self) -> tuple[dt.timedelta, ...]:
        return tuple(dt.timedelta(days=st.days) for st in self.pre_due if st.days is not None)

    @cached_property
    def overdue_offsets(self) -> tuple[dt.timedelta, ...]:
        out = []
        for st in (*self.stages, *self.repeating):
            if st.days is not None:
                out.append(dt.timedelta(days=st.days))
            if st.months is not None:
                out.append(dt.timedelta(days=30 * st.months))
        return tuple(out)

    @cached_property
    def after_previous_gaps(self) -> tuple[dt.timedelta, ...]:
        return tuple(dt.timedelta(days=max(st.days or 0, 1)) for st in self.stages
                     if st.kind == StepKind.AFTER_PREVIOUS)

    @cached_property
    def step_ids(self) -> frozenset[int]:
        return frozenset(st.id for st in (*self.pre_due, *self.stages, *self.repeating,
                                          *(e for evs in self.events.values() for e in evs)))

    def last_stage_order(self, account_class: str) -> int:
        """The highest order among the stages for an account of ``account_class`` (0 without any)."""
        cache = self.__dict__.setdefault("_last_stage", {})
        if account_class not in cache:
            cache[account_class] = max((st.order for st in self.stages
                                        if not st.account_class or st.account_class == account_class), default=0)
        return cache[account_class]

    def written_demand_below(self, order: int, account_class: str = "") -> Step | None:
        """The written demand (notice or registered letter) a referral at ``order`` rests on: the highest
        such stage below it (for the account's class, when the stage is limited to one)."""
        found = None
        for st in self.stages:
            if st.order >= order:
                break
            if st.channel in WRITTEN_DEMAND_CHANNELS and (not st.account_class or st.account_class == account_class):
                found = st
        return found


@dataclass(frozen=True)
class Rules:
    """Per-project numbers the decision uses."""

    message_min_days: int = 14
    working_day: bool = True  # the run's date is a working day (repeating calls and visits wait for one)

    @classmethod
    def of(cls, project: Project, *, working_day: bool = True) -> Rules:
        row = CollectionSettings.objects.filter(project=project).first()
        return cls(message_min_days=row.arrears_message_min_days if row else cls.message_min_days,
                   working_day=working_day)


# --- the decision (pure) -----------------------------------------------------------------------------------

def months_overdue(s: AccountSummary) -> int:
    """Age of the oldest unpaid debt in whole months (30-day months)."""
    return s.days_overdue // 30


def threshold_met(step: Step, s: AccountSummary) -> bool:
    if s.overdue_fen < step.min_amount_fen:
        return False
    return ((step.days is not None and s.days_overdue >= step.days)
            or (step.months is not None and months_overdue(s) >= step.months)
            or (step.amount_fen is not None and s.overdue_fen >= step.amount_fen))


def _month_edge(day: dt.date, allowance: int) -> dt.date:
    """``day`` if it is at a month's start (1–5) or end (25+); else the first such day within
    ``allowance`` days, when there is one (people have money then)."""
    if allowance <= 0 or day.day <= 5 or day.day >= 25:
        return day
    for n in range(1, allowance + 1):
        d = day + dt.timedelta(days=n)
        if d.day >= 25 or d.day <= 5:
            return d
    return day


def active_hold(acc: Account, as_of: dt.date) -> tuple[str, str] | None:
    """Why the ladder must not move today, if it must not (holds of the whole unit or of this debtor)."""
    holds = [h for h in acc.holds if h.applies_to(acc.party_id)]
    for h in holds:
        if h.kind == HoldKind.MANUAL and h.starts_on <= as_of and (h.until is None or as_of <= h.until):
            return HoldReason.MANUAL, h.reason + (f"（至 {h.until}）" if h.until else "")
    if acc.disputed or any(h.kind == HoldKind.DISPUTE and h.starts_on <= as_of for h in holds):
        return HoldReason.DISPUTE, "存在未解决的争议"
    for h in holds:
        if h.kind == HoldKind.PROMISE and h.until and h.starts_on <= as_of <= h.until:
            return HoldReason.PROMISE, f"业主承诺 {h.until} 缴费"
    if acc.summary.installment == "good":
        return HoldReason.INSTALLMENT, "分期计划履行中"
    return None


def covered_periods(acc: Account, as_of: dt.date) -> tuple[str, ...]:
    """The account's overdue periods that a delivered written demand named and whose deadline has passed:
    what a referral may rest on (民法典 944(2): a documented demand with a reasonable time to pay)."""
    named: set[str] = set()
    for d in acc.demands:
        if d.deadline is None or d.deadline < as_of:
            named |= d.periods
    return tuple(sorted(acc.open_periods & named))


def decide(acc: Account, ladder: Ladder, as_of: dt.date, rules: Rules) -> Outcome:
    s = acc.summary
    out = Outcome(unit_id=s.unit_id, party_id=s.party_id)

    def add(step: Step, cycle: str, why: str, when: dt.date | None = None, periods: tuple[str, ...] = ()) -> None:
        out.decisions.append(Decision(s.unit_id, step, cycle, when or as_of, why, party_id=s.party_id,
                                      periods=periods))

    # 1. before the due date: the prepaid money ran out, else a pre-due reminder of the next bill (never held:
    #    a dispute does not stop the reminders of new bills)
    if acc.prepaid_out_due and as_of <= acc.prepaid_out_due:
        for st in ladder.events.get(Event.PREPAID_OUT, []):
            if acc.opted_out and st.channel in MESSAGE_CHANNELS:
                out.note = "业主已选择不接收到期前提醒"  # it is a reminder before a due date like the others
                continue
            add(st, cycles.prepaid_out(acc.prepaid_out_due, s.party_id),
                f"预存款已用完，{acc.prepaid_out_due} 到期的费用尚未缴清")
    if s.next_due and s.upcoming_fen > 0 and not out.decisions and not out.note:
        due = [st for st in ladder.pre_due
               if st.days is not None and s.next_due + dt.timedelta(days=st.days) <= as_of < s.next_due
               and s.upcoming_fen >= st.min_amount_fen]
        plain = [st for st in due if not st.min_risk_pct]
        if plain and acc.opted_out and plain[-1].channel in MESSAGE_CHANNELS:
            out.note = "业主已选择不接收到期前提醒"
        elif plain:
            st = plain[-1]  # the one closest to the due date; earlier ones not yet sent are skipped
            add(st, cycles.pre_due(s.next_due, s.party_id), f"{s.next_due} 到期前 {-(st.days or 0)} 天")
        _pre_due_for_risk(acc, [st for st in due if st.min_risk_pct], as_of, add)

    if s.overdue_fen <= 0 or acc.episode is None:
        if not out.decisions and not out.note:
            out.note = "无逾期欠费"
        return out
    episode = acc.episode

    # 2. events that act even while the ladder is held
    for h in acc.holds:
        if h.kind == HoldKind.PROMISE and h.until and not h.outcome and h.applies_to(s.party_id):
            if as_of == h.until - dt.timedelta(days=1):
                for st in ladder.events.get(Event.PROMISE_DUE, []):
                    add(st, cycles.promise_eve(h.id), f"承诺 {h.until} 缴费，前一天提醒")
            elif as_of > h.until:
                out.broken_promises.append(h.id)
                for st in ladder.events.get(Event.PROMISE_BROKEN, []):
                    add(st, cycles.promise_broken(h.id), f"承诺 {h.until} 缴费未兑现")

    held = active_hold(acc, as_of)
    # 时效保全: periods about to become time-barred get an itemised written demand naming them, even while a
    # dispute or a manual hold stops the ladder (a promise or an installment plan interrupts the clock itself)
    if acc.expiring and acc.written_waiting is None and (
            held is None or held[0] not in (HoldReason.PROMISE, HoldReason.INSTALLMENT)):
        for st in ladder.events.get(Event.LIMITATION, []):
            add(st, cycles.limitation(episode, as_of), f"{len(acc.expiring)} 期将超过诉讼时效，逐期书面催告",
                periods=acc.expiring)
    if held:
        out.held = held
        return out

    if s.installment == "broken":
        for st in ladder.events.get(Event.INSTALLMENT_MISSED, []):
            add(st, cycles.installment(episode), "分期计划未按期履行")
    if acc.signer_failed:
        for st in ladder.events.get(Event.SIGNER_UNREACHABLE, []):
            add(st, cycles.signer(episode), "书面通知无人签收：改用 EMS 寄送至联系地址")

    # 3. the ladder: the highest satisfied stage above the one reached; a referral only on a written demand
    #    that reached the debtor, named the periods and whose deadline has passed — else that demand first
    satisfied = []
    previous_order = 0
    for st in ladder.stages:
        if st.order <= acc.stage:
            previous_order = st.order
            continue
        if st.account_class and st.account_class != acc.account_class:
            ok = False
        elif st.kind == StepKind.AFTER_PREVIOUS:
            ok = (acc.stage == previous_order and acc.stage_on is not None and st.days is not None
                  and (as_of - acc.stage_on).days >= max(st.days, 1) and s.overdue_fen >= st.min_amount_fen)
        else:
            ok = threshold_met(st, s)
        if ok:
            satisfied.append(st)
        previous_order = st.order
    if satisfied:
        top = max(st.order for st in satisfied)
        stage_steps = [st for st in satisfied if st.order == top]
        why = f"逾期 {s.days_overdue} 天、{s.overdue_periods} 期、欠费 {s.overdue_fen // 100}.{s.overdue_fen % 100:02d} 元"
        if any(st.channel == Channel.REFERRAL for st in stage_steps):
            periods = covered_periods(acc, as_of)
            if periods:
                for st in stage_steps:
                    add(st, cycles.stage(episode), why, periods=periods if st.channel == Channel.REFERRAL else ())
            else:
                _demand_first(acc, ladder, top, as_of, rules, add, out)
        else:
            for st in stage_steps:
                if not _away_visit(st, acc):
                    add(st, cycles.stage(episode), why)

    # 4. repeating steps beside the ladder
    stage_channels = {d.step.channel for d in out.decisions if cycles.kind_of(d.cycle) in cycles.EPISODE_KINDS}
    for st in ladder.repeating:
        if st.channel in stage_channels or not threshold_met(st, s) or _away_visit(st, acc) or (
                st.account_class and st.account_class != acc.account_class):
            continue
        if st.channel in PERSON_CHANNELS and not rules.working_day:
            continue  # a repeat call or visit is decided on the next working day, not queued beside it
        last = acc.fired.get(st.id)
        if last is None or (as_of - last).days >= (st.repeat_days or 1):
            add(st, cycles.repeat(episode, as_of), f"每 {st.repeat_days} 天重复")
            stage_channels.add(st.channel)

    # 5. the arrears-message cap (one definition: cycles.counts_towards_message_cap) and month edges
    last_msg = acc.last_message_on
    kept = []
    message_today = False  # an arrears message kept for today
    for d in out.decisions:
        if cycles.counts_towards_message_cap(d.cycle, d.step.channel):
            if last_msg and (as_of - last_msg).days < rules.message_min_days:
                if d.step.repeating:
                    continue  # the cap: no arrears message more often than every N days
                d = replace(d, not_before=last_msg + dt.timedelta(days=rules.message_min_days),
                            why=d.why + f"（距上条欠费消息不足 {rules.message_min_days} 天，顺延）")
            last_msg = d.not_before
            if d.step.prefer_month_edge_days:
                d = replace(d, not_before=_month_edge(d.not_before, d.step.prefer_month_edge_days))
            message_today = message_today or d.not_before == as_of
        kept.append(d)
    # one message a day: an arrears message carries the total, so a reminder before the due date (or the
    # prepaid notice) decided for the same day is merged into it
    if message_today:
        kept = [replace(d, superseded="已并入当天的欠费提醒")
                if cycles.kind_of(d.cycle) in (cycles.Kind.PRE_DUE, cycles.Kind.PREPAID_OUT)
                and d.step.channel in MESSAGE_CHANNELS else d for d in kept]
    out.decisions = kept
    if not any(cycles.kind_of(d.cycle) in cycles.EPISODE_KINDS for d in out.decisions) and not out.note:
        nxt = next((st for st in ladder.stages if st.order > acc.stage
                    and (not st.account_class or st.account_class == acc.account_class)), None)
        if nxt is not None:
            out.note = f"已到第 {acc.stage} 阶段，下一步：{nxt.name}" if acc.stage else f"下一步：{nxt.name}"
        else:
            out.ladder_done = True
            last = next((st.name for st in reversed(ladder.stages) if st.order == acc.stage), "")
            out.note = (f"催缴步骤已全部执行（最后一步：{last or '无'}），请经理决定：分期、减免、"
                        "转介律师或继续跟进")
    return out


def _pre_due_for_risk(acc: Account, due: list[Step], as_of: dt.date, add) -> None:
    """到期前提醒 limited to high-risk accounts (``Step.min_risk_pct``, e.g. an early call): besides the
    ordinary reminders, the one closest to the due date whose threshold the unit's latest 预警分 reaches —
    unless a hold, a dispute or a running instalment plan stops the ladder, or (for a message) the owner
    declined reminders. No score (not scored, or ``WUYE_RISK_SCORES`` off): not high risk. The score is a
    staff aid (decision 88): it only adds a contact before the due date, never withholds anything."""
    if acc.risk is None:
        return
    due = [st for st in due if acc.risk * 100 >= st.min_risk_pct
           and not (acc.opted_out and st.channel in MESSAGE_CHANNELS)]
    if not due or active_hold(acc, as_of) is not None:
        return
    st, s = due[-1], acc.summary
    add(st, cycles.pre_due(s.next_due, s.party_id),
        f"{s.next_due} 到期前 {-(st.days or 0)} 天；预警风险 {acc.risk * 100:.0f}%（本步骤 ≥ {st.min_risk_pct}%）")


def _demand_first(acc: Account, ladder: Ladder, referral_order: int, as_of: dt.date, rules: Rules, add,
                  out: Outcome) -> None:
    """A referral is due but no delivered written demand covers the periods: issue that demand (or wait
    for the one already on its way, or for its deadline)."""
    if acc.written_waiting is not None and as_of <= acc.written_waiting:
        out.note = f"转介律师前须书面催告送达且期限届满：等待至 {acc.written_waiting}"
        return
    step = ladder.written_demand_below(referral_order, acc.account_class)
    if step is None:
        out.note = "已达转介条件，但本策略没有书面催告（书面通知/挂号信）步骤：请经理在策略中添加后再转介"
        return
    if acc.stage < step.order:
        add(step, cycles.stage(acc.episode), f"转介律师前先书面催告（逾期 {acc.summary.days_overdue} 天）")
    else:
        add(step, cycles.demand(acc.episode, as_of),
            "转介律师前须有送达的书面催告：此前的催告未送达或未列明现欠账期，重新催告")


# --- the next decision date (pure) -------------------------------------------------------------------------

ONE_DAY = dt.timedelta(days=1)


def fit_stage(acc: Account, ladder: Ladder | None) -> Account:
    """The stage reached, read in the ladder in force (decision 115). Orders mean different rungs in different
    ladders (the year-end ladder's 30 is a visit, the standard one's a registered letter), so when the highest
    stage reached was a step of another ladder — a dated ladder started or ended, the segment changed — the
    stage reached here is the highest of this ladder's stages on a channel the episode has already been
    through: a visit does not stand for a letter, a letter stands for a letter. Changes ``acc`` in place."""
    if ladder is not None and acc.stage and acc.stage_step is not None and acc.stage_step not in ladder.step_ids:
        acc.stage = max((st.order for st in ladder.stages if st.channel in acc.stage_channels), default=0)
    return acc


def after_today(acc: Account, out: Outcome, as_of: dt.date) -> Account:
    """The account as tomorrow's run will read it if nothing is written meanwhile: today's decisions added
    to what its episode has done (the steps fired, the stage reached, the last arrears message, a written
    demand on its way), broken promises released, a new episode opened."""
    fired = dict(acc.fired)
    stage, stage_on, stage_step, channels = acc.stage, acc.stage_on, acc.stage_step, acc.stage_channels
    last_msg, waiting = acc.last_message_on, acc.written_waiting
    for d in out.decisions:
        kind = cycles.kind_of(d.cycle)
        if kind in cycles.EPISODE_KINDS:
            fired[d.step.id] = as_of
            if kind == cycles.Kind.STAGE:
                channels = channels | {d.step.channel}
                if d.step.order > stage:
                    stage, stage_on, stage_step = d.step.order, as_of, d.step.id
        if d.superseded:
            continue  # written as cancelled: it reaches no one
        if cycles.counts_towards_message_cap(d.cycle, d.step.channel):
            last_msg = max(d.not_before, last_msg) if last_msg else d.not_before
        if d.step.channel in WRITTEN_DEMAND_CHANNELS:
            until = as_of + dt.timedelta(days=DEMAND_WAIT_DAYS)
            waiting = max(until, waiting) if waiting else until
    holds = [h for h in acc.holds if h.id not in out.broken_promises] if out.broken_promises else acc.holds
    opened = acc.episode_opened
    if opened is None and acc.summary.overdue_fen > 0:
        opened = as_of
    # ``dataclasses.replace`` re-runs __init__ with every field (10 µs an account, a second a day at 1M)
    tomorrow = object.__new__(Account)
    tomorrow.__dict__.update(acc.__dict__, fired=fired, stage=stage, stage_on=stage_on, stage_step=stage_step,
                             stage_channels=channels, last_message_on=last_msg,
                             written_waiting=waiting, holds=holds, episode_opened=opened)
    return tomorrow


def next_decision(acc: Account, ladder: Ladder | None, as_of: dt.date, rules: Rules,
                  out: Outcome | None) -> dt.date | None:
    """The first day after ``as_of`` on which ``decide`` could do anything other than repeat today's answer
    for this account, if nothing is written meanwhile (writes mark the account instead) — or None when only
    a write can change it. Every date the decision compares ``as_of`` with is a candidate, taken from the
    account as tomorrow's run reads it (``after_today``); a candidate too early only costs a decision.
    Accounts that are held (one ``HeldAccount`` row a day), under an installment plan, near a limitation
    deadline or whose promise date has passed are decided every day."""
    s = acc.summary
    tomorrow = as_of + ONE_DAY
    if out is not None and (out.held or out.broken_promises):
        return tomorrow
    if s.installment is not None or acc.expiring:
        return tomorrow
    if out is not None:
        acc = after_today(acc, out, as_of)
    found: list[dt.date] = []
    if s.next_due:
        found += [s.next_due, s.next_due + ONE_DAY]  # the reminders stop; the line falls due
        if ladder is not None:
            found += [s.next_due + off for off in ladder.pre_due_offsets]
    if acc.prepaid_out_due:
        found.append(acc.prepaid_out_due + ONE_DAY)
    elif s.next_due and s.overdue_fen <= 0:
        found.append(s.next_due - PREPAID_OUT_WINDOW)  # a bill billed long ahead enters the run-out window
    if s.overdue_fen > 0 and ladder is not None:
        party = s.party_id
        for h in acc.holds:
            if not h.applies_to(party):
                continue
            found.append(h.starts_on)
            if h.until and h.until < dt.date.max:  # (hold_place bounds the end; an older row of 9999 holds for good)
                found += [h.until - ONE_DAY, h.until, h.until + ONE_DAY]
            if h.kind == HoldKind.PROMISE and h.until and as_of > h.until and not h.outcome:
                return tomorrow  # a broken promise not yet settled
        if s.oldest_due:
            oldest = s.oldest_due
            found += [oldest + off for off in ladder.overdue_offsets]
        if acc.stage_on is not None:
            found += [acc.stage_on + gap for gap in ladder.after_previous_gaps]
        if acc.written_waiting is not None:
            found.append(acc.written_waiting + ONE_DAY)
        done = acc.ladder_done_on or (as_of if out is not None and out.ladder_done else None)
        if done is None and ladder.last_stage_order(acc.account_class) <= acc.stage:
            found.append(tomorrow)  # the last stage is reached: the first day without a decision records it
        found += [d.deadline + ONE_DAY for d in acc.demands if d.deadline is not None]
        for st in ladder.repeating:
            if (st.account_class and st.account_class != acc.account_class) or _away_visit(st, acc):
                continue
            last = acc.fired.get(st.id)
            due = last + dt.timedelta(days=st.repeat_days or 1) if last else None
            if due is not None and due > as_of:
                found.append(due)
            elif threshold_met(st, s):
                # due now but not decided today (the message cap, a day off, a stage on its channel)
                cap_ends = (acc.last_message_on + dt.timedelta(days=rules.message_min_days)
                            if acc.last_message_on and st.channel in MESSAGE_CHANNELS else None)
                found.append(max(cap_ends, tomorrow) if cap_ends else tomorrow)
    later = [d for d in found if d > as_of]
    return min(later) if later else None


# --- reading the inputs set-based --------------------------------------------------------------------------

def payer_flags(as_of: dt.date, project: Project | None = None,
                unit_ids: Iterable[int] | None = None) -> dict[int, tuple[bool, bool]]:
    """unit → (lives elsewhere, investor) of its liable owner, for the units whose owner in force carries
    either flag (one query; only units with a flagged owner are read, not every occupancy). Without
    ``project`` it answers for the whole estate at once (the daily run reads it once)."""
    in_force = Occupancy.objects.filter(current_occupancy_q(as_of), role=OccupantRole.OWNER)
    if project is not None:
        in_force = in_force.filter(unit__project=project)
    if unit_ids is not None:
        # the units asked for: their owners in force in one pass (a second pass over the owners to find the
        # flagged units first costs more than reading every one of them)
        in_force = in_force.filter(unit_id__in_ids=Ids(unit_ids))
        out: dict[int, tuple[bool, bool]] = {}
        for uid, elsewhere, investor in (in_force.order_by("start", "id")
                                         .values_list("unit_id", "party__lives_elsewhere", "party__is_investor")
                                         .iterator(chunk_size=50_000)):
            out[uid] = (elsewhere, investor)
        return {uid: flags for uid, flags in out.items() if flags[0] or flags[1]}
    flagged_units = in_force.filter(Q(party__lives_elsewhere=True) | Q(party__is_investor=True)).values("unit_id")
    out = {}
    # the liable owner is the one in force that started last (as billing's liable_parties): later rows win
    for uid, elsewhere, investor in (in_force.filter(unit_id__in=flagged_units).order_by("start", "id")
                                     .values_list("unit_id", "party__lives_elsewhere", "party__is_investor")
                                     .iterator(chunk_size=50_000)):
        out[uid] = (elsewhere, investor)
    return out


def segments_for(project: Project, as_of: dt.date, unit_ids: Iterable[int] | None = None,
                 flags: dict[int, tuple[bool, bool]] | None = None) -> dict[int, str]:
    """unit → segment: an override if set, else from the unit and its liable owner (three queries).
    ``flags`` (``payer_flags`` of the whole estate) may be read once for a whole run."""
    units = Unit.objects.filter(project=project)
    if unit_ids is not None:
        unit_ids = list(unit_ids)
        units = units.filter(pk__in=unit_ids)
    if flags is None:
        flags = payer_flags(as_of, project, unit_ids)
    overrides = dict(SegmentOverride.objects.filter(unit__project=project).values_list("unit_id", "segment"))
    office = project.kind == ProjectKind.OFFICE
    out = {}
    for uid, ptype, state in units.values_list("pk", "property_type", "state").iterator(chunk_size=20_000):
        seg = overrides.get(uid)
        out[uid] = seg if seg is not None else _segment(office, ptype, state, flags.get(uid, (False, False)))
    return out


def _segment(office: bool, ptype: str, state: str, flags: tuple[bool, bool]) -> str:
    """A unit's segment from its project, type, state and its liable owner's flags (no override)."""
    elsewhere, investor = flags
    if office or ptype == PropertyType.OFFICE:
        return Segment.OFFICE
    if ptype in (PropertyType.SHOP, PropertyType.VILLA, PropertyType.TOWNHOUSE):
        return Segment.SHOP_VILLA
    if state in (OccupancyState.VACANT, OccupancyState.DECORATING) or investor:
        return Segment.VACANT
    if elsewhere:
        return Segment.ELSEWHERE
    return Segment.RESIDENTIAL


def segments_many(kinds: dict[int, str], as_of: dt.date, unit_ids: list[int],
                  flags: dict[int, tuple[bool, bool]]) -> dict[int, str]:
    """``segments_for`` of ``unit_ids`` across projects (``kinds``: project → its kind): two queries."""
    overrides = dict(SegmentOverride.objects.filter(unit_id__in_ids=Ids(unit_ids)).values_list("unit_id", "segment"))
    out = {}
    for uid, pid, ptype, state in Unit.objects.filter(pk__in_ids=Ids(unit_ids)).values_list(
            "pk", "project_id", "property_type", "state").iterator(chunk_size=20_000):
        seg = overrides.get(uid)
        out[uid] = seg if seg is not None else _segment(kinds.get(pid) == ProjectKind.OFFICE, ptype, state,
                                                        flags.get(uid, (False, False)))
    return out


def ladders_for(project: Project, as_of: dt.date) -> dict[str, Ladder]:
    """segment ('' = default) → ladder in force on ``as_of``; a dated policy wins over an undated one."""
    return _ladders_of(_policies_in_force(as_of).filter(project=project))


def ladders_many(project_ids: list[int], as_of: dt.date) -> dict[int, dict[str, Ladder]]:
    """``ladders_for`` of many projects at once (two queries)."""
    by_project: dict[int, list[Policy]] = defaultdict(list)
    for p in _policies_in_force(as_of).filter(project_id__in=project_ids):
        by_project[p.project_id].append(p)
    return {pid: _ladders_of(policies) for pid, policies in by_project.items()}


def _policies_in_force(as_of: dt.date):
    return (Policy.objects.filter(active=True)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=as_of))
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=as_of))
            .prefetch_related("steps"))  # the engine reads no template: their texts are the dispatcher's


def _ladders_of(policies: Iterable[Policy]) -> dict[str, Ladder]:
    chosen: dict[str, Policy] = {}
    for p in sorted(policies, key=lambda p: (p.valid_from is not None, p.pk)):
        chosen[p.segment] = p  # later (dated) ones overwrite
    # a dated campaign policy without a segment applies to every segment
    campaign = [p for p in chosen.values() if p.valid_from is not None and not p.segment]
    if campaign:
        chosen = {seg: p for seg, p in chosen.items() if p.valid_from is not None}
        chosen[""] = campaign[0]
    return {seg: Ladder.of(p, p.steps.all()) for seg, p in chosen.items()}


def ladder_of(ladders: dict[str, Ladder], segment: str) -> Ladder | None:
    return ladders.get(segment) or ladders.get("")


def _open_episodes(project: Project | None,
                   unit_ids: list[int] | None) -> dict[tuple[int, int | None], tuple[int, dt.date, str, dt.date | None]]:
    """(unit, debtor) → (episode id, opened on, class, ladder done on) of the open arrears episodes (of one
    project, or of ``unit_ids`` across projects)."""
    qs = Episode.objects.filter(closed_on__isnull=True)
    if project is not None:
        qs = qs.filter(project=project)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids(unit_ids))
    return {(u, party): (pk, opened, klass, done) for pk, u, party, opened, klass, done in
            qs.values_list("pk", "unit_id", "party_id", "opened_on", "account_class", "ladder_done_on")}


@dataclass
class Fired:
    """What the open episodes have done so far, decided before the run's date."""

    steps: dict[int, dict[int, dt.date]] = field(default_factory=lambda: defaultdict(dict))  # episode → step → last
    stage: dict[int, tuple[int, dt.date, int]] = field(default_factory=dict)  # episode → (highest stage, on, step)
    channels: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # episode → stage channels


def _fired(project: Project | None, as_of: dt.date, unit_ids: list[int] | None) -> Fired:
    """The actions of the open episodes decided before ``as_of`` (a decision depends only on the state at the
    start of its day, so a re-run, or a re-run after a crash, decides exactly the same). Only ladder stages
    count as the stage reached (``cycles.is_progress``): events (a promise's eve, a broken promise, a missed
    instalment), repeats and the reminders before a due date never move the ladder. Cancelled stages count:
    a stage reached stays reached (a hold that cancelled its send does not rewind the ladder)."""
    qs = Action.objects.filter(episode__isnull=False, episode__closed_on__isnull=True, decided_on__lt=as_of)
    if project is not None:
        qs = qs.filter(project=project)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids(unit_ids))
    out = Fired()
    stage_kind = cycles.Kind.STAGE
    for episode, step, order, on, cycle, channel in qs.order_by().values_list(
            "episode_id", "step_id", "stage", "decided_on", "cycle", "channel").iterator(chunk_size=50_000):
        steps = out.steps[episode]
        if step not in steps or steps[step] < on:
            steps[step] = on
        if cycles.kind_of(cycle) == stage_kind:
            out.channels[episode].add(channel)
            reached = out.stage.get(episode)
            if reached is None or order > reached[0]:
                out.stage[episode] = (order, on, step)
    return out


def _last_messages(project: Project | None, as_of: dt.date, unit_ids: list[int] | None,
                   days: int, zones: dict[int, str] | None = None) -> dict[tuple[int, int | None], dt.date]:
    """(unit, debtor) → the day of the debtor's last arrears message, for the cap (one definition with the
    dispatcher: ``cycles.counts_towards_message_cap``; per account, not per episode). The day is when it
    reached the owner — the day it was sent, or for one still waiting (a holiday, the cap) the day it is due
    to go — not the day it was decided: otherwise a message held over a holiday puts every later repeat
    behind the dispatcher's cap, each one waiting days with the next already decided. Messages that never
    went out (cancelled, superseded, expired, blocked) and ones that failed (they reached no one) do not
    count. Across projects (``project`` None), ``zones`` gives each project's time zone."""
    slack = DEFER_HORIZON_DAYS  # a message may wait this long for its window after its decision
    qs = Action.objects.filter(channel__in=list(MESSAGE_CHANNELS), decided_on__lt=as_of,
                               decided_on__gte=as_of - dt.timedelta(days=days + slack)).exclude(
        status__in=[*NEVER_SENT, ActionStatus.FAILED])
    if project is not None:
        qs = qs.filter(project=project)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids(unit_ids))
    out: dict[tuple[int, int | None], dt.date] = {}
    default_tz = ZoneInfo(project.timezone or "Asia/Shanghai") if project is not None else ZoneInfo("Asia/Shanghai")
    tzs = {pid: ZoneInfo(name or "Asia/Shanghai") for pid, name in (zones or {}).items()}
    for u, pid, party, on, cycle, channel, sent_at, later, not_before in qs.order_by().values_list(
            "unit_id", "project_id", "party_id", "decided_on", "cycle", "channel", "sent_at", "next_attempt_at",
            "not_before"):
        if not cycles.counts_towards_message_cap(cycle, channel):
            continue
        tz = tzs.get(pid, default_tz)
        if sent_at is not None:
            on = sent_at.astimezone(tz).date()
        else:
            for when in (later, not_before):
                if when is not None:
                    on = max(on, when.astimezone(tz).date())
        key = (u, party)
        if key not in out or out[key] < on:
            out[key] = on
    return out


def _away_visit(st: Step, acc: Account) -> bool:
    """A home visit to an owner the collector classed as away (异地出差) finds nobody: that class's follow-up
    is calls and remote payment (domain.md), so a visit step is not decided for it."""
    return st.channel == Channel.VISIT and acc.account_class == AccountClass.AWAY


DEFER_HORIZON_DAYS = 45

DEMAND_WAIT_DAYS = 30  # a written demand still not delivered this long after its decision is issued again


@dataclass
class WrittenDemands:
    """Per (unit, debtor): written demands that reached the debtor, the one still on its way (or whose
    deadline runs), and notices no one could sign for (office buildings)."""

    delivered: dict[tuple[int, int | None], list[Demand]] = field(default_factory=lambda: defaultdict(list))
    waiting: dict[tuple[int, int | None], dt.date] = field(default_factory=dict)
    signer_failed: set[tuple[int, int | None]] = field(default_factory=set)


def _written_demands(project: Project | None, as_of: dt.date, unit_ids: list[int] | None) -> WrittenDemands:
    """Written demands (notices, registered letters) of the last three years — the few rows a referral
    rests on; legacy rows without a debtor count for every debtor of the unit whose periods they named."""
    qs = Action.objects.filter(channel__in=list(WRITTEN_DEMAND_CHANNELS),
                               decided_on__gte=as_of - dt.timedelta(days=3 * 366), decided_on__lt=as_of)
    if project is not None:
        qs = qs.filter(project=project)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids(unit_ids))
    out = WrittenDemands()
    for u, party, status, periods, deadline, delivered_at, decided_on, channel, error in qs.order_by().values_list(
            "unit_id", "party_id", "status", "periods", "deadline", "delivered_at", "decided_on", "channel",
            "last_error"):
        key = (u, party)
        if status == ActionStatus.DELIVERED and delivered_at is not None:
            out.delivered[key].append(Demand(frozenset(periods or ()), deadline,
                                             workcal.local_now(delivered_at).date()))
            if deadline is not None and deadline >= as_of:
                out.waiting[key] = max(deadline, out.waiting.get(key, deadline))
        elif status in (ActionStatus.PENDING, ActionStatus.SENDING, ActionStatus.SENT, ActionStatus.UNCERTAIN,
                        ActionStatus.BLOCKED):  # blocked at send: the manager fixes the template meanwhile
            until = decided_on + dt.timedelta(days=DEMAND_WAIT_DAYS)
            if until >= as_of:
                out.waiting[key] = max(until, out.waiting.get(key, until))
        elif status == ActionStatus.FAILED and channel == Channel.NOTICE and SIGNER_FAILED_MARK in (error or ""):
            out.signer_failed.add(key)
    return out


SIGNER_FAILED_MARK = "无人签收"  # the note a notice task is closed with when nobody could sign for it


def _open_periods(project: Project | None, as_of: dt.date,
                  units: Iterable[int]) -> dict[tuple[int, int], frozenset[str]]:
    """(unit, debtor) → first days (ISO) of the overdue periods still open (principal lines)."""
    ids = sorted(set(units))
    out: dict[tuple[int, int], set[str]] = defaultdict(set)
    if not ids:
        return {}
    lines = Bill.objects.filter(unit_id__in_ids=Ids(ids), is_void=False, settled_fen__lt=F("amount_fen"),
                                due_date__lt=as_of, late_fee_of__isnull=True)
    if project is not None:
        lines = lines.filter(project=project)
    for u, party, start in lines.values_list("unit_id", "party_id", "period_start").distinct():
        out[(u, party)].add(start.isoformat())
    return {k: frozenset(v) for k, v in out.items()}


PREPAID_OUT_WINDOW = dt.timedelta(days=31)  # a run-out is told about a bill due within this many days


def _prepaid_on(line_pk, line_created) -> Exists:
    """Prepaid money paid part of a line: an allocation from a payment received before the line was billed
    (``prepaid_apply`` at the bill run). Money paid after the bill — at the desk, online — is not prepaid."""
    return Exists(Allocation.objects.filter(bill_id=line_pk, amount_fen__gt=0, payment__paid_at__lt=line_created))


def _paid_later_on(line_pk, line_created) -> Exists:
    """Money received after a line was billed paid part of it (the owner paid that bill themselves)."""
    return Exists(Allocation.objects.filter(bill_id=line_pk, amount_fen__gt=0, payment__paid_at__gte=line_created))


def prepaid_run_outs(as_of: dt.date, *, project_id: int | None = None,
                     unit_ids: list[int] | None = None) -> dict[tuple[int, int], dt.date]:
    """(unit, debtor) → the due date of the bill on which the debtor's prepaid money ran out (seed 001: such
    owners get a message of their own — the balance is used up, how to top up — not the monthly payer's
    reminder). The one definition of the event (decision 116), for the estate pass and the per-project pass,
    on SQLite and PostgreSQL alike. A principal line N of the debtor is such a bill when

    - N is open, due from today to ``PREPAID_OUT_WINDOW`` ahead, and the debtor's first open line (nothing
      of theirs is overdue: an account in arrears is the ladder's);
    - the unit's prepaid balance (``UnitBalance``, the unit held money once) is below what is open on N:
      prepaid money cannot pay it;
    - and either prepaid money paid part of N (it ran out on N), unless the line before N was another
      debtor's — after a sale the seller's money left on the unit is not the buyer's to be told about; or
      prepaid money alone paid the line before N of the same fee item, which was this debtor's and is settled
      (it ran out exactly on that line, and N is the first bill it left unpaid). A line before N that the
      owner paid themselves, wholly or in part, means the run-out was told on that line (or there was none).

    The key of the message is the due date of N (``cycles.prepaid_out``): one message per run-out, however
    often and by however many processes the run is repeated; topping up and running out again names a later
    bill. Cost: driven by the open lines due in the window of the given units (index ``bill_open_by_unit``);
    per such line a few index probes — the earlier open line (same index), the line before (the partial
    unique index on unit, fee item and period, read backwards, one entry), allocations by bill, the payment
    and the balance by primary key. No scan of payments, allocations or balances."""
    out: dict[tuple[int, int], dt.date] = {}
    for u, party, due in prepaid_run_out_lines(as_of, project_id=project_id, unit_ids=unit_ids):
        if (u, party) not in out or due < out[(u, party)]:
            out[(u, party)] = due
    return out


def prepaid_run_out_lines(as_of: dt.date, *, project_id: int | None = None, unit_ids: list[int] | None = None):
    """The query of ``prepaid_run_outs``: (unit, debtor, due date) of each line on which prepaid money ran out
    (``bench/bench_prepaid_out.py`` prints its plan)."""
    lines = Bill.objects.filter(is_void=False, settled_fen__lt=F("amount_fen"), late_fee_of__isnull=True,
                                due_date__gte=as_of, due_date__lte=as_of + PREPAID_OUT_WINDOW)
    if project_id is not None:
        lines = lines.filter(project_id=project_id)
    if unit_ids is not None:
        if not unit_ids:
            return Bill.objects.none().values_list("unit_id", "party_id", "due_date")
        lines = lines.filter(unit_id__in_ids=Ids(unit_ids))
    earlier_open = Bill.objects.filter(unit_id=OuterRef("unit_id"), party_id=OuterRef("party_id"), is_void=False,
                                       settled_fen__lt=F("amount_fen"), late_fee_of__isnull=True,
                                       due_date__lt=OuterRef("due_date"))
    short = UnitBalance.objects.filter(unit_id=OuterRef("unit_id"),
                                       prepaid_fen__lt=OuterRef("amount_fen") - OuterRef("settled_fen"))
    # the line before N of the same fee item (one entry of bill_one_live_line_per_period, read backwards)
    before_pk = Subquery(Bill.objects.filter(
        unit_id=OuterRef(OuterRef("unit_id")), fee_item_id=OuterRef(OuterRef("fee_item_id")),
        period_start__lt=OuterRef(OuterRef("period_start")), is_void=False, late_fee_of__isnull=True,
    ).order_by("-period_start").values("pk")[:1])
    before = Bill.objects.filter(pk=before_pk)
    other_debtor_before = before.exclude(party_id=OuterRef("party_id"))
    ran_out_before = before.filter(party_id=OuterRef("party_id"), settled_fen=F("amount_fen")).filter(
        _prepaid_on(OuterRef("pk"), OuterRef("created_at")), ~_paid_later_on(OuterRef("pk"), OuterRef("created_at")))
    # every test sits inside the OR, so PostgreSQL keeps each as a probe per candidate line (it takes the
    # common ones out of the OR after deciding joins): as top-level EXISTS it turned them into joins and read a
    # whole table per chunk (every open line, every balance) to find a few hundred lines
    found = lines.filter(
        Q(_prepaid_on(OuterRef("pk"), OuterRef("created_at")), Exists(short), ~Exists(earlier_open),
          ~Exists(other_debtor_before))
        | Q(Exists(ran_out_before), Exists(short), ~Exists(earlier_open)))
    return found.order_by().values_list("unit_id", "party_id", "due_date").distinct()


def _prepaid_out(project: Project | None, as_of: dt.date, unit_ids: list[int] | None,
                 summaries: list[AccountSummary] | None = None) -> dict[tuple[int, int], dt.date]:
    """``prepaid_run_outs`` of one project's accounts (or of ``unit_ids`` across projects). With the accounts'
    ``summaries`` at hand, only units with an account that owes nothing overdue and has a bill due within the
    window are asked about (the others cannot qualify: the query checks the same, line by line)."""
    if summaries is not None:
        limit = as_of + PREPAID_OUT_WINDOW
        wanted = {s.unit_id for s in summaries if s.overdue_fen <= 0 and s.next_due is not None and s.next_due <= limit}
        unit_ids = sorted(wanted if unit_ids is None else wanted.intersection(unit_ids))
    return prepaid_run_outs(as_of, project_id=project.pk if project is not None else None, unit_ids=unit_ids)


def holds_by_unit(project: Project | None, unit_ids: list[int] | None) -> dict[int, list[HoldInfo]]:
    """unit → its holds not yet released (of one project, or of ``unit_ids`` across projects); each says
    whether it holds the whole unit or one debtor (``HoldInfo.applies_to``)."""
    qs = Hold.objects.filter(released_on__isnull=True)
    if project is not None:
        qs = qs.filter(project=project)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids(unit_ids))
    out: dict[int, list[HoldInfo]] = defaultdict(list)
    for pk, u, kind, starts, until, outcome, reason, party in qs.values_list(
            "pk", "unit_id", "kind", "starts_on", "until", "outcome", "reason", "party_id"):
        out[u].append(HoldInfo(pk, kind, starts, until, outcome, reason, party))
    return out


def _disputed(project: Project | None, unit_ids: list[int] | None) -> set[tuple[int, int]]:
    """(unit, debtor) pairs with an open line disputed outside any casework dispute (demo history, lines marked
    before disputes named them: ``BillDispute`` without ``dispute_ref``), of one project or of the whole estate.
    A casework dispute holds the ladder through its own hold, which ends on its hold date even while the
    dispute is open (its lines stay free of 违约金 until it is resolved — decision 194)."""
    qs = Bill.objects.filter(is_void=False, settled_fen__lt=F("amount_fen"), disputed_since__isnull=False,
                             dispute_intervals__ends_on__isnull=True, dispute_intervals__dispute_ref__isnull=True)
    if project is not None:
        qs = qs.filter(project=project)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in_ids=Ids(unit_ids))
    return set(qs.order_by().values_list("unit_id", "party_id").distinct())


def expiring_periods(project: Project | None, as_of: dt.date,
                     unit_ids: list[int] | None) -> dict[tuple[int, int], list[str]]:
    """(unit, debtor) → first days (ISO) of open periods whose limitation period (诉讼时效) ends within
    ``settings.WUYE_LIMITATION_NOTICE_DAYS`` — the legal module's clock, reached through
    ``settings.WUYE_LIMITATION_READER`` (the legal app sits below this one); {} when none is installed."""
    path = getattr(settings, "WUYE_LIMITATION_READER", "")
    if not path:
        return {}
    return import_string(path)(as_of=as_of, within_days=getattr(settings, "WUYE_LIMITATION_NOTICE_DAYS", 90),
                               project_id=project.pk if project is not None else None, unit_ids=unit_ids)


def attach_risk(accounts: list[Account], ladders: Iterable[Ladder]) -> None:
    """Give the accounts the latest 预警分 of their unit — one read per call (a chunk of the run), and only
    when one of the ladders has a step limited to high-risk accounts. Read through
    ``settings.WUYE_RISK_SCORES`` (the worklist's path; dunning does not import insights): when it is empty
    no account has a score and such steps never fire."""
    path = getattr(settings, "WUYE_RISK_SCORES", "")
    if not path or not accounts or not any(st.min_risk_pct for lad in ladders for st in lad.pre_due):
        return
    scores = import_string(path)(sorted({a.unit_id for a in accounts}))
    for a in accounts:
        found = scores.get(a.unit_id)
        a.risk = found[0] if found is not None else None


def opted_out(unit_ids: Iterable[int] | None) -> set[int]:
    """Units whose owner declined non-essential messages (the portal's preferences, through
    ``settings.WUYE_CONTACT_PREFERENCES``; an empty set when no such module is installed)."""
    path = getattr(settings, "WUYE_CONTACT_PREFERENCES", "")
    return set(import_string(path)(unit_ids)) if path else set()


@dataclass
class EstateReads:
    """What a whole-estate run reads once instead of once per project."""

    flags: dict[int, tuple[bool, bool]]  # payer_flags
    disputed: set[tuple[int, int]]  # (unit, debtor) with an open disputed line


def accounts_for(project: Project, as_of: dt.date, unit_ids: list[int] | None = None,
                 segments: dict[int, str] | None = None,
                 summaries: Iterable[AccountSummary] | None = None,
                 estate: EstateReads | None = None, message_min_days: int = 14) -> Iterator[Account]:
    """The accounts of ``project`` — one per unit and debtor — with something open (overdue or coming due),
    with their state. ``summaries`` and ``estate`` may be given when the caller read them for many projects
    at once."""
    flags = estate.flags if estate is not None else None
    if segments is None:
        if isinstance(summaries, list) and unit_ids is None:  # read for the whole run: only these units matter
            segments = segments_for(project, as_of, [s.unit_id for s in summaries], flags)
        else:
            segments = segments_for(project, as_of, unit_ids, flags)
    episodes = _open_episodes(project, unit_ids)
    fired = _fired(project, as_of, unit_ids)
    holds = holds_by_unit(project, unit_ids)
    disputed = _disputed(project, unit_ids) if estate is None else estate.disputed
    declined = opted_out(unit_ids)
    last_messages = _last_messages(project, as_of, unit_ids, max(message_min_days, 1))
    written = _written_demands(project, as_of, unit_ids)
    prepaid_out = _prepaid_out(project, as_of, unit_ids, summaries if isinstance(summaries, list) else None)
    expiring = expiring_periods(project, as_of, unit_ids)
    demanded_units = {u for u, _party in written.delivered}
    periods = _open_periods(project, as_of, demanded_units)
    if summaries is None:
        summaries = account_summaries(as_of=as_of, project_id=project.pk, unit_ids=unit_ids, only_overdue=False,
                                      prepaid=False)
    yield from _assemble(summaries, segments, episodes, fired, holds, disputed, declined, last_messages, written,
                         prepaid_out, expiring, demanded_units, periods)


def _assemble(summaries: Iterable[AccountSummary], segments: dict[int, str], episodes: dict, fired: Fired,
              holds: dict[int, list[HoldInfo]], disputed: set, declined: set[int], last_messages: dict,
              written: WrittenDemands, prepaid_out: dict, expiring: dict, demanded_units: set[int],
              periods: dict) -> Iterator[Account]:
    """The accounts of ``summaries`` with something open, each with its inputs as read."""
    for s in summaries:
        if s.overdue_fen <= 0 and not s.upcoming_fen:
            continue
        key = (s.unit_id, s.party_id)
        acc = Account(summary=s, segment=segments.get(s.unit_id, Segment.RESIDENTIAL),
                      holds=holds.get(s.unit_id, []), disputed=key in disputed,
                      opted_out=s.unit_id in declined, last_message_on=last_messages.get(key),
                      prepaid_out_due=prepaid_out.get(key))
        ep = episodes.get(key)
        if ep:
            acc.episode_id, acc.episode_opened, acc.account_class, acc.ladder_done_on = ep

            acc.fired = fired.steps.get(ep[0], {})
            reached = fired.stage.get(ep[0])
            if reached:
                acc.stage, acc.stage_on, acc.stage_step = reached
                acc.stage_channels = frozenset(fired.channels[ep[0]])
        if s.unit_id in demanded_units:
            acc.demands = written.delivered.get(key, []) + written.delivered.get((s.unit_id, None), [])
            acc.open_periods = periods.get(key, frozenset())
        acc.written_waiting = written.waiting.get(key) or written.waiting.get((s.unit_id, None))
        acc.signer_failed = key in written.signer_failed
        acc.expiring = tuple(expiring.get(key, ()))
        yield acc


# --- assignment --------------------------------------------------------------------------------------------

class Assigner:
    """Who a step's work goes to: the unit's collector (territory), the project's manager or legal staff."""

    def __init__(self, project: Project, unit_ids: list[int] | None = None):
        self.by_building: dict[int, list[tuple[int | None, int | None, int]]] = defaultdict(list)
        for b, lo, hi, user in Territory.objects.filter(project=project).values_list(
                "building_id", "floor_from", "floor_to", "user_id"):
            self.by_building[b].append((lo, hi, user))
        staff = User.objects.filter(is_active=True).filter(Q(projects=project) | Q(projects__isnull=True))
        self.role_user = {}
        for role in (Role.MANAGER, Role.LEGAL):
            self.role_user[role] = staff.filter(role=role).order_by("pk").values_list("pk", flat=True).first()
        units = Unit.objects.filter(project=project)
        if unit_ids is not None:
            units = units.filter(pk__in_ids=list(unit_ids))
        self.unit_place = dict((u, (b, f)) for u, b, f in units.values_list(
            "pk", "building_id", "floor").iterator(chunk_size=50_000)) if self.by_building else {}

    def user_for(self, step: Step, unit_id: int) -> int | None:
        if step.assignee == Assignee.MANAGER:
            return self.role_user.get(Role.MANAGER)
        if step.assignee == Assignee.LEGAL:
            return self.role_user.get(Role.LEGAL)
        if step.assignee == Assignee.COLLECTOR or step.channel in (Channel.CALL, Channel.VISIT):
            return _territory_user(self.by_building, self.unit_place, unit_id)
        return None


def _territory_user(by_building: dict[int, list[tuple[int | None, int | None, int]]],
                    unit_place: dict[int, tuple[int, int | None]], unit_id: int) -> int | None:
    """The collector whose territory (building, floors) holds the unit."""
    building, floor = unit_place.get(unit_id, (None, None))
    for lo, hi, user in by_building.get(building, ()):
        if (lo is None or (floor is not None and floor >= lo)) and (hi is None or (
                floor is not None and floor <= hi)):
            return user
    return None


class EstateAssigner:
    """``Assigner`` for many projects at once: territories and the managers and legal staff of every project
    read once (three queries), the places of units read per chunk (``load``), only in projects with
    territories."""

    def __init__(self, project_ids: list[int]):
        self.by_building: dict[int, list[tuple[int | None, int | None, int]]] = defaultdict(list)
        self.zoned: set[int] = set()  # projects with territories
        for pid, b, lo, hi, user in Territory.objects.filter(project_id__in=project_ids).values_list(
                "project_id", "building_id", "floor_from", "floor_to", "user_id"):
            self.by_building[b].append((lo, hi, user))
            self.zoned.add(pid)
        # the first active user of the role (by id) among those of the project and those of every project
        everywhere: dict[str, int] = {}
        mine: dict[tuple[int, str], int] = {}
        wanted = set(project_ids)
        for pk, role, pid in User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.LEGAL]).values_list(
                "pk", "role", "projects").order_by("pk"):
            if pid is None:
                everywhere.setdefault(role, pk)
            elif pid in wanted:
                mine.setdefault((pid, role), pk)
        self.role_user: dict[tuple[int, str], int | None] = {}
        for pid in project_ids:
            for role in (Role.MANAGER, Role.LEGAL):
                found = [u for u in (mine.get((pid, role)), everywhere.get(role)) if u is not None]
                self.role_user[(pid, role)] = min(found) if found else None
        self.unit_place: dict[int, tuple[int, int | None]] = {}

    def places(self, unit_ids: list[int]) -> dict[int, tuple[int, int | None]]:
        """unit → (building, floor) of the units of one block (its ``unit_place`` while it is decided)."""
        return dict((u, (b, f)) for u, b, f in Unit.objects.filter(
            pk__in_ids=Ids(unit_ids), project_id__in=sorted(self.zoned)).values_list("pk", "building_id", "floor")
        ) if self.zoned else {}

    def user_for(self, step: Step, unit_id: int, project_id: int) -> int | None:
        if step.assignee == Assignee.MANAGER:
            return self.role_user.get((project_id, Role.MANAGER))
        if step.assignee == Assignee.LEGAL:
            return self.role_user.get((project_id, Role.LEGAL))
        if step.assignee == Assignee.COLLECTOR or step.channel in (Channel.CALL, Channel.VISIT):
            return _territory_user(self.by_building, self.unit_place, unit_id)
        return None


# --- the run -----------------------------------------------------------------------------------------------

@cache
def action_shape() -> Shape:
    """The columns the run gives an outbox row (``_action_row``); the others get the model's defaults."""
    return Shape(Action, ("project_id", "unit_id", "party_id", "step_id", "cycle", "decided_on", "channel", "stage",
                          "episode_id", "not_before", "status", "out_id", "overdue_fen", "periods", "last_error",
                          "assigned_to_id", "actor_label", "created_at"))


def _action_row(d: Decision, acc: Account, kind: cycles.Kind, project_id: int, as_of: dt.date, tz: str,
                assigned_to: int | None, actor_label: str, now: dt.datetime) -> tuple:
    """The outbox row of one decision, in the order of ``action_shape``."""
    step = d.step
    return (project_id, d.unit_id, d.party_id, step.id, d.cycle, as_of, step.channel, step.order,
            acc.episode_id if kind in cycles.EPISODE_KINDS else None, _day_start(d.not_before, tz),
            ActionStatus.CANCELLED if d.superseded else ActionStatus.PENDING,
            out_id_for(d.unit_id, step.id, d.cycle), acc.summary.overdue_fen,
            json.dumps(list(d.periods)) if d.periods else "[]", d.superseded, assigned_to, actor_label, now)


@lru_cache(maxsize=4096)
def _day_start(day: dt.date, tz: str) -> dt.datetime:
    """The earliest time of ``day`` a contact may be made, in the project's zone (one object per day and zone:
    half a million outbox rows share a handful)."""
    return workcal.to_aware(dt.datetime.combine(day, workcal.HARD_START), tz)


def out_id_for(unit_id: int, step_id: int, cycle: str) -> str:
    return "wy" + hashlib.sha1(f"{unit_id}|{step_id}|{cycle}".encode()).hexdigest()[:30]


@dataclass
class RunResult:
    date: dt.date
    accounts_in_arrears: int = 0
    actions_created: int = 0
    held: int = 0
    seconds: float = 0.0
    alert: str = ""
    outcomes: list[Outcome] | None = None  # dry runs only
    mode: str = "full"  # "incremental" when some project was decided only where something changed
    accounts_decided: int = 0  # accounts ``decide`` looked at (with something open)
    phases: dict[str, float] = field(default_factory=dict)  # seconds by phase of an estate pass (read, decide…)
    held_units: set[int] = field(default_factory=set)  # ``held`` counts units (one 暂停记录 per unit and day)
    began: float = 0.0  # when the estate pass started (its ``prepare`` phase)
    parts: int = 1  # processes an estate pass was split into (decision 106)

    def timed(self, phase: str, since: float) -> float:
        """Add the time since ``since`` to ``phase``; returns now (the next phase's start)."""
        now = time.monotonic()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now

    def as_json(self) -> str:
        return json.dumps({"date": self.date.isoformat(), "accounts_in_arrears": self.accounts_in_arrears,
                           "actions_created": self.actions_created, "held": self.held,
                           "seconds": round(self.seconds, 2), "mode": self.mode,
                           "accounts_decided": self.accounts_decided,
                           **({"parts": self.parts} if self.parts > 1 else {}),
                           **({"phases": {k: round(v, 2) for k, v in self.phases.items()}} if self.phases else {})},
                          ensure_ascii=False)


# Crash tests: a callable run after each committed chunk (it may raise), or the environment variable
# ``WUYE_FAULT_AFTER_CHUNKS=N`` that kills the process after N committed chunks.
FAULT_HOOK = None


def _fault_point(counter: list[int]) -> None:
    if FAULT_HOOK is not None:
        counter[0] += 1
        FAULT_HOOK(counter[0])
        return
    limit = os.environ.get("WUYE_FAULT_AFTER_CHUNKS")
    if limit is None:
        return
    counter[0] += 1
    if counter[0] >= int(limit):
        os._exit(137)


def dunning_run(*, as_of: dt.date, project: Project | None = None, dry_run: bool = False,
                unit_ids: list[int] | None = None, chunk_size: int = CHUNK,
                actor_label: str = JOB_LABEL, full: bool = False, workers: int | None = None) -> RunResult:
    """Decide today's actions for the accounts of one project or all projects (or of ``unit_ids``).

    Incremental unless ``full`` (decision 62): a project is decided in full on its first run, after a
    change that concerns all its accounts (its ladders, their dates, bill generation, the calendar) or when
    run for a date before its last run; otherwise only the units whose inputs were written since
    (``DecisionState.mark``), whose next decision date has come, whose outbox events may change a decision,
    whose owner in force changed by date or whose limitation deadline nears.
    Every other account would decide exactly what it decided before. A dry run and a run of ``unit_ids``
    decide every account they cover and keep no state."""
    started = time.monotonic()
    run_started = timezone.now()
    result = RunResult(date=as_of, outcomes=[] if dry_run else None)
    projects = [project] if project else list(Project.objects.order_by("pk"))
    cal = workcal.Calendar()
    result.alert = cal.coverage_alert(as_of, days=30)  # names the first day no calendar covers
    faults = [0]
    # the outbox tables grow from empty on a first run: keep the planner's counts in step (see Analyzer)
    analyzer = Analyzer(Episode, Action, HeldAccount, Step, Policy, MessageTemplate)
    track = not dry_run and unit_ids is None  # the run keeps the decision state
    if not dry_run:
        from wuye.dunning.defaults import policies_install_defaults_many

        policies_install_defaults_many(projects)  # a project starts with the default ladders
    scopes = plan_scopes(projects, as_of, incremental=not full) if track else {}
    all_full = all(sc.full for sc in scopes.values())
    result.mode = "full" if all_full else "incremental"
    whole = project is None and unit_ids is None and all_full and not track
    by_project = _summaries_by_project(as_of) if whole else None
    estate = EstateReads(flags=payer_flags(as_of), disputed=_disputed(None, None)) if whole else None
    writer = Writer()
    untouched = []  # projects of an incremental run with nothing to decide today
    with collector_paused():
        _run_all(projects, project, scopes, as_of, cal, result, dry_run=dry_run, chunk_size=chunk_size,
                 unit_ids=unit_ids, actor_label=actor_label, faults=faults, analyzer=analyzer, writer=writer,
                 run_started=run_started, workers=workers, track=track, by_project=by_project, estate=estate,
                 untouched=untouched)
    if untouched:
        ProjectDecisionState.objects.filter(project_id__in=untouched).update(last_on=as_of, watermark=run_started)
    result.held = len(result.held_units)  # a unit whose seller and buyer are both held is one record
    if track and not all_full:  # the accounts of the units not decided today are as recorded
        ids = [p.pk for p in projects]
        result.accounts_in_arrears = DecisionState.objects.filter(project_id__in=ids).aggregate(
            n=Sum("arrears"))["n"] or 0
        result.held = HeldAccount.objects.filter(project_id__in=ids, run_date=as_of).count()
    result.seconds = time.monotonic() - started
    if not dry_run and unit_ids is None:
        Run.objects.create(project=project, run_date=as_of, finished_at=timezone.now(),
                           accounts_in_arrears=result.accounts_in_arrears, actions_created=result.actions_created,
                           held=result.held, seconds=result.seconds, actor_label=actor_label, alert=result.alert)
    return result


def _run_all(projects: list[Project], project: Project | None, scopes: dict[int, Scope], as_of: dt.date,
             cal: workcal.Calendar, result: RunResult, *, dry_run: bool, chunk_size: int,
             unit_ids: list[int] | None, actor_label: str, faults: list[int], analyzer: Analyzer, writer: Writer,
             run_started: dt.datetime, workers: int | None, track: bool,
             by_project: dict[int, list[AccountSummary]] | None, estate: EstateReads | None,
             untouched: list[int]) -> None:
    """The deciding of ``dunning_run``: one estate pass, or project by project (one project, a dry run, a
    run of some units); ``untouched`` gets the projects of an incremental run with nothing to decide."""
    try:
        if track and project is None:  # the whole estate: one pass over the units to decide (decision 103)
            untouched.extend(pid for pid, sc in scopes.items() if not sc.full and not sc.units)
            _run_estate(projects, scopes, as_of, cal, result, chunk_size=chunk_size, actor_label=actor_label,
                        faults=faults, analyzer=analyzer, writer=writer, run_started=run_started,
                        workers=workers)
            projects_left = []
        else:
            projects_left = projects
        for proj in projects_left:
            scope = scopes.get(proj.pk)
            summaries = by_project.pop(proj.pk, []) if by_project is not None else None
            if scope is not None and not scope.full and not scope.units:
                untouched.append(proj.pk)
                continue
            _run_project(proj, as_of, cal, result, dry_run=dry_run, chunk_size=chunk_size,
                         unit_ids=sorted(scope.units) if scope is not None and not scope.full else unit_ids,
                         scope=scope, run_started=run_started, actor_label=actor_label, faults=faults,
                         analyzer=analyzer, estate=estate, writer=writer, summaries=summaries)
    finally:
        writer.close()


def _summaries_by_project(as_of: dt.date) -> dict[int, list[AccountSummary]]:
    """Every open account's summary, read once for all projects (one set of grouped queries instead of
    one per project: with hundreds of projects the per-project prepaid and plan queries dominated)."""
    out: dict[int, list[AccountSummary]] = defaultdict(list)
    for s in account_summaries(as_of=as_of, only_overdue=False, prepaid=False):
        if s.overdue_fen > 0 or s.upcoming_fen:
            out[s.project_id].append(s)
    return out


def working_day(cal: workcal.Calendar, day: dt.date) -> bool:
    try:
        return cal.is_working_day(day)
    except workcal.UncoveredDate:  # no contact is scheduled on a date no calendar covers
        return False


# --- what an incremental run decides (decision 62) ---------------------------------------------------------

EVENT_SLACK = dt.timedelta(hours=1)  # outbox events are scanned from this long before the last run started


@dataclass
class Scope:
    """What a run decides of one project and how it keeps the project's decision state."""

    full: bool
    units: dict[int, int] = field(default_factory=dict)  # incremental: unit → its change marker as read
    project_mark: int = 0  # full: the project's marker as read (its ``seen`` once the project is done)


def plan_scopes(projects: list[Project], as_of: dt.date, *, incremental: bool) -> dict[int, Scope]:
    """project → its scope today: full, or the units an incremental run must decide."""
    states = {st.project_id: st for st in ProjectDecisionState.objects.filter(project_id__in=[p.pk for p in projects])}
    out: dict[int, Scope] = {}
    inc: dict[int, ProjectDecisionState] = {}
    for p in projects:
        st = states.get(p.pk)
        if (not incremental or st is None or st.last_on is None or st.watermark is None or st.mark != st.seen
                or st.last_on > as_of):
            out[p.pk] = Scope(full=True)
        else:
            inc[p.pk] = st
    for pid in _ladders_moved(inc, as_of):
        out[pid] = Scope(full=True)
        del inc[pid]
    if inc:
        out.update(_due_units(inc, as_of))
    return out


def _ladders_moved(inc: dict[int, ProjectDecisionState], as_of: dt.date) -> set[int]:
    """Projects where a dated policy started or ended since their last run (another ladder is in force)."""
    if not inc:
        return set()
    last = min(st.last_on for st in inc.values())
    moved = set()
    for pid, start, end in Policy.objects.filter(project_id__in=list(inc), active=True).filter(
            Q(valid_from__gt=last, valid_from__lte=as_of) | Q(valid_to__gte=last, valid_to__lt=as_of)).values_list(
            "project_id", "valid_from", "valid_to"):
        lo = inc[pid].last_on
        if (start is not None and lo < start <= as_of) or (end is not None and lo <= end < as_of):
            moved.add(pid)
    return moved


def _due_units(inc: dict[int, ProjectDecisionState], as_of: dt.date) -> dict[int, Scope]:
    """The units of the incrementally run projects that must be decided today, with their markers: marked
    by a write, next decision date come, or touched by something no write marks — an outbox event that can
    change a decision (a message that will never count towards the cap, a written demand delivered, failed
    or withdrawn), an owner's occupancy starting or ending by date (segments), a limitation deadline coming
    near. A prepaid run-out needs no scan here (decision 116): it appears with a bill run (its project is
    decided in full) or a ledger write (the unit is marked), or when a bill billed long ahead enters the
    window — a date ``next_decision`` gives."""
    scopes = {pid: Scope(full=False) for pid in inc}
    due = DecisionState.objects.filter(project_id__in=list(inc)).filter(Q(next_on__lte=as_of) | ~Q(mark=F("seen")))
    for u, pid, mark in due.values_list("unit_id", "project_id", "mark").iterator(chunk_size=50_000):
        scopes[pid].units[u] = mark
    extra: set[int] = set()
    since = min(st.watermark for st in inc.values()) - EVENT_SLACK
    last = min(st.last_on for st in inc.values())
    events = ActionEvent.objects.filter(at__gte=since).filter(
        Q(action__channel__in=list(WRITTEN_DEMAND_CHANNELS)) | Q(status__in=[*NEVER_SENT, ActionStatus.FAILED]))
    for u, pid, at in events.values_list("action__unit_id", "action__project_id", "at").iterator(chunk_size=50_000):
        if pid in inc and at >= inc[pid].watermark - EVENT_SLACK:
            extra.add(u)
    for u, pid in Occupancy.objects.filter(Q(start__gt=last, start__lte=as_of) | Q(end__gte=last, end__lt=as_of)
                                           ).values_list("unit_id", "unit__project_id"):
        if pid in inc:
            extra.add(u)
    path = getattr(settings, "WUYE_LIMITATION_READER", "")
    if path:
        reader = import_string(path)
        days = getattr(settings, "WUYE_LIMITATION_NOTICE_DAYS", 90)
        extra.update(u for u, _party in reader(as_of=as_of, within_days=days, project_id=None, unit_ids=None))
    extra -= {u for sc in scopes.values() for u in sc.units}
    if extra:
        ids = sorted(extra)
        marks = dict(DecisionState.objects.filter(unit_id__in_ids=Ids(ids)).values_list("unit_id", "mark"))
        for u, pid in Unit.objects.filter(pk__in_ids=Ids(ids)).values_list("pk", "project_id"):
            if pid in scopes:
                scopes[pid].units[u] = marks.get(u, 0)
    return scopes


def _begin_full(project: Project) -> int:
    """A full decision of ``project`` starts: its marker is bumped (a crash before the end leaves it full
    for the next run) and every unit's marker is taken as seen — the reads that follow see what those
    writes wrote. Returns the project's marker, its ``seen`` when the project is done."""
    from wuye.dunning.marks import mark_projects

    with transaction.atomic():
        mark_projects([project.pk])
        mark = ProjectDecisionState.objects.filter(project=project).values_list("mark", flat=True).get()
        DecisionState.objects.filter(project=project).exclude(seen=F("mark")).update(seen=F("mark"))
    return mark


def _finish_project(project_id: int, as_of: dt.date, run_started: dt.datetime, scope: Scope,
                    state_rows: list[tuple], seen_units: set[int] | None) -> None:
    """The last of a project's decision state, in one transaction: the units left, the units of a full
    run with nothing open any more, and the project's last run."""
    from wuye.dunning.marks import write_state

    with transaction.atomic():
        write_state(state_rows, consume=not scope.full)
        if scope.full and seen_units is not None:
            stale = [u for u in DecisionState.objects.filter(project_id=project_id).values_list(
                "unit_id", flat=True).iterator(chunk_size=50_000) if u not in seen_units]
            for start in range(0, len(stale), 20_000):
                DecisionState.objects.filter(unit_id__in_ids=stale[start:start + 20_000]).update(
                    next_on=None, arrears=0, decided_on=as_of)
        fields = {"last_on": as_of, "watermark": run_started}
        if scope.full:
            fields["seen"] = scope.project_mark
        ProjectDecisionState.objects.update_or_create(project_id=project_id, defaults=fields)


def _run_project(project: Project, as_of: dt.date, cal: workcal.Calendar, result: RunResult, *, dry_run: bool,
                 unit_ids: list[int] | None, chunk_size: int, actor_label: str, faults: list[int],
                 summaries: list[AccountSummary] | None = None, scope: Scope | None = None,
                 run_started: dt.datetime | None = None,
                 analyzer: Analyzer, writer: Writer, estate: EstateReads | None = None) -> None:
    ladders = ladders_for(project, as_of)
    if not ladders:
        return
    if scope is not None and scope.full:
        scope.project_mark = _begin_full(project)
    rules = Rules.of(project, working_day=working_day(cal, as_of))
    assigner = Assigner(project, unit_ids)
    tz = project.timezone or "Asia/Shanghai"
    now = timezone.now()
    in_arrears: set[tuple[int, int | None]] = set()
    accounts = accounts_for(project, as_of, unit_ids, summaries=summaries, estate=estate,
                            message_min_days=rules.message_min_days)
    pending: dict[int, list] = {}  # unit → [next decision date, accounts in arrears] (accounts come by unit)
    seen_units: set[int] = set()

    def state_rows(upto: int | None) -> list[tuple]:
        done_units = [u for u in pending if upto is None or u < upto]
        return [(u, project.pk, *pending.pop(u), scope.units.get(u, 0) if not scope.full else 0, as_of)
                for u in done_units]

    while chunk := list(islice(accounts, chunk_size)):
        attach_risk(chunk, ladders.values())
        arrears = [a for a in chunk if a.summary.overdue_fen > 0]
        in_arrears.update(a.key for a in arrears)
        result.accounts_in_arrears += len(arrears)
        result.accounts_decided += len(chunk)
        opened, reserved = 0, []
        if dry_run:
            for a in arrears:
                if a.episode_opened is None:
                    a.episode_opened = as_of  # a dry run writes nothing: the episode it would open
        elif connection.vendor == "postgresql":
            reserved = _reserve_episodes(as_of, arrears)  # written with the chunk's actions
            opened = len(reserved)
        else:
            with transaction.atomic():
                opened = _open_new_episodes(as_of, arrears)
        rows, held_rows, broken, done, undone = [], [], [], [], []
        staged: dict[int, int] = {}  # episode (opened before today) → the ladder stage decided today
        for acc in chunk:
            ladder = ladder_of(ladders, acc.segment)
            fit_stage(acc, ladder)
            out = decide(acc, ladder, as_of, rules) if ladder is not None else None
            if scope is not None:
                nxt = next_decision(acc, ladder, as_of, rules, out)
                st = pending.setdefault(acc.unit_id, [None, 0])
                if nxt is not None and (st[0] is None or nxt < st[0]):
                    st[0] = nxt
                st[1] += acc.summary.overdue_fen > 0
                seen_units.add(acc.unit_id)
            if out is None:
                continue
            if out.held:
                result.held_units.add(acc.summary.unit_id)
                held_rows.append((project.pk, acc.summary.unit_id, as_of, out.held[0], out.held[1][:200]))
            broken.extend(out.broken_promises)
            if acc.episode_id is not None:
                if out.ladder_done and acc.ladder_done_on is None:
                    done.append(acc.episode_id)
                elif not out.ladder_done and not out.held and acc.ladder_done_on is not None:
                    undone.append(acc.episode_id)  # the ladder moved again (a manager added a stage)
            if dry_run:
                result.outcomes.append(out)
                result.actions_created += len(out.decisions)
                continue
            for d in out.decisions:
                kind = cycles.kind_of(d.cycle)
                rows.append(_action_row(d, acc, kind, project.pk, as_of, tz, assigner.user_for(d.step, d.unit_id),
                                        actor_label, now))
                if acc.episode_id is not None and acc.episode_opened != as_of and kind == cycles.Kind.STAGE:
                    staged[acc.episode_id] = max(d.step.order, staged.get(acc.episode_id, d.step.order))
        if not dry_run:
            states = state_rows(chunk[-1].unit_id) if scope is not None else None
            writer.submit(partial(_write_chunk, as_of, rows, held_rows, broken, opened, result, analyzer,
                                  done, undone, staged, states, scope is not None and not scope.full,
                                  episodes=reserved))
            _fault_point(faults)
    if not dry_run and unit_ids is None:
        close_cleared_episodes(project, as_of, in_arrears)
    elif scope is not None and not scope.full:
        close_cleared_episodes(project, as_of, in_arrears, unit_ids=unit_ids)
    if scope is not None:
        rows = state_rows(None)
        if not scope.full:  # units decided with nothing open any more
            rows += [(u, project.pk, None, 0, mark, as_of) for u, mark in scope.units.items() if u not in seen_units]
        writer.submit(partial(_finish_project, project.pk, as_of, run_started, scope, rows,
                              seen_units if scope.full else None))


# --- the whole estate in one pass (decision 103) ------------------------------------------------------------

def _run_estate(projects: list[Project], scopes: dict[int, Scope], as_of: dt.date, cal: workcal.Calendar,
                result: RunResult, *, chunk_size: int, actor_label: str, faults: list[int], analyzer: Analyzer,
                writer: Writer, run_started: dt.datetime, workers: int | None = None) -> None:
    """Decide every project's scope in chunks of units across projects, not project by project.

    The accounts to decide — every open account of a project decided in full, the units an incremental run
    picked elsewhere — are taken in unit order, ``chunk_size`` units at a time, and each chunk's inputs are
    read with one query per kind of input for all its units, whatever their project; ladders, rules and who
    gets the work are read once for all projects. A run with something due in 500 projects costs a few
    queries per chunk instead of twenty per project. Decisions, writes and the decision state are those of
    ``_run_project``: the same ``decide`` and ``next_decision`` per account, each chunk's outbox and state
    in one transaction.

    A large pass on PostgreSQL is split by unit id into one part per core (decision 106): this process decides
    the first part while a child process (``wuye dunning_run --estate-part``) decides each other one, and the
    projects' state is written once every part has finished."""
    result.began = time.monotonic()
    live = {p.pk: p for p in projects if (sc := scopes.get(p.pk)) is not None and (sc.full or sc.units)}
    ladders = ladders_many(sorted(live), as_of)
    live = {pid: p for pid, p in live.items() if ladders.get(pid)}  # no ladder in force: nothing to decide
    if not live:
        return
    full_ids = sorted(pid for pid in live if scopes[pid].full)
    for pid, mark in _begin_full_many(full_ids).items():
        scopes[pid].project_mark = mark
    ctx = _EstatePass(live, ladders, as_of, cal, chunk_size=chunk_size, actor_label=actor_label)
    marked: dict[int, tuple[int, int]] = {}  # incremental: unit → (project, its marker as read)
    for pid in live:
        if not scopes[pid].full:
            marked.update((u, (pid, mark)) for u, mark in scopes[pid].units.items())
    # split by unit id before anything else is read: each part reads its own accounts (decision 107)
    ranges = _part_ranges(workers, full_ids, sorted(marked), writer)
    children: list[tuple[subprocess.Popen, Path]] = []
    for unit_range in ranges[1:]:  # this process takes the first part, a child each other one
        children.append(_spawn_part(ctx, full_ids, unit_range,
                                    {u: marked.pop(u) for u in list(marked) if _within(u, unit_range)}))
    failures: list[str] = []
    try:
        _decide_part(ctx, full_ids, ranges[0], marked, result, analyzer, writer, faults)
    finally:
        failures = _collect_parts(children, result)
    if failures:
        raise RuntimeError("每日催缴的部分进程失败（已完成的部分已写入，重跑会补齐其余部分）：" + "；".join(failures))
    writer.submit(partial(_finish_projects, as_of, run_started, {pid: scopes[pid] for pid in live}))


class _EstatePass:
    """What an estate pass (or a part of it) decides with: ladders, rules, zones and assignees of the live
    projects, read once."""

    def __init__(self, live: dict[int, Project], ladders: dict[int, dict[str, Ladder]], as_of: dt.date,
                 cal: workcal.Calendar, *, chunk_size: int, actor_label: str):
        self.live, self.ladders, self.as_of = live, ladders, as_of
        self.chunk_size, self.actor_label = chunk_size, actor_label
        today_works = working_day(cal, as_of)
        settings_rows = {row.project_id: row for row in
                         CollectionSettings.objects.filter(project_id__in=sorted(live))}
        self.rules = {pid: Rules(message_min_days=settings_rows[pid].arrears_message_min_days
                                 if pid in settings_rows else Rules.message_min_days, working_day=today_works)
                      for pid in live}
        self.min_days = max(max(r.message_min_days for r in self.rules.values()), 1)
        self.zones = {pid: p.timezone or "Asia/Shanghai" for pid, p in live.items()}
        self.kinds = {pid: p.kind for pid, p in live.items()}
        self.assigner = EstateAssigner(sorted(live))


PARALLEL_MIN_UNITS = 100_000  # units to decide before an estate pass takes one process per core by default
MAX_PARTS = 4


def _parts_wanted(workers: int | None, units: int, writer: Writer) -> int:
    """Processes for an estate pass: ``workers`` (``--workers``) when given, else one per core (at most
    ``MAX_PARTS``) for ``PARALLEL_MIN_UNITS`` units or more (decision 106: 1M first run 49.3 s → 38.2 s on
    two cores). Only on PostgreSQL outside a caller's transaction (the parts commit on their own
    connections); anywhere else one."""
    if not writer.threaded or units < 2:
        return 1
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_PARTS) if units >= PARALLEL_MIN_UNITS else 1
    return max(1, min(workers, units))


Range = tuple[int | None, int | None]  # units low ≤ id < high; None: open


def _within(unit_id: int, unit_range: Range) -> bool:
    low, high = unit_range
    return (low is None or unit_id >= low) and (high is None or unit_id < high)


def _part_ranges(workers: int | None, full_ids: list[int], marked: list[int], writer: Writer) -> list[Range]:
    """The unit ranges of an estate pass's parts (``_parts_wanted`` of them), chosen before any account is
    read (decision 107): the units to decide are the units decided incrementally (``marked``) and those of
    the projects decided in full that have an open line, so the bounds are quantiles of those units weighted
    by their open lines (one grouped read of the open-lines index) — each part then reads its own accounts,
    the parts start at once instead of after one process has read the whole estate."""
    whole: list[Range] = [(None, None)]
    if not writer.threaded or workers == 1 or (len(marked) < 2 and not full_ids):
        return whole
    if not full_ids:
        parts = _parts_wanted(workers, len(marked), writer)
        cuts = [marked[len(marked) * k // parts] for k in range(1, parts)]
    else:
        most = workers if workers is not None else min(os.cpu_count() or 1, MAX_PARTS)
        if most < 2:
            return whole
        with connection.cursor() as cursor:
            cursor.execute(_QUANTILES_SQL.format(
                projects="" if not _some_projects_left_out(full_ids) else "AND project_id = ANY(%(full)s::bigint[])"),
                {"full": int_array(full_ids), "marked": int_array(marked),
                 "fractions": [k / most for k in range(1, most)]})
            units, quantiles = cursor.fetchone()
        parts = _parts_wanted(workers, units or 0, writer)
        if parts < 2:
            return whole
        cuts = quantiles if parts == most else [quantiles[round(len(quantiles) * k / parts)] for k in range(1, parts)]
    cuts = sorted({c for c in cuts if c is not None})
    return list(zip([None, *cuts], [*cuts, None], strict=True))


# units of the full projects with an open line and the incremental ones: how many, and where to cut them
_QUANTILES_SQL = """
SELECT count(DISTINCT u), percentile_disc(%(fractions)s::float8[]) WITHIN GROUP (ORDER BY u)
FROM (SELECT unit_id AS u FROM billing_bill WHERE NOT is_void AND settled_fen < amount_fen {projects}
      UNION ALL SELECT unnest(%(marked)s::bigint[])) AS units
"""


def _some_projects_left_out(full_ids: list[int]) -> bool:
    return Project.objects.exclude(pk__in=full_ids).exists()


def _spawn_part(ctx: _EstatePass, full_ids: list[int], unit_range: Range,
                marked: dict[int, tuple[int, int]]) -> tuple[subprocess.Popen, Path]:
    """Start a child process deciding the units of ``unit_range`` (``run_estate_part``); what it needs from
    this process (the projects, the units marked in its range) goes in a file beside the data."""
    folder = Path(settings.DATA_DIR) / "dunning-parts"
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{ctx.as_of}-", suffix=".pickle", dir=folder)
    with os.fdopen(fd, "wb") as f:
        pickle.dump({"as_of": ctx.as_of, "projects": sorted(ctx.live), "full_ids": full_ids,
                     "unit_range": unit_range, "marked": marked,
                     "chunk_size": ctx.chunk_size, "actor_label": ctx.actor_label}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)
    child = subprocess.Popen([sys.executable, "-m", "wuye", "dunning_run", "--estate-part", name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return child, Path(name)


def _collect_parts(children: list[tuple[subprocess.Popen, Path]], result: RunResult) -> list[str]:
    """Wait for the child parts and add what they did to ``result``; returns their failures."""
    failures = []
    for n, (child, path) in enumerate(children, 2):
        out, err = child.communicate()
        path.unlink(missing_ok=True)
        if child.returncode != 0:
            failures.append(f"第 {n} 部分：" + (err.strip().splitlines()[-1] if err.strip() else f"exit {child.returncode}"))
            continue
        part = json.loads(out.strip().splitlines()[-1])
        result.accounts_in_arrears += part["accounts_in_arrears"]
        result.accounts_decided += part["accounts_decided"]
        result.actions_created += part["actions_created"]
        result.held_units.update(part["held_units"])
        result.phases[f"part{n}"] = part["seconds"]
    result.parts = 1 + len(children)
    return failures


def run_estate_part(path: str) -> dict:
    """A child of a split estate pass (``wuye dunning_run --estate-part FILE``): decide the units of its
    range (``_decide_part``) and report what it did (the parent records the run and the projects' state)."""
    started = time.monotonic()
    with open(path, "rb") as f:
        job = pickle.load(f)
    as_of = job["as_of"]
    result = RunResult(date=as_of)
    result.began = started
    live = {p.pk: p for p in Project.objects.filter(pk__in=job["projects"])}
    ctx = _EstatePass(live, ladders_many(sorted(live), as_of), as_of, workcal.Calendar(),
                      chunk_size=job["chunk_size"], actor_label=job["actor_label"])
    analyzer = Analyzer(Episode, Action, HeldAccount, Step, Policy, MessageTemplate)
    writer = Writer()
    try:
        with collector_paused():
            _decide_part(ctx, job["full_ids"], job["unit_range"], job["marked"], result, analyzer, writer, [0])
    finally:
        writer.close()
    return {"accounts_in_arrears": result.accounts_in_arrears, "accounts_decided": result.accounts_decided,
            "actions_created": result.actions_created, "held_units": sorted(result.held_units),
            "seconds": round(time.monotonic() - started, 2)}


def _decide_part(ctx: _EstatePass, full_ids: list[int], unit_range: Range, marked: dict[int, tuple[int, int]],
                 result: RunResult, analyzer: Analyzer, writer: Writer, faults: list[int]) -> None:
    """One part of an estate pass (the whole pass when it is not split): read the open accounts of the full
    projects' units in ``unit_range``, decide them with the incremental units ``marked`` block by block,
    close the episodes that cleared and clear the decision state of the units with nothing open any more."""
    as_of = ctx.as_of
    clock = time.monotonic()
    read_first = _read_full(as_of, full_ids, unit_range)
    result.timed("read_full", clock)
    todo = sorted(set(read_first) | set(marked))
    in_arrears, seen_full = _estate_blocks(ctx, todo, read_first, marked, result, analyzer, writer, faults)
    clock = time.monotonic()
    _close_cleared_across(as_of, in_arrears, full_ids, sorted(marked), unit_range)
    clock = result.timed("close", clock)
    writer.submit(partial(_clear_stale_states, as_of, full_ids, seen_full, unit_range))
    result.timed("wait_writer", clock)


def _read_full(as_of: dt.date, full_ids: list[int], unit_range: Range) -> dict[int, list[AccountSummary]]:
    """unit → its open accounts (overdue or with something coming due), of the projects decided in full, in
    ``unit_range``: the whole estate in one read when most projects are full, as on a first run."""
    read_first: dict[int, list[AccountSummary]] = defaultdict(list)
    if not full_ids:
        return read_first
    full = set(full_ids)
    if len(full_ids) > 10:
        sources = [account_summaries(as_of=as_of, only_overdue=False, prepaid=False, unit_range=unit_range)]
    else:
        sources = [account_summaries(as_of=as_of, project_id=pid, only_overdue=False, prepaid=False,
                                     unit_range=unit_range) for pid in full_ids]
    for source in sources:
        for s in source:
            if s.project_id in full and (s.overdue_fen > 0 or s.upcoming_fen):
                read_first[s.unit_id].append(s)
    return read_first


def _estate_blocks(ctx: _EstatePass, todo: list[int], read_first: dict[int, list[AccountSummary]],
                   marked: dict[int, tuple[int, int]], result: RunResult, analyzer: Analyzer, writer: Writer,
                   faults: list[int]) -> tuple[set[tuple[int, int | None]], set[int]]:
    """Read, decide and write the units ``todo`` block by block; returns the debtors in arrears and the units
    of fully decided projects that have an open account."""
    as_of, live, assigner = ctx.as_of, ctx.live, ctx.assigner
    in_arrears: set[tuple[int, int | None]] = set()
    seen_full: set[int] = set()  # units of full projects with an open account

    def read_block(block: list[int]) -> tuple[list[Account], dict[int, tuple[int, int | None]]]:
        clock = time.monotonic()
        fetched: dict[int, list[AccountSummary]] = defaultdict(list)
        need = [u for u in block if u in marked]
        if need:
            for s in account_summaries(as_of=as_of, unit_ids=need, only_overdue=False, prepaid=False):
                if s.overdue_fen > 0 or s.upcoming_fen:
                    fetched[s.unit_id].append(s)
        summaries = [s for u in block for s in (read_first.pop(u, None) or fetched.pop(u, ()))
                     if s.project_id in live]
        clock = result.timed("read_summaries", clock)
        places = assigner.places(sorted({s.unit_id for s in summaries}))
        result.timed("read_places", clock)
        return _accounts_across(as_of, summaries, ctx.kinds, ctx.zones, ctx.min_days, result), places

    clock = result.timed("prepare", result.began)
    blocks = [todo[i:i + READ_BLOCK] for i in range(0, len(todo), READ_BLOCK)]
    reader = Reader(threaded=writer.threaded)
    try:
        coming = reader.submit(read_block, blocks[0]) if blocks else None
        for n, block in enumerate(blocks):
            accounts, assigner.unit_place = coming.result()
            # the next block is read on the reader's connection while this one is decided and written
            coming = reader.submit(read_block, blocks[n + 1]) if n + 1 < len(blocks) else None
            clock = result.timed("wait_reader", clock)
            _decide_block(block, accounts, ctx.chunk_size, marked, seen_full, in_arrears, as_of, result,
                          ctx.ladders, ctx.rules, ctx.zones, assigner, ctx.actor_label, analyzer, writer, faults)
            clock = time.monotonic()
    finally:
        reader.close()
    return in_arrears, seen_full


def _decide_block(block: list[int], accounts: list[Account], chunk_size: int, *args) -> None:
    """Decide a block's accounts ``chunk_size`` units at a time (``_decide_chunk``)."""
    taken = 0
    for start in range(0, len(block), chunk_size):
        ids = block[start:start + chunk_size]
        upto = taken
        while upto < len(accounts) and accounts[upto].unit_id <= ids[-1]:
            upto += 1
        chunk, taken = accounts[taken:upto], upto
        _decide_chunk(ids, chunk, *args)


READ_BLOCK = 60_000  # units whose inputs an estate pass reads at once (each read is a scan: few and large,
# but not one: the writer works on a block's decisions while the next block is read)


def _decide_chunk(ids: list[int], chunk: list[Account], marked: dict[int, tuple[int, int]], seen_full: set[int],
                  in_arrears: set[tuple[int, int | None]], as_of: dt.date, result: RunResult,
                  ladders: dict[int, dict[str, Ladder]], rules: dict[int, Rules], zones: dict[int, str],
                  assigner: EstateAssigner, actor_label: str, analyzer: Analyzer, writer: Writer,
                  faults: list[int]) -> None:
    """Decide the accounts of the units ``ids`` (of an estate pass) and hand their outbox and decision state
    to the writer as one transaction."""
    clock = time.monotonic()
    attach_risk(chunk, (lad for per in ladders.values() for lad in per.values()))
    arrears = [a for a in chunk if a.summary.overdue_fen > 0]
    in_arrears.update(a.key for a in arrears)
    result.accounts_in_arrears += len(arrears)
    result.accounts_decided += len(chunk)
    reserved = []
    if connection.vendor == "postgresql":
        reserved = _reserve_episodes(as_of, arrears)  # written with the chunk's actions
        opened = len(reserved)
    else:
        with transaction.atomic():
            opened = _open_new_episodes(as_of, arrears)
    clock = result.timed("episodes", clock)
    rows, held_rows, broken, done, undone = [], [], [], [], []
    staged: dict[int, int] = {}
    pending: dict[int, list] = {}  # unit → [next decision date, accounts in arrears, project]
    now = timezone.now()
    for acc in chunk:
        pid = acc.summary.project_id
        ladder = ladder_of(ladders[pid], acc.segment)
        fit_stage(acc, ladder)
        rule = rules[pid]
        out = decide(acc, ladder, as_of, rule) if ladder is not None else None
        nxt = next_decision(acc, ladder, as_of, rule, out)
        st = pending.setdefault(acc.unit_id, [None, 0, pid])
        if nxt is not None and (st[0] is None or nxt < st[0]):
            st[0] = nxt
        st[1] += acc.summary.overdue_fen > 0
        if out is None:
            continue
        if out.held:
            result.held_units.add(acc.unit_id)
            held_rows.append((pid, acc.unit_id, as_of, out.held[0], out.held[1][:200]))
        broken.extend(out.broken_promises)
        if acc.episode_id is not None:
            if out.ladder_done and acc.ladder_done_on is None:
                done.append(acc.episode_id)
            elif not out.ladder_done and not out.held and acc.ladder_done_on is not None:
                undone.append(acc.episode_id)
        tz = zones[pid]
        for d in out.decisions:
            kind = cycles.kind_of(d.cycle)
            rows.append(_action_row(d, acc, kind, pid, as_of, tz, assigner.user_for(d.step, d.unit_id, pid),
                                    actor_label, now))
            if acc.episode_id is not None and acc.episode_opened != as_of and kind == cycles.Kind.STAGE:
                staged[acc.episode_id] = max(d.step.order, staged.get(acc.episode_id, d.step.order))
    # the decision state of every unit of the chunk: a full project's units as decided (their markers were
    # taken as seen before reading), an incremental run's with the marker read, consumed with the decisions
    # (a unit with nothing open any more has no next decision)
    states, consumed = [], []
    for u in ids:
        nxt, owing, pid = pending.get(u, (None, 0, None))
        if u in marked:
            consumed.append((u, marked[u][0], nxt, owing, marked[u][1], as_of))
        elif pid is not None:
            seen_full.add(u)
            states.append((u, pid, nxt, owing, 0, as_of))
    clock = result.timed("decide", clock)
    writer.submit(partial(_write_chunk, as_of, rows, held_rows, broken, opened, result, analyzer,
                          done, undone, staged, states, False, consumed, episodes=reserved))
    _fault_point(faults)
    result.timed("wait_writer", clock)


def _accounts_across(as_of: dt.date, summaries: list[AccountSummary], kinds: dict[int, str], zones: dict[int, str],
                     message_min_days: int, result: RunResult | None = None) -> list[Account]:
    """``accounts_for`` of the units of ``summaries`` across projects: each input read once for them all
    (the time of each read added to ``result.phases``)."""
    ids = sorted({s.unit_id for s in summaries})
    if not ids:
        return []
    clock = time.monotonic()

    def read(name: str, fn, *args):
        nonlocal clock
        out = fn(*args)
        if result is not None:
            clock = result.timed(f"read_{name}", clock)
        return out

    flags = read("flags", payer_flags, as_of, None, ids)
    segments = read("segments", segments_many, kinds, as_of, ids, flags)
    episodes = read("episodes", _open_episodes, None, ids)
    fired = read("fired", _fired, None, as_of, ids)
    holds = read("holds", holds_by_unit, None, ids)
    disputed = read("disputed", _disputed, None, ids)
    declined = read("opted_out", opted_out, ids)
    last_messages = read("messages", _last_messages, None, as_of, ids, message_min_days, zones)
    written = read("written", _written_demands, None, as_of, ids)
    prepaid_out = read("prepaid_out", _prepaid_out, None, as_of, ids, summaries)
    expiring = read("expiring", expiring_periods, None, as_of, ids)
    demanded_units = {u for u, _party in written.delivered}
    periods = read("periods", _open_periods, None, as_of, demanded_units)
    return list(_assemble(summaries, segments, episodes, fired, holds, disputed, declined, last_messages, written,
                          prepaid_out, expiring, demanded_units, periods))


def _open_new_episodes(as_of: dt.date, arrears: list[Account]) -> int:
    """SQLite: open an arrears episode for each debtor newly in arrears, of any project (one per unit and
    debtor), and read their ids back. On PostgreSQL the ids are reserved instead and the episodes written
    with the chunk's actions (``_reserve_episodes``)."""
    new = [a for a in arrears if a.episode_opened is None]
    if not new:
        return 0
    insert_rows_ignore_conflicts(
        Episode, ("project_id", "unit_id", "party_id", "opened_on", "first_due", "closed_on", "account_class",
                  "class_since"), [
            (a.summary.project_id, a.unit_id, a.party_id, as_of, a.summary.oldest_due, None, "", None) for a in new])
    found = _open_episodes(None, sorted({a.unit_id for a in new}))
    for a in new:
        a.episode_id, a.episode_opened, _klass, _done = found[a.key]
    return len(new)


def _begin_full_many(project_ids: list[int]) -> dict[int, int]:
    """``_begin_full`` of many projects in one transaction: project → its marker."""
    from wuye.dunning.marks import mark_projects

    if not project_ids:
        return {}
    with transaction.atomic():
        mark_projects(project_ids)
        marks = dict(ProjectDecisionState.objects.filter(project_id__in=project_ids).values_list("project_id", "mark"))
        DecisionState.objects.filter(project_id__in=project_ids).exclude(seen=F("mark")).update(seen=F("mark"))
    return marks


def _close_cleared_across(as_of: dt.date, in_arrears: set[tuple[int, int | None]], project_ids: list[int],
                          unit_ids: list[int], unit_range: tuple[int | None, int | None] = (None, None)) -> int:
    """``close_cleared_episodes`` of the projects decided in full and of the units decided incrementally (of
    the units in ``unit_range``, [low, high), when a part of a pass)."""
    where = Q(pk__in=[])
    if project_ids:
        where |= Q(project_id__in=project_ids) & _in_range(unit_range)
    if unit_ids:
        where |= Q(unit_id__in_ids=Ids(unit_ids))
    return _close_cleared(Episode.objects.filter(where, closed_on__isnull=True), as_of, in_arrears)


def _in_range(unit_range: tuple[int | None, int | None], field: str = "unit_id") -> Q:
    low, high = unit_range
    q = Q()
    if low is not None:
        q &= Q(**{f"{field}__gte": low})
    if high is not None:
        q &= Q(**{f"{field}__lt": high})
    return q


def _clear_stale_states(as_of: dt.date, full_ids: list[int], seen_full: set[int],
                        unit_range: tuple[int | None, int | None] = (None, None)) -> None:
    """The units of fully decided projects (in ``unit_range``) with nothing open any more: no next decision."""
    if not full_ids:
        return
    with transaction.atomic():
        stale = [u for u in DecisionState.objects.filter(_in_range(unit_range), project_id__in=full_ids).exclude(
            next_on__isnull=True, arrears=0).values_list("unit_id", flat=True).iterator(chunk_size=50_000)
            if u not in seen_full]
        for start in range(0, len(stale), 20_000):
            DecisionState.objects.filter(unit_id__in_ids=stale[start:start + 20_000]).update(
                next_on=None, arrears=0, decided_on=as_of)


def _finish_projects(as_of: dt.date, run_started: dt.datetime, scopes: dict[int, Scope]) -> None:
    """Each project's last run (and, for a full one, its marker as seen), once every part has finished."""
    with transaction.atomic():
        states = {st.project_id: st for st in ProjectDecisionState.objects.filter(project_id__in=list(scopes))}
        new, changed = [], []
        for pid, sc in scopes.items():
            st = states.get(pid)
            if st is None:
                st = ProjectDecisionState(project_id=pid)
                new.append(st)
            else:
                changed.append(st)
            st.last_on, st.watermark = as_of, run_started
            if sc.full:
                st.seen = sc.project_mark
        ProjectDecisionState.objects.bulk_update(changed, ["last_on", "watermark", "seen"], batch_size=1000)
        ProjectDecisionState.objects.bulk_create(new)


def _write_chunk(as_of: dt.date, rows: list[tuple], held_rows: list[tuple], broken: list[int], opened: int,
                 result: RunResult, analyzer: Analyzer, done: list[int] = (), undone: list[int] = (),
                 staged: dict[int, int] | None = None, states: list[tuple] | None = None,
                 consume: bool = False, consumed: list[tuple] | None = None, *,
                 episodes: list[tuple] = ()) -> None:
    """One chunk's decisions into the outbox, in one transaction (the writer's), with the decision state of
    its units (and, in an incremental run, their change markers as read: consumed with the decisions), and
    the episodes it opened with ids reserved by ``_reserve_episodes``."""
    from wuye.dunning.marks import write_state

    with transaction.atomic():
        if episodes and (moved := _insert_reserved_episodes(episodes)):
            at = action_shape().index("episode_id")
            rows = [(*row[:at], moved[row[at]], *row[at + 1:]) if row[at] in moved else row for row in rows]
            staged = {moved.get(e, e): stage for e, stage in (staged or {}).items()}
            done = [moved.get(e, e) for e in done]
        if done:
            Episode.objects.filter(pk__in_ids=list(done), ladder_done_on__isnull=True).update(ladder_done_on=as_of)
        if undone:
            Episode.objects.filter(pk__in_ids=list(undone)).update(ladder_done_on=None)
        created = insert_shaped(action_shape(), rows, ignore_conflicts=True)
        result.actions_created += created
        if staged:
            supersede_stage_messages(staged)
        held_new = insert_rows_ignore_conflicts(
            HeldAccount, ("project_id", "unit_id", "run_date", "reason", "detail"), held_rows)
        if broken:
            Hold.objects.filter(pk__in=broken, outcome="").update(outcome="broken", released_on=as_of,
                                                                   release_note="承诺日已过仍未缴费")
            transaction.on_commit(lambda ids=list(broken): promises_broken.send(
                sender=Hold, hold_ids=ids, on=as_of))
        if states:
            write_state(states, consume=consume)
        if consumed:  # an estate pass: the units decided incrementally, beside the full projects' units
            write_state(consumed, consume=True)
    analyzer.grew(opened + created + held_new)


class Reader:
    """Reads the next block's inputs while this one is decided: on PostgreSQL outside a caller's transaction
    (as ``Writer``), on a thread with its own connection — the database scans while Python decides; anywhere
    else at once, inline. One read is in flight at a time; ``result()`` of what ``submit`` returns raises what
    the read raised."""

    def __init__(self, *, threaded: bool):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dunning-reader") if threaded else None

    def submit(self, fn, *args) -> Future:
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        done: Future = Future()
        done.set_result(fn(*args))
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.submit(lambda: connection.close()).result()  # the reader thread's own connection
            self.pool.shutdown()
            self.pool = None


class Writer:
    """Writes the outbox while the next chunk is decided.

    On PostgreSQL, outside a caller's transaction, chunks are written by a second thread on its own
    connection: the decisions are Python (the GIL) and the writes are the server's work (COPY, index
    entries, the deferred foreign-key checks at commit), so the two overlap on two cores. One chunk at a
    time is in flight; ``close`` waits for it and raises what it raised. Each chunk still commits on its
    own, after the episodes it names, so a crash leaves whole chunks and a re-run completes them exactly
    as before. Anywhere else (SQLite, tests inside a transaction) a chunk is written at once, inline."""

    def __init__(self):
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.queue: queue.Queue | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def submit(self, job) -> None:
        if not self.threaded:
            job()
            return
        if self.thread is None:
            self.queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._work, name="dunning-writer", daemon=True)
            self.thread.start()
        self._raise()
        self.queue.put(job)

    def _work(self) -> None:
        try:
            while (job := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        job()
                    except BaseException as exc:  # handed to the deciding thread
                        self.error = exc
                self.queue.task_done()
        finally:
            connection.close()  # this thread's own connection

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        self._raise()


EPISODE_FIELDS = ("id", "project_id", "unit_id", "party_id", "opened_on", "first_due", "closed_on", "account_class",
                  "class_since")


def _reserve_episodes(as_of: dt.date, arrears: list[Account]) -> list[tuple]:
    """PostgreSQL: the arrears episodes to open for the debtors newly in arrears, with ids taken from the
    table's sequence now (one round trip) and the rows left to the writer, which inserts them in the same
    transaction as the actions that name them — the decider neither waits for the insert nor reads the ids
    back, and a chunk that fails leaves neither behind (decision 105)."""
    new = [a for a in arrears if a.episode_opened is None]
    if not new:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('dunning_episode', 'id')) FROM generate_series(1, %s)",
                       [len(new)])
        ids = [pk for (pk,) in cursor.fetchall()]
    rows = []
    for a, pk in zip(new, ids, strict=True):
        a.episode_id, a.episode_opened = pk, as_of
        rows.append((pk, a.summary.project_id, a.unit_id, a.party_id, as_of, a.summary.oldest_due, None, "", None))
    return rows


def _insert_reserved_episodes(rows: list[tuple]) -> dict[int, int]:
    """Insert the reserved episodes; returns reserved id → the episode already open for the same debtor, for
    each one another run opened first (two runs the same day: their actions share cycle keys, so the
    outbox's uniqueness keeps one of each; they must name the episode that exists)."""
    if insert_rows_ignore_conflicts(Episode, EPISODE_FIELDS, rows) == len(rows):
        return {}
    written = set(Episode.objects.filter(pk__in_ids=[r[0] for r in rows]).values_list("pk", flat=True))
    lost = {(r[2], r[3]): r[0] for r in rows if r[0] not in written}
    found = _open_episodes(None, sorted({unit for unit, _party in lost}))
    return {pk: found[key][0] for key, pk in lost.items()}


def close_cleared_episodes(project: Project, as_of: dt.date, in_arrears: set[tuple[int, int | None]],
                           unit_ids: list[int] | None = None) -> int:
    """Close the episodes of debtors no longer in arrears and cancel their pending arrears actions (of the
    units decided, when ``unit_ids`` is given: an incremental run)."""
    open_eps = Episode.objects.filter(project=project, closed_on__isnull=True)
    if unit_ids is not None:
        open_eps = open_eps.filter(unit_id__in_ids=Ids(unit_ids))
    return _close_cleared(open_eps, as_of, in_arrears)


def _close_cleared(open_eps, as_of: dt.date, in_arrears: set[tuple[int, int | None]]) -> int:
    """Close the open episodes of ``open_eps`` whose debtor is not in ``in_arrears``, cancelling their pending
    arrears actions, 5,000 to a transaction."""
    open_eps = open_eps.values_list("pk", "unit_id", "party_id")
    cleared = [pk for pk, unit, party in open_eps.iterator(chunk_size=50_000) if (unit, party) not in in_arrears]
    for start in range(0, len(cleared), 5_000):
        batch = cleared[start:start + 5_000]
        with transaction.atomic():
            Episode.objects.filter(pk__in=batch).update(closed_on=as_of)
            cancel_pending(Q(episode_id__in=batch), detail="欠费已结清", actor_label=JOB_LABEL)
    return len(cleared)


SUPERSEDED_DETAIL = "已决定更高阶段的催缴，本阶段消息不再发送"


def supersede_stage_messages(staged: dict[int, int], actor_label: str = JOB_LABEL) -> int:
    """A stage message never goes after a later stage: the held-back stage messages (SMS, WeChat, e-mail) of
    each episode below the stage decided now — still pending after the engine pushed them past the cap or a
    dispatcher handed them back — become 已被后续阶段取代, with an event. (The dispatcher checks the same
    before sending, for rows decided before this rule.)"""
    ids = [pk for pk, episode, stage, cycle, decided_on, not_before, handed_back in Action.objects.filter(
        episode_id__in_ids=list(staged), status=ActionStatus.PENDING, channel__in=list(MESSAGE_CHANNELS))
        .values_list("pk", "episode_id", "stage", "cycle", "decided_on", "not_before", "next_attempt_at")
        if stage < staged[episode] and cycles.kind_of(cycle) == cycles.Kind.STAGE
        and (handed_back is not None or workcal.local_now(not_before).date() > decided_on)]
    if not ids:
        return 0
    now = timezone.now()
    n = Action.objects.filter(pk__in=ids, status=ActionStatus.PENDING).update(
        status=ActionStatus.SUPERSEDED, last_error=SUPERSEDED_DETAIL)
    ActionEvent.objects.bulk_create([ActionEvent(action_id=i, at=now, status=ActionStatus.SUPERSEDED,
                                                 detail=SUPERSEDED_DETAIL, actor_label=actor_label) for i in ids])
    return n


def cancel_pending(q: Q, *, detail: str, actor_label: str) -> int:
    """Cancel pending actions matching ``q`` (an ``ActionEvent`` for each); their tasks close too."""
    now = timezone.now()
    ids = list(Action.objects.filter(q, status=ActionStatus.PENDING).values_list("pk", flat=True))
    if not ids:
        return 0
    n = Action.objects.filter(pk__in=ids, status=ActionStatus.PENDING).update(status=ActionStatus.CANCELLED,
                                                                              last_error=detail[:300])
    ActionEvent.objects.bulk_create([ActionEvent(action_id=i, at=now, status=ActionStatus.CANCELLED, detail=detail,
                                                 actor_label=actor_label) for i in ids])
    Task.objects.filter(action_id__in=ids, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, closed_at=now, close_note=detail)
    return n
