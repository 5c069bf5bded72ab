"""Every write of the legal module: opening a case (from a referral or by legal staff), its events, deadlines
and costs, delivery proofs, the wording of the document templates. Each takes the acting user and writes an
audit event; a refusal raises ``ValidationError`` naming the field and writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.permissions import require_project_scope
from wuye.accounts.selectors import project_scope_q, scope_project_ids
from wuye.accounts.services import audit_record
from wuye.common.formatting import AMOUNT_TOO_LARGE, amount_too_large, format_yuan
from wuye.dunning.calendar import Calendar, UncoveredDate
from wuye.dunning.choices import ActionStatus, Channel, TaskKind, TaskStatus, signer_relation_problem
from wuye.dunning.models import Action, Task
from wuye.estate.models import Party, Project
from wuye.estate.selectors import liable_party
from wuye.legal import uploads
from wuye.legal.choices import (
    EVENT_STAGE,
    DeadlineKind,
    DocumentKind,
    Event,
    Mediator,
    Outcome,
    ProofKind,
    Stage,
)
from wuye.legal.clocks import limitation_clocks
from wuye.legal.eligibility import failed, lawsuit_conditions, payment_order_conditions
from wuye.legal.limitation import add_years
from wuye.legal.models import (
    CaseCost,
    CaseDeadline,
    CaseEvent,
    CaseLine,
    DeadlineNotice,
    DeliveryProof,
    DocumentTemplate,
    LegalCase,
)
from wuye.legal.permissions import can_legal, can_upload_proof
from wuye.legal.statement import debt_of

APPEAL_DAYS = 15  # 民事诉讼法 171: 判决书送达之日起十五日内
OBJECTION_DAYS = 15  # 民事诉讼法 227: 收到支付令之日起十五日内清偿或提出书面异议
ENFORCEMENT_YEARS = 2  # 民事诉讼法 250: 申请执行的期间为二年
LICENCE = re.compile(r"^\d{17}$")  # 律师执业证号: 17 digits
TRACKING = re.compile(r"^[A-Z0-9]{8,20}$")


def _require(actor: User) -> None:
    if not can_legal(actor):
        raise PermissionDenied("只有法务、经理和管理员可以办理法务案件。")


def _today() -> dt.date:
    return timezone.localdate()


def _number(on: dt.date) -> str:
    prefix = f"FW{on:%Y}"
    last = (LegalCase.objects.filter(number__startswith=prefix).order_by("-number")
            .values_list("number", flat=True).first())
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


# --- opening a case ----------------------------------------------------------------------------------------

@transaction.atomic
def case_open(*, actor: User, project: Project, party: Party, on: dt.date | None = None,
              source_task: Task | None = None, owner: User | None = None, note: str = "") -> LegalCase:
    """Open a case for ``party``'s arrears in ``project``: the open, matured periods they owe (on any of their
    units there) are frozen as of ``on`` with the late fee per contract, the court-likely figure and each
    period's limitation clock. Refused (nothing written) for a settled account or when a case is already open."""
    _require(actor)
    require_project_scope(actor, project.pk, "在该项目立案")
    on = on or _today()
    errors: dict[str, str] = {}
    if on > _today():
        errors["on"] = "立案日期不能晚于今天。"
    open_case = LegalCase.objects.filter(project=project, party=party, closed_on__isnull=True).first()
    if open_case is not None:
        errors["party"] = f"{party.name} 在本项目已有未结案件 {open_case.number}，请在该案件中继续办理。"
    debt = debt_of(party_id=party.pk, project_id=project.pk, as_of=on) if not errors else None
    if debt is not None and not debt.lines:
        errors["party"] = f"{party.name} 在{project.name}没有逾期未缴的费用（账户已结清或尚未到期），不能立案。"
    if errors:
        raise ValidationError(errors)
    clocks = {lc.bill_id: lc.clock for lc in limitation_clocks(as_of=on, bill_ids=[x.bill.pk for x in debt.lines])}
    try:
        case = LegalCase.objects.create(
            number=_number(on), project=project, party=party, owner=owner or actor, source_task=source_task,
            opened_on=on, opened_by=actor, note=note[:500])
    except IntegrityError as exc:  # two people opening the same debtor's case at once
        raise ValidationError({"party": "该业户的案件刚刚已由他人立案，请刷新后查看。"}) from exc
    rows, barred, barred_court = [], 0, 0
    for x in debt.lines:
        clock = clocks[x.bill.pk]
        is_barred = clock.expiry < on
        barred += x.open_fen if is_barred else 0
        barred_court += x.court_fen if is_barred else 0
        rows.append(CaseLine(case=case, bill=x.bill, unit_id=x.bill.unit_id, period_start=x.bill.period_start,
                             period_end=x.bill.period_end, fee_item=x.bill.fee_item.name, due_date=x.bill.due_date,
                             amount_fen=x.bill.amount_fen, open_fen=x.open_fen, late_fee_fen=x.late_fee_fen,
                             court_fen=x.court_fen, late_fee_explanation=x.explanation[:500], expiry=clock.expiry,
                             holiday_unchecked=clock.holiday_unchecked, barred=is_barred))
    CaseLine.objects.bulk_create(rows)
    case.principal_fen, case.late_fee_fen, case.court_late_fee_fen = debt.principal_fen, debt.late_fee_fen, debt.court_fen
    case.barred_fen, case.barred_court_fen = barred, barred_court
    case.save(update_fields=["principal_fen", "late_fee_fen", "court_late_fee_fen", "barred_fen", "barred_court_fen"])
    CaseEvent.objects.create(case=case, event=Event.OPENED, stage=Stage.REVIEW, on=on, created_by=actor,
                             note=(f"由转介任务 #{source_task.pk} 立案" if source_task else "法务立案")
                             + (f"；{note}" if note else ""))
    audit_record(actor=actor, verb="legal.case_open", obj=case, after={
        "number": case.number, "party": party.pk, "lines": len(rows), "principal_fen": case.principal_fen,
        "barred_fen": barred, "task": source_task.pk if source_task else None})
    return case


