"""Writes of casework: recording contacts (and what each outcome sets in motion), promises, disputes, work
orders, finance checks, class overrides, talking points and handing a territory over.

Every function takes the acting person (``actor``) and records an audit event. The collection engine's state
is changed only through ``wuye.dunning.services`` (holds, the account class, tasks).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from wuye.accounts.choices import Role
from wuye.accounts.models import Territory, User
from wuye.accounts.permissions import require_project_scope
from wuye.accounts.selectors import unit_scope_q
from wuye.accounts.services import audit_record, territory_assign, territory_remove
from wuye.billing import disputes as bill_disputes
from wuye.billing.models import Bill, Payment
from wuye.casework.choices import (
    CALL_ONLY_OUTCOMES,
    CLASS_OF_OUTCOME,
    DISPUTE_OUTCOMES,
    QUICK_OUTCOMES,
    VISIT_OUTCOMES,
    WORK_ORDER_CLOSED,
    CheckStatus,
    ContactChannel,
    DisputeReason,
    DisputeStatus,
    Outcome,
    Relationship,
    WorkOrderStatus,
)
from wuye.casework.models import (
    ContactAttempt,
    Dispute,
    PaymentCheck,
    Promise,
    TalkingPoint,
    VisitPhoto,
    WorkOrder,
)
from wuye.common.formatting import format_yuan
from wuye.dunning import services as dunning
from wuye.dunning.choices import AccountClass, HoldKind, TaskKind, TaskStatus
from wuye.dunning.models import Episode, Hold, Task
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind, ContactValidity
from wuye.estate.models import ContactPoint, Party, Unit
from wuye.estate.selectors import liable_party
from wuye.estate.services import contact_set_validity

MAX_PROMISE_DAYS = 90  # a longer promise is an installment plan, which needs approval
MAX_FOLLOW_UP_DAYS = 90
DEFAULT_DISPUTE_HOLD_DAYS = 30
MAX_DISPUTE_HOLD_DAYS = 180
PHONE_KINDS = (ContactKind.MOBILE, ContactKind.LANDLINE)
TASK_OF_CHANNEL = {ContactChannel.CALL: TaskKind.CALL, ContactChannel.VISIT: TaskKind.VISIT}


def _label(actor: User | None, actor_label: str) -> str:
    return actor_label or (f"user:{actor.username}" if actor is not None else "job:casework")


def _today() -> dt.date:
    return timezone.localdate()


def require_unit_scope(actor: User, unit: Unit) -> None:
    """A collector may act only on the units of their territory."""
    if actor.is_superuser:
        return
    if not Unit.objects.filter(unit_scope_q(actor), pk=unit.pk).exists():
        raise PermissionDenied("该房屋不在您的责任区内。")


def _require_manager(actor: User, what: str) -> None:
    if not (actor.is_superuser or actor.role in (Role.MANAGER, Role.ADMIN)):
        raise PermissionDenied(f"只有经理可以{what}。")


# who may do what with a work order: the people who hear the complaint send it; engineering (or a manager) works
# on it and closes it as done; only a manager cancels a fix that is the company's to make
WORK_ORDER_OPENERS = frozenset({Role.COLLECTOR, Role.SERVICE, Role.MANAGER, Role.ADMIN})
WORK_ORDER_WORKERS = frozenset({Role.ENGINEERING, Role.MANAGER, Role.ADMIN})
WORK_ORDER_CANCELLERS = frozenset({Role.MANAGER, Role.ADMIN})


def can_open_work_order(user: User) -> bool:
    return user.is_superuser or user.role in WORK_ORDER_OPENERS


def can_work_on_work_order(user: User) -> bool:
    return user.is_superuser or user.role in WORK_ORDER_WORKERS


def can_cancel_work_order(user: User) -> bool:
    return user.is_superuser or user.role in WORK_ORDER_CANCELLERS


def open_fen_of(unit: Unit, party_id: int | None = None) -> int:
    """Everything the unit still owes (due or not) — of one debtor's lines when ``party_id`` is given — in fen."""
    rows = Bill.objects.filter(unit=unit, is_void=False)
    if party_id is not None:
        rows = rows.filter(party_id=party_id)
    rows = rows.order_by().values_list("amount_fen", "settled_fen")  # a sum: no order (the default joins 3 tables)
    return sum(max(0, a - s) for a, s in rows)


# a contact form lists at most this many lines to dispute (a unit years in arrears has more: the oldest are listed)
DISPUTABLE_LINES_MAX = 60


def disputable_lines(unit: Unit, party_id: int | None = None) -> list[tuple[int, str]]:
    """The lines an owner may say they dispute, for the contact form: (id, "2026年3月 物业服务费 未缴 ¥179.00"), the
    unit's live lines still owing (one debtor's when ``party_id`` is given), oldest first. One query."""
    rows = (Bill.objects.filter(unit=unit, is_void=False, settled_fen__lt=F("amount_fen"))
            .order_by("period_start", "fee_item__sort", "pk"))
    if party_id is not None:
        rows = rows.filter(party_id=party_id)
    return [(pk, f"{start.year}年{start.month}月 {item} 未缴 {format_yuan(amount - settled)}")
            for pk, start, item, amount, settled in rows.values_list(
                "pk", "period_start", "fee_item__name", "amount_fen", "settled_fen")[:DISPUTABLE_LINES_MAX]]


def live_phones(party) -> list[ContactPoint]:
    if party is None:
        return []
    return [c for c in ContactPoint.objects.filter(party=party, kind__in=PHONE_KINDS).order_by("-is_primary", "pk")
            if c.validity not in DEAD_VALIDITIES]


# --- contacts ----------------------------------------------------------------------------------------------

