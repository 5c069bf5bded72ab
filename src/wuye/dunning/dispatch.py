"""The dispatcher: sends what is due from the outbox, inside contact windows, once.

1. Recover: an action left "sending" longer than the lease (a crash between sending and recording) is
   checked with the provider by its ``out_id``; if the provider cannot tell, it becomes 待核实 for a person
   to check — it is never sent a second time blindly.
2. Claim: a batch of due actions is taken with one conditional UPDATE (``status='pending'`` in the WHERE
   clause, a token per dispatcher), as Healthchecks' sendalerts does, so two dispatchers never take the
   same action.
3. Read and triage: the batch's accounts are read set-based (``Reads``); then, holding the accounts
   (``lock_accounts``: an advisory lock per account on PostgreSQL, the database's write lock on SQLite),
   the caps are read — counting what other dispatchers have in flight — and the pure ``triage`` gives each
   action its ``Verdict``: paid or held since the decision → cancelled; a stage message overtaken by a
   later stage or too old → superseded / expired; over a cap → handed back with the time it may go;
   otherwise send or make a task. What is not sent is written before the accounts are let go, so the
   per-account message cap holds under any number of dispatchers on any number of machines.
4. Render, check and send: the text is checked against the law's limits again (``guardrails``: a text that
   reached the database without the model's check is blocked, not sent, and the manager gets a task);
   messages go through the channel's backend; calls, visits, notices, referrals and escalations become
   tasks for people.
5. Record: content, its hash, template version, periods demanded, address, provider id, status — and an
   ``ActionEvent`` for each change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.module_loading import import_string

from wuye.billing.figures import Figures, demand_figures_many
from wuye.billing.models import Bill
from wuye.billing.selectors import AccountSummary, account_summaries
from wuye.common.bulk import insert_dicts, update_dicts
from wuye.common.formatting import format_yuan
from wuye.dunning import calendar as workcal
from wuye.dunning import cycles, guardrails, wording
from wuye.dunning.choices import (
    MESSAGE_CHANNELS,
    PERSON_CHANNELS,
    AccountClass,
    ActionStatus,
    Assignee,
    Channel,
    HoldKind,
    TaskKind,
    TaskStatus,
    WindowDays,
    WindowGroup,
)
from wuye.dunning.engine import SUPERSEDED_DETAIL, Account, active_hold, holds_by_unit, opted_out
from wuye.dunning.models import Action, ActionEvent, CollectionSettings, Episode, Step, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint, Project, Unit
from wuye.estate.selectors import designated_signers, liable_party_ids
from wuye.notify.base import Backend, Message, Outcome, backend_for

BATCH = 2000
WRITTEN_CHANNELS = (Channel.NOTICE, Channel.REGISTERED)
# notices, letters, referrals and escalations are office work: any working day, inside the hard bounds
OFFICE_WINDOW = workcal.Window(WindowDays.WORKDAYS, ((workcal.HARD_START, workcal.HARD_END),))
MAX_ATTEMPTS = 5
BACKOFF_MINUTES = (1, 5, 30, 120, 480)
JOB = "job:dispatch"
UPDATE_FIELDS = ("status", "content", "content_sha256", "template_version", "periods", "deadline", "address",
                 "provider", "provider_message_id", "sent_at", "last_error", "next_attempt_at")

CONTACT_KIND = {Channel.SMS: ContactKind.MOBILE, Channel.EMAIL: ContactKind.EMAIL, Channel.WECHAT: ContactKind.WECHAT,
                Channel.REGISTERED: ContactKind.ADDRESS}
TASK_KIND = {Channel.CALL: TaskKind.CALL, Channel.VISIT: TaskKind.VISIT, Channel.NOTICE: TaskKind.NOTICE,
             Channel.REGISTERED: TaskKind.REGISTERED, Channel.REFERRAL: TaskKind.REFERRAL,
             Channel.ESCALATE: TaskKind.ESCALATE}


@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    cancelled: int = 0
    uncertain: int = 0
    superseded: int = 0  # stage messages overtaken by a later stage
    expired: int = 0  # stage messages that could not go for too long
    blocked: int = 0  # texts refused by the guardrails at send time
    rerouted: int = 0  # calls and messages for a number known dead, turned into a visit to find a new one
    alerts: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        counts = {"sent": self.sent, "failed": self.failed, "deferred": self.deferred}
        counts.update({k: v for k in ("cancelled", "superseded", "expired", "blocked", "uncertain", "rerouted")
                       if (v := getattr(self, k))})
        return json.dumps(counts, ensure_ascii=False)


class _SafeDict(dict):
    def __missing__(self, key):
        return ""


_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"{(\w+)}")


def render(text: str, context: dict) -> str:
    """Fill a template's placeholders. A part in square brackets is optional: it is left out when a
    placeholder inside it has no value (``[咨询 {phone}。]`` without a service phone), else printed without
    the brackets — so a project that has not set its phone never sends “咨询 。”."""
    def optional(m: re.Match) -> str:
        part, names = m.group(1), _FIELD.findall(m.group(1))
        if not names:  # brackets around plain text are the author's own
            return m.group(0)
        return part if all(str(context.get(name) or "").strip() for name in names) else ""

    try:
        return _OPTIONAL.sub(optional, text).format_map(_SafeDict(context))
    except (ValueError, IndexError):  # a stray brace in an edited template: send the text as written
        return text


def _group(channel: str) -> str | None:
    if channel in MESSAGE_CHANNELS:
        return WindowGroup.MESSAGE
    if channel in PERSON_CHANNELS:
        return WindowGroup.PERSON
    return None


class _Backends:
    def __init__(self, overrides: dict[str, Backend] | None):
        self.overrides = overrides or {}
        self.made: dict[str, Backend] = {}

    def get(self, channel: str) -> Backend:
        if channel in self.overrides:
            return self.overrides[channel]
        if channel not in self.made:
            self.made[channel] = backend_for(channel)
        return self.made[channel]

    def close(self) -> None:
        for b in self.made.values():
            b.close()


def dispatch(*, now: dt.datetime | None = None, backends: dict[str, Backend] | None = None,
             limit: int | None = None, batch: int = BATCH) -> DispatchResult:
    """Send everything due at ``now`` (default: the real now)."""
    now = now or timezone.now()
    result = DispatchResult()
    pool = _Backends(backends)
    token = uuid.uuid4().hex
    try:
        _recover(now, pool, result)
        cal = workcal.Calendar()
        ctx = _Context(cal)
        last_pk = 0
        while limit is None or result.sent + result.failed < limit:
            # every action taken here leaves the pending set or gets a later next_attempt_at, so a
            # keyset walk over the primary key visits each due action once without a growing exclusion list
            due = list(Action.objects.filter(status=ActionStatus.PENDING, not_before__lte=now, pk__gt=last_pk)
                       .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                       .order_by("pk").values_list("pk", "project_id", "channel")[:batch])
            if not due:
                break
            last_pk = due[-1][0]
            ready = _filter_windows(due, now, ctx, result)
            if ready:
                _dispatch_batch(ready, now, token, ctx, pool, result)
    finally:
        pool.close()
    return result


class _Context:
    """Per-dispatch caches: calendar, project windows and settings."""

    def __init__(self, cal: workcal.Calendar):
        self.cal = cal
        self.windows: dict[int, dict[str, workcal.Window]] = {}
        self.projects: dict[int, Project] = {}
        self.settings: dict[int, CollectionSettings] = {}
        self.deadlines: dict[tuple[int, dt.date], dt.date | None] = {}
        self.steps: dict[int, Step] = {}  # with their templates, read once per dispatch

    def project(self, pid: int) -> Project:
        if pid not in self.projects:
            self.projects[pid] = Project.objects.get(pk=pid)
            self.windows[pid] = workcal.windows_for(pid)
            self.settings[pid] = (CollectionSettings.objects.filter(project_id=pid).first()
                                  or CollectionSettings(project_id=pid))
        return self.projects[pid]

    def deadline(self, pid: int, today: dt.date) -> dt.date | None:
        """The last day to pay printed on what goes out today (None when the calendar has no answer)."""
        key = (pid, today)
        if key not in self.deadlines:
            try:
                self.deadlines[key] = self.cal.deadline(today, self.settings[pid].deadline_days)
            except workcal.UncoveredDate:
                self.deadlines[key] = None
        return self.deadlines[key]


def _filter_windows(due, now, ctx: _Context, result: DispatchResult) -> list[int]:
    """Ids inside their contact window now; the others get ``next_attempt_at`` = the next opening."""
    ready, later = [], defaultdict(list)
    for pk, pid, channel in due:
        project = ctx.project(pid)
        group = _group(channel)
        local = workcal.local_now(now, project.timezone)
        window = ctx.windows[pid][group] if group else OFFICE_WINDOW
        try:
            if workcal.within_hard_bounds(local) and window.contains(ctx.cal, local):
                ready.append(pk)
                continue
            opening = workcal.to_aware(window.next_opening(ctx.cal, local), project.timezone)
        except workcal.UncoveredDate as exc:
            if str(exc) not in result.alerts:
                result.alerts.append(str(exc))
            opening = now + dt.timedelta(hours=12)
        later[opening].append(pk)
        result.deferred += 1
    for opening, ids in later.items():
        Action.objects.filter(pk__in_ids=ids, status=ActionStatus.PENDING).update(next_attempt_at=opening)
    return ready


def _recover(now: dt.datetime, pool: _Backends, result: DispatchResult) -> None:
    stale = now - dt.timedelta(seconds=settings.WUYE_SEND_LEASE_SECONDS)
    for action in Action.objects.filter(status=ActionStatus.SENDING, claimed_at__lt=stale):
        if action.channel not in MESSAGE_CHANNELS:
            # tasks are created in the same transaction as the record: a stale one never got that far
            Action.objects.filter(pk=action.pk, status=ActionStatus.SENDING).update(status=ActionStatus.PENDING)
            continue
        answer = pool.get(action.channel).was_sent(action.out_id)
        if answer is True:
            new, detail = ActionStatus.SENT, "发送中断后核对：平台已收到"
        elif answer is False:
            new, detail = ActionStatus.PENDING, "发送中断后核对：平台未收到，重新排队"
        else:
            new, detail = ActionStatus.UNCERTAIN, "发送中断，平台无法查询是否已发出；为免重复发送，请人工核实"
            result.uncertain += 1
        with transaction.atomic():
            if Action.objects.filter(pk=action.pk, status=ActionStatus.SENDING).update(
                    status=new, sent_at=now if new == ActionStatus.SENT else None, last_error=detail):
                ActionEvent.objects.create(action_id=action.pk, at=now, status=new, detail=detail, actor_label=JOB)


@dataclass(frozen=True)
class Item:
    """One claimed action as the dispatcher reads it (plain columns — building model instances with their
    related step, template and unit costs more than the rest of the send)."""

    pk: int
    project_id: int
    unit_id: int
    party_id: int | None
    step_id: int
    cycle: str
    episode_id: int | None
    channel: str
    attempts: int
    out_id: str
    assigned_to_id: int | None
    unit_code: str
    stage: int
    not_before: dt.datetime
    decided_on: dt.date
    next_attempt_at: dt.datetime | None
    periods: tuple[str, ...]  # set by the engine for referrals, written and limitation demands
    step: Step

    @property
    def account(self) -> tuple[int, int | None]:
        return (self.unit_id, self.party_id)

    @property
    def kind(self) -> cycles.Kind:
        return cycles.kind_of(self.cycle)

    @property
    def deferred(self) -> bool:
        """Was it held back — by the engine (its time is after its decision day: the cap) or by a dispatcher
        (handed back: a window, a cap, a holiday)? Only such a message can go stale."""
        return self.next_attempt_at is not None or workcal.local_now(self.not_before).date() > self.decided_on

    @property
    def link_key(self) -> tuple[int, int] | int:
        """The pay-link key: the debtor's own lines (a plain unit id for a row decided before debtors)."""
        return self.account if self.party_id is not None else self.unit_id