@transaction.atomic
def case_open_from_referral(*, actor: User, task: Task, on: dt.date | None = None, note: str = "") -> LegalCase:
    """Open the case a lawyer-letter referral task asks for, and close the task naming the case."""
    from wuye.dunning.services import task_close

    _require(actor)
    task = Task.objects.select_for_update(of=("self",)).select_related("unit__project", "action").get(pk=task.pk)
    require_project_scope(actor, task.project_id, "办理该转介任务")
    if task.kind != TaskKind.REFERRAL:
        raise ValidationError({"task": "只有律师函转介任务可以转为法务案件。"})
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"task": "该转介任务已办结。"})
    party = _referral_party(task, on or _today())
    if party is None:
        raise ValidationError({"task": "无法确定该房屋欠费的责任人，请由法务按业户立案。"})
    case = case_open(actor=actor, project=task.unit.project, party=party, on=on, source_task=task, note=note)
    task_close(actor=actor, task=task, note=f"已立法务案件 {case.number}")
    return case


def _referral_party(task: Task, on: dt.date) -> Party | None:
    """The debtor a referral is about: the action's party where the outbox records it, else the one party
    owing the unit's overdue periods, else the party liable today."""
    action = task.action
    party_id = getattr(action, "party_id", None) if action is not None else None
    if party_id:
        return Party.objects.get(pk=party_id)
    from django.db.models import F

    from wuye.billing.models import Bill

    owing = set(Bill.objects.filter(unit_id=task.unit_id, is_void=False, late_fee_of__isnull=True,
                                    settled_fen__lt=F("amount_fen"), due_date__lt=on)
                .values_list("party_id", flat=True))
    if len(owing) == 1:
        return Party.objects.get(pk=owing.pop())
    return liable_party(task.unit, on)


@transaction.atomic
def case_assign(*, actor: User, case: LegalCase, owner: User | None, note: str = "") -> LegalCase:
    """Hand an open case to another 承办人 (legal staff, a manager or an admin working in its project). The change
    is a dated note on the case and an audit event naming both."""
    from wuye.legal.selectors import owners_for

    _require(actor)
    case = LegalCase.objects.select_for_update().get(pk=case.pk)
    note = note.strip()
    require_project_scope(actor, case.project_id, "调整该案件的承办人")
    errors: dict[str, str] = {}
    if not case.is_open:
        errors["case"] = f"案件已于 {case.closed_on:%Y-%m-%d} 结案。"
    if owner is None:
        errors["owner"] = "请选择承办人。"
    elif not owners_for(case.project_id).filter(pk=owner.pk).exists():
        errors["owner"] = f"{owner} 不能承办本案：承办人须为在{case.project.name}工作的法务、经理或管理员。"
    elif owner.pk == case.owner_id:
        errors["owner"] = f"{owner} 已是本案承办人。"
    if errors:
        raise ValidationError(errors)
    before = case.owner
    case.owner = owner
    case.save(update_fields=["owner"])
    text = f"承办人由 {before or '（无）'} 改为 {owner}" + (f"：{note}" if note else "")
    CaseEvent.objects.create(case=case, event=Event.NOTE, stage=case.stage, on=_today(), note=text[:500],
                             created_by=actor)
    audit_record(actor=actor, verb="legal.case_assign", obj=case, note=note,
                 before={"owner": before.pk if before else None}, after={"owner": owner.pk})
    return case


# --- events ------------------------------------------------------------------------------------------------

def _deadline_day(start: dt.date, days: int) -> tuple[dt.date, str]:
    """``start`` + ``days``, moved past rest days and holidays (民法典 203) where the calendar knows them."""
    raw = start + dt.timedelta(days=days)
    try:
        return Calendar().next_working_day(raw), ""
    except UncoveredDate:
        return raw, "（节假日待核）"


def _enforcement_day(due_on: dt.date) -> tuple[dt.date, str]:
    raw = add_years(due_on, ENFORCEMENT_YEARS)
    try:
        return Calendar().next_working_day(raw), ""
    except UncoveredDate:
        return raw, "（节假日待核）"


