"""Every write of the banking app: bank accounts, statement imports, the review queue, direct debit.

Each function takes the acting person (or a job label), records an audit event and posts money only
through ``wuye.billing.services.payment_record``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections import Counter
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.permissions import require_project_scope
from wuye.accounts.services import audit_record
from wuye.banking.matching import MatchContext
from wuye.banking.models import (
    OPEN_STATUSES,
    BankAccount,
    DebitBatch,
    DebitLine,
    LinePurpose,
    LineStatus,
    Mandate,
    MatchRule,
    StatementImport,
    StatementLine,
)
from wuye.banking.parsing import LAYOUTS, ParsedLine, mapping_problems, parse_statement, preset_mapping
from wuye.banking.permissions import can_bank
from wuye.billing.bulk import PaymentDraft, payments_record_bulk
from wuye.billing.choices import PaymentMethod
from wuye.billing.models import Bill, Payment
from wuye.billing.services import payment_record
from wuye.common.bulk import update_rows
from wuye.common.formatting import format_yuan
from wuye.common.tabular import (
    ImportRejected,
    RowError,
    file_too_large,
    header_problems,
    job_failure_message,
    merge_errors,
    normalise_header,
    read_table,
)
from wuye.estate.models import Project, Unit

CHUNK = 900
logger = logging.getLogger(__name__)
DEBIT_HOLD_DAYS = 15


def _require(actor: User | None, actor_label: str, project_id: int | None = None, what: str = "处理其银行业务") -> None:
    """The actor may bank (finance, managers, admins) — and, given ``project_id``, works in that project."""
    if actor is None:
        if not actor_label:
            raise ValidationError({"actor": "需要操作人或任务标签。"})
        return
    if not can_bank(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以处理银行对账与代扣。"})
    if project_id is not None:
        require_project_scope(actor, project_id, what)


# --- bank accounts -----------------------------------------------------------------------------------------

@transaction.atomic
def bank_account_save(
    *, actor: User, project: Project, name: str, bank: str, account_no: str, layout: str,
    mapping: dict | None = None, account: BankAccount | None = None, active: bool = True,
) -> BankAccount:
    """Create or change a bank account; ``mapping`` defaults to the chosen layout's preset."""
    _require(actor, "", project.pk, "管理该项目的收款账户")
    errors = {}
    if layout not in LAYOUTS:
        errors["layout"] = "未知的对账单格式。"
    if not name.strip():
        errors["name"] = "请填写账户名称。"
    if not account_no.strip():
        errors["account_no"] = "请填写账号。"
    mapping = mapping if mapping is not None else (preset_mapping(layout) if layout in LAYOUTS else {})
    problems = mapping_problems(mapping)
    if problems:
        errors["mapping"] = "".join(problems)
    if errors:
        raise ValidationError(errors)
    before = None
    if account is None:
        account = BankAccount(project=project)
    else:
        before = {"layout": account.layout, "mapping": account.mapping, "name": account.name}
    account.name, account.bank, account.layout, account.mapping, account.active = (
        name.strip(), bank.strip(), layout, mapping, active)
    account.account_no = account_no.replace(" ", "")
    account.save()
    audit_record(actor=actor, verb="banking.account.save", obj=account, before=before,
                 after={"layout": layout, "mapping": mapping, "name": account.name})
    return account


# --- statement import ----------------------------------------------------------------------------------------

def _existing_fingerprints(account: BankAccount, fingerprints: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(fingerprints), CHUNK):
        chunk = fingerprints[start:start + CHUNK]
        found.update(StatementLine.objects.filter(bank_account=account, fingerprint__in=chunk)
                     .values_list("fingerprint", flat=True))
    return found


def _analyse(account: BankAccount, parsed: list[ParsedLine], on: dt.date):
    """(new lines with their matches, duplicate count, counts) — reads only."""
    existing = _existing_fingerprints(account, [p.fingerprint for p in parsed])
    fresh = [p for p in parsed if p.fingerprint not in existing]
    context = MatchContext.load(account.project_id, on)
    matched = [(p, context.match(amount_fen=p.amount_fen, payer_name=p.payer_name, memo=p.memo)) for p in fresh]
    counts = Counter(m.status for _, m in matched)
    summary = {"rows": len(parsed), "credits": sum(1 for p in parsed if p.amount_fen > 0),
               "duplicate": len(parsed) - len(fresh), "new": len(fresh),
               "matched": counts[LineStatus.MATCHED], "review": counts[LineStatus.REVIEW],
               "unmatched": counts[LineStatus.UNMATCHED], "ignored": counts[LineStatus.IGNORED],
               "matched_fen": sum(p.amount_fen for p, m in matched if m.status == LineStatus.MATCHED)}
    return matched, summary