ITEM_COLUMNS = ("pk", "project_id", "unit_id", "party_id", "step_id", "cycle", "episode_id", "channel", "attempts",
                "out_id", "assigned_to_id", "unit__code", "stage", "not_before", "decided_on", "next_attempt_at",
                "periods")


class _Out:
    """What the dispatcher writes back for one action (the fields of ``UPDATE_FIELDS``)."""

    __slots__ = ("item", *UPDATE_FIELDS)

    def __init__(self, item: Item):
        self.item = item
        self.status = ActionStatus.SENDING
        self.content = self.content_sha256 = self.address = self.provider = self.provider_message_id = ""
        self.last_error = ""
        self.template_version = self.deadline = self.sent_at = self.next_attempt_at = None
        self.periods = []

    # what the shared helpers (_flag_dead, _params, _render) read of an action
    def __getattr__(self, name):
        return getattr(self.item, name)

    def row(self) -> dict:
        return {"pk": self.item.pk, **{f: getattr(self, f) for f in UPDATE_FIELDS}}


def _claim(ids: list[int], now: dt.datetime, token: str, steps: dict[int, Step]) -> list[Item]:
    Action.objects.filter(pk__in_ids=ids, status=ActionStatus.PENDING).update(
        status=ActionStatus.SENDING, claimed_at=now, claimed_by=token, attempts=F("attempts") + 1)
    rows = list(Action.objects.filter(pk__in_ids=ids, status=ActionStatus.SENDING, claimed_by=token)
                .values_list(*ITEM_COLUMNS))
    step_at = ITEM_COLUMNS.index("step_id")
    missing = {r[step_at] for r in rows} - steps.keys()
    if missing:
        steps.update((st.pk, st) for st in Step.objects.filter(pk__in=missing).select_related("template"))
    periods_at = ITEM_COLUMNS.index("periods")
    return [Item(*r[:periods_at], tuple(r[periods_at] or ()), *r[periods_at + 1:], step=steps[r[step_at]])
            for r in rows]


