"""The dispatcher: sends what is due from the outbox, inside contact windows, once.

1. Recover: an action left "sending" longer than the lease (a crash between sending and recording) is
   checked with the provider by its ``out_id``; if the provider cannot tell, it becomes 待核实 for a person
   to check — it is never sent a second time blindly.
2. Claim: a batch of due actions is taken with one conditional UPDATE (``status='pending'`` in the WHERE
   clause, a token per dispatcher), as Healthchecks' sendalerts does, so two dispatchers never take the
   same action.
3. Check again: an account paid or held since the decision is cancelled, not contacted; outside its
   window or over a frequency cap an action is handed back with the time it may go (deferred).
4. Render and send: messages through the channel's backend; calls, visits, notices, referrals and
   escalations become tasks for people.
5. Record: content, its hash, template version, periods demanded, address, provider id, status — and an
   ``ActionEvent`` for each change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from wuye.billing.figures import Figures, demand_figures_many
from wuye.billing.selectors import account_summaries
from wuye.common.bulk import insert_rows, update_rows
from wuye.common.formatting import format_yuan
from wuye.dunning import calendar as workcal
from wuye.dunning import cycles, wording
from wuye.dunning.choices import (
    MESSAGE_CHANNELS,
    PERSON_CHANNELS,
    AccountClass,
    ActionStatus,
    Channel,
    HoldKind,
    TaskKind,
    TaskStatus,
    WindowDays,
    WindowGroup,
)
from wuye.dunning.engine import Account, active_hold, holds_by_unit, opted_out
from wuye.dunning.models import Action, ActionEvent, CollectionSettings, Episode, Step, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint, Project
from wuye.estate.selectors import liable_party_ids
from wuye.notify.base import Backend, Message, Outcome, backend_for

BATCH = 2000
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
    alerts: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps({"sent": self.sent, "failed": self.failed, "deferred": self.deferred}, ensure_ascii=False)


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


class _Item:
    """One claimed action as the dispatcher handles it: the columns it reads and the ones it writes (plain
    attributes — building model instances with their related step, template and unit cost more than the
    rest of the send)."""

    __slots__ = ("pk", "project_id", "unit_id", "step", "cycle", "episode_id", "channel", "attempts", "out_id",
                 "assigned_to_id", "unit_code", "party_id", "account") + UPDATE_FIELDS

    def __init__(self, row: tuple, step: Step):
        (self.pk, self.project_id, self.unit_id, _step_id, self.cycle, self.episode_id, self.channel,
         self.attempts, self.out_id, self.assigned_to_id, self.unit_code, self.party_id, periods) = row
        self.account = (self.unit_id, self.party_id)  # the debtor's account; set from the owner for old rows
        self.step = step
        self.status = ActionStatus.SENDING
        self.content = self.content_sha256 = self.address = self.provider = self.provider_message_id = ""
        self.last_error = ""
        self.template_version = self.deadline = self.sent_at = self.next_attempt_at = None
        self.periods = list(periods or [])  # set by the engine for referrals and written demands


ITEM_COLUMNS = ("pk", "project_id", "unit_id", "step_id", "cycle", "episode_id", "channel", "attempts", "out_id",
                "assigned_to_id", "unit__code", "party_id", "periods")


def _claim(ids: list[int], now: dt.datetime, token: str, steps: dict[int, Step]) -> list[_Item]:
    Action.objects.filter(pk__in_ids=ids, status=ActionStatus.PENDING).update(
        status=ActionStatus.SENDING, claimed_at=now, claimed_by=token, attempts=F("attempts") + 1)
    rows = list(Action.objects.filter(pk__in_ids=ids, status=ActionStatus.SENDING, claimed_by=token)
                .values_list(*ITEM_COLUMNS))
    missing = {r[3] for r in rows} - steps.keys()
    if missing:
        steps.update((st.pk, st) for st in Step.objects.filter(pk__in=missing).select_related("template"))
    return [_Item(r, steps[r[3]]) for r in rows]


TASK_FIELDS = ("project_id", "unit_id", "action_id", "kind", "title", "detail", "assigned_to_id", "assignee_role",
               "due_on", "status", "created_at", "closed_at", "close_note")


def _dispatch_batch(ids: list[int], now: dt.datetime, token: str, ctx: _Context, pool: _Backends,
                    result: DispatchResult) -> None:
    actions = _claim(ids, now, token, ctx.steps)  # committed on its own: the claim is what protects against a twin
    if not actions:
        return
    # stages and events before routine repeats, oldest first: when a cap leaves room for one call today, a
    # broken promise's follow-up is not pushed back day after day by each morning's new routine call
    actions.sort(key=lambda a: (cycles.kind_of(a.cycle) == cycles.Kind.REPEAT, a.pk))
    unit_ids = sorted({a.unit_id for a in actions})
    today = workcal.local_now(now).date()
    # everything is read per debtor account (unit, party): after a sale the seller and the buyer of one unit
    # are two accounts, each told only of their own periods, at their own contact points (issue 13.3)
    owners = liable_party_ids(unit_ids, today)
    for a in actions:
        if a.party_id is None:  # an action decided before accounts were per debtor: the owner in force
            a.account = (a.unit_id, owners.get(a.unit_id))
    summaries = {(s.unit_id, s.party_id): s for s in account_summaries(
        as_of=today, unit_ids=unit_ids, only_overdue=False, prepaid=False)}
    holds = holds_by_unit(None, unit_ids)
    addresses = _addresses({party for _, party in (a.account for a in actions) if party is not None})
    caps = _last_sent(unit_ids, owners)
    calls_today = _calls_today(unit_ids, now, owners)
    declined = opted_out(unit_ids)
    linked = [a for a in actions if a.channel in MESSAGE_CHANNELS and a.step.template is not None
              and "{pay_link" in a.step.template.body and (a.account[1], CONTACT_KIND[a.channel]) in addresses]
    links = pay_links([a.account for a in linked], today,
                      known_units={a.unit_id: (a.project_id, owners.get(a.unit_id)) for a in linked})
    figures = _figures(actions, today)

    updates: list[_Item] = []
    events: list[tuple] = []
    tasks: list[tuple] = []
    outgoing: dict[str, list[tuple[_Item, Message]]] = defaultdict(list)
    for a in actions:
        s = summaries.get(a.account)
        arrears_action = a.episode_id is not None
        # paid (or nothing left) since the decision: cancel, never contact
        if (arrears_action and (s is None or s.overdue_fen <= 0)) or (not arrears_action and (s is None or
                                                                                              s.open_fen <= 0)):
            _finish(a, ActionStatus.CANCELLED, "决策后已缴清，取消发送", updates, events, now)
            result.cancelled += 1
            continue
        if cycles.kind_of(a.cycle) == cycles.Kind.PRE_DUE and a.channel in MESSAGE_CHANNELS and a.unit_id in declined:
            _finish(a, ActionStatus.CANCELLED, "业主已选择不接收到期前提醒", updates, events, now)
            result.cancelled += 1
            continue
        if arrears_action:
            held = active_hold(Account(summary=s, segment="", holds=holds.get(a.unit_id, [])), today)
            if held and cycles.kind_of(a.cycle) == cycles.Kind.PROMISE_EVE:
                held = None  # the reminder the day before a promised date is what the promise's hold is for
            if held:
                _finish(a, ActionStatus.CANCELLED, f"暂停催缴：{held[1]}", updates, events, now)
                result.cancelled += 1
                continue
        fig = figures[a.pk]
        if arrears_action and not fig.demandable:  # this debtor's periods paid since the decision
            _finish(a, ActionStatus.CANCELLED, "决策后已缴清（本欠费人名下已无到期未缴的费用），取消发送", updates, events,
                    now)
            result.cancelled += 1
            continue
        project = ctx.project(a.project_id)
        rules = ctx.settings[a.project_id]
        # frequency caps
        if a.channel in MESSAGE_CHANNELS and arrears_action:
            last = caps.get(a.account)
            if last and now - last < dt.timedelta(days=rules.arrears_message_min_days):
                _defer(a, last + dt.timedelta(days=rules.arrears_message_min_days), "频次限制", updates, result)
                continue
        if a.channel == Channel.CALL and calls_today.get(a.account, 0) >= rules.calls_per_day:
            if cycles.kind_of(a.cycle) == cycles.Kind.REPEAT:
                # a routine call over the cap is dropped, not queued: the next one comes anyway, and a queue
                # of deferred calls would crowd out tomorrow's
                _finish(a, ActionStatus.CANCELLED, "今日电话已达每户上限，例行电话本次不再安排", updates, events, now)
                result.cancelled += 1
                continue
            tomorrow = workcal.to_aware(dt.datetime.combine(today + dt.timedelta(days=1), workcal.HARD_START),
                                        project.timezone)
            _defer(a, tomorrow, "今日电话次数已达上限", updates, result)
            continue
        a.deadline = ctx.deadline(a.project_id, today)
        content, subject = _render(a, s, project, rules, today, holds.get(a.unit_id, ()), links.get(a.account, ""),
                                   fig)
        a.content, a.content_sha256 = content, hashlib.sha256(content.encode()).hexdigest()
        template = a.step.template
        a.template_version = template.version if template is not None else None
        if arrears_action:  # what the text demands: the periods the engine named (a referral, a written
            a.periods = list(fig.periods)  # demand) still open, else the debtor's matured unpaid periods
        if a.channel in MESSAGE_CHANNELS:
            to = addresses.get((a.account[1], CONTACT_KIND[a.channel]))
            if not to:
                _finish(a, ActionStatus.FAILED, "没有可用的联系方式（无号码或均已标记失效）", updates, events, now)
                result.failed += 1
                continue
            a.address = to[1]
            outgoing[a.channel].append((a, Message(
                channel=a.channel, to=to[1], body=content, subject=subject, out_id=a.out_id,
                template_id=template.provider_template_id if template else "",
                params=_params(a, s, fig), sign_name=rules.sms_signature)))
            if cycles.counts_towards_message_cap(a.cycle, a.channel):  # a pre-due reminder is not one
                caps[a.account] = now
        else:
            if a.channel == Channel.REGISTERED:
                addr = addresses.get((a.account[1], ContactKind.ADDRESS))
                a.address = addr[1] if addr else ""
            if a.channel == Channel.CALL:
                calls_today[a.account] = calls_today.get(a.account, 0) + 1
            tasks.append((a.project_id, a.unit_id, a.pk, TASK_KIND[a.channel], f"{a.unit_code} {a.step.name}"[:200],
                          content, a.assigned_to_id, a.step.assignee, today, TaskStatus.OPEN, now, None, ""))
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
                events.append((a.pk, now, ActionStatus.PENDING, a.last_error, JOB))
                result.deferred += 1
            else:
                _finish(a, ActionStatus.FAILED, r.detail or "发送失败", updates, events, now)
                result.failed += 1
                if r.dead_address:
                    dead.append((a, r.dead_address))
        _flag_dead(dead, today)

    with transaction.atomic():
        insert_rows(Task, TASK_FIELDS, tasks)
        update_rows(Action, UPDATE_FIELDS, [
            (a.pk, *(json.dumps(getattr(a, f), ensure_ascii=False) if f == "periods" else getattr(a, f)
                     for f in UPDATE_FIELDS)) for a in updates])
        insert_rows(ActionEvent, ("action_id", "at", "status", "detail", "actor_label"), events)


def _ask_sent(backend: Backend, out_id: str) -> bool | None:
    """The provider's word on whether ``out_id`` went out (None when it cannot tell or the query fails)."""
    try:
        return backend.was_sent(out_id)
    except Exception:  # noqa: BLE001 - a failed query is the same as no answer: leave it to a person
        return None