def _check_upload(filename: str, raw: bytes) -> None:
    if not raw:
        raise ImportRejected("文件是空的。")
    if len(raw) > settings.WUYE_IMPORT_MAX_BYTES:
        raise file_too_large(len(raw))
    if not filename.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm")):
        raise ImportRejected("只支持 .csv 和 .xlsx 文件。" + ("旧版 .xls 请另存为 .xlsx。"
                                                         if filename.lower().endswith(".xls") else ""))


def _statement_create(*, actor: User | None, account: BankAccount, filename: str, raw: bytes, actor_label: str,
                      apply: bool) -> StatementImport:
    _require(actor, actor_label, account.project_id, "导入该项目的对账单")
    _check_upload(filename, raw)
    if not account.active:
        raise ImportRejected(f"收款账户“{account.name}”已停用，不能导入对账单。")
    statement = StatementImport(bank_account=account, filename=filename[:200], sha256=hashlib.sha256(raw).hexdigest(),
                                created_by=actor, actor_label=actor_label[:60], apply_requested=apply,
                                status=StatementImport.Status.QUEUED)
    statement.file.save(filename[-100:], ContentFile(raw), save=False)
    statement.save()
    audit_record(actor=actor, actor_label=actor_label, verb="banking.statement.upload", obj=statement,
                 project_id=account.project_id, note=filename[:200],
                 after={"status": statement.status, "apply": apply, "bytes": len(raw)})
    return statement


def statement_submit(*, actor: User | None, account: BankAccount, filename: str, raw: bytes, actor_label: str = "",
                     apply: bool = True) -> StatementImport:
    """Store a statement file as a queued import and hand it to the job queue (``run_statement``); the job
    parses, matches and — unless ``apply`` is False (preview first) — posts. Call it outside a transaction so
    the worker sees the row; under an immediate queue the job has run by the time this returns.
    A file refused before it is stored (empty, too large, wrong type) raises ImportRejected; nothing is written."""
    statement = _statement_create(actor=actor, account=account, filename=filename, raw=raw, actor_label=actor_label,
                                  apply=apply)
    _enqueue(statement.pk)
    statement.refresh_from_db()
    return statement


def _enqueue(statement_id: int) -> None:
    from wuye.banking.tasks import run_statement

    run_statement(statement_id)


class Superseded(Exception):
    """This worker's claim on an import is no longer the current one (the import was queued again after the
    claim went stale, or finished meanwhile): it must write nothing."""


def statement_run(statement_id: int) -> StatementImport | None:
    """The job: claim a queued import (a conditional UPDATE, so two workers never take the same one), parse it
    with the account's mapping, then preview or apply. Any bad row fails the whole file with every error
    named (row, column, value, message); a failure while posting rolls the import back and is recorded the
    same way. Returns None when the import was not queued (already taken or finished).

    The claim's time (``started_at``) is the claim's token: every write of this run is conditional on the row
    still being running under that claim, so a worker whose claim went stale and was re-queued
    (``statements_recover_stale``) writes nothing if it wakes up after all."""
    now = timezone.now()
    claimed = StatementImport.objects.filter(pk=statement_id, status=StatementImport.Status.QUEUED).update(
        status=StatementImport.Status.RUNNING, started_at=now, finished_at=None, attempts=F("attempts") + 1)
    if not claimed:
        if not StatementImport.objects.filter(pk=statement_id).exists():
            raise StatementImport.DoesNotExist(f"statement import {statement_id} not visible yet")
        return None
    statement = (StatementImport.objects.select_related("bank_account", "created_by", "applied_by")
                 .get(pk=statement_id))
    account = statement.bank_account
    # the payments are the person's who asked for them: the confirming person of a preview, else the uploader
    actor, actor_label = statement.applied_by or statement.created_by, statement.actor_label
    mine = {"pk": statement.pk, "status": StatementImport.Status.RUNNING, "started_at": now}

    def finish(status: str, **fields) -> StatementImport:
        fields.update(status=status, finished_at=timezone.now())
        if not StatementImport.objects.filter(**mine).update(**fields):
            logger.warning("statement import %s: claim of %s superseded, result not recorded", statement.pk, now)
            statement.refresh_from_db()
            return statement
        statement.refresh_from_db()
        if status == StatementImport.Status.FAILED:
            audit_record(actor=actor, actor_label=actor_label, verb="banking.statement.failed", obj=statement,
                         project_id=account.project_id, after={"errors": len(statement.errors)})
        return statement

    try:
        _require(actor, actor_label)
        with statement.file.open("rb") as fh:
            raw = fh.read()
        parsed = parse_statement(statement.filename, raw, account.mapping)
    except ImportRejected as exc:
        return finish(StatementImport.Status.FAILED, errors=exc.as_errors())
    except ValidationError as exc:
        return finish(StatementImport.Status.FAILED, errors=[RowError(0, "", "", m).as_dict() for m in exc.messages])
    except Exception as exc:  # a bug or a file we did not foresee: recorded, never left running
        logger.exception("statement import %s: reading the file failed", statement.pk)
        return finish(StatementImport.Status.FAILED, errors=[RowError(0, "", "", job_failure_message(exc)).as_dict()])
    if parsed.errors:
        return finish(StatementImport.Status.FAILED, errors=[e.as_dict() for e in parsed.errors],
                      skipped=parsed.skipped, rows_total=len(parsed.lines))
    StatementImport.objects.filter(**mine).update(rows_total=len(parsed.lines), skipped=parsed.skipped)
    if not statement.apply_requested:
        _, counts = _analyse(account, parsed.lines, timezone.localdate())
        counts["skipped"] = len(parsed.skipped)
        return finish(StatementImport.Status.PREVIEW, counts=counts)
    try:
        _apply(actor=actor, actor_label=actor_label, statement=statement, parsed=parsed, claim=now)
    except Superseded:
        logger.warning("statement import %s: claim of %s superseded before posting; nothing written",
                       statement.pk, now)
        statement.refresh_from_db()
        return statement
    except ValidationError as exc:
        return finish(StatementImport.Status.FAILED,
                      errors=[RowError(0, "", "", f"入账失败，整个文件未导入：{m}").as_dict() for m in exc.messages])
    except Exception as exc:
        logger.exception("statement import %s failed", statement.pk)
        finish(StatementImport.Status.FAILED, errors=[RowError(0, "", "", job_failure_message(exc)).as_dict()])
        raise
    statement.refresh_from_db()
    return statement