# --- triage: what to do with one claimed action, decided from reads alone --------------------------------

class Do(StrEnum):
    SEND = "send"  # a message, through the channel's backend
    TASK = "task"  # work for a person (call, visit, notice, letter, referral, escalation)
    CANCEL = "cancel"  # paid or held since the decision, or the owner opted out
    SUPERSEDE = "supersede"  # a later stage of the ladder was decided: this stage's message must never follow it
    EXPIRE = "expire"  # a stage message that could not go for too long
    DEFER = "defer"  # a cap: handed back with the time it may go
    FAIL = "fail"  # nowhere to send it


@dataclass(frozen=True)
class Verdict:
    do: Do
    why: str = ""
    until: dt.datetime | None = None  # DEFER: when it may go
    address: str = ""  # SEND: where to
    task_kind: str = ""  # TASK: a task of another kind than the channel's (a visit instead of a dead number)


@dataclass(frozen=True)
class Rules:
    """The project's settings that triage applies."""

    message_min_days: int = 14
    calls_per_day: int = 2
    stage_message_max_age_days: int = 14
    timezone: str = "Asia/Shanghai"

    @classmethod
    def of(cls, row: CollectionSettings, project: Project) -> Rules:
        return cls(message_min_days=row.arrears_message_min_days, calls_per_day=row.calls_per_day,
                   stage_message_max_age_days=row.stage_message_max_age_days, timezone=project.timezone)


@dataclass
class Reads:
    """Everything triage needs about the accounts of one batch, read set-based. ``last_message`` and
    ``calls_today`` are read while the batch's accounts are locked (``lock_accounts``) and count what other
    dispatchers have in flight; the batch loop adds its own sends as it goes."""

    today: dt.date
    summaries: dict[tuple[int, int | None], AccountSummary] = field(default_factory=dict)
    holds: dict[int, list] = field(default_factory=dict)  # unit → engine.HoldInfo
    contacts: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)  # (party, kind) → (id, value)
    liable: dict[int, int] = field(default_factory=dict)  # unit → the party liable today
    declined: set[int] = field(default_factory=set)  # units whose owner opted out of reminders
    highest_stage: dict[int, int] = field(default_factory=dict)  # episode → highest ladder stage decided
    highest_sent_stage: dict[int, int] = field(default_factory=dict)  # episode → highest stage that went out
    # account → (the last arrears message: sent, or being sent by another dispatcher; in flight?)
    last_message: dict[tuple[int, int | None], tuple[dt.datetime, bool]] = field(default_factory=dict)
    calls_today: dict[tuple[int, int | None], int] = field(default_factory=dict)
    figures: dict[int, Figures] = field(default_factory=dict)  # action → what its text demands (billing.figures)
    # (account, due date) → the open principal of the lines due that day: the amount of a reminder before a
    # due date (pre-due, prepaid ran out) is that bill's, not every line not yet due
    due_amounts: dict[tuple[tuple[int, int | None], dt.date], int] = field(default_factory=dict)
    dead: set[tuple[int, str]] = field(default_factory=set)  # (party, contact kind) with a number flagged dead
    open_visits: set[int] = field(default_factory=set)  # units with a visit arranged (task or action)
    # debtor → (designated signer 指定负责人, their mobile): whom a written notice is handed to (office tenants)
    signers: dict[int, tuple[str, str]] = field(default_factory=dict)

    def summary(self, item: Item) -> AccountSummary | None:
        s = self.summaries.get(item.account)
        if s is None and item.party_id is None:  # a row decided before debtors: the unit's liable party
            s = self.summaries.get((item.unit_id, self.liable.get(item.unit_id)))
        return s

    def address(self, item: Item, kind: str) -> tuple[int, str] | None:
        party = item.party_id if item.party_id is not None else self.liable.get(item.unit_id)
        return self.contacts.get((party, kind))


IN_FLIGHT_RETRY = dt.timedelta(minutes=5)


