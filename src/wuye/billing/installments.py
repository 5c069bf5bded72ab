"""Installment plans (分期): request, approval, and the standing that later modules read.

Standing on a date is derived, never guessed: money received for the unit since the plan was approved
(payments net of reversals) is compared with the instalments whose due date plus grace days has passed.
- ``good``: every instalment due so far is covered;
- ``broken``: one is not (an event the collection ladder reacts to);
- ``completed``: the whole total is covered.
``installment_refresh`` (a daily job) records transitions on the plan with an audit event.

While a plan is in good standing no 违约金 accrues on the lines it covers (decision 207): approval opens a pause
(``BillFeePause``) on the lines the plan was asked for, from the approval day; the day the plan is found broken or
completed ends it (the fee runs again from that day, not back to the approval: the days kept are kept); a plan
restored to good standing, or a completed one reopened by a reversal, pauses the lines still open again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.models import Bill, BillFeePause, InstallmentItem, InstallmentPlan, Payment
from wuye.billing.permissions import can_approve
from wuye.billing.services import add_months, largest_remainder
from wuye.common.changes import units_changed
from wuye.common.formatting import format_yuan
from wuye.common.lookups import Ids

logger = logging.getLogger(__name__)

MAX_INSTALMENTS = 24
# the first instalment falls due within this many days of the request (a later start is a hold, not a plan)
MAX_FIRST_DUE_DAYS = 92
Status = InstallmentPlan.Status


def schedule_refusal(count: int, first_due: dt.date, today: dt.date | None = None) -> dict[str, str]:
    """What is wrong with a plan's count and first date (every door asks before a schedule is built: a count of
    two million or a first date in the year 9999 must not cost a schedule's worth of work, or overflow)."""
    today = today or timezone.localdate()
    errors = {}
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_INSTALMENTS:
        errors["count"] = f"分期数应在 2 到 {MAX_INSTALMENTS} 期之间。"
    if first_due < today:
        errors["first_due"] = "第一期到期日不能早于今天。"
    elif (first_due - today).days > MAX_FIRST_DUE_DAYS:
        errors["first_due"] = (f"第一期到期日最晚为 {today + dt.timedelta(days=MAX_FIRST_DUE_DAYS):%Y-%m-%d}"
                               f"（{MAX_FIRST_DUE_DAYS} 天内）。")
    return errors


def equal_schedule(total_fen: int, count: int, first_due: dt.date) -> list[tuple[dt.date, int]]:
    """``count`` monthly instalments from ``first_due`` that add up to ``total_fen`` exactly. A count out of
    bounds, or a date whose months would run past the calendar, is refused before any work (the doors that take
    an owner's or a collector's dates ask ``schedule_refusal`` first)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_INSTALMENTS:
        raise ValidationError({"count": f"分期数应在 2 到 {MAX_INSTALMENTS} 期之间。"})
    if first_due.year > 9000:
        raise ValidationError({"first_due": "第一期到期日无效。"})
    shares = largest_remainder(total_fen, [1] * count)
    return [(add_months(first_due, i), fen) for i, fen in enumerate(shares)]


@transaction.atomic
def installment_request(
    *, actor: User | None, unit, schedule: list[tuple[dt.date, int]], reason: str, grace_days: int = 7,
    actor_label: str = "",
) -> InstallmentPlan:
    """Propose paying the unit's open amount by ``schedule``; a manager's request is approved at once.
    An owner's own request (from the portal) has no staff ``actor`` and names its source in ``actor_label``."""
    errors = {}
    if not reason.strip():
        errors["reason"] = "请填写分期原因。"
    if not 2 <= len(schedule) <= MAX_INSTALMENTS:
        errors["schedule"] = f"分期数应在 2 到 {MAX_INSTALMENTS} 期之间。"
    dates = [d for d, _ in schedule]
    if dates != sorted(set(dates)):
        errors["schedule"] = "各期到期日必须逐期递增。"
    if schedule and dates[0] < timezone.localdate():
        errors["schedule"] = "第一期到期日不能早于今天。"
    elif schedule and (dates[0] - timezone.localdate()).days > MAX_FIRST_DUE_DAYS:
        errors["schedule"] = f"第一期到期日须在 {MAX_FIRST_DUE_DAYS} 天内。"
    elif schedule and (dates[-1] - dates[0]).days > 31 * MAX_INSTALMENTS:
        errors["schedule"] = f"分期最长 {MAX_INSTALMENTS} 个月。"
    if any(fen <= 0 for _, fen in schedule):
        errors["schedule"] = "每期金额必须大于 0。"
    open_fen = sum(b.amount_fen - b.settled_fen for b in Bill.objects.filter(unit=unit, is_void=False))
    total = sum(fen for _, fen in schedule)
    if open_fen <= 0:
        errors["unit"] = "该房屋没有未缴金额，无需分期。"
    elif total != open_fen:
        errors["schedule"] = f"各期合计 {format_yuan(total)} 应等于未缴金额 {format_yuan(open_fen)}。"
    if InstallmentPlan.objects.filter(unit=unit, status__in=[Status.PENDING, Status.ACTIVE]).exists():
        errors["unit"] = "该房屋已有待审批或执行中的分期计划。"
    if errors:
        raise ValidationError(errors)
    plan = InstallmentPlan.objects.create(project_id=unit.project_id, unit=unit, total_fen=total, reason=reason,
                                          grace_days=grace_days, requested_by=actor)
    InstallmentItem.objects.bulk_create(InstallmentItem(plan=plan, seq=i + 1, due_date=d, amount_fen=fen)
                                        for i, (d, fen) in enumerate(schedule))
    units_changed([unit.pk])
    audit_record(actor=actor, actor_label=actor_label, verb="installment.request", obj=unit, note=reason,
                 after={"plan": plan.pk, "total_fen": total, "instalments": len(schedule)})
    if can_approve(actor):
        plan = installment_decide(actor=actor, plan=plan, approve=True, note="申请人为经理，直接生效")
    return plan