def _finish(a: _Item, status: str, detail: str, updates, events, now) -> None:
    a.status, a.last_error = status, ("" if status == ActionStatus.SENT else detail[:300])
    if status == ActionStatus.SENT:
        a.sent_at = now
    updates.append(a)
    events.append((a.pk, now, status, detail[:300], JOB))


def _defer(a: _Item, when: dt.datetime, why: str, updates, result: DispatchResult) -> None:
    a.status, a.next_attempt_at, a.last_error = ActionStatus.PENDING, when, f"顺延：{why}"
    updates.append(a)
    result.deferred += 1


def _params(a: _Item, s, fig: Figures) -> tuple[str, ...]:
    """Template parameters for gateways that take a registered template id (order of the placeholders)."""
    return (a.unit_code, format_yuan(fig.total_fen if a.episode_id else s.upcoming_fen),
            str(a.deadline or ""))


def _figures(actions: list[_Item], today: dt.date) -> dict[int, Figures]:
    """action → the figures its text demands (``billing.figures``, the function every document uses): its
    debtor's matured lines, restricted to the periods the engine named (a referral, a written demand)."""
    found = demand_figures_many({a.account for a in actions}, today)
    return {a.pk: found[a.account].only(a.periods) for a in actions}


def pay_links(unit_ids: list[int], today: dt.date, label: str = JOB, **extra) -> dict[int, str]:
    """unit → the owner's pay link of the day (the portal's bulk factory; {} when none is configured)."""
    path = getattr(settings, "WUYE_PAY_LINKS_FACTORY", "")
    if not unit_ids or not path:
        return {}
    return import_string(path)(unit_ids, issued_on=today, created_by_label=label, **extra)