INTERRUPTED = "后台处理中断（处理进程退出或超时），没有导入任何流水，也没有入账"


def statements_recover_stale(*, now: dt.datetime | None = None, statement_id: int | None = None) -> dict[str, int]:
    """Imports left running by a worker that died: the job is one transaction, so the dead worker's work was
    rolled back and nothing of it is in the books; only the row still says running. One whose claim is older
    than ``WUYE_BANK_IMPORT_STALE_MINUTES`` is queued again (the new run parses afresh; lines imported by then
    count as duplicates, so nothing posts twice), until it has been claimed ``WUYE_BANK_IMPORT_MAX_ATTEMPTS``
    times; then it is marked failed with a message for finance, who can press 重新处理. Each change is a
    conditional UPDATE on the stale claim, so two recoverers (the periodic job, a page) never both act.
    A periodic job calls it for all imports; the statement's page for its own (``statement_id``)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.WUYE_BANK_IMPORT_STALE_MINUTES)
    stale = StatementImport.objects.filter(status=StatementImport.Status.RUNNING, started_at__lt=cutoff)
    if statement_id is not None:
        stale = stale.filter(pk=statement_id)
    counts = {"requeued": 0, "failed": 0}
    for statement in stale.select_related("bank_account").order_by("started_at")[:100]:
        claim = {"pk": statement.pk, "status": StatementImport.Status.RUNNING, "started_at": statement.started_at}
        minutes = int((now - statement.started_at).total_seconds() // 60)
        if statement.attempts >= settings.WUYE_BANK_IMPORT_MAX_ATTEMPTS:
            message = (f"{INTERRUPTED}。已自动重试，共处理 {statement.attempts} 次均未完成；"
                       f"请点“重新处理”，如仍失败请联系管理员。")
            if StatementImport.objects.filter(**claim).update(
                    status=StatementImport.Status.FAILED, finished_at=now,
                    errors=[RowError(0, "", "", message).as_dict()]):
                counts["failed"] += 1
                logger.error("statement import %s interrupted %s times: marked failed", statement.pk,
                             statement.attempts)
                audit_record(actor=None, actor_label="job:banking.recover", verb="banking.statement.failed",
                             obj=statement, project_id=statement.bank_account.project_id, note=message,
                             after={"attempts": statement.attempts, "stale_minutes": minutes})
            continue
        if StatementImport.objects.filter(**claim).update(status=StatementImport.Status.QUEUED):
            counts["requeued"] += 1
            logger.warning("statement import %s running for %s min without finishing: queued again",
                           statement.pk, minutes)
            audit_record(actor=None, actor_label="job:banking.recover", verb="banking.statement.requeue",
                         obj=statement, project_id=statement.bank_account.project_id,
                         note=f"处理中已 {minutes} 分钟未完成，视为中断，重新排队",
                         after={"attempts": statement.attempts, "stale_minutes": minutes})
            _enqueue(statement.pk)
    return counts


def statement_stale(statement: StatementImport, *, now: dt.datetime | None = None) -> bool:
    """Running, and claimed longer ago than ``WUYE_BANK_IMPORT_STALE_MINUTES``: its worker is gone."""
    now = now or timezone.now()
    return (statement.status == StatementImport.Status.RUNNING and statement.started_at is not None
            and statement.started_at < now - dt.timedelta(minutes=settings.WUYE_BANK_IMPORT_STALE_MINUTES))


def statement_retry(*, actor: User, statement: StatementImport) -> StatementImport:
    """重新处理: finance queues a failed import — or one stuck running past the stale limit — once more. The
    new run parses the stored file afresh; lines already imported count as duplicates (posted once only)."""
    _require(actor, "", statement.bank_account.project_id, "重新处理该项目的对账单")
    statement.refresh_from_db()
    allowed = statement.status == StatementImport.Status.FAILED or statement_stale(statement)
    if not allowed:
        raise ValidationError({"statement": f"该对账单状态为“{statement.get_status_display()}”，不能重新处理。"})
    claimed = (StatementImport.objects.filter(pk=statement.pk, status=statement.status,
                                              started_at=statement.started_at)
               .update(status=StatementImport.Status.QUEUED, attempts=0, errors=[], finished_at=None))
    if not claimed:
        raise ValidationError({"statement": "该对账单的状态刚刚改变，请刷新页面。"})
    audit_record(actor=actor, verb="banking.statement.retry", obj=statement,
                 project_id=statement.bank_account.project_id,
                 before={"status": statement.status, "attempts": statement.attempts})
    _enqueue(statement.pk)
    statement.refresh_from_db()
    return statement


def _paid_at(line: ParsedLine | StatementLine) -> dt.datetime:
    moment = dt.datetime.combine(line.txn_date, line.txn_time or dt.time(0, 0))
    return timezone.make_aware(moment, timezone.get_current_timezone())


def payment_reference_for_line(account_id: int, fingerprint: str) -> str:
    """The Payment.reference of the money a statement line posts: unique per account and line, the same on
    every import of the same line (billing refuses a second payment with it)."""
    ref = f"BK{account_id}-{fingerprint}"
    if len(ref) > 100:
        ref = f"BK{account_id}-X:{hashlib.sha256(fingerprint.encode()).hexdigest()[:40]}"
    return ref


def _post_line(*, actor: User | None, actor_label: str, line: StatementLine, unit: Unit, note: str) -> Payment:
    return payment_record(
        actor=actor, actor_label=actor_label, unit=unit, amount_fen=line.amount_fen,
        method=PaymentMethod.TRANSFER, paid_at=_paid_at(line), payer_name=line.payer_name[:100],
        reference=payment_reference_for_line(line.bank_account_id, line.fingerprint), note=note[:300])


@transaction.atomic
def _apply(*, actor: User | None, actor_label: str, statement: StatementImport, parsed,
           claim: dt.datetime | None = None) -> StatementImport:
    """Insert a parsed statement's new lines, match them and post the matched credits. All or nothing; lines
    already imported (same fingerprint on this account) are counted as duplicates. The account row is locked,
    so two imports of one account run one after the other and the second sees the first one's lines."""
    started = time.perf_counter()
    account = BankAccount.objects.select_for_update().select_related("project").get(pk=statement.bank_account_id)
    statement = StatementImport.objects.select_for_update().get(pk=statement.pk)
    if claim is not None and (statement.status != StatementImport.Status.RUNNING or statement.started_at != claim):
        raise Superseded(statement.pk)
    matched, counts = _analyse(account, parsed.lines, timezone.localdate())
    counts["skipped"] = len(parsed.skipped)
    rows = [StatementLine(
        bank_account=account, statement=statement, row_no=p.row_no, fingerprint=p.fingerprint, serial=p.serial,
        txn_date=p.txn_date, txn_time=p.txn_time, purpose=LinePurpose.CREDIT if p.amount_fen > 0 else LinePurpose.DEBIT,
        amount_fen=p.amount_fen, balance_fen=p.balance_fen, payer_name=p.payer_name, payer_account=p.payer_account,
        memo=p.memo, status=m.status, rule=m.rule, confidence=m.confidence, suggestions=m.suggestions,
        unit_id=m.unit_id) for p, m in matched]
    StatementLine.objects.bulk_create(rows, batch_size=2000)
    if any(r.pk is None for r in rows):  # pragma: no cover - both supported databases return keys
        raise RuntimeError("bulk_create did not return primary keys")
    to_post = [r for r in rows if r.status == LineStatus.MATCHED]
    drafts = [PaymentDraft(
        key=line.pk, unit_id=line.unit_id, amount_fen=line.amount_fen, paid_at=_paid_at(line),
        payer_name=line.payer_name, reference=payment_reference_for_line(account.pk, line.fingerprint),
        note=f"银行对账 #{statement.pk} 第 {line.row_no} 行：{line.get_rule_display()}") for line in to_post]
    posted, refused = payments_record_bulk(actor=actor, actor_label=actor_label, project=account.project,
                                           method=PaymentMethod.TRANSFER, drafts=drafts)
    update_rows(StatementLine, ["payment_id"], [(key, p.pk) for key, p in posted.items()])
    demoted = [(key, LineStatus.REVIEW, None, f"未能自动入账：{message}"[:300]) for key, message in refused.items()]
    update_rows(StatementLine, ["status", "unit_id", "decision_note"], demoted)
    posted_fen = sum(p.amount_fen for p in posted.values())
    counts["matched"] -= len(demoted)
    counts["review"] += len(demoted)
    counts["posted"] = len(posted)
    statement.status, statement.counts, statement.posted_fen = StatementImport.Status.APPLIED, counts, posted_fen
    statement.applied_by, statement.applied_at = actor, timezone.now()
    statement.finished_at = statement.applied_at
    statement.seconds = Decimal(f"{time.perf_counter() - started:.2f}")
    statement.errors = []
    statement.save()
    audit_record(actor=actor, actor_label=actor_label, verb="banking.statement.apply", obj=statement,
                 project_id=account.project_id, after={**counts, "posted_fen": posted_fen})
    return statement


