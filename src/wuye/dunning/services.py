"""Operations of the collection engine that change state (views, API, jobs and the CLI call these)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wuye.accounts.choices import Role
from wuye.accounts.models import User
from wuye.accounts.permissions import require_project_scope
from wuye.accounts.services import audit_record
from wuye.billing.selectors import account_summaries
from wuye.dunning.choices import (
    AccountClass,
    ActionStatus,
    Channel,
    DayKind,
    HoldKind,
    TaskKind,
    TaskStatus,
    signer_relation_problem,
)
from wuye.dunning.dispatch import receipt_record
from wuye.dunning.engine import cancel_pending
from wuye.dunning.guardrails import assert_fields_clean
from wuye.dunning.ladders import STEP_FIELDS, ladder_problems
from wuye.dunning.marks import mark_everything, mark_projects, mark_units, marks_held  # noqa: F401 (marks_held: for casework)
from wuye.dunning.models import (
    Action,
    ActionEvent,
    CalendarDay,
    CalendarYear,
    Episode,
    Hold,
    MessageTemplate,
    Policy,
    SegmentOverride,
    Step,
    Task,
)
from wuye.estate.models import Unit


def account_refresh(*, unit_id: int, on: dt.date, actor_label: str) -> None:
    """After money came in: if nothing is overdue any more, close the episode, cancel pending arrears
    actions and open tasks, and record kept promises; if nothing is open at all, pre-due reminders go too."""
    accounts_refresh(units={unit_id: on}, actor_label=actor_label)


def accounts_refresh(*, units: dict[int, dt.date], actor_label: str) -> int:
    """``account_refresh`` for many units at once (a bank statement's payments): a few set-based statements
    per distinct day instead of several queries per unit. Accounts are per debtor: after a sale, the
    seller's episode closes when the seller's periods are paid, whatever the buyer owes. Returns how many
    units were cleared of arrears altogether."""
    by_day: dict[dt.date, list[int]] = {}
    for unit_id, day in units.items():
        by_day.setdefault(day, []).append(unit_id)
    cleared_total = 0
    now = timezone.now()
    for day, ids in sorted(by_day.items()):
        summaries = list(account_summaries(as_of=day, unit_ids=ids, only_overdue=False, prepaid=False))
        overdue = {s.account for s in summaries if s.overdue_fen > 0}
        open_units = {s.unit_id for s in summaries if s.open_fen > 0}
        overdue_units = {u for u, _party in overdue}
        episodes = [(pk, u, party) for pk, u, party in Episode.objects.filter(
            unit_id__in=ids, closed_on__isnull=True).values_list("pk", "unit_id", "party_id")
            if (u, party) not in overdue]
        cleared_units = [u for u in ids if u not in overdue_units]
        nothing_open = [u for u in cleared_units if u not in open_units]
        cleared_total += len(cleared_units)
        if not episodes and not nothing_open:
            continue
        cleared_eps = [pk for pk, _u, _p in episodes]
        Episode.objects.filter(pk__in=cleared_eps).update(closed_on=day)
        cancel_pending(Q(episode_id__in=cleared_eps) | Q(unit_id__in=nothing_open),
                       detail="已缴清欠费，取消未发送的催缴", actor_label=actor_label)
        Task.objects.filter(action__episode_id__in=cleared_eps, status=TaskStatus.OPEN).update(
            status=TaskStatus.CANCELLED, closed_at=now, close_note="已缴清欠费")
        # a promise of a debtor is kept when their periods are paid; one on the whole unit when nothing is overdue
        paid = {(u, party) for _pk, u, party in episodes}
        whole = set(cleared_units)
        kept = [pk for pk, u, party in Hold.objects.filter(
            unit_id__in=sorted(whole | {u for u, _p in paid}), kind=HoldKind.PROMISE, released_on__isnull=True,
        ).values_list("pk", "unit_id", "party_id") if u in whole or (party is not None and (u, party) in paid)]
        Hold.objects.filter(pk__in=kept).update(outcome="kept", released_on=day, release_note="已缴清")
    return cleared_total


@transaction.atomic
def account_class_set(*, actor: User | None, unit: Unit, account_class: str, on: dt.date | None = None,
                      reason: str = "", actor_label: str = "", party_id: int | None = None) -> Episode | None:
    """Record the class of an open arrears episode (催缴分类: promised, undecided, unreachable, away,
    refusing; "" clears it). Casework calls this from contact outcomes; a person may override with a reason.
    With ``party_id`` only that debtor's episode changes; without, every open episode of the unit (a unit
    has more than one only after a sale with unpaid periods on both sides). The engine reads the class on
    its next run. Returns the (first) episode, or None when the unit is not in arrears."""
    if account_class and account_class not in AccountClass.values:
        raise ValidationError({"account_class": "未知的催缴分类。"})
    require_project_scope(actor, unit.project_id, "设置该项目房屋的催缴分类")
    episodes = Episode.objects.select_for_update().filter(unit=unit, closed_on__isnull=True).order_by("pk")
    if party_id is not None:
        episodes = episodes.filter(party_id=party_id)
    episodes = list(episodes)
    if not episodes:
        return None
    for episode in episodes:
        if episode.account_class == account_class:
            continue
        before = episode.account_class
        episode.account_class, episode.class_since = account_class, on or timezone.localdate()
        episode.save(update_fields=["account_class", "class_since"])
        mark_units([unit.pk])
        audit_record(actor=actor, actor_label=actor_label, verb="dunning.account_class", obj=unit,
                     before={"account_class": before},
                     after={"account_class": account_class, "reason": reason, "party": episode.party_id})
    return episodes[0]


def _require_staff(actor: User, roles: tuple[str, ...], what: str) -> None:
    if not (actor.is_superuser or actor.role in roles):
        raise ValidationError({"actor": f"您的角色不能{what}。"})


# a hold's longest span: longer than any promise, dispute pause or installment term the other doors allow
MAX_HOLD_DAYS = 366


@transaction.atomic
def hold_place(*, actor: User | None, unit: Unit, kind: str, reason: str, until: dt.date | None = None,
               starts_on: dt.date | None = None, amount_fen: int | None = None, actor_label: str = "",
               party_id: int | None = None) -> Hold:
    """Pause the ladder for a unit (a dispute, a promise to pay, or a manual hold with an end date) — for
    one debtor (``party_id``: a promise is the promiser's) or the whole unit. Pending arrears actions of
    those accounts are cancelled at once; pre-due reminders stay."""
    reason = (reason or "").strip()
    errors = {}
    if kind not in HoldKind.values:
        errors["kind"] = "未知的暂停类型。"
    if not reason:
        errors["reason"] = "请填写原因。"
    if kind in (HoldKind.PROMISE, HoldKind.MANUAL) and until is None:
        errors["until"] = "请填写截止日期（承诺缴费日或暂停结束日）。"
    starts_on = starts_on or timezone.localdate()
    if until is not None and until < starts_on:
        errors["until"] = "截止日期不能早于开始日期。"
    elif until is not None and (until - starts_on).days > MAX_HOLD_DAYS:
        errors["until"] = (f"暂停最长 {MAX_HOLD_DAYS} 天（至 {starts_on + dt.timedelta(days=MAX_HOLD_DAYS):%Y-%m-%d}）；"
                           "更长的安排请申请分期或由经理处理。")
    if errors:
        raise ValidationError(errors)
    require_project_scope(actor, unit.project_id, "暂停该项目房屋的催缴")
    hold = Hold.objects.create(project_id=unit.project_id, unit=unit, kind=kind, reason=reason, until=until,
                               starts_on=starts_on, amount_fen=amount_fen, created_by=actor, party_id=party_id)
    mark_units([unit.pk])
    which = Q(unit_id=unit.pk, episode__isnull=False)
    if party_id is not None:
        which &= Q(episode__party_id=party_id) | Q(episode__party__isnull=True)
    cancel_pending(which, detail=f"暂停催缴：{reason}"[:300],
                   actor_label=actor_label or (f"user:{actor.username}" if actor else "job"))
    audit_record(actor=actor, actor_label=actor_label, verb="dunning.hold", obj=unit,
                 after={"kind": kind, "until": until.isoformat() if until else None, "reason": reason,
                        "party": party_id})
    return hold


@transaction.atomic
def hold_release(*, actor: User | None, hold: Hold, note: str, on: dt.date | None = None,
                 actor_label: str = "") -> Hold:
    """End a hold; the next daily run resumes the ladder at the stage the account has reached."""
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    require_project_scope(actor, hold.project_id, "解除该项目房屋的暂停")
    if hold.released_on:
        raise ValidationError({"hold": "该暂停已解除。"})
    hold.released_on, hold.released_by, hold.release_note = on or timezone.localdate(), actor, note[:300]
    hold.save(update_fields=["released_on", "released_by", "release_note"])
    mark_units([hold.unit_id])
    audit_record(actor=actor, actor_label=actor_label, verb="dunning.hold_release", obj=hold.unit, note=note)
    return hold


@transaction.atomic
def segment_override_set(*, actor: User, unit: Unit, segment: str | None, reason: str) -> None:
    """Set (or, with ``segment=None``, clear) a unit's segment by hand."""
    _require_staff(actor, (Role.MANAGER, Role.ADMIN), "调整分群")
    if not reason.strip():
        raise ValidationError({"reason": "请填写原因。"})
    before = SegmentOverride.objects.filter(unit=unit).values_list("segment", flat=True).first()
    if segment:
        SegmentOverride.objects.update_or_create(unit=unit, defaults={"segment": segment, "reason": reason,
                                                                      "set_by": actor})
    else:
        SegmentOverride.objects.filter(unit=unit).delete()
    mark_units([unit.pk])
    audit_record(actor=actor, verb="dunning.segment", obj=unit, before={"segment": before},
                 after={"segment": segment}, note=reason)


@transaction.atomic
def template_save(*, actor: User, template: MessageTemplate, body: str, subject: str = "",
                  provider_template_id: str | None = None) -> MessageTemplate:
    """Change a template's text after the guardrail check; the version goes up by one."""
    _require_staff(actor, (Role.MANAGER, Role.ADMIN), "修改模板")
    _require_template_scope(actor, template)
    assert_fields_clean({"subject": subject, "body": body}, channel=template.channel)  # GuardrailError
    before = {"version": template.version, "body": template.body}
    template.body, template.subject = body, subject
    if provider_template_id is not None:
        template.provider_template_id = provider_template_id
    template.version += 1
    template.updated_by = actor
    template.save()
    audit_record(actor=actor, verb="dunning.template", obj=template, before=before,
                 after={"version": template.version, "body": body})
    return template


def _require_template_scope(actor: User, template: MessageTemplate) -> None:
    """A company-wide template's words go to every project: only staff of the whole company (no project
    assignment) change them. A project's own template: staff of that project."""
    from wuye.accounts.selectors import scope_project_ids

    scope = scope_project_ids(actor)
    if template.project_id is None and scope is not None:
        raise PermissionDenied("公司通用模板会发给所有项目的业主，只能由公司级经理或管理员修改；"
                               "如需本项目的措辞，请管理员为本项目建立专用模板。")
    if template.project_id is not None and scope is not None and template.project_id not in scope:
        raise PermissionDenied("只能修改本人负责项目的模板。")


@transaction.atomic
def calendar_days_enter(*, actor: User, days: list[tuple[dt.date, str, str]], complete: bool = False,
                        note: str = "") -> int:
    """Enter a published schedule (date, kind, name); replaces rows for the same dates. With ``complete``
    each year the lines touch is then confirmed as completely entered (``calendar_year_confirm``); if a
    confirmation is refused nothing is entered."""
    _require_staff(actor, (Role.ADMIN, Role.MANAGER), "录入节假日安排")
    for day, kind, _name in days:
        if kind not in DayKind.values:
            raise ValidationError({"kind": f"{day}：未知的日期类型“{kind}”。"})
    for day, kind, name in days:
        CalendarDay.objects.update_or_create(date=day, defaults={"kind": kind, "name": name, "entered_by": actor})
    mark_everything()  # every project's working days
    audit_record(actor=actor, verb="dunning.calendar", after={"days": [(d.isoformat(), k) for d, k, _ in days]},
                 project_id=None)
    if complete:
        for year in sorted({d.year for d, _, _ in days}):
            calendar_year_confirm(actor=actor, year=year, note=note)
    return len(days)


# 全国年节及纪念日放假办法 (2024 revision): 13 days of public holidays for everyone each year
STATUTORY_HOLIDAY_DAYS = 13


@transaction.atomic
def calendar_year_confirm(*, actor: User, year: int, note: str = "") -> CalendarYear:
    """Record that ``year``'s published schedule is completely entered ("该年安排已完整录入"): its days
    that were not entered become ordinary weekdays and weekends. Refused for a year the package covers and
    for a year with fewer entered holidays than the 13 statutory days (a schedule entered only in part)."""
    from wuye.dunning.calendar import PACKAGE_YEARS
    from wuye.dunning.choices import DayKind

    _require_staff(actor, (Role.ADMIN, Role.MANAGER), "确认节假日安排")
    if year in PACKAGE_YEARS:
        raise ValidationError({"year": f"内置官方日历已覆盖 {year} 年，无需确认。"})
    holidays = CalendarDay.objects.filter(date__year=year, kind=DayKind.HOLIDAY).count()
    if holidays < STATUTORY_HOLIDAY_DAYS:
        raise ValidationError({"year": f"{year} 年只录入了 {holidays} 天法定节假日，少于每年全体公民放假的 "
                                       f"{STATUTORY_HOLIDAY_DAYS} 天：请先录入国务院公布的全年安排（含调休上班日）。"})
    row, created = CalendarYear.objects.get_or_create(year=year, defaults={"confirmed_by": actor,
                                                                           "note": note.strip()[:200]})
    if created:
        mark_everything()
        audit_record(actor=actor, verb="dunning.calendar_year", project_id=None, note=note,
                     after={"year": year, "confirmed": True, "holidays": holidays})
    return row


@transaction.atomic
def calendar_year_withdraw(*, actor: User, year: int, note: str = "") -> bool:
    """Withdraw a year's confirmation: its days that were not entered are unknown again (nothing is
    scheduled on them). Returns whether there was a confirmation."""
    _require_staff(actor, (Role.ADMIN, Role.MANAGER), "撤销节假日安排的确认")
    deleted, _ = CalendarYear.objects.filter(year=year).delete()
    if deleted:
        mark_everything()
        audit_record(actor=actor, verb="dunning.calendar_year", project_id=None, note=note,
                     after={"year": year, "confirmed": False})
    return bool(deleted)



def _step_values(step: Step) -> dict:
    return {f: getattr(step, f) for f in STEP_FIELDS}


@transaction.atomic
def policy_save(*, actor: User, policy: Policy, active: bool, valid_from: dt.date | None,
                valid_to: dt.date | None, steps: list[dict]) -> Policy:
    """Save a policy's dates and its steps from plain data (the page, the API and commands all call this).

    ``steps``: one dict per step — ``id`` for an existing step of this policy (absent for a new one),
    ``delete: True`` to remove it, and the fields of ``ladders.STEP_FIELDS`` to set (fields left out keep
    their value). Each step is validated (``full_clean``) and the ladder as a whole (``ladders.ladder_problems``:
    an order that would skip a stage for good, a referral without a written demand before it, …); nothing is
    saved unless all of it is valid. A deleted step that has actions is deactivated instead (its actions stay
    as evidence). The audit event lists every field that changed, step by step."""
    _require_staff(actor, (Role.MANAGER, Role.ADMIN), "修改催缴策略")
    if valid_from and valid_to and valid_to < valid_from:
        raise ValidationError({"valid_to": "生效止不能早于生效起。"})
    existing = {st.pk: st for st in policy.steps.all()}
    before = {pk: _step_values(st) for pk, st in existing.items()}
    planned: list[tuple[Step, bool]] = []  # (step, delete)
    errors: list[str] = []
    seen: set[int] = set()
    for n, data in enumerate(steps, start=1):
        unknown = set(data) - set(STEP_FIELDS) - {"id", "delete"}
        if unknown:
            raise ValidationError({"steps": f"第 {n} 行：未知字段 {'、'.join(sorted(unknown))}。"})
        pk = data.get("id")
        if pk is not None:
            if pk not in existing or pk in seen:
                raise ValidationError({"steps": f"第 {n} 行：步骤 {pk} 不属于该策略。"})
            seen.add(pk)
            step = existing[pk]
        else:
            if data.get("delete"):
                continue
            step = Step(policy=policy)
        for f in STEP_FIELDS:
            if f in data:
                setattr(step, f, data[f])
        if data.get("delete"):
            planned.append((step, True))
            continue
        try:
            step.full_clean(exclude=["policy"])
        except ValidationError as exc:
            errors += [f"第 {n} 行“{step.name}”：{m}" for m in exc.messages]
        planned.append((step, False))
    if errors:
        raise ValidationError({"steps": errors})
    kept = [_step_values(st) for st, delete in planned if not delete]
    kept += [before[pk] for pk in existing if pk not in seen]
    problems = ladder_problems(kept)
    if problems:
        raise ValidationError({"steps": problems})
    policy.active, policy.valid_from, policy.valid_to = active, valid_from, valid_to
    policy.save()
    mark_projects([policy.project_id])  # a ladder edit can change every account of the project
    changes: list[dict] = []
    for step, delete in planned:
        if delete:
            if step.actions.exists():
                step.active = False  # steps with actions stay as evidence; they stop firing
                step.save(update_fields=["active"])
                changes.append({"step": step.pk, "name": step.name, "deactivated": True})
            else:
                changes.append({"step": step.pk, "name": step.name, "deleted": True})
                step.delete()
            continue
        new = step.pk is None
        step.save()
        if new:
            changes.append({"step": step.pk, "name": step.name, "added": _jsonable(_step_values(step))})
            continue
        diff = {f: [_jsonable(before[step.pk][f]), _jsonable(getattr(step, f))] for f in STEP_FIELDS
                if before[step.pk][f] != getattr(step, f)}
        if diff:
            changes.append({"step": step.pk, "name": step.name, "changed": diff})
    audit_record(actor=actor, verb="dunning.policy", obj=policy.project, note=policy.name,
                 after={"policy": policy.pk, "active": active, "valid_from": _jsonable(valid_from),
                        "valid_to": _jsonable(valid_to), "changes": changes})
    return policy


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@transaction.atomic
def task_close(*, actor: User, task: Task, note: str, signed_by: str = "", relation: str = "",
               signed_on: dt.date | None = None, unsigned: bool = False) -> Task:
    """Close a task with what was done. A written notice handed over and signed for (``signed_by`` given) is
    recorded as delivered on ``signed_on`` — the receipt stub is the evidence that the demand reached the
    owner, and it restarts the limitation clock of the periods the notice names. A notice that nobody could
    sign for (``unsigned``: the designated signer not reached, nobody at the office) is recorded as not
    delivered; on office ladders the next run sends it by EMS to the contact address."""
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"task": "该任务已关闭。"})
    require_project_scope(actor, task.project_id, "办理该项目的任务")
    signed_by, relation, note = signed_by.strip(), relation.strip(), note.strip()
    errors = {}
    if unsigned:
        if signed_by:
            errors["signed_by"] = "已登记签收人，不能同时标记为无人签收。"
        if task.kind != TaskKind.NOTICE or task.action_id is None:
            errors["unsigned"] = "只有书面通知任务可以标记为无人签收。"
    if signed_by:
        if task.kind not in (TaskKind.NOTICE, TaskKind.REGISTERED) or task.action_id is None:
            errors["signed_by"] = "只有书面通知或挂号信任务可以登记签收。"
        if problem := signer_relation_problem(relation, mail=task.kind == TaskKind.REGISTERED):
            errors["relation"] = problem
        if signed_on is None:
            errors["signed_on"] = "请填写签收日期。"
        elif signed_on > timezone.localdate():
            errors["signed_on"] = "签收日期不能晚于今天。"
    elif not note and not unsigned:
        errors["note"] = "请填写办理结果。"
    if errors:
        raise ValidationError(errors)
    if unsigned:
        from wuye.dunning.engine import SIGNER_FAILED_MARK

        detail = f"{SIGNER_FAILED_MARK}：未能交给指定签收人或其他可签收的人" + (f"（{note}）" if note else "")
        note = detail
        receipt_record(out_id=task.action.out_id, delivered=False, at=timezone.now(), detail=detail,
                       actor_label=f"user:{actor.username}")
    if signed_by:
        detail = f"签收人 {signed_by}（{relation}）"
        note = f"{detail}；{note}" if note else detail
        at = timezone.make_aware(dt.datetime.combine(signed_on, dt.time(12, 0)))
        receipt_record(out_id=task.action.out_id, delivered=True, at=at, detail=detail,
                       actor_label=f"user:{actor.username}")
    task.status, task.closed_at, task.close_note = TaskStatus.DONE, timezone.now(), note[:300]
    task.save(update_fields=["status", "closed_at", "close_note"])
    audit_record(actor=actor, verb="dunning.task_done", obj=task.unit, note=note, after={"task": task.pk})
    return task