@transaction.atomic
def case_event_add(*, actor: User, case: LegalCase, event: str, on: dt.date, note: str = "", law_firm: str = "",
                   lawyer_name: str = "", lawyer_licence: str = "", court: str = "", docket_no: str = "",
                   mediator: str = "", amount_fen: int | None = None, due_on: dt.date | None = None,
                   outcome: str = "", document=None, served_on: dt.date | None = None) -> CaseEvent:
    """Record what happened on a case. Each event checks what it needs (the firm, lawyer and licence number
    and the issued PDF for a 律师函; the 支付令 conditions before applying; a delivered demand before suing;
    the judgment's amount) and adds the deadlines it starts (支付令异议期, 上诉期, 申请执行期限).

    The 上诉期 runs from the day the judgment is served (民诉法 171), recorded as a 判决书送达 event — with the
    judgment (``served_on``) or later; the 申请执行期限 from the last day of the performance period the judgment
    sets (``due_on``), or else from the day it takes effect (a 判决生效 event, whose ``due_on`` is that last day
    when the judgment counts it from then) (民诉法 250). Until those dates are known no deadline is invented:
    the case page says which date is missing (decision 161)."""
    _require(actor)
    case = LegalCase.objects.select_for_update().get(pk=case.pk)
    note, law_firm, lawyer_name = note.strip(), law_firm.strip(), lawyer_name.strip()
    require_project_scope(actor, case.project_id, "记录该案件的进展")
    lawyer_licence, court, docket_no = lawyer_licence.strip(), court.strip(), docket_no.strip()
    errors: dict[str, str | list[str]] = {}
    if event not in Event.values or event == Event.OPENED:
        errors["event"] = "请选择案件进展事项。"
    if on is None:
        errors["on"] = "请填写日期。"
    elif on > _today():
        errors["on"] = "进展日期不能晚于今天；将来的日期请登记为期限。"
    elif on < case.opened_on:
        errors["on"] = f"进展日期不能早于立案日期（{case.opened_on:%Y-%m-%d}）。"
    if not case.is_open and event != Event.NOTE:
        errors["case"] = f"案件已于 {case.closed_on:%Y-%m-%d} 结案。"
    if served_on is not None and event != Event.JUDGMENT:
        errors["served_on"] = "送达日期只随判决登记；之后送达的，请登记“判决书送达”。"
    errors.update(_event_bounds(on=on, due_on=due_on, amount_fen=amount_fen, texts={
        "note": note, "law_firm": law_firm, "lawyer_name": lawyer_name, "lawyer_licence": lawyer_licence,
        "court": court, "docket_no": docket_no}))
    if errors:
        raise ValidationError(errors)
    seen = set(case.events.values_list("event", flat=True))
    judgment = judgment_dates(case)
    doc_bytes, doc_name = None, ""
    if event == Event.LETTER_ISSUED:
        if not law_firm:
            errors["law_firm"] = "请填写出具律师函的律师事务所。"
        if not lawyer_name:
            errors["lawyer_name"] = "请填写律师姓名。"
        if not LICENCE.match(lawyer_licence):
            errors["lawyer_licence"] = "律师执业证号应为 17 位数字。"
        if document is None:
            errors["document"] = "请上传律所出具的律师函 PDF（系统不以律所名义发送任何文书）。"
        else:
            try:
                doc_bytes, doc_name = uploads.check_pdf(document)
            except ValidationError as exc:
                errors["document"] = exc.messages[0]
    elif event == Event.LETTER_DELIVERED and Event.LETTER_ISSUED not in seen:
        errors["event"] = "律所尚未出具律师函（先登记“律所出具律师函”）。"
    elif event == Event.MEDIATION_REQUESTED and mediator not in Mediator.values:
        errors["mediator"] = "请选择调解组织。"
    elif event == Event.PAYMENT_ORDER_FILED:
        problems = failed(payment_order_conditions(case, as_of=on))
        if problems:
            errors["event"] = [f"不符合申请支付令的条件：{c.label}——{c.detail}" for c in problems]
        if not court:
            errors["court"] = "请填写受理法院。"
    elif event in (Event.PAYMENT_ORDER_ISSUED, Event.PAYMENT_ORDER_VOID) and Event.PAYMENT_ORDER_FILED not in seen:
        errors["event"] = "尚未登记支付令申请。"
    elif event == Event.LAWSUIT_FILED:
        problems = failed(lawsuit_conditions(case, as_of=on))
        if problems:
            errors["event"] = [f"不能起诉：{c.label}——{c.detail}" for c in problems]
        if not court:
            errors["court"] = "请填写受理法院。"
    elif event in (Event.HEARING, Event.JUDGMENT, Event.COURT_MEDIATION) and Event.LAWSUIT_FILED not in seen:
        errors["event"] = "尚未登记起诉立案。"
    elif event in (Event.JUDGMENT, Event.COURT_MEDIATION):
        if due_on is None and event == Event.COURT_MEDIATION:
            errors["due_on"] = "请填写调解书确定的履行期限届满日（申请执行期限自此计算）。"
        elif due_on is not None and due_on < on:
            errors["due_on"] = "履行期限届满日不能早于判决/调解日期。"
        if amount_fen is None or isinstance(amount_fen, bool) or amount_fen < 0:
            errors["amount_fen"] = "请填写判决/调解确定的金额。"
        if served_on is not None:
            errors.update(_served_problems(served_on, on))
    elif event in (Event.JUDGMENT_SERVED, Event.JUDGMENT_EFFECTIVE):
        if judgment is None:
            errors["event"] = "尚未登记判决。"
        elif event == Event.JUDGMENT_SERVED:
            if judgment.served_on is not None:
                errors["event"] = f"该判决的送达日期已登记（{judgment.served_on:%Y-%m-%d}）。"
            elif on < judgment.on:
                errors["on"] = f"送达日期不能早于判决日期（{judgment.on:%Y-%m-%d}）。"
        else:
            if judgment.effective_on is not None:
                errors["event"] = f"该判决的生效日期已登记（{judgment.effective_on:%Y-%m-%d}）。"
            elif on < (judgment.served_on or judgment.on):
                errors["on"] = (f"生效日期不能早于判决书送达日期（{judgment.served_on:%Y-%m-%d}）。" if judgment.served_on
                                else f"生效日期不能早于判决日期（{judgment.on:%Y-%m-%d}）。")
            if due_on is not None and judgment.due_on is not None:
                errors["due_on"] = f"判决已写明履行期限届满日（{judgment.due_on:%Y-%m-%d}），申请执行期限已自此计算。"
            elif due_on is not None and due_on < on:
                errors["due_on"] = "履行期限届满日不能早于生效日期。"
    elif event == Event.ENFORCEMENT_FILED and not seen & {Event.JUDGMENT, Event.COURT_MEDIATION,
                                                            Event.PAYMENT_ORDER_ISSUED}:
        errors["event"] = "没有可供执行的生效法律文书（判决、调解书或支付令）。"
    elif event == Event.CLOSED and outcome not in Outcome.values:
        errors["outcome"] = "请选择结案方式。"
    elif event == Event.NOTE and not note:
        errors["note"] = "请填写备注内容。"
    if errors:
        raise ValidationError(errors)

    row = CaseEvent(case=case, event=event, stage=EVENT_STAGE.get(event, case.stage), on=on, note=note[:500],
                    law_firm=law_firm[:100], lawyer_name=lawyer_name[:50], lawyer_licence=lawyer_licence,
                    court=court[:100], docket_no=docket_no[:60], mediator=mediator, amount_fen=amount_fen,
                    due_on=due_on, outcome=outcome, created_by=actor)
    if doc_bytes is not None:
        row.document_sha256 = hashlib.sha256(doc_bytes).hexdigest()
        row.document.save(doc_name, ContentFile(doc_bytes), save=False)
    row.save()
    if event == Event.PAYMENT_ORDER_ISSUED:
        day, flag = _deadline_day(on, OBJECTION_DAYS)
        CaseDeadline.objects.create(case=case, kind=DeadlineKind.OBJECTION, due_on=day, source=row,
                                    created_by=actor, note=f"债务人收到支付令后十五日内清偿或异议{flag}")
    served = None
    if event == Event.JUDGMENT and served_on is not None:
        served = CaseEvent.objects.create(case=case, event=Event.JUDGMENT_SERVED, stage=row.stage, on=served_on,
                                          note="随判决登记", created_by=actor)
    elif event == Event.JUDGMENT_SERVED:
        served = row
    if served is not None:
        day, flag = _deadline_day(served.on, APPEAL_DAYS)
        CaseDeadline.objects.create(case=case, kind=DeadlineKind.APPEAL, due_on=day, source=served, created_by=actor,
                                    note=f"判决书于 {served.on:%Y-%m-%d} 送达，十五日内可上诉（民诉法 171）{flag}")
    start = None
    if event in (Event.JUDGMENT, Event.COURT_MEDIATION) and due_on is not None:
        start, what = due_on, f"履行期限届满（{due_on:%Y-%m-%d}）"
    elif event == Event.JUDGMENT_EFFECTIVE and judgment.due_on is None:
        start = due_on or on
        what = f"履行期限届满（{due_on:%Y-%m-%d}）" if due_on else f"判决生效（{on:%Y-%m-%d}，未定履行期间）"
    if start is not None:
        day, flag = _enforcement_day(start)
        CaseDeadline.objects.create(case=case, kind=DeadlineKind.ENFORCEMENT, due_on=day, source=row,
                                    remind_days=60, created_by=actor,
                                    note=f"自{what}起二年内申请执行（民诉法 250）{flag}")
    if event == Event.ENFORCEMENT_FILED:
        case.deadlines.filter(kind=DeadlineKind.ENFORCEMENT, done_on__isnull=True).update(done_on=on)
    if event != Event.NOTE:
        case.stage = EVENT_STAGE[event]
    fields = ["stage"]
    if event == Event.CLOSED:
        case.closed_on, case.outcome = on, outcome
        fields += ["closed_on", "outcome"]
    case.save(update_fields=fields)
    audit_record(actor=actor, verb=f"legal.{event}", obj=case, note=note, after={
        "event": event, "on": on, "served_on": served_on, "court": court, "docket_no": docket_no, "law_firm": law_firm,
        "lawyer_licence": lawyer_licence, "amount_fen": amount_fen, "outcome": outcome,
        "document_sha256": row.document_sha256})
    return row