def statement_apply(*, actor: User, statement: StatementImport) -> StatementImport:
    """Finance confirms a previewed statement: it goes back to the queue to be applied (by the confirming
    person: the payments are theirs). The file is parsed again, so lines imported meanwhile count as
    duplicates."""
    _require(actor, "", statement.bank_account.project_id, "确认该项目的对账单")
    claimed = StatementImport.objects.filter(pk=statement.pk, status=StatementImport.Status.PREVIEW).update(
        status=StatementImport.Status.QUEUED, apply_requested=True, applied_by=actor)
    if not claimed:
        statement.refresh_from_db()
        raise ValidationError({"statement": f"该对账单状态为“{statement.get_status_display()}”，不能导入。"})
    audit_record(actor=actor, verb="banking.statement.confirm", obj=statement,
                 project_id=statement.bank_account.project_id)
    _enqueue(statement.pk)
    statement.refresh_from_db()
    return statement


def statement_import(*, actor: User | None, account: BankAccount, filename: str, raw: bytes,
                     actor_label: str = "") -> StatementImport:
    """Store a statement and work it here and now, whatever the queue (the CLI, the benchmark, tests)."""
    statement = _statement_create(actor=actor, account=account, filename=filename, raw=raw, actor_label=actor_label,
                                  apply=True)
    return statement_run(statement.pk) or statement