def _render(a: _Item, s, project: Project, rules: CollectionSettings, today: dt.date,
            holds, link: str = "", fig: Figures | None = None) -> tuple[str, str]:
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
    if fig is not None:  # every figure of the text from the one function documents use (billing.figures)
        context.update(wording.figure_context(fig))
    if template is None:
        return a.step.name, ""
    return (wording.finish(render(template.body, context).strip(), fig),
            wording.finish(render(template.subject, context), fig))


def _cn_date(d: dt.date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _addresses(party_ids: set[int]) -> dict[tuple[int, str], tuple[int, str]]:
    """(party, contact kind) → (contact id, value): the debtor's own best live contact of that kind (a former
    owner who still owes is written to at the contact points on record, never at the new owner's)."""
    best: dict[tuple[int, str], tuple[int, str, tuple]] = {}
    for pk, party, kind, value, primary, validity in (
            ContactPoint.objects.filter(party_id__in_ids=party_ids)
            .exclude(validity__in=list(DEAD_VALIDITIES))
            .values_list("pk", "party_id", "kind", "value", "is_primary", "validity")):
        rank = (not primary, validity != "valid", pk)
        key = (party, kind)
        if key not in best or rank < best[key][2]:
            best[key] = (pk, value, rank)
    return {key: (hit[0], hit[1]) for key, hit in best.items()}


def _last_sent(unit_ids: list[int], owners: dict[int, int]) -> dict[tuple[int, int | None], dt.datetime]:
    """(unit, debtor) → when the debtor's last arrears message (SMS, WeChat, e-mail) went out (a message
    decided before accounts were per debtor counts for the owner in force)."""
    out: dict[tuple[int, int | None], dt.datetime] = {}
    for u, party, last in (Action.objects.filter(unit_id__in_ids=unit_ids, channel__in=list(MESSAGE_CHANNELS),
                                                 episode__isnull=False, sent_at__isnull=False)
                           .values_list("unit_id", "party_id").annotate(last=Max("sent_at"))
                           .values_list("unit_id", "party_id", "last")):
        key = (u, owners.get(u) if party is None else party)
        out[key] = max(out.get(key, last), last)
    return out


def _calls_today(unit_ids: list[int], now: dt.datetime, owners: dict[int, int]) -> dict[tuple[int, int | None], int]:
    start = workcal.to_aware(dt.datetime.combine(workcal.local_now(now).date(), dt.time.min))
    counts: dict[tuple[int, int | None], int] = defaultdict(int)
    for u, party in Action.objects.filter(unit_id__in_ids=unit_ids, channel=Channel.CALL,
                                          sent_at__gte=start).values_list("unit_id", "party_id"):
        counts[(u, owners.get(u) if party is None else party)] += 1
    return counts


def _flag_dead(dead: list[tuple[Action, str]], today: dt.date) -> None:
    """A number the gateway reports as empty/wrong/stopped is flagged on the contact point (空号/错号/停机)."""
    from wuye.estate.services import contact_set_validity

    for a, validity in dead:
        for contact in ContactPoint.objects.filter(value=a.address, kind=CONTACT_KIND[a.channel]).exclude(
                validity=validity):
            contact_set_validity(actor=None, contact=contact, validity=validity, verified_on=today,
                                 actor_label=JOB)
    # an account left without any live number or address to write to becomes 无法联系 (unless a collector
    # has classed it as promised, away or refusing: those say more than a dead number)
    # a batch item knows its account; an Action from a delivery receipt names its debtor
    accounts = {k for k in (getattr(a, "account", None) or (a.unit_id, a.party_id) for a, _ in dead)
                if k[1] is not None}
    if not accounts:
        return
    live = {party for (party, _kind) in _addresses({party for _, party in accounts})}
    cut_off = [(u, party) for u, party in sorted(accounts) if party not in live]
    if not cut_off:
        return
    from wuye.dunning.services import account_class_set
    from wuye.estate.models import Unit

    units = Unit.objects.in_bulk([u for u, _ in cut_off])
    for u, party in cut_off:
        if Episode.objects.filter(unit_id=u, party_id=party, closed_on__isnull=True,
                                  account_class__in=["", AccountClass.UNDECIDED]).exists():
            account_class_set(actor=None, unit=units[u], account_class=AccountClass.UNREACHABLE, on=today,
                              reason="号码经短信平台确认失效，已无其他可用联系方式", actor_label=JOB, party_id=party)


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