def triage(item: Item, reads: Reads, rules: Rules, now: dt.datetime) -> Verdict:
    """What to do with a claimed action now — the dispatcher's ``decide``: no queries, no writes."""
    s = reads.summary(item)
    kind = item.kind
    arrears = item.episode_id is not None
    message = item.channel in MESSAGE_CHANNELS
    # paid (or nothing left) since the decision: cancel, never contact
    if (arrears and (s is None or s.overdue_fen <= 0)) or (not arrears and (s is None or s.open_fen <= 0)):
        return Verdict(Do.CANCEL, "决策后已缴清，取消发送")
    if kind in (cycles.Kind.PRE_DUE, cycles.Kind.PREPAID_OUT) and message and item.unit_id in reads.declined:
        return Verdict(Do.CANCEL, "业主已选择不接收到期前提醒")
    if arrears:
        held = active_hold(Account(summary=s, segment="", holds=reads.holds.get(item.unit_id, [])), reads.today)
        if held and kind != cycles.Kind.PROMISE_EVE:
            return Verdict(Do.CANCEL, f"暂停催缴：{held[1]}")
        fig = reads.figures.get(item.pk)
        if fig is not None and not fig.demandable:  # this debtor's periods paid since the decision
            return Verdict(Do.CANCEL, "决策后已缴清（本欠费人名下已无到期未缴的费用），取消发送")
    elif item.step.min_risk_pct:  # a contact before the due date for high-risk accounts stops like the ladder
        held = active_hold(Account(summary=s, segment="", holds=reads.holds.get(item.unit_id, [])), reads.today)
        if held:
            return Verdict(Do.CANCEL, f"暂停催缴：{held[1]}")
    # a stage message never goes after a later stage, and a held-back one goes stale
    if message and kind == cycles.Kind.STAGE:
        if reads.highest_sent_stage.get(item.episode_id, item.stage) > item.stage:
            return Verdict(Do.SUPERSEDE, "更高阶段的催缴已发出，本阶段消息不再发送")
        if item.deferred:
            if reads.highest_stage.get(item.episode_id, item.stage) > item.stage:
                return Verdict(Do.SUPERSEDE, SUPERSEDED_DETAIL)
            if now - item.not_before > dt.timedelta(days=rules.stage_message_max_age_days):
                return Verdict(Do.EXPIRE, f"顺延超过 {rules.stage_message_max_age_days} 天仍未能发出，已过期不再发送")
    # a call or a message for a number known dead (空号/停机/错号) and no live one: a visit instead (domain.md,
    # 无法联系类: find new contacts and visit), once — not a failed SMS or an unanswerable call every week
    rerouted = dead_end(item, reads)
    if rerouted is not None:
        return rerouted
    # the arrears-message cap (one definition with the engine: cycles.counts_towards_message_cap)
    if cycles.counts_towards_message_cap(item.cycle, item.channel):
        last = reads.last_message.get(item.account)
        if last is not None:
            at, in_flight = last
            if in_flight:
                return Verdict(Do.DEFER, "同一户的另一条欠费消息正在发送", until=now + IN_FLIGHT_RETRY)
            gap = dt.timedelta(days=rules.message_min_days)
            if now - at < gap:
                return Verdict(Do.DEFER, "频次限制", until=at + gap)
    if item.channel == Channel.CALL and reads.calls_today.get(item.account, 0) >= rules.calls_per_day:
        if kind == cycles.Kind.REPEAT:
            # a routine call over the cap is dropped, not queued: the next one comes anyway, and a queue of
            # deferred calls would crowd out tomorrow's
            return Verdict(Do.CANCEL, "今日电话已达每户上限，例行电话本次不再安排")
        tomorrow = dt.datetime.combine(reads.today + dt.timedelta(days=1), workcal.HARD_START)
        return Verdict(Do.DEFER, "今日电话次数已达上限", until=workcal.to_aware(tomorrow, rules.timezone))
    if message:
        to = reads.address(item, CONTACT_KIND[item.channel])
        if not to:
            return Verdict(Do.FAIL, "没有可用的联系方式（无号码或均已标记失效）")
        return Verdict(Do.SEND, address=to[1])
    return Verdict(Do.TASK)


# the contact kinds a channel reaches the debtor through
REACHED_BY = {Channel.CALL: (ContactKind.MOBILE, ContactKind.LANDLINE), Channel.SMS: (ContactKind.MOBILE,),
              Channel.WECHAT: (ContactKind.WECHAT,)}
DEAD_END_VISIT = "号码已失效（空号/停机/错号），没有其他可用号码：改为上门寻访并查找新的联系方式"
DEAD_END_DONE = "号码已失效（空号/停机/错号），已安排上门寻访：不再发送或拨打"


def dead_end(item: Item, reads: Reads) -> Verdict | None:
    """A call or message whose debtor has no live contact of the kinds the channel uses, and one of them was
    flagged dead: a visit task (or nothing, when a visit is already arranged). None: the channel can be used
    (or there never was a number: then a message fails and a call is left to the collector, as before)."""
    kinds = REACHED_BY.get(item.channel)
    if not kinds or any(reads.address(item, k) for k in kinds):
        return None
    party = item.party_id if item.party_id is not None else reads.liable.get(item.unit_id)
    if not any((party, k) in reads.dead for k in kinds):
        return None
    if item.unit_id in reads.open_visits:
        return Verdict(Do.CANCEL, DEAD_END_DONE)
    return Verdict(Do.TASK, DEAD_END_VISIT, task_kind=TaskKind.VISIT)


def _note(verdict: Verdict, item: Item, reads: Reads, now: dt.datetime) -> None:
    """Count a send of this batch in the reads, so the next action of the same account sees it."""
    if verdict.do == Do.SEND and cycles.counts_towards_message_cap(item.cycle, item.channel):
        reads.last_message[item.account] = (now, False)
    elif verdict.do == Do.TASK and verdict.task_kind == TaskKind.VISIT:
        reads.open_visits.add(item.unit_id)
    elif verdict.do == Do.TASK and item.channel == Channel.CALL:
        reads.calls_today[item.account] = reads.calls_today.get(item.account, 0) + 1


# --- the per-account claim ----------------------------------------------------------------------------------

ACCOUNT_LOCK_SPACE = 0x77790D15  # the advisory-lock namespace of dispatch's account claims ("wy" dispatch)


def _account_key(account: tuple[int, int | None]) -> int:
    return zlib.crc32(f"{account[0]}:{account[1]}".encode()) - 2**31


def lock_accounts(accounts) -> None:
    """Hold the accounts until the current transaction ends, against every other dispatcher on any machine.

    PostgreSQL: one transaction-level advisory lock per account, taken in key order (two dispatchers with
    overlapping batches cannot deadlock). SQLite: the dispatcher's transactions are IMMEDIATE (every SQLite
    database is configured so, decision 28), so the transaction holds the database file's write lock from its
    first statement — every process using that file waits for it, whatever its data directory. Two keys that
    collide only make two accounts wait for each other."""
    if connection.vendor != "postgresql":
        return
    keys = sorted({_account_key(a) for a in accounts})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS k",
                           [ACCOUNT_LOCK_SPACE - 2**31, keys])