@transaction.atomic
def statement_discard(*, actor: User, statement: StatementImport) -> StatementImport:
    _require(actor, "", statement.bank_account.project_id, "放弃该项目的对账单")
    statement = StatementImport.objects.select_for_update().get(pk=statement.pk)
    if statement.status != StatementImport.Status.PREVIEW:
        raise ValidationError({"statement": "只有待确认的对账单可以放弃。"})
    statement.status = StatementImport.Status.DISCARDED
    statement.save(update_fields=["status"])
    audit_record(actor=actor, verb="banking.statement.discard", obj=statement,
                 project_id=statement.bank_account.project_id)
    return statement


# --- the review queue ----------------------------------------------------------------------------------------

@transaction.atomic
def line_confirm(*, actor: User, line: StatementLine, unit: Unit, note: str = "") -> StatementLine:
    """A person assigns an uncertain or unmatched credit to a unit; the money is posted through billing."""
    _require(actor, "", unit.project_id, "确认该项目的银行流水")
    line = StatementLine.objects.select_for_update().select_related("bank_account").get(pk=line.pk)
    if line.status not in OPEN_STATUSES:
        raise ValidationError({"line": f"该流水已处理（{line.get_status_display()}）。"})
    if unit.project_id != line.bank_account.project_id:
        raise ValidationError({"unit": "该房屋不属于此收款账户的项目。"})
    suggested = {s["unit_id"]: s["rule"] for s in line.suggestions}
    payment = _post_line(actor=actor, actor_label="", line=line, unit=unit,
                         note=f"银行对账人工确认 第 {line.row_no} 行" + (f"：{note}" if note else ""))
    line.status, line.unit, line.payment = LineStatus.CONFIRMED, unit, payment
    line.rule = suggested.get(unit.pk, MatchRule.MANUAL)
    line.decided_by, line.decided_at, line.decision_note = actor, timezone.now(), note[:300]
    line.save(update_fields=["status", "unit", "payment", "rule", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, verb="banking.line.confirm", obj=line, project_id=unit.project_id, note=note,
                 after={"unit": unit.code, "payment": payment.pk, "amount_fen": line.amount_fen,
                        "suggested": unit.pk in suggested})
    return line


@transaction.atomic
def line_dismiss(*, actor: User, line: StatementLine, reason: str) -> StatementLine:
    """Mark a credit as not a fee payment (a refund, interest, another income) with the reason."""
    _require(actor, "", line.bank_account.project_id, "处理该项目的银行流水")
    if not reason.strip():
        raise ValidationError({"reason": "请填写原因（如：退款、利息、其他收入）。"})
    line = StatementLine.objects.select_for_update().select_related("bank_account").get(pk=line.pk)
    if line.status not in OPEN_STATUSES:
        raise ValidationError({"line": f"该流水已处理（{line.get_status_display()}）。"})
    line.status = LineStatus.NOT_OURS
    line.decided_by, line.decided_at, line.decision_note = actor, timezone.now(), reason.strip()[:300]
    line.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, verb="banking.line.dismiss", obj=line, project_id=line.bank_account.project_id,
                 note=reason)
    return line


