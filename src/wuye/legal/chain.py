"""The hash chain over the action log: a later edit of a sealed record is detectable, and names the record.

What is sealed (``RECORDS``): outbox actions once they have left the outbox (sent, delivered, failed or
cancelled — the fields fixed at sending: content, its hash, periods, address, channel, times, provider id),
every status event of an action, every contact record (calls and visits), promises to pay (the facts of the
promise), uploaded delivery proofs and the legal cases' events (their dates restart the clocks). Each record's canonical form (sorted JSON of those fields, times in UTC
with microseconds) is hashed; the link hash covers the previous link's hash, the sequence number, the record's
kind, id and hash. ``ChainHead`` holds the last link and is locked while sealing, so two sealers never fork it.

Why a sealing job and not hashing at insert: the daily run writes hundreds of thousands of actions with COPY
and the dispatcher updates them in bulk; a hash per row inside those writes would serialise them on one chain
head. Sealing runs after each run and dispatch (and before an evidence pack is built) and chains what is new,
in id order per kind. An action is sealed only once final; its later status changes (a delivery receipt) are
not in its hash but must agree with its own sealed events: the status is that of its last event (none: it was
written cancelled), and ``delivered_at`` is the time of its last delivery event. So editing ``delivered_at``
— the date the limitation clock reads — is caught too.

``verify()`` recomputes every record and link; ``wuye evidence_verify`` prints the problems (or 「校验通过」).

The ledger is not chained row by row (tens of millions of rows, most never in a court file): an evidence pack keeps
the hash of each bill it lists, each allocation and decided adjustment on those bills and each payment it lists
(``EvidencePack.ledger``), and the pack's own row — with those hashes — is sealed in the chain right after it is
built (decisions 162, 185). ``verify()`` then recomputes them and names a row edited or deleted since, and a sealed
bill whose cached balance or void flag disagrees with its rows; a reversal, a waiver or a void is a new row (the
ledger is append-only), so it changes none of the rows a pack sealed and ``pack_changes`` lists it as a later change.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from wuye.billing.choices import AdjustmentKind, ApprovalStatus
from wuye.billing.models import Adjustment, Allocation, Bill, Payment
from wuye.casework.models import ContactAttempt, Promise
from wuye.common.bulk import insert_rows
from wuye.dunning.choices import ActionStatus
from wuye.dunning.models import Action, ActionEvent
from wuye.legal.models import CaseEvent, ChainHead, ChainLink, DeliveryProof, EvidencePack

GENESIS = "0" * 64
CHUNK = 5_000
FINAL = (ActionStatus.SENT, ActionStatus.DELIVERED, ActionStatus.FAILED, ActionStatus.CANCELLED,
         ActionStatus.SUPERSEDED, ActionStatus.EXPIRED, ActionStatus.BLOCKED)


@dataclass(frozen=True)
class Record:
    kind: str
    label: str
    model: type
    fields: tuple[str, ...]
    final_q: dict | None = None


def _action_fields() -> tuple[str, ...]:
    base = ("id", "project_id", "unit_id", "step_id", "cycle", "episode_id", "decided_on", "channel", "stage",
            "out_id", "overdue_fen", "deadline", "periods", "template_version", "content", "content_sha256",
            "address", "provider", "provider_message_id", "sent_at", "actor_label", "created_at")
    if any(f.attname == "party_id" for f in Action._meta.concrete_fields):
        base += ("party_id",)
    return base


RECORDS: dict[str, Record] = {r.kind: r for r in (
    Record("action", "催缴动作", Action, _action_fields(), {"status__in": FINAL}),
    Record("action_event", "动作记录", ActionEvent, ("id", "action_id", "at", "status", "detail", "actor_label")),
    Record("contact", "联系记录", ContactAttempt,
           ("id", "project_id", "unit_id", "party_id", "contact_point_id", "channel", "outcome", "reason", "note",
            "follow_up_on", "task_id", "corrects_id", "on", "made_at", "made_by_id", "actor_label")),
    Record("promise", "承诺缴费", Promise,
           ("id", "project_id", "unit_id", "contact_id", "party_id", "hold_id", "promised_on", "amount_fen", "made_on",
            "made_by_id", "created_at")),
    Record("proof", "送达凭证", DeliveryProof,
           ("id", "project_id", "unit_id", "action_id", "task_id", "kind", "tracking_no", "signed_by",
            "signer_relation", "signed_on", "delivered", "file", "content_type", "size", "sha256", "uploaded_by_id",
            "uploaded_at")),
    # a case's events restart the clocks of the periods it claims (律师函 delivered, mediation requested, 支付令 and
    # lawsuit filings, the end of a proceeding) and carry the firm's issued letter: their dates are evidence too
    Record("case_event", "案件进展", CaseEvent,
           ("id", "case_id", "event", "stage", "on", "note", "law_firm", "lawyer_name", "lawyer_licence", "court",
            "docket_no", "mediator", "amount_fen", "due_on", "outcome", "document", "document_sha256",
            "created_by_id", "created_at")),
    # an evidence pack with the hashes of the payments and allocations it lists (``LEDGER``): sealed once built
    Record("pack", "证据包", EvidencePack,
           ("id", "case_id", "as_of", "pdf_sha256", "zip_sha256", "chain_seq", "ledger", "built_by_id", "built_at")),
)}

# Ledger rows a pack relies on: hashed into the pack (not chained one by one); every field fixed at writing.
# A bill's ``settled_fen`` and ``is_void`` are caches of its allocations and approved adjustments (rebuilt by
# check_ledger) and ``disputed_since`` marks a dispute opened or closed later — as do the line's disputed intervals
# (``BillDispute``, decision 194) and installment pauses (``BillFeePause``, decision 207), which a later dispute or
# plan adds and its resolution ends: they move with legitimate later rows, so they are not hashed — the caches are
# checked against the rows instead (``_bill_caches``). An adjustment is hashed once decided (approved or
# rejected); a pending one is not yet a fact a pack relies on.
LEDGER: dict[str, Record] = {r.kind: r for r in (
    Record("payment", "收款", Payment,
           ("id", "project_id", "unit_id", "payer_name", "amount_fen", "method", "paid_at", "reference", "receipt_no",
            "note", "reverses_id", "created_at", "created_by_id", "actor_label", "tendered_fen")),
    Record("allocation", "核销", Allocation, ("id", "payment_id", "bill_id", "amount_fen", "applied_on", "created_at")),
    Record("bill", "账单", Bill,
           ("id", "project_id", "unit_id", "party_id", "fee_item_id", "run_id", "period_start", "period_end",
            "amount_fen", "due_date", "rule", "reissue_of_id", "late_fee_of_id", "charged_with_id", "created_at")),
    Record("adjustment", "账单调整", Adjustment,
           ("id", "bill_id", "kind", "amount_fen", "reason", "reissue_amount_fen", "reissued_bill_id", "status",
            "requested_by_id", "requested_at", "decided_by_id", "decided_at", "decision_note", "prepay_period_id")),
)}
DECIDED = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
VOIDING = (AdjustmentKind.VOID, AdjustmentKind.RUN_REVERSAL)


def _record(kind: str) -> Record | None:
    return RECORDS.get(kind) or LEDGER.get(kind)


def _norm(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "name") and not isinstance(value, str | int | float | bool | list | dict):  # a FieldFile
        return value.name
    return value


def row_hash(kind: str, values: tuple) -> str:
    """The canonical hash of one record: kind and its fields as sorted JSON."""
    rec = _record(kind)
    body = {name: _norm(v) for name, v in zip(rec.fields, values, strict=True)}
    text = json.dumps({"kind": kind, "row": body}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def link_hash(prev: str, seq: int, kind: str, row_id: int, rhash: str) -> str:
    return hashlib.sha256(f"{prev}|{seq}|{kind}|{row_id}|{rhash}".encode()).hexdigest()


def _unsealed(rec: Record):
    sealed = ChainLink.objects.filter(kind=rec.kind, row_id=OuterRef("pk"))
    qs = rec.model.objects.filter(**(rec.final_q or {})).filter(~Exists(sealed))
    return qs.order_by("pk")


@dataclass
class SealResult:
    sealed: dict[str, int] = field(default_factory=dict)
    head: int = 0

    @property
    def total(self) -> int:
        return sum(self.sealed.values())


def seal(*, kinds: Iterable[str] | None = None) -> SealResult:
    """Chain every record not yet sealed (a job: after each run and dispatch, and before a pack is built)."""
    result = SealResult()
    with transaction.atomic():
        head, _ = ChainHead.objects.get_or_create(pk=1)
        head = ChainHead.objects.select_for_update().get(pk=1)
        seq, prev = head.seq, head.link_hash
        now = timezone.now()
        for kind in kinds or RECORDS:
            rec = RECORDS[kind]
            n = 0
            ids = list(_unsealed(rec).values_list("pk", flat=True))
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                rows = []
                for values in rec.model.objects.filter(pk__in_ids=chunk).order_by("pk").values_list(*rec.fields):
                    seq += 1
                    rh = row_hash(kind, values)
                    lh = link_hash(prev, seq, kind, values[0], rh)
                    rows.append((seq, kind, values[0], rh, prev, lh, now))
                    prev = lh
                insert_rows(ChainLink, ("seq", "kind", "row_id", "row_hash", "prev_hash", "link_hash", "sealed_at"),
                            rows)
                n += len(rows)
            result.sealed[kind] = n
        head.seq, head.link_hash, head.sealed_at = seq, prev, now
        head.save(update_fields=["seq", "link_hash", "sealed_at"])
        result.head = seq
    return result


# --- verification ------------------------------------------------------------------------------------------

@dataclass
class Problem:
    kind: str
    row_id: int | None
    message: str

    def __str__(self) -> str:
        return self.message


def _label(kind: str, row_id) -> str:
    rec = _record(kind)
    table = rec.model._meta.db_table if rec else kind
    return f"{rec.label if rec else kind} #{row_id}（表 {table}，id={row_id}）"


def _links(seq_from: int = 1) -> Iterator[list[tuple]]:
    last = seq_from - 1
    while True:
        batch = list(ChainLink.objects.filter(seq__gt=last).order_by("seq")
                     .values_list("seq", "kind", "row_id", "row_hash", "prev_hash", "link_hash")[:CHUNK * 4])
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def verify(*, only: dict[str, set[int]] | None = None) -> list[Problem]:
    """Recompute the chain and every sealed record (or only the records ``only`` names, kind → ids; the links
    are then checked for those records alone). Returns the problems found, each naming the record."""
    problems: list[Problem] = []
    head = ChainHead.objects.filter(pk=1).first()
    prev, expected_seq = GENESIS, 1
    by_kind: dict[str, dict[int, str]] = defaultdict(dict)
    for batch in _links():
        for seq, kind, row_id, rh, prev_hash, lh in batch:
            if only is None:
                if seq != expected_seq:
                    problems.append(Problem("chain", None, f"哈希链缺少第 {expected_seq}–{seq - 1} 号封存记录（被删除）"))
                if prev_hash != prev:
                    problems.append(Problem("chain", None, f"第 {seq} 号封存记录的前一摘要与链不符（封存记录被改动）"))
                expected_seq = seq + 1
            if link_hash(prev_hash, seq, kind, row_id, rh) != lh:
                problems.append(Problem(kind, row_id, f"第 {seq} 号封存记录（{_label(kind, row_id)}）的链接摘要不符"
                                                      "：封存记录本身被改动"))
            prev = lh
            if only is None or row_id in only.get(kind, ()):
                by_kind[kind][row_id] = rh
    if only is None and head is not None and (head.seq != expected_seq - 1 or (head.seq and head.link_hash != prev)):
        problems.append(Problem("chain", None, "哈希链头与最后一条封存记录不符（链尾被删除或改动）"))
    for kind, hashes in by_kind.items():
        rec = RECORDS.get(kind)
        if rec is None:
            problems.append(Problem(kind, None, f"未知的封存记录类型 {kind}"))
            continue
        ids = sorted(hashes)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            found = {}
            for values in rec.model.objects.filter(pk__in_ids=chunk).values_list(*rec.fields):
                found[values[0]] = row_hash(kind, values)
            for row_id in chunk:
                if row_id not in found:
                    problems.append(Problem(kind, row_id, f"{_label(kind, row_id)} 已被删除"))
                elif found[row_id] != hashes[row_id]:
                    problems.append(Problem(kind, row_id, f"{_label(kind, row_id)} 在封存后被修改"))
        if kind == "action":
            problems += _action_states(ids)
        if kind == "pack":
            problems += _pack_ledgers(ids)
    if only is not None:
        for kind, ids in only.items():
            for row_id in sorted(set(ids) - set(by_kind.get(kind, {}))):
                problems.append(Problem(kind, row_id, f"{_label(kind, row_id)} 不在哈希链中（未封存或封存记录被删除）"))
    return problems


def _action_states(action_ids: list[int]) -> list[Problem]:
    """A sealed action's status and delivery time must agree with its own status events."""
    problems = []
    for start in range(0, len(action_ids), CHUNK):
        chunk = action_ids[start:start + CHUNK]
        last: dict[int, str] = {}
        delivered: dict[int, dt.datetime] = {}
        for action_id, status, at in (ActionEvent.objects.filter(action_id__in_ids=chunk).order_by("action_id", "pk")
                                      .values_list("action_id", "status", "at")):
            last[action_id] = status
            if status == ActionStatus.DELIVERED:
                delivered[action_id] = at
        for pk, status, delivered_at in Action.objects.filter(pk__in_ids=chunk).values_list(
                "pk", "status", "delivered_at"):
            expected = last.get(pk, ActionStatus.CANCELLED)
            if status != expected:
                problems.append(Problem("action", pk, f"{_label('action', pk)} 的状态“{status}”与其动作记录"
                                                      f"（最后为“{expected}”）不符：状态被直接修改"))
            elif delivered.get(pk) != delivered_at and (status == ActionStatus.DELIVERED or delivered_at):
                problems.append(Problem("action", pk, f"{_label('action', pk)} 的送达时间与其送达记录不符："
                                                      "送达时间被直接修改"))
    return problems