DUE_ON_YEARS = 10  # a performance period the court sets ends within this many years of the judgment or event
EVENT_TEXT_LIMITS = {"note": (500, "说明"), "law_firm": (100, "律师事务所"), "lawyer_name": (50, "律师姓名"),
                     "lawyer_licence": (40, "律师执业证号"), "court": (100, "法院"), "docket_no": (60, "案号")}


def _event_bounds(*, on: dt.date | None, due_on: dt.date | None, amount_fen, texts: dict[str, str]) -> dict[str, str]:
    """What no event may carry: a text longer than its column, an amount past the shared bound, a performance
    deadline so far ahead that the enforcement period after it cannot be counted (9999-12-31 was a 500)."""
    errors = {name: f"{EVENT_TEXT_LIMITS[name][1]}不能超过 {EVENT_TEXT_LIMITS[name][0]} 个字。"
              for name, text in texts.items() if len(text) > EVENT_TEXT_LIMITS[name][0]}
    if amount_too_large(amount_fen):
        errors["amount_fen"] = AMOUNT_TOO_LARGE
    if due_on is not None and on is not None and due_on > add_years(on, DUE_ON_YEARS):
        errors["due_on"] = f"履行期限届满日不能晚于进展日期后 {DUE_ON_YEARS} 年。"
    return errors