@transaction.atomic
def installment_decide(*, actor: User, plan: InstallmentPlan, approve: bool, note: str = "") -> InstallmentPlan:
    if not can_approve(actor):
        raise ValidationError({"actor": "只有经理可以审批分期。"})
    plan = InstallmentPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != Status.PENDING:
        raise ValidationError({"plan": "该分期申请已处理。"})
    if not approve and not note.strip():
        raise ValidationError({"note": "驳回时请填写理由。"})
    plan.status = Status.ACTIVE if approve else Status.REJECTED
    plan.decided_by, plan.decided_at, plan.decision_note = actor, timezone.now(), note
    plan.status_changed_on = timezone.localdate()
    plan.save()
    if approve:
        pauses_follow(plan, plan.status_changed_on)
    units_changed([plan.unit_id])
    audit_record(actor=actor, verb="installment.approve" if approve else "installment.reject", obj=plan.unit,
                 note=note, after={"plan": plan.pk})
    return plan


def pauses_follow(plan: InstallmentPlan, on: dt.date) -> None:
    """Bring the plan's late-fee pauses in line with its status from ``on`` (decision 207): an active plan pauses
    its lines still open (on approval: those open when it was requested; later: those it paused before), any
    other status ends the open pauses on ``on``."""
    open_pauses = BillFeePause.objects.filter(plan=plan, ends_on__isnull=True)
    if plan.status != Status.ACTIVE:
        open_pauses.filter(starts_on__lte=on).update(ends_on=on)
        open_pauses.update(ends_on=F("starts_on"))  # one that would start later never ran
        return
    # its late-fee lines too: the plan's total counts them (no fee is ever computed on them)
    lines = Bill.objects.filter(unit_id=plan.unit_id, is_void=False, settled_fen__lt=F("amount_fen"))
    if BillFeePause.objects.filter(plan=plan).exists():
        lines = lines.filter(pk__in=BillFeePause.objects.filter(plan=plan).values("bill_id"))
    else:
        asked = plan.requested_at  # the lines open when it was asked for, and their corrections (reissues) since
        lines = lines.filter(Q(created_at__lte=asked) | Q(reissue_of__created_at__lte=asked)
                             | Q(reissue_of__reissue_of__created_at__lte=asked))
    todo = sorted(set(lines.values_list("pk", flat=True)) - set(open_pauses.values_list("bill_id", flat=True)))
    BillFeePause.objects.bulk_create(BillFeePause(bill_id=b, plan=plan, starts_on=on) for b in todo)


def _received_since(plans: list[InstallmentPlan], as_of: dt.date) -> dict[int, int]:
    """plan id → money received for its unit from approval up to ``as_of`` (reversals net it out). Every payment
    of the unit counts: a plan's total is the unit's open amount when it was asked for (counting only the money
    put on the plan's own lines left plans that could never complete — a waiver, a smaller reissue, a late fee
    charged at settlement taking an instalment first: decision 207)."""
    out: dict[int, int] = defaultdict(int)
    by_unit = defaultdict(list)
    for plan in plans:
        by_unit[plan.unit_id].append(plan)
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    rows = (Payment.objects.filter(unit_id__in=list(by_unit), paid_at__lt=end)
            .values_list("unit_id", "paid_at", "amount_fen", "reverses__paid_at"))
    for unit_id, paid_at, fen, reversed_paid_at in rows:
        # a reversal counts against the plan only if the payment it undoes was counted
        counted_at = reversed_paid_at or paid_at
        for plan in by_unit[unit_id]:
            if plan.decided_at and counted_at >= plan.decided_at:
                out[plan.pk] += fen
    return out


def _newer_plan(statuses) -> Exists:
    """A plan of the same unit, later than the outer one, in one of ``statuses``."""
    return Exists(InstallmentPlan.objects.filter(unit_id=OuterRef("unit_id"), pk__gt=OuterRef("pk"),
                                                 status__in=statuses))