# --- direct debit --------------------------------------------------------------------------------------------

@transaction.atomic
def mandate_create(
    *, actor: User, unit: Unit, payer_name: str, bank: str, account_no: str, signed_on: dt.date,
    limit_fen: int | None = None,
) -> Mandate:
    _require(actor, "", unit.project_id, "为该项目的房屋签订代扣协议")
    errors = {}
    account_no = account_no.replace(" ", "")
    if not payer_name.strip():
        errors["payer_name"] = "请填写扣款户名。"
    if not bank.strip():
        errors["bank"] = "请填写扣款银行。"
    if not (account_no.isascii() and account_no.isdigit()) or not 8 <= len(account_no) <= 30:
        errors["account_no"] = "扣款账号应为 8–30 位数字。"
    if signed_on > timezone.localdate():
        errors["signed_on"] = "签约日期不能晚于今天。"
    if limit_fen is not None and limit_fen <= 0:
        errors["limit_fen"] = "单次限额必须大于 0。"
    if Mandate.objects.filter(unit=unit, status=Mandate.Status.ACTIVE).exists():
        errors["unit"] = f"房屋 {unit.code} 已有有效的代扣协议，请先终止原协议。"
    if errors:
        raise ValidationError(errors)
    mandate = Mandate.objects.create(project_id=unit.project_id, unit=unit, payer_name=payer_name.strip(),
                                     bank=bank.strip(), account_no=account_no, signed_on=signed_on,
                                     limit_fen=limit_fen, created_by=actor)
    audit_record(actor=actor, verb="banking.mandate.create", obj=mandate, project_id=unit.project_id,
                 after={"unit": unit.code, "bank": mandate.bank, "account": mandate.masked_no, "limit_fen": limit_fen})
    return mandate


@transaction.atomic
def mandate_revoke(*, actor: User, mandate: Mandate, reason: str) -> Mandate:
    _require(actor, "", mandate.project_id, "终止该项目的代扣协议")
    if not reason.strip():
        raise ValidationError({"reason": "请填写终止原因。"})
    mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
    if mandate.status != Mandate.Status.ACTIVE:
        raise ValidationError({"mandate": "该协议已终止。"})
    mandate.status, mandate.revoked_on, mandate.revoked_by = Mandate.Status.REVOKED, timezone.localdate(), actor
    mandate.revoke_reason = reason.strip()[:300]
    mandate.save(update_fields=["status", "revoked_on", "revoked_by", "revoke_reason"])
    audit_record(actor=actor, verb="banking.mandate.revoke", obj=mandate, project_id=mandate.project_id, note=reason)
    return mandate


def debit_amounts(project: Project, as_of: dt.date) -> dict[int, int]:
    """unit → what a debit on ``as_of`` should collect: open lines of periods begun by then, less prepaid."""
    from wuye.billing.selectors import prepaid_balances

    rows = (Bill.objects.filter(project=project, is_void=False, settled_fen__lt=F("amount_fen"),
                                period_start__lte=as_of)
            .values_list("unit_id").annotate(t=Sum(F("amount_fen") - F("settled_fen"))))
    prepaid = prepaid_balances(project_id=project.pk)
    return {unit_id: total - max(prepaid.get(unit_id, 0), 0) for unit_id, total in rows}