def _last_messages(unit_ids: list[int], since: dt.datetime, token: str, owners: dict[int, int]
                   ) -> dict[tuple[int, int | None], tuple[dt.datetime, bool]]:
    """account → its last arrears message (``cycles.counts_towards_message_cap``): sent since ``since``, or
    in flight — being sent by another dispatcher (``sending``, in flight) or sent with its outcome unknown
    (``uncertain``, counted as sent when it was claimed). This dispatcher's own claims are not counted. A
    message decided before accounts were per debtor counts for the owner in force (``owners``)."""
    out: dict[tuple[int, int | None], tuple[dt.datetime, bool]] = {}
    qs = (Action.objects.filter(unit_id__in_ids=unit_ids, channel__in=list(MESSAGE_CHANNELS))
          .filter(Q(sent_at__gte=since) | Q(status__in=[ActionStatus.SENDING, ActionStatus.UNCERTAIN]))
          .exclude(status=ActionStatus.SENDING, claimed_by=token))
    for u, party, cycle, channel, status, sent_at, claimed_at in qs.values_list(
            "unit_id", "party_id", "cycle", "channel", "status", "sent_at", "claimed_at"):
        if not cycles.counts_towards_message_cap(cycle, channel):
            continue
        key = (u, owners.get(u) if party is None else party)
        if status == ActionStatus.SENDING:
            out[key] = (claimed_at or since, True)  # in flight: whatever else was sent, wait for it
            continue
        at = sent_at or claimed_at
        if at is not None and (key not in out or (not out[key][1] and at > out[key][0])):
            out[key] = (at, False)
    return out


def _calls_today(unit_ids: list[int], now: dt.datetime, token: str,
                 owners: dict[int, int]) -> dict[tuple[int, int | None], int]:
    start = workcal.to_aware(dt.datetime.combine(workcal.local_now(now).date(), dt.time.min))
    counts: dict[tuple[int, int | None], int] = defaultdict(int)
    for u, party in (Action.objects.filter(unit_id__in_ids=unit_ids, channel=Channel.CALL)
                     .filter(Q(sent_at__gte=start) | Q(status=ActionStatus.SENDING))
                     .exclude(status=ActionStatus.SENDING, claimed_by=token).values_list("unit_id", "party_id")):
        counts[(u, owners.get(u) if party is None else party)] += 1
    return counts