def _replaced(plan_ids) -> set[int]:
    """Those of ``plan_ids`` with a newer plan of the same unit, pending or approved (not rejected): such a plan
    is not in good standing beside it (one open plan per unit)."""
    newer = _newer_plan([Status.PENDING, Status.ACTIVE, Status.BROKEN, Status.COMPLETED])
    return set(InstallmentPlan.objects.filter(newer, pk__in=list(plan_ids)).values_list("pk", flat=True))


def installment_standing(plans: Iterable[InstallmentPlan], as_of: dt.date) -> dict[int, str]:
    """plan id → 'good' | 'broken' | 'completed' for approved plans (three queries for any number)."""
    plans = [p for p in plans if p.status in (Status.ACTIVE, Status.BROKEN, Status.COMPLETED)]
    if not plans:
        return {}
    received = _received_since(plans, as_of)
    due: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for plan_id, day, fen in (InstallmentItem.objects.filter(plan__in=plans).order_by("plan_id", "seq")
                              .values_list("plan_id", "due_date", "amount_fen")):
        due[plan_id].append((day, fen))
    replaced = _replaced(p.pk for p in plans)
    standing = {}
    for plan in plans:
        got = received.get(plan.pk, 0)
        if got >= plan.total_fen:
            standing[plan.pk] = "completed"
            continue
        owed = sum(fen for day, fen in due[plan.pk] if day + dt.timedelta(days=plan.grace_days) < as_of)
        # a plan a newer one has replaced is not kept, whatever was paid: the newer plan is the unit's now
        standing[plan.pk] = "broken" if got < owed or plan.pk in replaced else "good"
    return standing


def watched_plans():
    """The approved plans whose standing can still change: the active ones, the broken ones no newer approved
    plan of the unit has replaced, and a completed one only if a payment it counted has been reversed (that alone
    can reopen it: payments only add). A company's finished and replaced plans pile up over the years; the daily
    job and every account summary read only these (cost follows change)."""
    counted_and_reversed = Payment.objects.filter(unit_id=OuterRef("unit_id"), reverses__isnull=False,
                                                  reverses__paid_at__gte=OuterRef("decided_at"))
    replaced = _newer_plan([Status.ACTIVE, Status.BROKEN, Status.COMPLETED])
    return InstallmentPlan.objects.filter(
        Q(status=Status.ACTIVE) | Q(status=Status.BROKEN) & ~Q(replaced)
        | Q(Exists(counted_and_reversed), status=Status.COMPLETED))


def open_plan_standing(unit_ids: Iterable[int] | None, as_of: dt.date) -> dict[int, str]:
    """unit → standing of its approved plan that is not finished ('good' or 'broken')."""
    plans = watched_plans().order_by("pk")  # completed too, where a reversal may reopen one; the newest plan wins
    if unit_ids is not None:
        plans = plans.filter(unit_id__in_ids=Ids([int(u) for u in unit_ids]))
    plans = list(plans)
    standing = installment_standing(plans, as_of)
    return {p.unit_id: standing[p.pk] for p in plans if standing.get(p.pk) in ("good", "broken")}


@transaction.atomic
def installment_refresh(*, as_of: dt.date | None = None) -> dict[str, int]:
    """Record plans that broke or were completed (a daily job; each transition is audited once).

    A plan with a newer plan of the same unit (pending or approved) does not come back to good standing beside it
    (one open plan per unit): caught up, it stays broken; reopened by a reversal, it is recorded broken. Each
    plan's transition is written in a savepoint of its own, so one that fails leaves the others recorded."""
    as_of = as_of or timezone.localdate()
    plans = list(InstallmentPlan.objects.select_for_update().filter(pk__in=watched_plans().values("pk"))
                 .order_by("pk"))
    standing = installment_standing(plans, as_of)  # a plan a newer one replaced is never 'good' again
    changed = {"broken": 0, "completed": 0, "restored": 0, "reopened": 0}
    target = {"good": Status.ACTIVE, "broken": Status.BROKEN, "completed": Status.COMPLETED}
    for plan in plans:
        new = target[standing[plan.pk]]
        if new == plan.status:
            continue
        if plan.status == Status.COMPLETED:
            key = "reopened"  # a payment it counted was reversed
        else:
            key = {Status.BROKEN: "broken", Status.COMPLETED: "completed", Status.ACTIVE: "restored"}[new]
        before = plan.status
        try:
            with transaction.atomic():
                plan.status, plan.status_changed_on = new, as_of
                plan.save(update_fields=["status", "status_changed_on"])
                pauses_follow(plan, as_of)
                units_changed([plan.unit_id])
                audit_record(actor=None, actor_label="installment_refresh", verb=f"installment.{key}",
                             obj=plan.unit, before={"status": before}, after={"status": new, "plan": plan.pk})
        except DatabaseError:
            logger.exception("installment plan %s: the %s -> %s transition failed; the others go on", plan.pk,
                             before, new)
            plan.status = before
            continue
        changed[key] += 1
    return changed


def plan_total_received(plan: InstallmentPlan, as_of: dt.date) -> int:
    return _received_since([plan], as_of).get(plan.pk, 0)