def ledger_hashes(rows: dict[str, Iterable[int]]) -> dict[str, dict[str, str]]:
    """kind ("payment", "allocation") → {id: hash} of the ledger rows a pack lists (ids as JSON keys)."""
    out: dict[str, dict[str, str]] = {}
    for kind, ids in rows.items():
        rec = LEDGER[kind]
        ids = sorted(set(ids))
        hashes: dict[str, str] = {}
        for start in range(0, len(ids), CHUNK):
            for values in rec.model.objects.filter(pk__in_ids=ids[start:start + CHUNK]).values_list(*rec.fields):
                hashes[str(values[0])] = row_hash(kind, values)
        out[kind] = hashes
    return out


def verify_ledger(ledger: dict, *, where: str) -> list[Problem]:
    """The payments and allocations ``ledger`` (a pack's hashes) names, each edited or deleted since: named."""
    problems: list[Problem] = []
    for kind, hashes in sorted((ledger or {}).items()):
        if kind not in LEDGER or not isinstance(hashes, dict):
            problems.append(Problem(kind, None, f"{where}：未知的账务记录类型 {kind}"))
            continue
        ids = sorted(int(k) for k in hashes if str(k).isascii() and str(k).isdigit())
        now = ledger_hashes({kind: ids})[kind]
        for row_id in ids:
            got = now.get(str(row_id))
            if got is None:
                problems.append(Problem(kind, row_id, f"{_label(kind, row_id)} 已被删除（{where}列有该记录）"))
            elif got != hashes[str(row_id)]:
                problems.append(Problem(kind, row_id, f"{_label(kind, row_id)} 在{where}组包后被修改"))
        if kind == "bill":
            problems += _bill_caches(ids, where=where)
    return problems