def _highest_stages(episode_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """episode → the highest ladder stage decided in it (whatever became of it), and → the highest that went
    out (sent, delivered, or a task made)."""
    decided: dict[int, int] = {}
    sent: dict[int, int] = {}
    for ep, stage, cycle, sent_at in Action.objects.filter(episode_id__in_ids=episode_ids).values_list(
            "episode_id", "stage", "cycle", "sent_at"):
        if cycles.is_progress(cycle):
            if stage > decided.get(ep, -1):
                decided[ep] = stage
            if sent_at is not None and stage > sent.get(ep, -1):
                sent[ep] = stage
    return decided, sent


# --- one batch: claim, read, triage under the account lock, render, check, send, record ---------------------

OUTCOME_STATUS = {Do.CANCEL: ActionStatus.CANCELLED, Do.SUPERSEDE: ActionStatus.SUPERSEDED,
                  Do.EXPIRE: ActionStatus.EXPIRED, Do.FAIL: ActionStatus.FAILED}
RESULT_FIELD = {Do.CANCEL: "cancelled", Do.SUPERSEDE: "superseded", Do.EXPIRE: "expired", Do.FAIL: "failed",
                Do.DEFER: "deferred"}


def _dispatch_batch(ids: list[int], now: dt.datetime, token: str, ctx: _Context, pool: _Backends,
                    result: DispatchResult) -> None:
    items = _claim(ids, now, token, ctx.steps)  # committed on its own: the claim is what protects against a twin
    if not items:
        return
    # stages and events before routine repeats, oldest first: when a cap leaves room for one call today, a
    # broken promise's follow-up is not pushed back day after day by each morning's new routine call
    items.sort(key=lambda a: (a.kind == cycles.Kind.REPEAT, a.pk))
    unit_ids = sorted({a.unit_id for a in items})
    today = workcal.local_now(now).date()
    reads = Reads(today=today)
    reads.liable = liable_party_ids(unit_ids, today)
    # a row decided before accounts were per debtor belongs to the party liable today (the owner in force)
    items = [replace(a, party_id=reads.liable.get(a.unit_id)) if a.party_id is None else a for a in items]
    reads.summaries = {s.account: s for s in account_summaries(as_of=today, unit_ids=unit_ids, only_overdue=False,
                                                                 prepaid=False)}
    reads.holds = holds_by_unit(None, unit_ids)
    reads.contacts = _addresses({a.party_id for a in items} - {None})
    reads.dead = _dead_kinds({a.party_id for a in items} - {None})
    # a visit already arranged: an open visit task, or a visit the ladder decided (无法联系：上门寻访) still to go
    reads.open_visits = set(Task.objects.filter(unit_id__in_ids=unit_ids, kind=TaskKind.VISIT,
                                                status=TaskStatus.OPEN).values_list("unit_id", flat=True))
    reads.open_visits |= set(Action.objects.filter(unit_id__in_ids=unit_ids, channel=Channel.VISIT, status__in=[
        ActionStatus.PENDING, ActionStatus.SENDING]).values_list("unit_id", flat=True))
    reads.declined = opted_out(unit_ids)
    reads.signers = designated_signers({a.party_id for a in items if a.channel in WRITTEN_CHANNELS})
    reads.figures = _figures(items, today)
    reads.due_amounts = _due_amounts(items, reads)
    staged = sorted({a.episode_id for a in items
                     if a.episode_id is not None and a.channel in MESSAGE_CHANNELS and a.kind == cycles.Kind.STAGE})
    reads.highest_stage, reads.highest_sent_stage = _highest_stages(staged)
    rules = {pid: Rules.of(ctx.settings[pid], ctx.project(pid)) for pid in {a.project_id for a in items}}
    since = now - dt.timedelta(days=max(r.message_min_days for r in rules.values()))

    go: list[tuple[Item, Verdict]] = []
    with transaction.atomic():
        # the per-account claim: no other dispatcher decides for these accounts until this commits, and what
        # this one lets go is then visible to them as in flight (``sending``) or handed back
        lock_accounts({a.account for a in items})
        reads.last_message = _last_messages(unit_ids, since, token, reads.liable)
        reads.calls_today = _calls_today(unit_ids, now, token, reads.liable)
        released, events = [], []
        for a in items:
            verdict = triage(a, reads, rules[a.project_id], now)
            _note(verdict, a, reads, now)
            if verdict.do in (Do.SEND, Do.TASK):
                go.append((a, verdict))
                continue
            out = _Out(a)
            if verdict.do == Do.DEFER:
                out.status, out.next_attempt_at, out.last_error = ActionStatus.PENDING, verdict.until, (
                    f"顺延：{verdict.why}")
            else:
                out.status, out.last_error = OUTCOME_STATUS[verdict.do], verdict.why[:300]
                events.append(_event(a.pk, now, out.status, verdict.why))
            released.append(out)
            setattr(result, RESULT_FIELD[verdict.do], getattr(result, RESULT_FIELD[verdict.do]) + 1)
        update_dicts(Action, [o.row() for o in released], ("status", "last_error", "next_attempt_at"))
        insert_dicts(ActionEvent, events)
    if go:
        _send(go, reads, now, ctx, pool, result)


def _event(action_id: int, at: dt.datetime, status: str, detail: str) -> dict:
    return {"action_id": action_id, "at": at, "status": status, "detail": detail[:300], "actor_label": JOB}


def _send(go: list[tuple[Item, Verdict]], reads: Reads, now: dt.datetime, ctx: _Context, pool: _Backends,
          result: DispatchResult) -> None:
    today = reads.today
    linked = [a for a, v in go if v.do == Do.SEND and a.step.template is not None
              and "{pay_link" in a.step.template.body]
    links = pay_links([a.link_key for a in linked], today,
                      known_units={a.unit_id: (a.project_id, reads.liable.get(a.unit_id)) for a in linked})

    updates: list[_Out] = []
    events: list[dict] = []
    tasks: list[dict] = []
    outgoing: dict[str, list[tuple[_Out, Message]]] = defaultdict(list)
    for item, verdict in go:
        a = _Out(item)
        s = reads.summary(item)
        project = ctx.project(item.project_id)
        rules = ctx.settings[item.project_id]
        arrears = item.episode_id is not None
        a.deadline = ctx.deadline(item.project_id, today)
        fig = reads.figures[item.pk]
        on = _due_date(item.cycle)
        due = (on, reads.due_amounts.get(((item.unit_id, s.party_id if s is not None else item.party_id), on), 0)
               ) if on is not None else None
        content, subject = _render(a, s, project, rules, today, reads.holds.get(item.unit_id, ()),
                                   links.get(item.link_key, ""), fig, due)
        a.content, a.content_sha256 = content, hashlib.sha256(content.encode()).hexdigest()
        template = item.step.template
        a.template_version = template.version if template is not None else None
        # what the text demands: the periods the engine named (a referral, a written demand) still open, else
        # the debtor's matured unpaid periods
        a.periods = list(fig.periods) if arrears else []
        # the law's limits again at send time, on the text as rendered (a step without a template would send its
        # bare name: it is not sent at all): a text that got into the database some other way is not sent
        problems = (_guardrail_problems(content, subject, item.channel) if template is not None
                    else [f"步骤「{item.step.name}」没有设置模板"] if item.channel in MESSAGE_CHANNELS
                    else _guardrail_problems(content, "", item.channel))
        if problems:
            a.status, a.last_error = ActionStatus.BLOCKED, ("内容未通过合规检查，未发送：" + "；".join(problems))[:300]
            updates.append(a)
            events.append(_event(item.pk, now, a.status, a.last_error))
            tasks.append(_blocked_task(item, a.last_error, template, today, now))
            alert = (f"{item.step.name}：模板「{template.name}」未通过合规检查，已拦截，经理已收到任务"
                     if template is not None else f"{item.step.name}：步骤没有设置模板，未发送，经理已收到任务")
            if alert not in result.alerts:
                result.alerts.append(alert)
            result.blocked += 1
            continue
        if verdict.do == Do.SEND:
            a.address = verdict.address
            outgoing[item.channel].append((a, Message(
                channel=item.channel, to=verdict.address, body=content, subject=subject, out_id=item.out_id,
                template_id=template.provider_template_id if template else "",
                params=_params(a, s, fig, due), sign_name=rules.sms_signature)))
        else:
            if item.channel == Channel.REGISTERED:
                addr = reads.address(item, ContactKind.ADDRESS)
                a.address = addr[1] if addr else ""
            if verdict.task_kind:  # rerouted: the call or message did not happen, a visit takes its place
                tasks.append({"project_id": item.project_id, "unit_id": item.unit_id, "action_id": item.pk,
                              "kind": verdict.task_kind, "title": f"{item.unit_code} 上门寻访：号码已失效"[:200],
                              "detail": f"{verdict.why}（原定：{item.step.name}）", "assigned_to_id": item.assigned_to_id,
                              "assignee_role": Assignee.COLLECTOR, "due_on": today, "created_at": now})
                _finish(a, ActionStatus.CANCELLED, verdict.why, updates, events, now)
                result.rerouted += 1
                continue
            title, detail = f"{item.unit_code} {item.step.name}", content
            signer = reads.signers.get(item.party_id) if item.channel in WRITTEN_CHANNELS else None
            if signer is not None:  # an office tenant's notice goes into the hands of the person it named
                title = f"{title}（{'交' if item.channel == Channel.NOTICE else '寄'}指定负责人 {signer[0]}）"
                detail = f"{content}\n\n{signer_note(item.channel, *signer)}"
            tasks.append({"project_id": item.project_id, "unit_id": item.unit_id, "action_id": item.pk,
                          "kind": TASK_KIND[item.channel], "title": title[:200],
                          "detail": detail, "assigned_to_id": item.assigned_to_id,
                          "assignee_role": item.step.assignee, "due_on": today, "created_at": now})
            a.provider = "task"
            _finish(a, ActionStatus.SENT, "已生成任务", updates, events, now)
            result.sent += 1

    for channel, pairs in outgoing.items():
        backend = pool.get(channel)
        results = backend.send_many([m for _, m in pairs])
        dead = []
        for (a, _), r in zip(pairs, results, strict=True):
            a.provider = backend.name
            a.provider_message_id = r.provider_message_id[:100]
            if r.outcome == Outcome.SENT:
                _finish(a, ActionStatus.SENT, r.detail or "平台已受理", updates, events, now)
                result.sent += 1
            elif r.outcome == Outcome.UNCERTAIN and (answer := _ask_sent(backend, a.out_id)) is not False:
                if answer:
                    _finish(a, ActionStatus.SENT, "应答超时后核对：平台已收到", updates, events, now)
                    result.sent += 1
                else:
                    _finish(a, ActionStatus.UNCERTAIN, (r.detail or "发送超时")[:200]
                            + "；平台无法查询是否已发出，为免重复发送，请人工核实", updates, events, now)
                    result.uncertain += 1
            elif r.outcome in (Outcome.TRANSIENT, Outcome.UNCERTAIN) and a.attempts < MAX_ATTEMPTS:
                wait = BACKOFF_MINUTES[min(a.attempts, len(BACKOFF_MINUTES)) - 1]
                a.status, a.next_attempt_at, a.last_error = ActionStatus.PENDING, now + dt.timedelta(minutes=wait), (
                    f"暂时失败，{wait} 分钟后重试：{r.detail}")[:300]
                updates.append(a)
                events.append(_event(a.pk, now, ActionStatus.PENDING, a.last_error))
                result.deferred += 1
            else:
                _finish(a, ActionStatus.FAILED, r.detail or "发送失败", updates, events, now)
                result.failed += 1
                if r.dead_address:
                    dead.append((a, r.dead_address))
        _flag_dead(dead, today)

    with transaction.atomic():
        insert_dicts(Task, tasks)
        update_dicts(Action, [a.row() for a in updates], UPDATE_FIELDS)
        insert_dicts(ActionEvent, events)


def signer_note(channel: str, name: str, phone: str) -> str:
    """The delivery instruction of a written notice (handed over) or letter (posted) for a tenant that named a
    designated signer (seed 004)."""
    if channel == Channel.NOTICE:
        return (f"送达：交该单位指定负责人 {name}" + (f"（{phone}）" if phone else "") + " 本人签收；当天联系不上的，"
                "关闭任务时选“无人签收”，系统改以 EMS 寄至联系地址。")
    return f"邮寄：收件人写该单位指定负责人 {name}" + (f"，电话 {phone}" if phone else "") + "。"


def _guardrail_problems(content: str, subject: str, channel: str) -> list[str]:
    problems = guardrails.check_text(content, channel=channel)
    if subject:
        problems += guardrails.check_text(subject, channel=channel)
    return problems


def _blocked_task(item: Item, why: str, template, today: dt.date, now: dt.datetime) -> dict:
    """The manager's task for a message stopped at send time: the template must be corrected (or switched
    off) before the step can send again."""
    return {"project_id": item.project_id, "unit_id": item.unit_id, "action_id": item.pk,
            "kind": TaskKind.ESCALATE,
            "title": f"{item.unit_code} {item.step.name}：内容未通过合规检查，已拦截"[:200],
            "detail": (f"模板「{template.name}」（第 {template.version} 版）渲染后的文字未通过合规检查，本条未发送。"
                       f"{why}\n请修改或停用该模板；本条不会自动重发。" if template is not None else
                       f"该步骤没有设置模板，本条未发送。{why}\n请在催缴策略中为该步骤选择模板；本条不会自动重发。"),
            "assigned_to_id": None, "assignee_role": Assignee.MANAGER, "due_on": today, "created_at": now}


def _ask_sent(backend: Backend, out_id: str) -> bool | None:
    """The provider's word on whether ``out_id`` went out (None when it cannot tell or the query fails)."""
    try:
        return backend.was_sent(out_id)
    except Exception:  # noqa: BLE001 - a failed query is the same as no answer: leave it to a person
        return None


def _finish(a: _Out, status: str, detail: str, updates, events, now) -> None:
    a.status, a.last_error = status, ("" if status == ActionStatus.SENT else detail[:300])
    if status == ActionStatus.SENT:
        a.sent_at = now
    updates.append(a)
    events.append(_event(a.pk, now, status, detail))


def _params(a: _Out, s, fig: Figures, due: tuple[dt.date, int] | None = None) -> tuple[str, ...]:
    """Template parameters for gateways that take a registered template id (order of the placeholders)."""
    amount = fig.total_fen if a.episode_id else (due[1] if due is not None else s.upcoming_fen)
    return (a.unit_code, format_yuan(amount),
            str(a.deadline or ""))


def _figures(items: list[Item], today: dt.date) -> dict[int, Figures]:
    """action → the figures its text demands (``billing.figures``, the function every document uses): its
    debtor's matured lines, restricted to the periods the engine named (a referral, a written demand)."""
    found = demand_figures_many({a.account for a in items}, today)
    return {a.pk: found[a.account].only(a.periods) for a in items}


DUE_DATE_KINDS = (cycles.Kind.PRE_DUE, cycles.Kind.PREPAID_OUT)


def _due_date(cycle: str) -> dt.date | None:
    """The due date a reminder before a due date is about (its cycle key names it); None for other kinds."""
    return cycles.parse(cycle).on if cycles.kind_of(cycle) in DUE_DATE_KINDS else None


def _due_amounts(items: list[Item], reads: Reads) -> dict[tuple[tuple[int, int | None], dt.date], int]:
    """(account, due date) → open principal of the account's lines due that day, for the batch's reminders
    before a due date (one grouped query)."""
    wanted = {}
    for a in items:
        on = _due_date(a.cycle)
        if on is not None:
            s = reads.summary(a)
            wanted[(a.unit_id, s.party_id if s is not None else a.party_id, on)] = True
    if not wanted:
        return {}
    out: dict[tuple[tuple[int, int | None], dt.date], int] = {}
    rows = (Bill.objects.filter(unit_id__in_ids=sorted({u for u, _, _ in wanted}), is_void=False,
                                settled_fen__lt=F("amount_fen"), late_fee_of__isnull=True,
                                due_date__in=sorted({on for _, _, on in wanted}))
            .values("unit_id", "party_id", "due_date").annotate(fen=Sum(F("amount_fen") - F("settled_fen")))
            .values_list("unit_id", "party_id", "due_date", "fen"))
    for u, party, on, fen in rows:
        if (u, party, on) in wanted:
            out[((u, party), on)] = fen or 0
    return out


def pay_links(unit_ids: list[int], today: dt.date, label: str = JOB, **extra) -> dict[int, str]:
    """unit → the owner's pay link of the day (the portal's bulk factory; {} when none is configured)."""
    path = getattr(settings, "WUYE_PAY_LINKS_FACTORY", "")
    if not unit_ids or not path:
        return {}
    return import_string(path)(unit_ids, issued_on=today, created_by_label=label, **extra)


def _render(a: _Out, s, project: Project, rules: CollectionSettings, today: dt.date,
            holds, link: str = "", fig: Figures | None = None,
            due: tuple[dt.date, int] | None = None) -> tuple[str, str]:
    template = a.step.template
    hold_id = cycles.parse(a.cycle).hold_id if cycles.kind_of(a.cycle) in (
        cycles.Kind.PROMISE_EVE, cycles.Kind.PROMISE_BROKEN) else None
    promise = next((h.until for h in holds if h.kind == HoldKind.PROMISE and h.id == hold_id), None)
    context = {
        "company": rules.company_name or project.name, "unit": f"{project.name}{a.unit_code}",
        "amount": format_yuan(s.overdue_fen), "months": s.overdue_periods,
        "oldest_due": _cn_date(s.oldest_due), "deadline": _cn_date(a.deadline), "phone": rules.service_phone or "",
        "due_date": _cn_date(s.next_due), "amount_due": format_yuan(s.upcoming_fen), "today": _cn_date(today),
        "promise_date": _cn_date(promise), "pay_link": f" 在线缴费 {link} " if link else "",
    }
    if due is not None:  # a reminder before a due date: that bill's date and amount
        context["due_date"], context["amount_due"] = _cn_date(due[0]), format_yuan(due[1])
    if fig is not None:  # every figure of the text from the one function documents use (billing.figures)
        context.update(wording.figure_context(fig))
    if template is None:
        return a.step.name, ""
    return (wording.finish(render(template.body, context).strip(), fig),
            wording.finish(render(template.subject, context), fig))


def _cn_date(d: dt.date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _addresses(party_ids) -> dict[tuple[int, str], tuple[int, str]]:
    """(party, contact kind) → (contact id, value): the party's best live contact of that kind (primary
    first, then verified, then the oldest)."""
    best: dict[tuple[int, str], tuple[int, str, tuple]] = {}
    for pk, party, kind, value, primary, validity in (
            ContactPoint.objects.filter(party_id__in_ids=sorted(party_ids))
            .exclude(validity__in=list(DEAD_VALIDITIES))
            .values_list("pk", "party_id", "kind", "value", "is_primary", "validity")):
        rank = (not primary, validity != "valid", pk)
        key = (party, kind)
        if key not in best or rank < best[key][2]:
            best[key] = (pk, value, rank)
    return {key: (pk, value) for key, (pk, value, _rank) in best.items()}


def _dead_kinds(party_ids) -> set[tuple[int, str]]:
    """(party, contact kind) pairs with a contact point flagged dead (空号/错号/停机)."""
    return set(ContactPoint.objects.filter(party_id__in_ids=sorted(party_ids), validity__in=list(DEAD_VALIDITIES))
               .values_list("party_id", "kind").distinct())


def _flag_dead(dead: list, today: dt.date) -> None:
    """A number the gateway reports as empty/wrong/stopped is flagged on the contact point (空号/错号/停机)."""
    from wuye.estate.services import contact_set_validity

    for a, validity in dead:
        for contact in ContactPoint.objects.filter(value=a.address, kind=CONTACT_KIND[a.channel]).exclude(
                validity=validity):
            contact_set_validity(actor=None, contact=contact, validity=validity, verified_on=today,
                                 actor_label=JOB)
    # an account whose debtor is left without any live number or address to write to becomes 无法联系 (unless
    # a collector has classed it as promised, away or refusing: those say more than a dead number) — through
    # the service that audits every change of class
    from wuye.dunning.services import account_class_set

    accounts = {(a.unit_id, a.party_id) for a, _ in dead}
    if not accounts:
        return
    units = sorted({u for u, _ in accounts})
    liable = liable_party_ids(units, today)
    debtor = {acc: acc[1] if acc[1] is not None else liable.get(acc[0]) for acc in accounts}
    live = {party for party, _kind in _addresses(set(debtor.values()) - {None})}
    cut_off = {acc for acc, party in debtor.items() if party not in live}
    if not cut_off:
        return
    episodes = (Episode.objects.filter(unit_id__in=sorted({u for u, _ in cut_off}), closed_on__isnull=True,
                                       account_class__in=["", AccountClass.UNDECIDED])
                .values_list("unit_id", "party_id").order_by("pk"))
    unit_of = Unit.objects.in_bulk(units)
    for u, party in episodes:
        if (u, party) in cut_off or ((u, None) in cut_off and party == debtor[(u, None)]):
            account_class_set(actor=None, unit=unit_of[u], account_class=AccountClass.UNREACHABLE, on=today,
                              reason="号码已失效，没有其他可用的联系方式", actor_label=JOB, party_id=party)


# --- delivery receipts -------------------------------------------------------------------------------------

@transaction.atomic
def receipt_record(*, out_id: str = "", provider_message_id: str = "", delivered: bool, at: dt.datetime,
                   detail: str = "", dead_address: str = "", actor_label: str = "job:receipt") -> Action | None:
    """A provider's delivery receipt (or a signed notice): the action becomes 已送达 or 失败. A delivered
    demand restarts the limitation clock of the periods it names (legal reads ``delivered_at``/``periods``).
    A failed receipt naming a dead number (空号/停机/错号) flags the contact point. A receipt that comes
    again, or late after a newer one, changes nothing."""
    if not out_id and not provider_message_id:
        return None
    q = Q(out_id=out_id) if out_id else Q(provider_message_id=provider_message_id)
    action = Action.objects.select_for_update().filter(q).order_by("pk").first()
    if action is None or action.status not in (ActionStatus.SENT, ActionStatus.UNCERTAIN):
        return action
    action.status = ActionStatus.DELIVERED if delivered else ActionStatus.FAILED
    if delivered:
        action.delivered_at = at
    else:
        action.last_error = detail[:300]
    action.save(update_fields=["status", "delivered_at", "last_error"])
    ActionEvent.objects.create(action=action, at=at, status=action.status, detail=detail[:300],
                               actor_label=actor_label)
    if not delivered and dead_address and action.channel in CONTACT_KIND and action.address:
        _flag_dead([(action, dead_address)], workcal.local_now(at).date())
    return action