def _served_problems(served_on: dt.date, judged_on: dt.date) -> dict[str, str]:
    if served_on > _today():
        return {"served_on": "判决书送达日期不能晚于今天。"}
    if served_on < judged_on:
        return {"served_on": f"判决书送达日期不能早于判决日期（{judged_on:%Y-%m-%d}）。"}
    return {}


@dataclass(frozen=True)
class JudgmentDates:
    """The latest judgment of a case and what is known of it: the day it is served on us (the 上诉期 runs from
    it), the day it took effect, the last day of performance it sets (the 申请执行期限 runs from it)."""

    event_id: int
    on: dt.date
    due_on: dt.date | None
    served_on: dt.date | None
    effective_on: dt.date | None
    effective_due_on: dt.date | None

    @property
    def enforcement_from(self) -> dt.date | None:
        """民诉法 250: the last day of the performance period, or the day the judgment took effect if it sets
        none; None while neither is known."""
        return self.due_on or self.effective_due_on or self.effective_on


def judgment_dates(case: LegalCase) -> JudgmentDates | None:
    rows = list(case.events.filter(event__in=[Event.JUDGMENT, Event.JUDGMENT_SERVED, Event.JUDGMENT_EFFECTIVE])
                .order_by("pk").values_list("pk", "event", "on", "due_on"))
    judgments = [r for r in rows if r[1] == Event.JUDGMENT]
    if not judgments:
        return None
    pk, _event, on, due_on = judgments[-1]
    after = [r for r in rows if r[0] > pk]
    served = next((r for r in after if r[1] == Event.JUDGMENT_SERVED), None)
    effective = next((r for r in after if r[1] == Event.JUDGMENT_EFFECTIVE), None)
    return JudgmentDates(pk, on, due_on, served[2] if served else None, effective[2] if effective else None,
                         effective[3] if effective else None)


@transaction.atomic
def deadline_add(*, actor: User, case: LegalCase, kind: str, due_on: dt.date, note: str = "",
                 remind_days: int = 7) -> CaseDeadline:
    _require(actor)
    require_project_scope(actor, case.project_id, "为该案件添加期限")
    errors = {}
    if kind not in DeadlineKind.values:
        errors["kind"] = "请选择期限类型。"
    if due_on is None:
        errors["due_on"] = "请填写期限日期。"
    elif due_on < case.opened_on:
        errors["due_on"] = "期限不能早于立案日期。"
    elif due_on > add_years(case.opened_on, DUE_ON_YEARS):  # 9999-12-31 would overflow the reminders' dates
        errors["due_on"] = f"期限不能晚于立案日期后 {DUE_ON_YEARS} 年。"
    if not 0 <= remind_days <= 90:
        errors["remind_days"] = "提前提醒天数应在 0 到 90 之间。"
    if not case.is_open:
        errors["case"] = "案件已结案。"
    if errors:
        raise ValidationError(errors)
    d = CaseDeadline.objects.create(case=case, kind=kind, due_on=due_on, note=note[:300], remind_days=remind_days,
                                    created_by=actor)
    audit_record(actor=actor, verb="legal.deadline", obj=case, after={"kind": kind, "due_on": due_on, "note": note})
    return d