@transaction.atomic
@dunning.marks_held()  # the hold, its save and the class mark the unit once (inside the transaction)
def contact_record(
    *, actor: User, unit: Unit, channel: str, outcome: str, note: str = "", reason: str = "",
    follow_up_on: dt.date | None = None, on: dt.date | None = None, contact_point: ContactPoint | None = None,
    task: Task | None = None, promised_on: dt.date | None = None, amount_fen: int | None = None,
    hold_until: dt.date | None = None, developer_warranty: bool = False, installments: int | None = None,
    corrects: ContactAttempt | None = None, actor_label: str = "", party_id: int | None = None,
    person_met: str = "", relationship: str = "", bill_ids: list[int] | None = None,
) -> ContactAttempt:
    """Record one contact with a debtor of the unit and what its outcome sets in motion:

    - no answer / busy / switched off → 暂未明确 (the engine calls daily);
    - number dead or wrong → the number is flagged (空号), 无法联系 when no live number is left (the engine
      schedules a visit to find the owner);
    - promised → a promise (a PROMISE hold: reminder the day before, broken the day after) and 近期交纳;
    - refuses / complaint → a dispute (a DISPUTE hold on escalation) and 特殊拒交, about the lines ``bill_ids``
      names (the ones the owner objects to) or, when none are named, every line of the unit still owing;
    - away → 异地出差; paid already → a check for finance; installment → a plan request in the approvals queue.
    A correction is a new record naming the one it corrects (the old row stays as it was); a promise made on
    the corrected record is withdrawn (its hold released, on the record) and the new outcome applies.

    Who was contacted: ``party_id`` (a debtor of the unit — after a sale the former owner who still owes is
    one), else the debtor the task's action addresses, else the owner liable today. The class and the
    promise apply to that debtor's account only.
    """
    require_unit_scope(actor, unit)
    today = _today()
    on = on or today
    note = (note or "").strip()
    errors: dict[str, str] = {}
    if on > today:
        errors["on"] = f"联系日期不能晚于今天（{today:%Y-%m-%d}）：只能记录已经发生的联系。"
    if channel not in ContactChannel.values:
        errors["channel"] = "请选择联系方式（电话、上门、微信或服务台）。"
    if outcome not in Outcome.values:
        errors["outcome"] = "请选择联系结果。"
    if bill_ids and outcome not in DISPUTE_OUTCOMES:
        errors["bill_ids"] = "只有拒交或争议时才需选择有异议的账单。"
    if outcome in DISPUTE_OUTCOMES and reason not in DisputeReason.values:
        errors["reason"] = "拒交或投诉时请选择原因。"
    elif reason and reason not in DisputeReason.values:
        errors["reason"] = "未知的原因。"
    person_met = (person_met or "").strip()
    if channel == ContactChannel.VISIT and outcome in CALL_ONLY_OUTCOMES:
        errors["outcome"] = "上门请选择上门结果（如“不在家”），不是电话结果。"
    elif outcome in VISIT_OUTCOMES and channel != ContactChannel.VISIT:
        errors["outcome"] = "该结果只用于上门记录。"
    if relationship and relationship not in Relationship.values:
        errors["relationship"] = "未知的关系。"
    if outcome == Outcome.MET and not relationship:
        errors["relationship"] = "请选择见到的人与业主的关系。"
    if len(person_met) > 50:
        errors["person_met"] = "见到的人不能超过 50 字。"
    if outcome == Outcome.UNDONE and corrects is None:
        errors["outcome"] = "撤销只能针对一条已有记录。"
    if outcome == Outcome.PROMISED and promised_on is None:
        errors["promised_on"] = "请填写承诺缴费日期。"
    if follow_up_on is not None:
        if follow_up_on < max(on, today):
            errors["follow_up_on"] = "下次跟进日期不能早于今天。"
        elif (follow_up_on - max(on, today)).days > MAX_FOLLOW_UP_DAYS:
            errors["follow_up_on"] = f"下次跟进日期不能晚于 {MAX_FOLLOW_UP_DAYS} 天后。"
    if task is not None and task.unit_id != unit.pk:
        errors["task"] = "该任务不属于这套房屋。"
    if corrects is not None:
        if corrects.unit_id != unit.pk:
            errors["corrects"] = "被更正的记录不属于这套房屋。"
        elif ContactAttempt.objects.filter(corrects=corrects).exists():
            errors["corrects"] = "该记录已被更正过，请更正最新的一条。"
        elif not note:
            errors["note"] = "更正记录时请在备注中说明原因。"
    if len(note) > 500:
        errors["note"] = "备注不能超过 500 字。"
    if errors:
        raise ValidationError(errors)

    label = _label(actor, actor_label)
    party = debtor_for(unit, on, party_id=party_id, task=task)
    if contact_point is not None and contact_point.party_id != (party.pk if party else None):
        raise ValidationError({"contact_point": "该号码不属于所联系的欠费人。"})
    if channel == ContactChannel.VISIT:
        contact_point = None  # a visit dials no number
    if contact_point is None and channel == ContactChannel.CALL:
        phones = live_phones(party)
        contact_point = phones[0] if phones else None
    if outcome == Outcome.DEAD_NUMBER and contact_point is None:
        raise ValidationError({"contact_point": "请选择打不通的号码。"})

    class_before = (Episode.objects.filter(unit=unit, closed_on__isnull=True, party_id=party.pk if party else None)
                    .values_list("account_class", flat=True).first())
    attempt = ContactAttempt.objects.create(
        project_id=unit.project_id, unit=unit, party=party, contact_point=contact_point, channel=channel,
        outcome=outcome, reason=reason, note=note, follow_up_on=follow_up_on, task=task, corrects=corrects, on=on,
        made_by=actor, actor_label=label, person_met=person_met, relationship=relationship)
    audit_record(actor=actor, actor_label=label, verb="casework.contact", obj=unit, note=note,
                 after={"contact": attempt.pk, "channel": channel, "outcome": outcome, "reason": reason,
                        "corrects": corrects.pk if corrects else None, "class_before": class_before,
                        "person_met": person_met, "relationship": relationship})

    if corrects is not None:  # a promise recorded on the corrected contact no longer stands (its record stays)
        for promise in corrects.promises.filter(hold__released_on__isnull=True).select_related("hold"):
            dunning.hold_release(actor=actor, hold=promise.hold, on=on, actor_label=label,
                                 note=f"联系记录已更正（记录 {attempt.pk}），撤销该承诺")
    klass = CLASS_OF_OUTCOME.get(outcome, "")
    why = f"联系结果：{Outcome(outcome).label}"
    if outcome == Outcome.DEAD_NUMBER:
        contact_set_validity(actor=actor, contact=contact_point, validity=ContactValidity.EMPTY, verified_on=on,
                             actor_label=label)
        if live_phones(party):
            klass = AccountClass.UNDECIDED  # another number is left to try
    elif outcome == Outcome.PROMISED:
        _promise_make(actor=actor, unit=unit, party=party, promised_on=promised_on, amount_fen=amount_fen, on=on,
                      contact=attempt, actor_label=label)
        klass = ""  # the promise has set the debtor's class (with its date as the reason)
    elif outcome in DISPUTE_OUTCOMES:
        dispute_open(actor=actor, unit=unit, reason=reason, description=note or Outcome(outcome).label, on=on,
                     contact=attempt, developer_warranty=developer_warranty, hold_until=hold_until,
                     actor_label=label, bill_ids=bill_ids, party_id=party.pk if party else None)
    elif outcome == Outcome.PAID_ALREADY:
        PaymentCheck.objects.create(project_id=unit.project_id, unit=unit, contact=attempt)
    elif outcome == Outcome.INSTALLMENT:
        _installment_request(actor=actor, unit=unit, count=installments or 3, on=on, note=note)
    if klass:
        dunning.account_class_set(actor=actor, unit=unit, account_class=klass, on=on, reason=why,
                                  actor_label=label, party_id=party.pk if party else None)
    # the contact answers the task it was made for and every other call (visit) of the unit already due: a
    # daily call decided over a weekend must not leave a second task standing beside today's
    done_note = f"{ContactChannel(channel).label}：{Outcome(outcome).label}（联系记录 {attempt.pk}）"
    answered = [task] if task is not None and task.status == TaskStatus.OPEN else []
    if outcome == Outcome.UNDONE:
        return attempt  # an undo answers no task (contact_undo reopens the ones the undone record closed)
    if channel in TASK_OF_CHANNEL:
        answered += list(Task.objects.filter(unit=unit, status=TaskStatus.OPEN, kind=TASK_OF_CHANNEL[channel],
                                             due_on__lte=on).exclude(pk=getattr(task, "pk", None))
                         .order_by("due_on", "pk"))
    if klass == AccountClass.AWAY:  # nobody to find at the door: the away class is followed up by phone
        answered += [t for t in Task.objects.filter(unit=unit, status=TaskStatus.OPEN, kind=TaskKind.VISIT)
                     .order_by("due_on", "pk") if t not in answered]
    for open_task in answered:
        open_task.unit = unit  # the audit names the unit: read once, not again per task (unit_id is the same)
        # a visit closed because the owner is away says so; any other task, a visit answered by this call included
        # (a promise made on the phone), closes with what the contact found
        away = klass == AccountClass.AWAY and open_task.kind == TaskKind.VISIT and channel != ContactChannel.VISIT
        dunning.task_close(actor=actor, task=open_task, note=(
            f"业主异地出差，不上门，改为电话和远程缴费（联系记录 {attempt.pk}）" if away else done_note))
    return attempt