def _bill_caches(bill_ids: list[int], *, where: str) -> list[Problem]:
    """A sealed bill's cached balance must agree with its own rows, as check_ledger rebuilds it: settled = its
    allocations + its approved adjustments, void = an approved void or run reversal. A balance or void flag
    written behind the ledger's rows is named; a later allocation or adjustment (a correction) moves both."""
    from django.db.models import Sum

    problems: list[Problem] = []
    for start in range(0, len(bill_ids), CHUNK):
        chunk = bill_ids[start:start + CHUNK]
        paid = dict(Allocation.objects.filter(bill_id__in_ids=chunk).values_list("bill_id")
                    .annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))
        adjusted: dict[int, int] = defaultdict(int)
        voided: set[int] = set()
        for bill_id, kind, fen in Adjustment.objects.filter(bill_id__in_ids=chunk, status=ApprovalStatus.APPROVED) \
                .values_list("bill_id", "kind", "amount_fen"):
            adjusted[bill_id] += fen
            if kind in VOIDING:
                voided.add(bill_id)
        for pk, settled, is_void in Bill.objects.filter(pk__in_ids=chunk).values_list("pk", "settled_fen", "is_void"):
            rows = (paid.get(pk) or 0) + adjusted.get(pk, 0)
            if settled != rows:
                problems.append(Problem("bill", pk, f"{_label('bill', pk)} 的已结清金额 {settled} 分与其核销和调整记录"
                                                    f"（{rows} 分）不符：账面余额被直接修改（{where}列有该账单）"))
            if is_void != (pk in voided):
                problems.append(Problem("bill", pk, f"{_label('bill', pk)} 的作废标记与其调整记录不符：作废状态被直接修改"
                                                    f"（{where}列有该账单）"))
    return problems