@transaction.atomic
def deadline_done(*, actor: User, deadline: CaseDeadline, on: dt.date | None = None) -> CaseDeadline:
    _require(actor)
    require_project_scope(actor, deadline.case.project_id, "办结该案件的期限")
    if deadline.done_on:
        raise ValidationError({"deadline": "该期限已办结。"})
    deadline.done_on = on or _today()
    deadline.done_by_label = f"user:{actor.username}"[:60]
    deadline.save(update_fields=["done_on", "done_by_label"])
    audit_record(actor=actor, verb="legal.deadline_done", obj=deadline.case,
                 after={"deadline": deadline.pk, "kind": deadline.kind, "done_on": deadline.done_on})
    return deadline


def deadlines_remind(*, today: dt.date | None = None) -> int:
    """Mark the deadlines entering their reminder window today (a daily job); the legal pages list them."""
    today = today or _today()
    n = 0
    for d in CaseDeadline.objects.filter(done_on__isnull=True, reminded_on__isnull=True,
                                         case__closed_on__isnull=True).select_related("case"):
        if d.due_on - dt.timedelta(days=d.remind_days) <= today:
            CaseDeadline.objects.filter(pk=d.pk, reminded_on__isnull=True).update(reminded_on=today)
            audit_record(actor=None, actor_label="job:legal_deadlines", verb="legal.deadline_remind", obj=d.case,
                         after={"deadline": d.pk, "kind": d.kind, "due_on": d.due_on})
            n += 1
    return n


OLD_APPEAL_JOB = "job:legal_deadline_notices"


def deadlines_close_old_appeals(*, today: dt.date | None = None, job: str = OLD_APPEAL_JOB) -> int:
    """Close the 上诉期 rows written before decision 161, which counted the 15 days from the judgment's date instead
    of from service (民诉法 171). They were kept and only marked, so they stayed open: listed as the case's next
    deadline, marked by the reminder job and sent as 期限提醒 for a day that is not the law's. Each is closed with
    its reason on the row (``done_note``) and the job that closed it (``done_by_label``) and an audit event of that
    job; the rows themselves stay (decision 186). Runs first in the daily ``legal_deadline_notices``; a second run
    finds nothing."""
    today = today or _today()
    n = 0
    old = (CaseDeadline.objects.filter(kind=DeadlineKind.APPEAL, done_on__isnull=True, source__event=Event.JUDGMENT)
           .select_related("case", "source"))
    for d in old:
        served = (CaseDeadline.objects.filter(case_id=d.case_id, kind=DeadlineKind.APPEAL,
                                              source__event=Event.JUDGMENT_SERVED, source_id__gt=d.source_id)
                  .order_by("source_id").first())
        why = (f"按判决日期（{d.source.on:%Y-%m-%d}）计算的旧上诉期，早于自送达之日起算的实际期限（民诉法 171，决定 161）："
               + (f"已由自判决书送达之日起算的上诉期 {served.due_on:%Y-%m-%d} 取代" if served is not None
                  else "请登记判决书送达日期，系统据此计算上诉期"))
        closed = CaseDeadline.objects.filter(pk=d.pk, done_on__isnull=True).update(
            done_on=today, done_note=why[:300], done_by_label=job[:60])
        if closed:
            audit_record(actor=None, actor_label=job, verb="legal.deadline_close_old_appeal", obj=d.case,
                         after={"deadline": d.pk, "due_on": d.due_on, "judgment_on": d.source.on,
                                "replaced_by": served.pk if served is not None else None, "reason": why})
            n += 1
    return n


def _notice_stage(deadline: CaseDeadline, today: dt.date) -> str | None:
    """The most urgent reminder stage ``deadline`` has reached today (None before its window and once past)."""
    if today > deadline.due_on:
        return None
    if deadline.due_on - dt.timedelta(days=1) <= today:
        return DeadlineNotice.Stage.LAST_DAY
    if deadline.due_on - dt.timedelta(days=deadline.remind_days) <= today:
        return DeadlineNotice.Stage.WINDOW
    return None


def deadlines_notify(*, today: dt.date | None = None) -> int:
    """Tell each open case's 承办人 (else whoever opened it) of its deadlines that reached a reminder stage today:
    one 期限提醒 per deadline and stage (a daily job). A stage skipped (the job did not run, or a deadline
    entered with little notice) is not sent late; a second run, or two at once, sends nothing more — the unique
    constraint decides. Returns the number of reminders written."""
    today = today or _today()
    horizon = today + dt.timedelta(days=90)  # no deadline is reminded further ahead (remind_days ≤ 90)
    from wuye.legal.selectors import owners_for

    n = 0
    eligible: dict[int, set[int]] = {}  # project → who may hold its cases now (one read per project)
    for d in (CaseDeadline.objects.filter(done_on__isnull=True, case__closed_on__isnull=True, due_on__gte=today,
                                          due_on__lte=horizon)
              .select_related("case__party", "case__owner", "case__opened_by").order_by("due_on", "pk")):
        stage = _notice_stage(d, today)
        if stage is None:
            continue
        if d.case.project_id not in eligible:
            eligible[d.case.project_id] = set(owners_for(d.case.project_id).values_list("pk", flat=True))
        # the reminder names the case's debtor: only to someone who may still work the case (an owner moved to
        # another project, deactivated or no longer legal staff is skipped for whoever opened it)
        recipient = next((u for u in (d.case.owner, d.case.opened_by)
                          if u is not None and u.pk in eligible[d.case.project_id]), None)
        if recipient is None:
            continue
        left = (d.due_on - today).days
        when = "今日届满" if left == 0 else "明日届满" if left == 1 else f"还有 {left} 天"
        text = (f"{d.case.number} {d.case.party.name}：{d.get_kind_display()} {d.due_on:%Y-%m-%d}（{when}）"
                + (f"——{d.note}" if d.note else ""))[:300]
        try:
            with transaction.atomic():
                _notice, created = DeadlineNotice.objects.get_or_create(
                    deadline=d, stage=stage, defaults={"recipient": recipient, "text": text})
                if created:
                    audit_record(actor=None, actor_label="job:legal_deadlines", verb="legal.deadline_notice",
                                 obj=d.case, after={"deadline": d.pk, "kind": d.kind, "due_on": d.due_on,
                                                    "stage": stage, "recipient": recipient.pk})
        except IntegrityError:  # the other run wrote it between our read and our write
            created = False
        n += created
    return n