@transaction.atomic
def visit_record(
    *, actor: User, unit: Unit, outcome: str, person_met: str = "", relationship: str = "", note: str = "",
    photo=None, on: dt.date | None = None, task: Task | None = None, party_id: int | None = None,
    follow_up_on: dt.date | None = None,
) -> ContactAttempt:
    """Record a visit (上门): what was found at the door, who was met and how they relate to the owner, and a
    photo as evidence (a notice posted or slipped under the door needs one). No number is dialled, so none is
    recorded. Finding nobody — or leaving a notice — does not change the class (``CLASS_OF_OUTCOME``); a
    debtor who moved out becomes 无法联系 (find where they went). The photo is stored with its SHA-256."""
    from wuye.casework import evidence

    errors: dict[str, str] = {}
    if outcome not in VISIT_OUTCOMES:
        errors["outcome"] = "请选择上门结果。"
    elif outcome == Outcome.NOTICE_LEFT and photo is None:
        errors["photo"] = "张贴或塞门的通知请拍照留证。"
    checked = None
    if photo is not None:
        try:
            checked = evidence.check_photo(photo)
        except ValidationError as exc:
            errors["photo"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    attempt = contact_record(actor=actor, unit=unit, channel=ContactChannel.VISIT, outcome=outcome, note=note,
                             on=on, task=task, party_id=party_id, person_met=person_met,
                             relationship=relationship, follow_up_on=follow_up_on)
    if checked is not None:
        data, name, kind = checked
        content, digest = evidence.stored_file(data, kind)
        shot = VisitPhoto(project_id=unit.project_id, unit=unit, contact=attempt, original_name=name,
                          content_type=kind, size=len(data), sha256=digest, uploaded_by=actor)
        shot.file.save(content.name, content, save=False)
        shot.save()
        audit_record(actor=actor, verb="casework.visit_photo", obj=unit, note=name,
                     after={"contact": attempt.pk, "photo": shot.pk, "sha256": digest, "size": len(data)})
    return attempt


UNDO_MINUTES = 30  # how long a one-tap outcome can be undone by the person who tapped it


@transaction.atomic
def contact_undo(*, actor: User, attempt: ContactAttempt) -> ContactAttempt:
    """Undo a one-tap outcome (a mis-tap): a correction like any other — a new record (撤销误记) naming the
    tapped one, which stays as it was — that puts back the class the tapped record replaced and reopens the
    tasks it closed. Only the person who tapped, within ``UNDO_MINUTES``, for a record not corrected yet."""
    require_unit_scope(actor, attempt.unit)
    if attempt.made_by_id != actor.pk:
        raise PermissionDenied("只能撤销自己刚记录的结果。")
    if attempt.outcome not in QUICK_OUTCOMES:
        raise ValidationError({"contact": "只有一键记录的结果可以撤销；其他记录请用“更正”。"})
    if timezone.now() - attempt.made_at > dt.timedelta(minutes=UNDO_MINUTES):
        raise ValidationError({"contact": f"超过 {UNDO_MINUTES} 分钟不能撤销，请用“更正”并说明原因。"})
    if ContactAttempt.objects.filter(corrects=attempt).exists():
        raise ValidationError({"contact": "该记录已被更正或撤销。"})
    from wuye.accounts.models import AuditEvent

    event = (AuditEvent.objects.filter(verb="casework.contact", object_type="estate.unit",
                                       object_id=str(attempt.unit_id), after__contact=attempt.pk)
             .order_by("-pk").first())
    class_before = (event.after or {}).get("class_before") if event is not None else None
    undo = contact_record(actor=actor, unit=attempt.unit, channel=attempt.channel, outcome=Outcome.UNDONE,
                          corrects=attempt, party_id=attempt.party_id, contact_point=attempt.contact_point,
                          note=f"撤销误记：{Outcome(attempt.outcome).label}（记录 {attempt.pk}）")
    if class_before is not None:
        dunning.account_class_set(actor=actor, unit=attempt.unit, account_class=class_before, on=attempt.on,
                                  reason=f"撤销误记（记录 {attempt.pk}），恢复原分类", party_id=attempt.party_id)
    for task in Task.objects.filter(unit=attempt.unit, status=TaskStatus.DONE,
                                    close_note__endswith=f"（联系记录 {attempt.pk}）"):
        dunning.task_reopen(actor=actor, task=task, note=f"撤销误记（记录 {attempt.pk}）")
    return undo


def debtors_of(unit: Unit, on: dt.date) -> list[Party]:
    """The parties with lines overdue on the unit on ``on`` (usually one: the owner; after a sale with unpaid
    periods on both sides, the seller and the buyer), the owner liable today first."""
    return _debtors(unit, on, liable_party(unit, on))


def _debtors(unit: Unit, on: dt.date, current: Party | None) -> list[Party]:
    """``debtors_of`` with the owner liable today already read: the owner's row is not read again (the usual
    debtor is the owner alone, so the other debtors' query is usually not needed)."""
    ids = set(Bill.objects.filter(unit=unit, is_void=False, settled_fen__lt=F("amount_fen"), due_date__lt=on)
              .order_by().values_list("party_id", flat=True).distinct())
    parties = {current.pk: current} if current is not None and current.pk in ids else {}
    if ids - set(parties):
        parties.update((p.pk, p) for p in Party.objects.filter(pk__in=sorted(ids - set(parties))))
    out = [current] if current is not None and current.pk in parties else []
    out += [p for pk, p in sorted(parties.items()) if current is None or pk != current.pk]
    return out


def debtor_for(unit: Unit, on: dt.date, *, party_id: int | None = None, task: Task | None = None) -> Party | None:
    """Who a contact, promise or dispute on ``unit`` is with: ``party_id`` when given (it must owe on the unit
    or be its owner today), else the debtor the task's action addresses, else the only debtor of the unit,
    else the owner liable today."""
    current = liable_party(unit, on)
    if party_id is None and task is not None and task.action_id is not None:
        party_id = task.action.party_id
    debtors = _debtors(unit, on, current)
    if party_id is not None:
        for p in debtors + ([current] if current else []):
            if p.pk == party_id:
                return p
        raise ValidationError({"party": "所选的人不是这套房屋的欠费人或现业主。"})
    if len(debtors) == 1:
        return debtors[0]
    return current


def _installment_request(*, actor: User, unit: Unit, count: int, on: dt.date, note: str) -> None:
    from wuye.billing.installments import equal_schedule, installment_request

    if not 2 <= count <= 24:
        raise ValidationError({"installments": "分期数应在 2 到 24 期之间。"})
    first = max(on, _today()) + dt.timedelta(days=30)
    installment_request(actor=actor, unit=unit, schedule=equal_schedule(open_fen_of(unit), count, first),
                        reason=note or "业主电话中申请分期")


# --- promises ----------------------------------------------------------------------------------------------

@transaction.atomic
def promise_make(
    *, actor: User, unit: Unit, promised_on: dt.date, amount_fen: int | None = None, on: dt.date | None = None,
    contact: ContactAttempt | None = None, actor_label: str = "", party_id: int | None = None,
) -> Promise:
    """A debtor promises to pay ``amount_fen`` (default: everything they owe on the unit) by ``promised_on``.
    An earlier open promise of the same debtor is replaced. That debtor's ladder is held until the date; the
    engine reminds the day before. The debtor: ``party_id``, else the unit's only debtor, else the owner
    liable today (``debtor_for``)."""
    require_unit_scope(actor, unit)
    on = on or _today()
    return _promise_make(actor=actor, unit=unit, party=debtor_for(unit, on, party_id=party_id),
                         promised_on=promised_on, amount_fen=amount_fen, on=on, contact=contact,
                         actor_label=actor_label)


def _promise_make(*, actor: User, unit: Unit, party: Party | None, promised_on: dt.date | None,
                  amount_fen: int | None, on: dt.date, contact: ContactAttempt | None, actor_label: str) -> Promise:
    """``promise_make`` once the unit's scope is checked and the debtor known (``contact_record`` has done
    both, in its own transaction)."""
    owed = open_fen_of(unit, party.pk if party else None)
    errors: dict[str, str] = {}
    if promised_on is None:
        errors["promised_on"] = "请填写承诺缴费日期。"
    elif promised_on < on:
        errors["promised_on"] = f"承诺缴费日期不能早于承诺当天（{on:%Y-%m-%d}）。"
    elif (promised_on - on).days > MAX_PROMISE_DAYS:
        errors["promised_on"] = f"承诺缴费日期不能晚于 {MAX_PROMISE_DAYS} 天后；更长的安排请申请分期。"
    if amount_fen is None:
        amount_fen = owed
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        errors["amount_fen"] = "承诺金额必须是整数（分）。"
    elif owed <= 0:
        errors["amount_fen"] = "该房屋没有未缴费用。"
    elif amount_fen <= 0:
        errors["amount_fen"] = "承诺金额必须大于 0。"
    elif amount_fen > owed:
        errors["amount_fen"] = f"承诺金额不能超过未缴金额 {format_yuan(owed)}。"
    if errors:
        raise ValidationError(errors)
    label = _label(actor, actor_label)
    party_id = party.pk if party else None
    for old in Hold.objects.filter(unit=unit, kind=HoldKind.PROMISE, released_on__isnull=True).filter(
            Q(party_id=party_id) | Q(party__isnull=True)):
        dunning.hold_release(actor=actor, hold=old, note="业主重新约定了缴费日期", on=on, actor_label=label)
    hold = dunning.hold_place(actor=actor, unit=unit, kind=HoldKind.PROMISE, starts_on=on, until=promised_on,
                              amount_fen=amount_fen, reason=f"承诺 {promised_on} 前缴 {format_yuan(amount_fen)}",
                              actor_label=label, party_id=party_id)
    promise = Promise.objects.create(project_id=unit.project_id, unit=unit, contact=contact, hold=hold,
                                     party=party, promised_on=promised_on, amount_fen=amount_fen, made_on=on,
                                     made_by=actor)
    dunning.account_class_set(actor=actor, unit=unit, account_class=AccountClass.PROMISED, on=on,
                              reason=f"承诺 {promised_on} 缴费", actor_label=label, party_id=party_id)
    audit_record(actor=actor, actor_label=label, verb="casework.promise", obj=unit,
                 after={"promise": promise.pk, "promised_on": promised_on, "amount_fen": amount_fen})
    return promise


def _start_of(day: dt.date, unit: Unit) -> dt.datetime:
    tz = ZoneInfo(unit.project.timezone or "Asia/Shanghai")
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def promises_check_kept(*, unit_id: int, on: dt.date) -> int:
    """After money came in: open promises of the unit that the money received since the promise covers are
    kept (the hold ends) — for a debtor's promise, what was applied to that debtor's lines. Returns how many."""
    from wuye.billing.models import Allocation

    kept = 0
    promises = list(Promise.objects.filter(unit_id=unit_id, hold__released_on__isnull=True)
                    .select_related("hold", "unit__project"))
    for promise in promises:
        if promise.party_id is not None:
            paid = Allocation.objects.filter(bill__unit_id=unit_id, bill__party_id=promise.party_id,
                                             applied_on__gte=promise.made_on).aggregate(t=Sum("amount_fen"))["t"] or 0
            owed = open_fen_of(promise.unit, promise.party_id)
        else:
            paid = Payment.objects.filter(unit_id=unit_id, paid_at__gte=_start_of(promise.made_on, promise.unit)
                                          ).aggregate(t=Sum("amount_fen"))["t"] or 0
            owed = None
        if paid >= promise.amount_fen or owed == 0:
            dunning.promise_hold_keep(actor=None, hold=promise.hold, on=on,
                                      note=f"已收款 {format_yuan(paid)}，承诺已兑现", actor_label="job:casework")
            kept += 1
    return kept


def promises_broken_settle(*, as_of: dt.date | None = None) -> int:
    """Promises the engine has found broken (the date passed unpaid) and casework has not yet dealt with: the
    account goes back to 暂未明确 (call daily until a new date is agreed) unless a contact after the promise
    set another class (or a newer promise is open). The broken promise stays on the owner's record (counted
    on the worklist and the case page). Idempotent: each promise is claimed once. Returns how many."""
    as_of = as_of or _today()
    settled = 0
    pending = list(Promise.objects.filter(hold__outcome="broken", broken_settled_on__isnull=True)
                   .select_related("unit", "hold").order_by("pk"))
    for promise in pending:
        with transaction.atomic():
            if not Promise.objects.filter(pk=promise.pk, broken_settled_on__isnull=True).update(
                    broken_settled_on=as_of):
                continue  # another worker took it
            settled += 1
            unit = promise.unit
            mine = Q(party_id=promise.party_id) if promise.party_id is not None else Q()
            episode = Episode.objects.filter(mine, unit=unit, closed_on__isnull=True).first()
            later = (ContactAttempt.objects.filter(mine, unit=unit, made_at__gt=promise.created_at,
                                                   outcome__in=[o for o, k in CLASS_OF_OUTCOME.items() if k])
                     .exclude(pk=promise.contact_id).order_by("-made_at", "-pk").first())
            newer_open = Hold.objects.filter(unit=unit, kind=HoldKind.PROMISE, released_on__isnull=True).filter(
                mine | Q(party__isnull=True)).exists()
            moved = False
            if (episode is not None and episode.account_class == AccountClass.PROMISED and later is None
                    and not newer_open):
                dunning.account_class_set(actor=None, unit=unit, account_class=AccountClass.UNDECIDED, on=as_of,
                                          reason=f"承诺 {promise.promised_on} 缴费未兑现（失约）",
                                          actor_label="job:casework", party_id=promise.party_id)
                moved = True
            audit_record(actor=None, actor_label="job:casework", verb="casework.promise_broken", obj=unit,
                         note=f"承诺 {promise.promised_on} 缴 {format_yuan(promise.amount_fen)} 未兑现",
                         after={"promise": promise.pk, "party": promise.party_id, "class_moved": moved,
                                "later_contact": later.pk if later else None})
    return settled


# --- disputes and work orders ------------------------------------------------------------------------------

@transaction.atomic
def dispute_open(
    *, actor: User, unit: Unit, reason: str, description: str, on: dt.date | None = None,
    contact: ContactAttempt | None = None, developer_warranty: bool = False, hold_until: dt.date | None = None,
    actor_label: str = "", bill_ids: list[int] | None = None, party_id: int | None = None,
) -> Dispute:
    """Open a dispute: escalation is held (pre-due reminders of new bills still go out) until it is resolved
    or ``hold_until`` passes; the account becomes 特殊拒交 and the manager sees it. The lines it is about —
    ``bill_ids`` when named, else every line of the unit still owing — are disputed from ``on``: no 违约金
    accrues on them until it is resolved (``billing.disputes``, decision 194). ``party_id``: the debtor who raised
    it (a contact with them) — the lines are theirs only: after a sale one debtor does not dispute the other's."""
    require_unit_scope(actor, unit)
    on = on or _today()
    description = (description or "").strip()
    hold_until = hold_until or on + dt.timedelta(days=DEFAULT_DISPUTE_HOLD_DAYS)
    errors: dict[str, str] = {}
    if reason not in DisputeReason.values:
        errors["reason"] = "请选择争议原因。"
    if not description:
        errors["description"] = "请填写情况说明。"
    if developer_warranty and reason != DisputeReason.HOUSE_QUALITY:
        errors["developer_warranty"] = "只有房屋质量问题才可能属开发商保修。"
    if hold_until < on:
        errors["hold_until"] = "暂停截止日期不能早于今天。"
    elif (hold_until - on).days > MAX_DISPUTE_HOLD_DAYS:
        errors["hold_until"] = f"争议暂停催缴最长 {MAX_DISPUTE_HOLD_DAYS} 天。"
    named = sorted({int(b) for b in bill_ids or []})
    if named and len(_disputable(unit, named, party_id)) < len(named):
        errors["bill_ids"] = ("所选账单须是本房屋未结清、未作废的账单。" if party_id is None
                              else "所选账单须是该欠费人名下未结清、未作废的账单。")
    if errors:
        raise ValidationError(errors)
    return _dispute_create(actor=actor, actor_label=_label(actor, actor_label), unit=unit, reason=reason,
                           description=description, on=on, contact=contact, developer_warranty=developer_warranty,
                           hold_until=hold_until, bill_ids=named, party_id=party_id)


def _disputable(unit: Unit, bill_ids: list[int], party_id: int | None = None) -> list[int]:
    """Those of ``bill_ids`` that are the unit's live lines still owing (of one debtor, ``party_id``, if given)."""
    lines = Bill.objects.filter(pk__in=bill_ids, unit=unit, is_void=False, settled_fen__lt=F("amount_fen"))
    if party_id is not None:
        lines = lines.filter(party_id=party_id)
    return sorted(lines.values_list("pk", flat=True))


def _dispute_create(*, actor: User | None, actor_label: str, unit: Unit, reason: str, description: str,
                    on: dt.date, hold_until: dt.date, contact: ContactAttempt | None = None,
                    developer_warranty: bool = False, source: str = "staff",
                    bill_ids: list[int] | None = None, party_id: int | None = None) -> Dispute:
    hold = dunning.hold_place(actor=actor, unit=unit, kind=HoldKind.DISPUTE, starts_on=on, until=hold_until,
                              reason=f"{DisputeReason(reason).label}：{description}"[:300], actor_label=actor_label)
    dispute = Dispute.objects.create(
        project_id=unit.project_id, unit=unit, contact=contact, reason=reason, description=description[:500],
        developer_warranty=developer_warranty, hold=hold, hold_until=hold_until, opened_on=on, opened_by=actor,
        source=source, bill_ids=sorted(bill_ids or []))
    dunning.account_class_set(actor=actor, unit=unit, account_class=AccountClass.REFUSING, on=on,
                              reason=f"争议：{DisputeReason(reason).label}", actor_label=actor_label)
    audit_record(actor=actor, actor_label=actor_label, verb="casework.dispute_open", obj=unit, note=description,
                 after={"dispute": dispute.pk, "reason": reason, "hold_until": hold_until, "source": source,
                        "bill_ids": dispute.bill_ids, "developer_warranty": developer_warranty})
    lines = dispute.bill_ids or bill_disputes.open_line_ids(unit.pk, party_id)
    bill_disputes.lines_mark(unit=unit, bill_ids=lines, on=on, dispute_ref=dispute.pk, actor=actor,
                             actor_label=actor_label, note=f"争议 #{dispute.pk}：争议期间不计违约金")
    return dispute


@transaction.atomic
def dispute_open_for_owner(*, unit: Unit, reason: str, description: str, bill_ids: list[int], actor_label: str,
                           on: dt.date | None = None, party_id: int | None = None) -> tuple[Dispute, bool]:
    """An owner disputes bills from the portal: a dispute like one a collector records (escalation held for
    ``DEFAULT_DISPUTE_HOLD_DAYS``, never the pre-due reminders; 特殊拒交; on the manager's desk), marked as
    raised online with the bills named — or, naming none, the lines of the link's debtor (``party_id``), never the
    other side's after a sale (decision 208). When the unit already has an open dispute, the owner's words join
    it (no second hold: asking again does not stretch the pause). Returns (dispute, created)."""
    on = on or _today()
    description = (description or "").strip()
    errors: dict[str, str] = {}
    if reason not in DisputeReason.values:
        errors["reason"] = "请选择异议原因。"
    if not description:
        errors["text"] = "请写明异议内容。"
    if errors:
        raise ValidationError(errors)
    existing = (Dispute.objects.select_for_update().filter(unit=unit, status=DisputeStatus.OPEN)
                .order_by("pk").first())
    if existing is not None:
        audit_record(actor=None, actor_label=actor_label, verb="casework.dispute_owner_adds", obj=unit,
                     note=description, after={"dispute": existing.pk, "bill_ids": sorted(bill_ids)})
        named = sorted(set(existing.bill_ids) | {int(b) for b in bill_ids})
        if existing.bill_ids and named != existing.bill_ids:  # it names these too ([]: its debtor's lines, marked)
            existing.bill_ids = named
            existing.save(update_fields=["bill_ids"])
        bill_disputes.lines_mark(unit=unit, bill_ids=bill_ids, on=on, dispute_ref=existing.pk, actor=None,
                                 actor_label=actor_label, note=f"业主补充争议 #{existing.pk}：争议期间不计违约金")
        return existing, False
    dispute = _dispute_create(actor=None, actor_label=actor_label, unit=unit, reason=reason, description=description,
                              on=on, hold_until=on + dt.timedelta(days=DEFAULT_DISPUTE_HOLD_DAYS), source="portal",
                              bill_ids=bill_ids, party_id=party_id)
    return dispute, True


@transaction.atomic
def dispute_resolve(*, actor: User, dispute: Dispute, note: str, on: dt.date | None = None) -> Dispute:
    """Close a dispute with a note; the hold ends and the account goes back to the collector (暂未明确: a call
    to agree a date)."""
    require_unit_scope(actor, dispute.unit)
    on = on or _today()
    note = (note or "").strip()
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.status != DisputeStatus.OPEN:
        raise ValidationError({"dispute": "该争议已处理完毕。"})
    if not note:
        raise ValidationError({"note": "请填写处理结果。"})
    if dispute.work_orders.exclude(status__in=list(WORK_ORDER_CLOSED)).exists():
        raise ValidationError({"dispute": "还有未完成的工单，请先完成或取消工单。"})
    if dispute.hold_id and not Hold.objects.filter(pk=dispute.hold_id, released_on__isnull=False).exists():
        dunning.hold_release(actor=actor, hold=dispute.hold, note=f"争议已解决：{note}", on=on)
    dispute.status, dispute.resolved_on, dispute.resolved_by, dispute.resolution_note = (
        DisputeStatus.RESOLVED, on, actor, note[:500])
    dispute.save(update_fields=["status", "resolved_on", "resolved_by", "resolution_note"])
    dunning.account_class_set(actor=actor, unit=dispute.unit, account_class=AccountClass.UNDECIDED, on=on,
                              reason="争议已解决，交回收费员跟进")
    audit_record(actor=actor, verb="casework.dispute_resolve", obj=dispute.unit, note=note,
                 after={"dispute": dispute.pk})
    bill_disputes.lines_unmark(unit=dispute.unit, dispute_ref=dispute.pk, on=on, actor=actor,
                               note=f"争议 #{dispute.pk} 已解决：自 {on:%Y-%m-%d} 起恢复计算违约金")
    return dispute


def dispute_holds_expire(*, as_of: dt.date) -> int:
    """Disputes still open whose hold date has passed stop holding the ladder (a daily job, before the run).
    Their lines stay disputed (no 违约金) until the dispute is resolved: the amount is still in dispute."""
    n = 0
    for dispute in Dispute.objects.filter(status=DisputeStatus.OPEN, hold_until__lt=as_of,
                                          hold__released_on__isnull=True).select_related("hold"):
        dunning.hold_release(actor=None, hold=dispute.hold, note="争议暂停期已到，恢复催缴", on=as_of,
                             actor_label="job:casework")
        n += 1
    return n


@transaction.atomic
def work_order_open(*, actor: User, dispute: Dispute, title: str, due_on: dt.date | None, detail: str = "",
                    on: dt.date | None = None) -> WorkOrder:
    """Send a fix that is the company's to make to engineering (a collector of the unit's territory, customer
    service or a manager)."""
    if not can_open_work_order(actor):
        raise PermissionDenied("只有收费员、客服或经理可以派工单。")
    require_unit_scope(actor, dispute.unit)
    on = on or _today()
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if dispute.status != DisputeStatus.OPEN:
        errors["dispute"] = "争议已解决，不能再派工单。"
    if not title:
        errors["title"] = "请填写工单事项。"
    if due_on is None:
        errors["due_on"] = "请填写要求完成日期。"
    elif due_on < on:
        errors["due_on"] = "要求完成日期不能早于今天。"
    if dispute.developer_warranty:
        errors["dispute"] = "该问题属开发商保修，应由开发商维修，不派本公司工单。"
    if errors:
        raise ValidationError(errors)
    wo = WorkOrder.objects.create(dispute=dispute, project_id=dispute.project_id, unit_id=dispute.unit_id,
                                  title=title, detail=(detail or "").strip()[:500], due_on=due_on, created_by=actor)
    audit_record(actor=actor, verb="casework.work_order_open", obj=dispute.unit, note=title,
                 after={"work_order": wo.pk, "due_on": due_on})
    return wo


@transaction.atomic
def work_order_update(*, actor: User, work_order: WorkOrder, status: str, note: str = "") -> WorkOrder:
    """Move a work order on (待处理 → 处理中 → 已完成; a manager may cancel); closing needs a note."""
    if not can_work_on_work_order(actor):
        raise PermissionDenied("只有工程人员或经理可以更新工单。")
    if status == WorkOrderStatus.CANCELLED and not can_cancel_work_order(actor):
        raise PermissionDenied("只有经理可以取消工单。")
    require_unit_scope(actor, work_order.unit)
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    note = (note or "").strip()
    if status not in WorkOrderStatus.values:
        raise ValidationError({"status": "未知的工单状态。"})
    if work_order.status in WORK_ORDER_CLOSED:
        raise ValidationError({"status": "该工单已关闭。"})
    if status == work_order.status:
        raise ValidationError({"status": f"工单已是“{WorkOrderStatus(status).label}”。"})
    if status in WORK_ORDER_CLOSED and not note:
        raise ValidationError({"note": "关闭工单时请填写完成说明。"})
    before = work_order.status
    work_order.status = status
    if status in WORK_ORDER_CLOSED:
        work_order.closed_at, work_order.closed_by, work_order.closed_note = timezone.now(), actor, note[:500]
    work_order.save()
    audit_record(actor=actor, verb="casework.work_order", obj=work_order.unit, note=note,
                 before={"status": before}, after={"status": status, "work_order": work_order.pk})
    return work_order


# --- finance checks, class overrides, talking points -------------------------------------------------------

@transaction.atomic
def payment_check_resolve(*, actor: User, check: PaymentCheck, found: bool, note: str) -> PaymentCheck:
    if not (actor.is_superuser or actor.role in (Role.FINANCE, Role.MANAGER, Role.ADMIN)):
        raise PermissionDenied("只有财务或经理可以处理缴费核对。")
    check = PaymentCheck.objects.select_for_update().get(pk=check.pk)
    if check.status != CheckStatus.OPEN:
        raise ValidationError({"check": "该核对已处理。"})
    if not (note or "").strip():
        raise ValidationError({"note": "请填写核对结果。"})
    check.status = CheckStatus.FOUND if found else CheckStatus.NOT_FOUND
    check.resolved_by, check.resolved_at, check.resolution_note = actor, timezone.now(), note.strip()[:300]
    check.save()
    audit_record(actor=actor, verb="casework.payment_check", obj=check.unit, note=note,
                 after={"check": check.pk, "found": found})
    return check


def account_class_override(*, actor: User, unit: Unit, account_class: str, reason: str,
                           on: dt.date | None = None) -> None:
    """Set the class by hand, with a reason (audited by the engine's service)."""
    require_unit_scope(actor, unit)
    reason = (reason or "").strip()
    errors = {}
    if account_class not in AccountClass.values:
        errors["account_class"] = "请选择催缴分类。"
    if not reason:
        errors["reason"] = "手工调整分类时请填写原因。"
    if errors:
        raise ValidationError(errors)
    episode = dunning.account_class_set(actor=actor, unit=unit, account_class=account_class, on=on or _today(),
                                        reason=f"手工调整：{reason}")
    if episode is None:
        raise ValidationError({"account_class": "该房屋当前没有逾期欠费，无需分类。"})


@transaction.atomic
def talking_point_save(*, actor: User, point: TalkingPoint | None, title: str, body: str, account_class: str = "",
                       reason: str = "", active: bool = True, sort: int = 100) -> TalkingPoint:
    _require_manager(actor, "修改话术")
    errors = {}
    if not (title or "").strip():
        errors["title"] = "请填写要点。"
    if not (body or "").strip():
        errors["body"] = "请填写话术内容。"
    if account_class and account_class not in AccountClass.values:
        errors["account_class"] = "未知的催缴分类。"
    if reason and reason not in DisputeReason.values:
        errors["reason"] = "未知的原因。"
    if errors:
        raise ValidationError(errors)
    from wuye.dunning.guardrails import SPOKEN, assert_fields_clean

    unchanged = point is not None and (point.title, point.body) == (title.strip(), body.strip())
    if not (unchanged and not active):  # an old text that fails may always be switched off unchanged
        assert_fields_clean({"title": title, "body": body}, channel=SPOKEN)  # GuardrailError names the phrase
    before = None
    if point is None:
        import uuid

        point = TalkingPoint(code=f"custom-{uuid.uuid4().hex[:12]}")
    else:
        before = {"title": point.title, "body": point.body, "active": point.active}
    point.title, point.body, point.account_class, point.reason = title.strip(), body.strip(), account_class, reason
    point.active, point.sort, point.updated_by = active, sort, actor
    point.save()
    audit_record(actor=actor, verb="casework.talking_point", obj=point, before=before,
                 after={"title": point.title, "body": point.body, "active": active}, project_id=None)
    return point


# --- the team ----------------------------------------------------------------------------------------------

@transaction.atomic
def territory_handover(*, actor: User, from_user: User, to_user: User) -> tuple[int, int]:
    """A collector leaves or changes area: their buildings/floors go to ``to_user`` and the open tasks on those
    units move with them. Returns (territories moved, tasks moved)."""
    _require_manager(actor, "调整责任区")
    if to_user.role != Role.COLLECTOR or not to_user.is_active:
        raise ValidationError({"to_user": "接手人必须是在职的收费员。"})
    if from_user.pk == to_user.pk:
        raise ValidationError({"to_user": "接手人不能是同一个人。"})
    territories = list(Territory.objects.filter(user=from_user).select_related("building"))
    if not territories:
        raise ValidationError({"from_user": "该收费员没有责任区。"})
    scope = Q(pk__in=[])
    for t in territories:
        scope |= t.unit_q()
    for t in territories:
        building, lo, hi = t.building, t.floor_from, t.floor_to
        territory_remove(actor=actor, territory=t)
        territory_assign(actor=actor, user=to_user, building=building, floor_from=lo, floor_to=hi)
    moved = dunning.tasks_reassign(actor=actor, unit_q=scope, from_user=from_user, to_user=to_user)
    audit_record(actor=actor, verb="casework.territory_handover", obj=None, project_id=None,
                 after={"from": from_user.pk, "to": to_user.pk, "territories": len(territories), "tasks": moved})
    return len(territories), moved


INF = 10**6  # a floor bound of None means "no bound": below every floor / above every floor


def _bounds(lo: int | None, hi: int | None) -> tuple[int, int]:
    return (-INF if lo is None else lo, INF if hi is None else hi)


def _unbounded(lo: int, hi: int) -> tuple[int | None, int | None]:
    return (None if lo <= -INF else lo, None if hi >= INF else hi)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Floor ranges joined where they touch (3–5 and 6–8 become 3–8)."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


@transaction.atomic
def territory_move(*, actor: User, building, to_user: User | None, floor: int | None = None) -> int:
    """Make ``to_user`` responsible for a whole building or one floor of it (``to_user=None``: nobody). Whoever
    had it before keeps the rest of their range (a building split around the floor); the open tasks and
    not-yet-sent person actions on the moved units go with them (casework's follow-ups belong to the units and
    follow the territory). Returns the number of tasks moved. Every change is audited."""
    _require_manager(actor, "调整责任区")
    require_project_scope(actor, building.project_id, "调整该项目的责任区")
    if to_user is not None and (to_user.role != Role.COLLECTOR or not to_user.is_active):
        raise ValidationError({"to_user": "只能分配给在职的收费员。"})
    if floor is not None and not Unit.objects.filter(building=building, floor=floor).exists():
        raise ValidationError({"floor": f"{building.name} 没有 {floor} 层的房屋。"})
    lo, hi = _bounds(floor, floor)
    rows = list(Territory.objects.select_for_update().filter(building=building).select_related("user")
                .order_by("pk"))
    touching = [t for t in rows if _bounds(t.floor_from, t.floor_to)[0] <= hi
                and _bounds(t.floor_from, t.floor_to)[1] >= lo]
    before = [{"user": t.user_id, "from": t.floor_from, "to": t.floor_to} for t in touching]
    if to_user is not None and any(t.user_id == to_user.pk for t in touching) and all(
            t.user_id == to_user.pk and _bounds(t.floor_from, t.floor_to)[0] <= lo
            and _bounds(t.floor_from, t.floor_to)[1] >= hi for t in touching):
        return 0  # already theirs
    previous = {t.user_id: t.user for t in touching if to_user is None or t.user_id != to_user.pk}
    kept: list[tuple[User, int, int]] = []
    for t in touching:  # cut the moved floors out of each range that covers them
        t_lo, t_hi = _bounds(t.floor_from, t.floor_to)
        territory_remove(actor=actor, territory=t)
        if t_lo < lo:
            kept.append((t.user, t_lo, lo - 1))
        if t_hi > hi:
            kept.append((t.user, hi + 1, t_hi))
    floors = set(Unit.objects.filter(building=building).values_list("floor", flat=True).distinct())
    for user, k_lo, k_hi in kept:
        if not any(f is not None and k_lo <= f <= k_hi for f in floors):
            continue  # no unit left in that part of the range
        territory_assign(actor=actor, user=user, building=building, floor_from=_unbounded(k_lo, k_hi)[0],
                         floor_to=_unbounded(k_lo, k_hi)[1])
    if to_user is not None:
        theirs = [t for t in Territory.objects.select_for_update().filter(building=building, user=to_user)]
        ranges = _merged([_bounds(t.floor_from, t.floor_to) for t in theirs] + [(lo, hi)])
        for t in theirs:
            territory_remove(actor=actor, territory=t)
        for r_lo, r_hi in ranges:
            f_from, f_to = _unbounded(r_lo, r_hi)
            territory_assign(actor=actor, user=to_user, building=building, floor_from=f_from, floor_to=f_to)
    moved_q = Q(building_id=building.pk) & (Q(floor=floor) if floor is not None else Q())
    moved = 0
    for user in previous.values():
        moved += dunning.tasks_reassign(actor=actor, unit_q=moved_q, from_user=user, to_user=to_user)
    audit_record(actor=actor, verb="casework.territory_move", obj=building, note=(
        f"{building.name}{f' {floor} 层' if floor is not None else ''} → {to_user or '未分配'}"),
        before={"territories": before}, after={"to": to_user.pk if to_user else None, "floor": floor,
                                               "tasks": moved})
    return moved


# --- approvals in bulk (issue 17 item 5) ---------------------------------------------------------------------

APPROVAL_SERVICES = ("adjustment", "plan", "referral")


@transaction.atomic
def approvals_decide_bulk(*, actor: User, items: list[tuple[str, int]], approve: bool, note: str = "") -> dict:
    """Approve or reject many requests with one reason, all or nothing.

    Each item goes through the service that decides its kind — billing's ``adjustment_decide`` and
    ``installment_decide``, dunning's ``task_close`` for a lawyer-letter referral — so the ledger, the plans and
    the audit log change exactly as one-by-one decisions would. The rows are read in one query per kind (with
    the scope check); if any item is refused, nothing is decided and the error names the units. One summary
    audit event records the batch. Returns ``{"adjustment": n, "plan": n, "referral": n}``."""
    from wuye.billing import installments
    from wuye.billing import services as billing
    from wuye.billing.models import Adjustment, InstallmentPlan
    from wuye.billing.permissions import can_approve
    from wuye.estate.selectors import projects_visible

    if not can_approve(actor):
        raise PermissionDenied("只有经理可以审批。")
    note = note.strip()
    if not items:
        raise ValidationError({"items": "请至少勾选一项。"})
    if not approve and not note:
        raise ValidationError({"note": "驳回时请填写理由（同一理由适用于所选各项）。"})
    wanted: dict[str, set[int]] = {k: set() for k in APPROVAL_SERVICES}
    for kind, pk in items:
        if kind not in wanted:
            raise ValidationError({"items": f"未知的审批类型：{kind}"})
        wanted[kind].add(int(pk))
    projects = projects_visible(actor)
    found = {
        "adjustment": {a.pk: a for a in Adjustment.objects.select_for_update(of=("self",)).select_related("bill")
                       .filter(pk__in=wanted["adjustment"], bill__project__in=projects, status="pending")},
        "plan": {p.pk: p for p in InstallmentPlan.objects.select_for_update().filter(
            pk__in=wanted["plan"], project__in=projects, status=InstallmentPlan.Status.PENDING)},
        "referral": {t.pk: t for t in Task.objects.select_for_update().filter(
            pk__in=wanted["referral"], kind=TaskKind.REFERRAL, project__in=projects, status=TaskStatus.OPEN)},
    }
    gone = sum(len(wanted[k] - set(found[k])) for k in APPROVAL_SERVICES)
    if gone:
        raise ValidationError({"items": f"有 {gone} 项已被处理或不在您的范围内，请刷新后重新选择。"})
    units = dict(Unit.objects.filter(
        Q(pk__in=[a.bill.unit_id for a in found["adjustment"].values()])
        | Q(pk__in=[p.unit_id for p in found["plan"].values()])
        | Q(pk__in=[t.unit_id for t in found["referral"].values()])).values_list("pk", "code"))
    failures: list[str] = []
    counts = dict.fromkeys(APPROVAL_SERVICES, 0)
    referral_note = ("同意转介律所" if approve else "暂不转介") + (f"：{note}" if note else "")
    for kind in APPROVAL_SERVICES:
        for pk in sorted(found[kind]):
            obj = found[kind][pk]
            try:
                with transaction.atomic():  # a savepoint: one refusal is reported, then everything rolls back
                    if kind == "adjustment":
                        billing.adjustment_decide(actor=actor, adjustment=obj, approve=approve, note=note)
                    elif kind == "plan":
                        installments.installment_decide(actor=actor, plan=obj, approve=approve, note=note)
                    else:
                        dunning.task_close(actor=actor, task=obj, note=referral_note)
            except ValidationError as exc:
                unit_id = obj.bill.unit_id if kind == "adjustment" else obj.unit_id
                failures.append(f"{units.get(unit_id, unit_id)}：{'；'.join(exc.messages)}")
            else:
                counts[kind] += 1
    if failures:
        raise ValidationError({"items": "没有处理任何一项，因为以下几项不能" + ("批准" if approve else "驳回")
                                        + "：" + "；".join(failures[:10])
                                        + (f"……等 {len(failures)} 项" if len(failures) > 10 else "")})
    audit_record(actor=actor, verb="casework.approvals_bulk", obj=None,
                 note=f"批量{'批准' if approve else '驳回'} {sum(counts.values())} 项" + (f"：{note}" if note else ""),
                 after={"approve": approve, **counts,
                        "items": {k: sorted(found[k]) for k in APPROVAL_SERVICES if found[k]}})
    return counts