def ledger_changes(ledger: dict, *, where: str) -> list[str]:
    """What was appended since the pack on the bills it sealed: allocations (money applied, reversals) and decided
    adjustments (waivers, voids) the pack did not list. The ledger is append-only, so a correction is a new row
    pointing at what it corrects: it changes no sealed row and is listed here as a later change, not a problem."""
    bills = sorted(int(k) for k in (ledger or {}).get("bill", {}) if str(k).isascii() and str(k).isdigit())
    if not bills:
        return []
    known = {kind: set((ledger or {}).get(kind, {})) for kind in ("allocation", "adjustment")}
    out: list[str] = []
    for start in range(0, len(bills), CHUNK):
        chunk = bills[start:start + CHUNK]
        for pk, bill_id, fen, day, reverses in (Allocation.objects.filter(bill_id__in_ids=chunk).order_by("pk")
                                                .values_list("pk", "bill_id", "amount_fen", "applied_on",
                                                             "payment__reverses_id")):
            if str(pk) not in known["allocation"]:
                what = f"冲正收款 #{reverses}" if reverses else ("退回" if fen < 0 else "缴纳")
                out.append(f"{_label('bill', bill_id)} 在{where}组包后有新的核销 #{pk}：{day:%Y-%m-%d} "
                           f"{what} {fen} 分")
        for pk, bill_id, kind, fen, status, decided in (
                Adjustment.objects.filter(bill_id__in_ids=chunk, status__in=DECIDED).order_by("pk")
                .values_list("pk", "bill_id", "kind", "amount_fen", "status", "decided_at")):
            if str(pk) not in known["adjustment"]:
                out.append(f"{_label('bill', bill_id)} 在{where}组包后有新的调整 #{pk}：{AdjustmentKind(kind).label} "
                           f"{fen} 分，{ApprovalStatus(status).label}"
                           + (f"（{timezone.localtime(decided):%Y-%m-%d}）" if decided else ""))
    return out