def deadline_notice_read(*, actor: User, notice_ids: list[int]) -> int:
    """Mark the actor's own reminders read (someone else's are not touched)."""
    return DeadlineNotice.objects.filter(pk__in=notice_ids, recipient=actor, read_at__isnull=True).update(
        read_at=timezone.now())


@transaction.atomic
def cost_add(*, actor: User, case: LegalCase, kind: str, amount_fen: int, on: dt.date, note: str = "") -> CaseCost:
    _require(actor)
    require_project_scope(actor, case.project_id, "记录该案件的费用")
    errors = {}
    from wuye.legal.choices import CostKind

    if kind not in CostKind.values:
        errors["kind"] = "请选择费用类型。"
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        errors["amount_fen"] = "金额必须大于 0。"
    elif amount_too_large(amount_fen):
        errors["amount_fen"] = AMOUNT_TOO_LARGE
    if on is None or on > _today():
        errors["on"] = "支付日期不能晚于今天。"
    if errors:
        raise ValidationError(errors)
    cost = CaseCost.objects.create(case=case, kind=kind, amount_fen=amount_fen, on=on, note=note[:300],
                                   created_by=actor)
    audit_record(actor=actor, verb="legal.cost", obj=case, note=note,
                 after={"kind": kind, "amount_fen": amount_fen, "on": on, "text": format_yuan(amount_fen)})
    return cost


# --- delivery proofs ---------------------------------------------------------------------------------------