@transaction.atomic
def task_reopen(*, actor: User, task: Task, note: str) -> Task:
    """Open again a task closed by a record that was undone (a mis-tapped outcome)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status != TaskStatus.DONE:
        raise ValidationError({"task": "该任务未关闭。"})
    before = task.close_note
    task.status, task.closed_at, task.close_note = TaskStatus.OPEN, None, ""
    task.save(update_fields=["status", "closed_at", "close_note"])
    audit_record(actor=actor, verb="dunning.task_reopen", obj=task.unit, note=note,
                 before={"close_note": before}, after={"task": task.pk})
    return task


KIND_WORDS = {"holiday": DayKind.HOLIDAY, "假": DayKind.HOLIDAY, "休": DayKind.HOLIDAY, "节假日": DayKind.HOLIDAY,
              "workday": DayKind.WORKDAY, "班": DayKind.WORKDAY, "上班": DayKind.WORKDAY, "调休上班": DayKind.WORKDAY,
              "工作日": DayKind.WORKDAY, "rest": DayKind.REST, "休息日": DayKind.REST}


def parse_schedule(text: str) -> list[tuple[dt.date, str, str]]:
    """Lines like ``2027-01-01 假 元旦``, ``2027-02-06~2027-02-12 假 春节`` or ``2027-02-20 班 春节调休``."""
    days: list[tuple[dt.date, str, str]] = []
    errors = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 2:
            errors.append(f"第 {n} 行：应为“日期 类型 说明”，如 2027-01-01 假 元旦")
            continue
        span, word = parts[0], parts[1]
        name = parts[2] if len(parts) > 2 else ""
        kind = KIND_WORDS.get(word)
        if kind is None:
            errors.append(f"第 {n} 行：类型“{word}”应为 假 或 班")
            continue
        try:
            first, _, last = span.replace("～", "~").partition("~")
            start = dt.date.fromisoformat(first)
            end = dt.date.fromisoformat(last) if last else start
        except ValueError:
            errors.append(f"第 {n} 行：日期“{span}”格式应为 YYYY-MM-DD 或 YYYY-MM-DD~YYYY-MM-DD")
            continue
        if end < start or (end - start).days > 31:
            errors.append(f"第 {n} 行：日期区间不合理")
            continue
        while start <= end:
            days.append((start, kind, name))
            start += dt.timedelta(days=1)
    if errors:
        raise ValidationError({"schedule": errors})
    if not days:
        raise ValidationError({"schedule": "没有可录入的日期。"})
    return days


# --- used by casework (added with the collector's worklist) ------------------------------------------------

@transaction.atomic
def promise_hold_keep(*, actor: User | None, hold: Hold, on: dt.date, note: str, actor_label: str = "") -> Hold:
    """Mark a PROMISE hold kept (a payment covered the promised amount) and end it."""
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.kind != HoldKind.PROMISE or hold.released_on:
        return hold
    hold.outcome, hold.released_on, hold.released_by, hold.release_note = "kept", on, actor, note[:300]
    hold.save(update_fields=["outcome", "released_on", "released_by", "release_note"])
    mark_units([hold.unit_id])
    audit_record(actor=actor, actor_label=actor_label or "job:casework", verb="dunning.promise_kept",
                 obj=hold.unit, note=note)
    return hold


@transaction.atomic
def tasks_reassign(*, actor: User, unit_q: Q, from_user: User, to_user: User | None) -> int:
    """Move the open tasks and not-yet-sent person actions of ``from_user`` on the units matching ``unit_q``
    (a filter on Unit) to ``to_user`` (a collector taking over a territory). Returns the tasks moved."""
    from wuye.dunning.choices import ActionStatus
    from wuye.dunning.models import Action

    units = Unit.objects.filter(unit_q).values("pk")
    tasks = Task.objects.filter(unit_id__in=units, assigned_to=from_user, status=TaskStatus.OPEN)
    moving = list(tasks.values_list("pk", "unit_id", "project_id"))
    moved = Task.objects.filter(pk__in=[t[0] for t in moving]).update(assigned_to=to_user)
    actions = list(Action.objects.filter(unit_id__in=units, assigned_to=from_user, status=ActionStatus.PENDING)
                   .values_list("pk", flat=True))
    Action.objects.filter(pk__in=actions).update(assigned_to=to_user)
    projects = {t[2] for t in moving}
    # which tasks, actions and units changed hands, so a handover can be traced later
    audit_record(actor=actor, verb="dunning.tasks_reassign", project_id=projects.pop() if len(projects) == 1 else None,
                 note=f"{moved} tasks", after={"from": from_user.pk, "to": to_user.pk if to_user else None,
                                               "tasks": [t[0] for t in moving], "actions": actions,
                                               "units": sorted({t[1] for t in moving})})
    return moved


@transaction.atomic
def action_uncertain_resolve(*, actor: User, action: Action, went_out: bool, note: str) -> Action:
    """A person settles a message whose send timed out (待核实) after checking the provider's console or
    asking the owner: it went out (recorded as sent at the attempt) or it did not (queued again now).
    The system never decides this by itself: guessing wrong sends a demand twice or never."""
    _require_staff(actor, (Role.MANAGER, Role.SERVICE, Role.ADMIN), "核实发送结果")
    note = note.strip()
    if not note:
        raise ValidationError({"note": "请填写核实依据（例如短信平台的发送记录）。"})
    action = Action.objects.select_for_update().get(pk=action.pk)
    if action.status != ActionStatus.UNCERTAIN:
        raise ValidationError({"action": "该催缴动作不是“待核实”状态。"})
    now = timezone.now()
    if went_out:
        action.status, action.sent_at = ActionStatus.SENT, action.claimed_at or now
        detail = f"人工核实：平台已发出。{note}"
    else:
        action.status, action.next_attempt_at, action.sent_at = ActionStatus.PENDING, None, None
        detail = f"人工核实：平台未发出，重新排队。{note}"
    action.last_error = "" if went_out else detail[:300]
    action.save(update_fields=["status", "sent_at", "next_attempt_at", "last_error"])
    ActionEvent.objects.create(action=action, at=now, status=action.status, detail=detail[:300],
                               actor_label=f"user:{actor.username}")
    audit_record(actor=actor, verb="dunning.action_verified", obj=action.unit, note=detail,
                 after={"action": action.pk, "went_out": went_out})
    return action


SETTLED_AT_PRINT = "打印前已缴清：本欠费人名下已无到期未缴的费用，不再发出书面催告"
WITHDRAWABLE = (ActionStatus.PENDING, ActionStatus.SENT)


@transaction.atomic
def demands_withdraw_settled(*, actions: list[Action], detail: str = SETTLED_AT_PRINT, actor: User | None = None,
                             actor_label: str = "job:notices") -> list[int]:
    """Written demands (notice, registered letter, referral) whose debtor has nothing matured unpaid when the
    document is made: the page is not printed, the action is cancelled with the reason (an ``ActionEvent``, so
    the record says why no demand went) and its open task closed as cancelled. A demand already delivered, or
    failed, keeps its status (it is only not printed again). Returns the ids cancelled; one audit event per
    unit."""
    ids = [a.pk for a in actions]
    if not ids:
        return []
    now = timezone.now()
    label = f"user:{actor.username}" if actor is not None else actor_label
    rows = list(Action.objects.select_for_update().filter(pk__in=ids, status__in=WITHDRAWABLE)
                .values_list("pk", "unit_id"))
    done = [pk for pk, _ in rows]
    if not done:
        return []
    Action.objects.filter(pk__in=done).update(status=ActionStatus.CANCELLED, last_error=detail[:300],
                                              next_attempt_at=None)
    ActionEvent.objects.bulk_create([ActionEvent(action_id=pk, at=now, status=ActionStatus.CANCELLED,
                                                 detail=detail[:300], actor_label=label) for pk in done])
    Task.objects.filter(action_id__in=done, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, closed_at=now, close_note=detail[:300])
    units = Unit.objects.in_bulk({u for _, u in rows})
    for unit_id in sorted(units):
        audit_record(actor=actor, actor_label="" if actor is not None else actor_label,
                     verb="dunning.demand_withdrawn", obj=units[unit_id], note=detail,
                     after={"actions": [pk for pk, u in rows if u == unit_id]})
    return done


@transaction.atomic
def notices_mark_printed(*, actor: User, action_ids: list[int]) -> int:
    """Written notices and registered letters put into a print run: each is marked printed once (the first
    print's time stays), so the print page lists what is still to print. Audited with the count."""
    now = timezone.now()
    n = Action.objects.filter(pk__in=action_ids, channel__in=[Channel.NOTICE, Channel.REGISTERED],
                              printed_at__isnull=True).update(printed_at=now)
    if n:
        audit_record(actor=actor, verb="dunning.notice_printed", obj=None, note=f"打印书面通知/挂号信 {n} 份",
                     after={"actions": sorted(action_ids)[:500], "count": n})
    return n