@transaction.atomic
def debit_batch_create(*, actor: User, project: Project, as_of: dt.date) -> DebitBatch:
    """One line per active mandate whose unit has money open on ``as_of`` (capped by the mandate's limit).
    While the bank works on it the unit's ladder is paused (a dunning hold that the result releases)."""
    from wuye.dunning.choices import HoldKind
    from wuye.dunning.services import hold_place

    _require(actor, "", project.pk, "为该项目生成代扣批次")
    Project.objects.select_for_update().filter(pk=project.pk).first()
    mandates = list(Mandate.objects.filter(project=project, status=Mandate.Status.ACTIVE).select_related("unit"))
    pending = set(DebitLine.objects.filter(batch__project=project, status=DebitLine.Status.PENDING)
                  .values_list("mandate_id", flat=True))
    amounts = debit_amounts(project, as_of)
    plan = []
    for mandate in mandates:
        amount = amounts.get(mandate.unit_id, 0)
        if mandate.limit_fen:
            amount = min(amount, mandate.limit_fen)
        if amount > 0 and mandate.pk not in pending:
            plan.append((mandate, amount))
    if not plan:
        raise ValidationError({"as_of": "没有需要代扣的房屋（无有效协议、无欠费，或已在待回盘的批次中）。"})
    batch = DebitBatch.objects.create(project=project, as_of=as_of, created_by=actor, line_count=len(plan),
                                      amount_fen=sum(a for _, a in plan))
    for mandate, amount in plan:
        hold = hold_place(actor=actor, unit=mandate.unit, kind=HoldKind.MANUAL,
                          reason=f"银行代扣处理中（代扣批次 #{batch.pk}）",
                          until=max(as_of, timezone.localdate()) + dt.timedelta(days=DEBIT_HOLD_DAYS))
        DebitLine.objects.create(batch=batch, mandate=mandate, unit=mandate.unit, amount_fen=amount, hold=hold)
    audit_record(actor=actor, verb="banking.debit.batch", obj=batch, project_id=project.pk,
                 after={"as_of": as_of, "lines": len(plan), "amount_fen": batch.amount_fen})
    return batch


RESULT_COLUMNS = {"reference": "代扣参考号", "account_no": "扣款账号", "amount": "金额", "result": "处理结果",
                  "code": "返回码", "text": "失败原因", "date": "处理日期"}
SUCCESS_WORDS = ("成功", "已扣款", "扣款成功", "SUCCESS", "S", "00", "0000")


def _parse_result_rows(filename: str, raw: bytes) -> tuple[list[dict], list[RowError]]:
    from wuye.banking.parsing import parse_amount, parse_date

    table = read_table(filename, raw)
    header_index = next((i for i, row in enumerate(table[:10]) if RESULT_COLUMNS["reference"] in
                         [normalise_header(c) for c in row]), None)
    if header_index is None:
        raise ImportRejected(f"找不到表头：回盘文件应包含“{RESULT_COLUMNS['reference']}”列。")
    known = set(RESULT_COLUMNS.values())
    problems = header_problems(table, header_index, lambda name: name in known)
    if problems:
        raise ImportRejected("".join(p.message for p in problems), row=header_index + 1, errors=problems)
    header = {name: i for i, name in reversed(list(enumerate(normalise_header(c) for c in table[header_index])))
              if name}
    errors = []
    for key in ("reference", "result"):
        if RESULT_COLUMNS[key] not in header:
            errors.append(RowError(header_index + 1, RESULT_COLUMNS[key], "",
                                   f"第 {header_index + 1} 行（表头）缺少“{RESULT_COLUMNS[key]}”列"))
    if errors:
        return [], errors
    out = []
    for row_no, row in enumerate(table[header_index + 1:], start=header_index + 2):
        if not any(c.strip() for c in row):
            continue

        def get(key: str, _row=row) -> str:
            i = header.get(RESULT_COLUMNS[key])
            return _row[i].strip() if i is not None and i < len(_row) else ""

        if any(m in "".join(row) for m in ("合计", "总计", "小计")) and not get("reference"):
            continue
        errors.extend(merge_errors(table, row_no - 1, table[header_index]))
        item = {"row": row_no, "reference": get("reference"), "result": get("result"), "code": get("code"),
                "text": get("text"), "amount_fen": None, "date": None}
        from wuye.banking.models import debit_line_id

        if debit_line_id(item["reference"]) is None:
            errors.append(RowError(row_no, RESULT_COLUMNS["reference"], item["reference"],
                                   f"第 {row_no} 行“{RESULT_COLUMNS['reference']}”：不是本系统生成的参考号"))
        if not item["result"]:
            errors.append(RowError(row_no, RESULT_COLUMNS["result"], "", f"第 {row_no} 行“处理结果”：为空"))
        if get("amount"):
            try:
                item["amount_fen"] = parse_amount(get("amount"))
            except ValueError as exc:
                errors.append(RowError(row_no, RESULT_COLUMNS["amount"], get("amount"),
                                       f"第 {row_no} 行“金额”：{exc}"))
        if get("date"):
            try:
                item["date"] = parse_date(get("date"))[0]
            except ValueError:
                errors.append(RowError(row_no, RESULT_COLUMNS["date"], get("date"),
                                       f"第 {row_no} 行“处理日期”：不是有效的日期"))
        out.append(item)
    return out, errors