def pack_changes(pack_ids: Iterable[int] | None = None) -> list[str]:
    """Later changes (``ledger_changes``) on the bills of every sealed pack (or of ``pack_ids``)."""
    sealed = ChainLink.objects.filter(kind="pack").values("row_id")
    qs = EvidencePack.objects.filter(pk__in=sealed)
    if pack_ids is not None:
        qs = qs.filter(pk__in=list(pack_ids))
    out: list[str] = []
    for pk, number, ledger in qs.order_by("pk").values_list("pk", "case__number", "ledger"):
        out += ledger_changes(ledger, where=f"证据包 #{pk}（案件 {number}）")
    return out


def _pack_ledgers(pack_ids: list[int]) -> list[Problem]:
    problems: list[Problem] = []
    for pk, number, ledger in EvidencePack.objects.filter(pk__in_ids=pack_ids).order_by("pk").values_list(
            "pk", "case__number", "ledger"):
        problems += verify_ledger(ledger, where=f"证据包 #{pk}（案件 {number}）")
    return problems


def links_for(kind: str, ids: Iterable[int]) -> dict[int, tuple[int, str, str]]:
    """row id → (seq, row hash, link hash) of sealed records (for a pack's manifest)."""
    out = {}
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        for seq, row_id, rh, lh in ChainLink.objects.filter(kind=kind, row_id__in_ids=ids[start:start + CHUNK]) \
                .values_list("seq", "row_id", "row_hash", "link_hash"):
            out[row_id] = (seq, rh, lh)
    return out


def head_seq() -> int:
    return ChainLink.objects.aggregate(m=Max("seq"))["m"] or 0