@transaction.atomic
def proof_upload(*, actor: User, upload, kind: str, action: Action | None = None, task: Task | None = None,
                 tracking_no: str = "", signed_by: str = "", relation: str = "", signed_on: dt.date | None = None,
                 delivered: bool = True) -> DeliveryProof:
    """Keep a delivery proof (EMS 签收 scan, signed 回执 photo) of a written demand, with its hash, type, size,
    time and uploader. A proof of delivery marks the demand delivered on the signing day through dunning's
    own receipt path (a notice task is closed with the signer, as the task list does), so the limitation
    clock counts it."""
    from wuye.dunning.dispatch import receipt_record
    from wuye.dunning.services import task_close
    from wuye.estate.selectors import units_visible

    if not can_upload_proof(actor):
        raise PermissionDenied("您的角色不能上传送达凭证。")
    tracking_no = re.sub(r"\s+", "", tracking_no or "").upper()
    signed_by, relation = signed_by.strip(), relation.strip()
    if task is not None and action is None:
        action = task.action
    if task is None and action is not None:
        task = Task.objects.filter(action=action).first()
    errors: dict[str, str] = {}
    if action is None:
        errors["action"] = "请选择送达凭证所属的书面催缴（挂号信、EMS 或书面通知）。"
    elif action.channel not in (Channel.REGISTERED, Channel.NOTICE):
        errors["action"] = "送达凭证只能登记在挂号信/EMS 或书面通知上。"
    elif action.status not in (ActionStatus.SENT, ActionStatus.DELIVERED, ActionStatus.UNCERTAIN):
        errors["action"] = f"该催缴的状态是“{action.get_status_display()}”，没有发出，不能登记送达。"
    elif not units_visible(actor).filter(pk=action.unit_id).exists():
        raise PermissionDenied("该房屋不在您的范围内。")
    if kind not in ProofKind.values:
        errors["kind"] = "请选择凭证类型。"
    if len(tracking_no) > 40:
        errors["tracking_no"] = "邮件单号不能超过 40 个字符。"
    elif kind == ProofKind.EMS and not TRACKING.match(tracking_no):
        errors["tracking_no"] = "请填写邮件单号（8–20 位字母或数字，如 EMS 的 13 位单号）。"
    if delivered:
        if not signed_by:
            errors["signed_by"] = "请填写签收人。"
        if problem := signer_relation_problem(relation, mail=action is not None
                                              and action.channel == Channel.REGISTERED):
            errors["relation"] = problem
        if signed_on is None:
            errors["signed_on"] = "请填写签收日期。"
        elif signed_on > _today():
            errors["signed_on"] = "签收日期不能晚于今天。"
        elif action is not None and action.sent_at and signed_on < timezone.localtime(action.sent_at).date():
            errors["signed_on"] = f"签收日期不能早于寄出日期（{timezone.localtime(action.sent_at):%Y-%m-%d}）。"
    try:
        data, name, content_type = uploads.check_proof(upload)
    except ValidationError as exc:
        errors["file"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    proof = DeliveryProof(project_id=action.project_id, unit_id=action.unit_id, action=action, task=task, kind=kind,
                          tracking_no=tracking_no, signed_by=signed_by[:50], signer_relation=relation[:20],
                          signed_on=signed_on if delivered else None, delivered=delivered, original_name=name[:200],
                          content_type=content_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                          uploaded_by=actor)
    proof.file.save(f"{proof.sha256[:16]}{uploads.EXTENSIONS[content_type]}", ContentFile(data), save=False)
    proof.save()
    if delivered:
        what = f"{ProofKind(kind).label}{' ' + tracking_no if tracking_no else ''}"
        if task is not None and task.status == TaskStatus.OPEN and task.kind in (TaskKind.NOTICE, TaskKind.REGISTERED):
            task_close(actor=actor, task=task, note=f"上传{what}（凭证 #{proof.pk}）", signed_by=signed_by,
                       relation=relation, signed_on=signed_on)
        else:
            at = timezone.make_aware(dt.datetime.combine(signed_on, dt.time(12, 0)))
            receipt_record(out_id=action.out_id, delivered=True, at=at,
                           detail=f"{what}；签收人 {signed_by}（{relation}）"[:300],
                           actor_label=f"user:{actor.username}")
    audit_record(actor=actor, verb="legal.proof", obj=action.unit, after={
        "proof": proof.pk, "action": action.pk, "kind": kind, "tracking_no": tracking_no, "sha256": proof.sha256,
        "signed_on": signed_on, "delivered": delivered})
    return proof


# --- templates ---------------------------------------------------------------------------------------------

def require_template_scope(actor: User, project: Project | None) -> None:
    """Who may change which wording (decision 201): the company-wide template only someone who works across the
    whole company (assigned to no project, or a superuser); a project's own version only someone who works in
    that project."""
    _require(actor)
    if project is None:
        if scope_project_ids(actor) is not None:
            raise PermissionDenied("您只负责部分项目，不能修改公司通用模板；请选择您负责的项目，另存为该项目的模板。")
    elif not Project.objects.filter(project_scope_q(actor), pk=project.pk).exists():
        raise PermissionDenied(f"您不负责项目“{project.name}”，不能修改该项目的文书模板。")


@transaction.atomic
def template_save(*, actor: User, kind: str, title: str, body: str,
                  project: Project | None = None) -> DocumentTemplate:
    """Change the wording of a document draft — the company-wide one, or (with ``project``) that project's own
    version, which its drafts then use instead (decision 201); checked against wording that imitates a court or
    claims to be sent by a law firm (a draft is the company's material for the firm)."""
    from wuye.legal.documents import DEFAULTS, check_wording, template_row_for

    require_template_scope(actor, project)
    errors = {}
    if kind not in DocumentKind.values:
        errors["kind"] = "未知的文书。"
    if not title.strip():
        errors["title"] = "请填写标题。"
    if not body.strip():
        errors["body"] = "请填写正文。"
    else:
        problems = check_wording(title + "\n" + body, kind)
        if problems:
            errors["body"] = "；".join(problems)
    if errors:
        raise ValidationError(errors)
    tpl = (DocumentTemplate.objects.select_for_update()
           .filter(kind=kind, project=project).first())
    if tpl is None:
        # a project's first own version starts from the wording its drafts used until now
        base = template_row_for(kind, None) if project is not None else None
        title0, body0 = (base.title, base.body) if base is not None else DEFAULTS[kind]
        tpl = DocumentTemplate(kind=kind, project=project, title=title0, body=body0, version=0)
    before = {"title": tpl.title, "body": tpl.body, "version": tpl.version}
    tpl.title, tpl.body, tpl.version, tpl.updated_by = title.strip()[:60], body, tpl.version + 1, actor
    tpl.save()
    audit_record(actor=actor, verb="legal.template", obj=tpl, before=before,
                 after={"title": tpl.title, "body": body, "version": tpl.version,
                        "project": project.pk if project is not None else None},
                 project_id=project.pk if project is not None else None)
    return tpl


@transaction.atomic
def template_drop(*, actor: User, kind: str, project: Project) -> bool:
    """Remove a project's own version: its drafts use the company-wide wording again. False if it had none."""
    require_template_scope(actor, project)
    tpl = DocumentTemplate.objects.select_for_update().filter(kind=kind, project=project).first()
    if tpl is None:
        return False
    audit_record(actor=actor, verb="legal.template_drop", obj=tpl, project_id=project.pk,
                 before={"title": tpl.title, "body": tpl.body, "version": tpl.version, "project": project.pk})
    tpl.delete()
    return True