@transaction.atomic
def debit_result_import(*, actor: User, batch: DebitBatch, filename: str, raw: bytes) -> dict:
    """Apply the bank's result file (回盘). Success → one payment through billing (direct-debit method, the
    line's reference: never twice) and the hold is released; failure → the bank's code and reason are kept,
    the hold is released with that reason, so the next daily run puts the account back on the ladder.
    All or nothing: any bad row → ValidationError with every problem, nothing changed."""
    from wuye.banking.models import debit_line_id
    from wuye.dunning.services import hold_release

    _require(actor, "", batch.project_id, "导入该项目的代扣回盘")
    batch = DebitBatch.objects.select_for_update().select_related("project").get(pk=batch.pk)
    rows, errors = _parse_result_rows(filename, raw)
    lines = {line.pk: line for line in DebitLine.objects.select_for_update(of=("self",)).filter(batch=batch)
             .select_related("unit", "mandate", "hold")}
    for item in rows:
        line = lines.get(debit_line_id(item["reference"]) or 0)
        if line is None and debit_line_id(item["reference"]) is not None:
            errors.append(RowError(item["row"], RESULT_COLUMNS["reference"], item["reference"],
                                   f"第 {item['row']} 行“{RESULT_COLUMNS['reference']}”：不属于代扣批次 #{batch.pk}"))
        elif line is not None and item["amount_fen"] is not None and item["amount_fen"] != line.amount_fen:
            errors.append(RowError(item["row"], RESULT_COLUMNS["amount"], format_yuan(item["amount_fen"]),
                                   f"第 {item['row']} 行“金额”：与代扣金额 {format_yuan(line.amount_fen)} 不符"))
        item["line"] = line
    if errors:
        raise ValidationError([e.message for e in errors])
    counts = Counter()
    today = timezone.localdate()
    for item in rows:
        line: DebitLine = item["line"]
        if line.status != DebitLine.Status.PENDING:
            counts["already"] += 1
            continue
        success = item["result"].strip().upper() in SUCCESS_WORDS
        on = item["date"] or today
        line.result_code, line.result_text, line.result_on = item["code"][:20], item["text"][:200], on
        if success:
            unit = line.unit
            unit.project = batch.project
            paid_at = timezone.make_aware(dt.datetime.combine(min(on, today), dt.time(0, 0)))
            line.payment = payment_record(
                actor=actor, unit=unit, amount_fen=line.amount_fen, method=PaymentMethod.DIRECT_DEBIT,
                paid_at=paid_at, payer_name=line.mandate.payer_name[:100], reference=line.reference,
                note=f"银行代扣 批次 #{batch.pk}")
            line.status = DebitLine.Status.SUCCEEDED
            counts["succeeded"] += 1
            note = "代扣成功"
        else:
            line.status = DebitLine.Status.FAILED
            counts["failed"] += 1
            note = f"银行代扣失败：{' '.join(x for x in (line.result_code, line.result_text) if x) or item['result']}"
            audit_record(actor=actor, verb="banking.debit.failed", obj=line.unit, project_id=batch.project_id,
                         note=note, after={"batch": batch.pk, "reference": line.reference,
                                           "code": line.result_code, "text": line.result_text})
        line.save(update_fields=["status", "result_code", "result_text", "result_on", "payment"])
        if line.hold is not None and line.hold.released_on is None:
            hold_release(actor=actor, hold=line.hold, note=note, on=today)
    if not DebitLine.objects.filter(batch=batch, status=DebitLine.Status.PENDING).exists():
        batch.status = DebitBatch.Status.DONE
    batch.result_filename, batch.result_at, batch.result_by = filename[:200], timezone.now(), actor
    batch.save(update_fields=["status", "result_filename", "result_at", "result_by"])
    audit_record(actor=actor, verb="banking.debit.result", obj=batch, project_id=batch.project_id,
                 note=filename[:200], after=dict(counts))
    return dict(counts)
