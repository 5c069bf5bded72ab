"""Every write to the billing ledger. Views, API, commands and jobs call these and nothing else.

Each function is atomic, takes the acting person (or a job label) and records an audit event.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.permissions import require_project_scope
from wuye.accounts.services import audit_record
from wuye.billing import latefee
from wuye.billing.choices import (
    AdjustmentKind,
    ApprovalStatus,
    DueRule,
    PaymentMethod,
    Pricing,
)
from wuye.billing.models import (
    Adjustment,
    Allocation,
    Bill,
    BillingPolicy,
    BillRun,
    FeeItem,
    Payment,
    PrepayAgreement,
    PrepayPeriod,
    Rate,
    ReceiptCounter,
)
from wuye.billing.permissions import can_approve
from wuye.billing.signals import arrears_reduced
from wuye.common.bulk import insert_rows, update_rows
from wuye.common.changes import projects_changed, units_changed
from wuye.common.formatting import AMOUNT_TOO_LARGE, amount_too_large, format_yuan, round_fen
from wuye.estate.choices import OccupancyState, OccupantRole
from wuye.estate.models import Occupancy, Project, Unit

# The largest single payment each method accepts (fen). Cash above ¥50,000 is refused at the desk.
METHOD_LIMIT_FEN = {
    PaymentMethod.CASH: 5_000_000,
    PaymentMethod.POS: 50_000_000,
    PaymentMethod.WECHAT: 20_000_000,
    PaymentMethod.ALIPAY: 20_000_000,
    PaymentMethod.TRANSFER: 1_000_000_000,
    PaymentMethod.DIRECT_DEBIT: 100_000_000,
}
METHODS_NEEDING_REFERENCE = frozenset({PaymentMethod.TRANSFER, PaymentMethod.DIRECT_DEBIT,
                                       PaymentMethod.WECHAT, PaymentMethod.ALIPAY})


# --- periods and policies ---------------------------------------------------------------------------------

def policy_for(project: Project) -> BillingPolicy:
    policy, _ = BillingPolicy.objects.get_or_create(project=project)
    return policy


def cycle_start_months(policy: BillingPolicy) -> list[int]:
    return sorted({(policy.anchor_month - 1 + k * policy.cycle_months) % 12 + 1
                   for k in range(12 // policy.cycle_months)})


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_bounds(policy: BillingPolicy, period: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the billing cycle that starts in ``period``'s month."""
    start = period.replace(day=1)
    if start.month not in cycle_start_months(policy):
        months = "、".join(f"{m} 月" for m in cycle_start_months(policy))
        raise ValidationError({"period": f"{start:%Y-%m} 不是该项目的出账月份（{months}）。"})
    return start, add_months(start, policy.cycle_months) - dt.timedelta(days=1)


def due_date_for(policy: BillingPolicy, start: dt.date) -> dt.date:
    if policy.due_rule == DueRule.AFTER_DELIVERY:
        # Until statement delivery is recorded, count from the first day of the cycle.
        return start + dt.timedelta(days=policy.due_days_after_delivery)
    last = calendar.monthrange(start.year, start.month)[1]
    return start.replace(day=min(policy.due_day, last))


# --- bill generation --------------------------------------------------------------------------------------

@dataclass
class BillDraft:
    unit_id: int
    party_id: int
    fee_item_id: int
    amount_fen: int
    rule: str


@dataclass
class BillPlan:
    project: Project
    period_start: dt.date
    period_end: dt.date
    due_date: dt.date
    drafts: list[BillDraft] = field(default_factory=list)
    existing: int = 0

    @property
    def amount_fen(self) -> int:
        return sum(d.amount_fen for d in self.drafts)


def _rates_in_force(project: Project, on: dt.date) -> dict[tuple[int, str], Rate]:
    """(fee item, property type or '') → the rate in force on ``on`` (latest effective_from ≤ on)."""
    table: dict[tuple[int, str], Rate] = {}
    rates = Rate.objects.filter(fee_item__project=project, fee_item__active=True, effective_from__lte=on)
    for rate in rates.order_by("effective_from", "id"):
        table[(rate.fee_item_id, rate.property_type)] = rate
    return table


def liable_parties(project: Project, on: dt.date) -> dict[int, int]:
    """unit id → the party who owes on ``on``: the owner in force, else the project's developer (one query)."""
    owners = (Occupancy.objects.filter(unit__project=project, role=OccupantRole.OWNER, start__lte=on)
              .filter(Q(end__isnull=True) | Q(end__gte=on)).order_by("start", "id").values_list("unit_id", "party_id"))
    return dict(owners)


def line_amount(item: FeeItem, rate: Rate, *, area: Decimal, state: str, months: int) -> tuple[int, str]:
    """One unit's amount (fen) for ``months`` of a fee item at ``rate``, and the rule that explains it."""
    vacant = state == OccupancyState.VACANT and rate.vacant_price is not None
    price = rate.vacant_price if vacant else rate.price
    tag = "（空置）" if vacant else ""
    if item.pricing == Pricing.PER_AREA:
        return round_fen(area * price * months * 100), f"{area}m² × ¥{price.normalize():f}/m²/月{tag} × {months}个月"
    return round_fen(price * months * 100), f"¥{price.normalize():f}/户/月{tag} × {months}个月"


@dataclass
class PlanContext:
    """What every way of planning a period's lines starts from: the cycle, its due date, the fee items billed
    by a standard (not entered or apportioned) and the rates in force on the cycle's first day."""

    start: dt.date
    end: dt.date
    due_date: dt.date
    months: int
    items: list[FeeItem]
    rates: dict[tuple[int, str], Rate]


def plan_context(project: Project, period: dt.date) -> PlanContext:
    policy = policy_for(project)
    start, end = period_bounds(policy, period)
    items = list(FeeItem.objects.filter(project=project, active=True).exclude(pricing=Pricing.ENTERED))
    return PlanContext(start, end, due_date_for(policy, start), policy.cycle_months, items,
                       _rates_in_force(project, start) if items else {})


def _no_liable_party(problems: list[str]) -> ValidationError:
    return ValidationError({"project": problems[:20] + ([f"……共 {len(problems)} 处"] if len(problems) > 20 else [])})


def bill_plan(*, project: Project, period: dt.date) -> BillPlan:
    """What a bill run for ``period`` would post: one draft per unit × fee item not yet billed (no writes).

    This is the rule written in Python; ``billing.bulk.bill_lines_insert`` posts the same lines with one
    INSERT … SELECT on PostgreSQL (``tests/billing/test_generate_sql.py`` compares the two)."""
    ctx = plan_context(project, period)
    plan = BillPlan(project, ctx.start, ctx.end, ctx.due_date)
    if not ctx.items:
        return plan
    owners = liable_parties(project, ctx.start)
    existing = set(Bill.objects.filter(project=project, period_start=ctx.start, is_void=False)
                   .values_list("unit_id", "fee_item_id"))
    plan.existing = len(existing)
    problems = []
    # The same unit facts and rate give the same line: most estates have few distinct areas per type.
    memo: dict[tuple, tuple[int, str]] = {}
    units = Unit.objects.filter(project=project).values_list("id", "code", "property_type", "area", "state")
    for unit_id, code, ptype, area, state in units.iterator(chunk_size=5000):
        party_id = owners.get(unit_id) or project.developer_id
        for item in ctx.items:
            rate = ctx.rates.get((item.pk, ptype)) or ctx.rates.get((item.pk, ""))
            if rate is None or (unit_id, item.pk) in existing:
                continue
            if party_id is None:
                problems.append(f"房屋 {code} 没有业主，项目也未登记开发商，无法出账")
                break
            key = (item.pk, rate.pk, str(area), state == OccupancyState.VACANT)
            line = memo.get(key)
            if line is None:
                line = memo[key] = line_amount(item, rate, area=area, state=state, months=ctx.months)
            amount, rule = line
            if amount > 0:
                plan.drafts.append(BillDraft(unit_id, party_id, item.pk, amount, rule))
    if problems:
        raise _no_liable_party(problems)
    return plan


def _post_lines_python(project: Project, period: dt.date, *, actor: User | None,
                       actor_label: str) -> tuple[BillRun, list[int]] | None:
    """Plan in Python, insert the drafts (COPY / executemany). Returns the run and the units billed."""
    plan = bill_plan(project=project, period=period)
    if not plan.drafts:
        return None
    run = BillRun.objects.create(project=project, period=plan.period_start, created_by=actor,
                                 actor_label=actor_label, bills_created=len(plan.drafts), amount_fen=plan.amount_fen)
    now = timezone.now()
    insert_rows(
        Bill,
        ["project_id", "unit_id", "party_id", "fee_item_id", "run_id", "period_start", "period_end", "amount_fen",
         "due_date", "rule", "settled_fen", "is_void", "created_at"],
        ((project.pk, d.unit_id, d.party_id, d.fee_item_id, run.pk, plan.period_start, plan.period_end,
          d.amount_fen, plan.due_date, d.rule, 0, False, now) for d in plan.drafts),
    )
    return run, sorted({d.unit_id for d in plan.drafts})


def bill_lines_in_sql() -> bool:
    """Whether bill runs post their lines with set-based SQL: on PostgreSQL unless ``WUYE_BILL_LINES`` says
    ``python`` (the rule written in Python, kept as the reference and for SQLite)."""
    from django.conf import settings
    from django.db import connection

    choice = getattr(settings, "WUYE_BILL_LINES", "auto")
    return choice == "sql" or (choice == "auto" and connection.vendor == "postgresql")


@transaction.atomic
def bill_generate(
    *, actor: User | None, project: Project, period: dt.date, actor_label: str = "", on: dt.date | None = None,
) -> BillRun | None:
    """Post the bills of ``period``. Idempotent: lines that exist are skipped; returns None if nothing is new.

    Prepaid balances pay the new lines at once, dated ``on`` (today unless back-filling history)."""
    require_project_scope(actor, project.pk, "为该项目出账")
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one run per project at a time
    if bill_lines_in_sql():
        from wuye.billing.bulk import bill_lines_insert

        posted = bill_lines_insert(project=project, period=period, actor=actor, actor_label=actor_label)
    else:
        posted = _post_lines_python(project, period, actor=actor, actor_label=actor_label)
    if posted is None:
        return None
    run, billed = posted
    audit_record(actor=actor, actor_label=actor_label, verb="billing.run", obj=run,
                 after={"period": run.period, "bills": run.bills_created, "amount_fen": run.amount_fen})
    prepay_discounts_apply(project=project, period_start=run.period)
    billed_set = set(billed)
    holders = [u for u in _prepaid_holders(project) if u in billed_set]
    prepaid_apply(unit_ids=holders, on=on or timezone.localdate())
    projects_changed([project.pk])  # every account of the project has a new line
    return run


@transaction.atomic
def bill_run_reverse(*, actor: User, run: BillRun, reason: str) -> int:
    """Reverse a whole run (managers): every live line is voided; money paid on them returns to prepaid."""
    if not can_approve(actor):
        raise ValidationError({"actor": "只有经理可以撤销出账批次。"})
    require_project_scope(actor, run.project_id, "撤销该项目的出账批次")
    if not reason.strip():
        raise ValidationError({"reason": "请填写撤销原因。"})
    run = BillRun.objects.select_for_update().get(pk=run.pk)
    if run.reversed_at:
        raise ValidationError({"run": "该批次已撤销。"})
    run_bills = list(Bill.objects.select_for_update().filter(run=run))
    bills = [b for b in run_bills if not b.is_void]
    # reissues of the run's lines and late fees charged on them go with the run
    bills += _live_descendants([b.pk for b in run_bills])
    _close_void(bills, kind=AdjustmentKind.RUN_REVERSAL, reason=reason, actor=actor, on=timezone.localdate())
    now = timezone.now()
    run.reversed_at, run.reversed_by, run.reversal_reason = now, actor, reason
    run.save(update_fields=["reversed_at", "reversed_by", "reversal_reason"])
    audit_record(actor=actor, verb="billing.run.reverse", obj=run, note=reason, after={"bills": len(bills)})
    projects_changed([run.project_id])
    return len(bills)


@transaction.atomic
def bill_apportion(
    *, actor: User, project: Project, fee_item: FeeItem, period: dt.date, total_fen: int, basis: str = "area",
    unit_ids: Iterable[int] | None = None,
) -> BillRun:
    """Split a shared cost (公摊) over units by area or by household; largest-remainder so the fen add up."""
    require_project_scope(actor, project.pk, "在该项目分摊费用")
    if fee_item.project_id != project.pk or fee_item.pricing != Pricing.ENTERED:
        raise ValidationError({"fee_item": "该收费项目不是本项目的“按期录入/分摊”项目。"})
    if total_fen <= 0:
        raise ValidationError({"total_fen": "分摊总额必须大于 0。"})
    policy = policy_for(project)
    start, end = period_bounds(policy, period)
    units = Unit.objects.filter(project=project)
    if unit_ids is not None:
        units = units.filter(pk__in=list(unit_ids))
    rows = list(units.order_by("id").values_list("id", "area"))
    if not rows:
        raise ValidationError({"unit_ids": "没有可分摊的房屋。"})
    if Bill.objects.filter(fee_item=fee_item, period_start=start, unit_id__in=[r[0] for r in rows],
                           is_void=False).exists():
        raise ValidationError({"period": f"{fee_item} {start:%Y-%m} 已分摊过，请先撤销原批次。"})
    weights = [int(area * 100) if basis == "area" else 1 for _, area in rows]
    shares = largest_remainder(total_fen, weights)
    owners = liable_parties(project, start)
    missing = [uid for uid, _ in rows if not (owners.get(uid) or project.developer_id)]
    if missing:
        raise ValidationError({"project": f"{len(missing)} 套房屋没有业主，项目也未登记开发商。"})
    run = BillRun.objects.create(project=project, period=start, created_by=actor, bills_created=len(rows),
                                 amount_fen=total_fen)
    label = "按面积" if basis == "area" else "按户"
    due = due_date_for(policy, start)
    Bill.objects.bulk_create(
        Bill(project=project, unit_id=uid, party_id=owners.get(uid) or project.developer_id, fee_item=fee_item,
             run=run, period_start=start, period_end=end, amount_fen=share, due_date=due,
             rule=f"{fee_item} 总额 {format_yuan(total_fen)} {label}分摊（{'面积' if basis == 'area' else '户数'}权重 "
                  f"{w}/{sum(weights)}）")
        for (uid, _), share, w in zip(rows, shares, weights, strict=True) if share > 0)
    audit_record(actor=actor, verb="billing.apportion", obj=run, after={"total_fen": total_fen, "basis": basis})
    prepaid_apply(unit_ids=[uid for uid, _ in rows], on=timezone.localdate())
    units_changed(uid for uid, _ in rows)
    return run


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Integer shares of ``total`` proportional to ``weights`` that add up exactly (Hamilton's method)."""
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValidationError({"weights": "分摊权重之和必须大于 0。"})
    quotients = [divmod(total * w, weight_sum) for w in weights]
    shares = [q for q, _ in quotients]
    leftover = total - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-quotients[i][1], i))
    for i in by_remainder[:leftover]:
        shares[i] += 1
    return shares


# --- payments and allocation ---------------------------------------------------------------------------

# The legal order of a unit's open lines (民法典 560): due before not-yet-due, then oldest first.
OPEN_BILL_ORDER = ("due_date", "period_start", "fee_item__sort", "id")


def receipt_numbers(project: Project, year: int, count: int = 1) -> list[str]:
    """Reserve ``count`` consecutive numbers of the project's receipt book for ``year`` (one UPDATE, which
    takes the counter's row lock); the format ``CODE-YYYY-NNNNNN`` is written here only."""
    counter = ReceiptCounter.objects.filter(project=project, year=year)
    if not counter.update(last=F("last") + count):
        ReceiptCounter.objects.get_or_create(project=project, year=year)
        counter.update(last=F("last") + count)
    last = counter.values_list("last", flat=True).get()
    return [f"{project.code}-{year}-{n:06d}" for n in range(last - count + 1, last + 1)]


def _next_receipt_no(project: Project, year: int) -> str:
    return receipt_numbers(project, year)[0]


def payment_errors(*, amount_fen: int, method: str, reference: str, paid_at: dt.datetime,
                   now: dt.datetime) -> dict[str, str]:
    """The checks every payment passes, by field (empty when it may be posted). Whether the reference was
    used before is checked by the caller (one query for one payment, one per chunk for many)."""
    errors: dict[str, str] = {}
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        return {"amount_fen": "金额必须是以分为单位的整数。"}
    if amount_fen <= 0:
        errors["amount_fen"] = "金额必须大于 0。"
    if method not in PaymentMethod.values:
        errors["method"] = "未知的收款方式。"
    elif amount_fen > METHOD_LIMIT_FEN[method]:
        errors["amount_fen"] = (f"{PaymentMethod(method).label}单笔不能超过 "
                                f"{format_yuan(METHOD_LIMIT_FEN[method])}。")
    if method in METHODS_NEEDING_REFERENCE and not reference.strip():
        errors["reference"] = "该收款方式需要填写流水号/凭证号。"
    if paid_at > now + dt.timedelta(minutes=5):
        errors["paid_at"] = "收款时间不能晚于现在。"
    return errors


REFERENCE_USED = "该流水号已登记过，不能重复入账。"

# An allocation to write: (payment id, bill id, fen, applied on).
AllocationRow = tuple[int, int, int, dt.date]


def _record_allocations(rows: Iterable[AllocationRow], *, settled: dict[int, int] | None = None) -> None:
    """Write allocation rows and move each line's cached ``settled_fen`` by the same amount, set-based (one
    insert, one read and one update however many rows). ``settled`` gives the lines' new cached values when
    the caller already holds them (the bulk path, under the same locks); otherwise they are read and moved."""
    rows = list(rows)
    if not rows:
        return
    now = timezone.now()
    insert_rows(Allocation, ["payment_id", "bill_id", "amount_fen", "applied_on", "created_at"],
                ((p, b, fen, day, now) for p, b, fen, day in rows))
    if settled is None:
        delta: dict[int, int] = defaultdict(int)
        for _, bill_id, fen, _ in rows:
            delta[bill_id] += fen
        ids = sorted(delta)
        settled = {}
        for start in range(0, len(ids), 2000):
            for pk, fen in Bill.objects.filter(pk__in=ids[start:start + 2000]).values_list("pk", "settled_fen"):
                settled[pk] = fen + delta[pk]
    update_rows(Bill, ["settled_fen"], sorted(settled.items()))


def _plan_allocations(payment_id: int, bills: list, budget: int, on: dt.date,
                      earlier: dict | None = None) -> tuple[list[tuple[int, Bill, int, dt.date]], int]:
    """Where up to ``budget`` fen of a payment go among ``bills`` (in the given order), each line up to what
    it still owes. Moves each line's in-memory ``settled_fen``; writes nothing. Returns (rows, applied)."""
    applied = 0
    rows = []
    for bill in bills:
        if budget - applied <= 0:
            break
        take = min(bill.amount_fen - bill.settled_fen, budget - applied)
        if take <= 0:
            continue
        day = (earlier or {}).get((payment_id, bill.fee_item_id, bill.period_start), on)
        rows.append((payment_id, bill, take, min(day, on)))
        bill.settled_fen += take
        applied += take
    return rows, applied


def _allocate(payment: Payment, bills: list[Bill], budget: int, on: dt.date, earlier: dict | None = None) -> int:
    """Apply up to ``budget`` fen of ``payment`` to ``bills`` in the given order; returns what was applied.

    ``earlier`` maps (payment, fee item, period) to the date this money first paid a line of that period that
    was since voided: re-applied money keeps that date, so corrections never create late fees."""
    rows, applied = _plan_allocations(payment.pk, bills, budget, on, earlier)
    _record_allocations([(p, b.pk, fen, day) for p, b, fen, day in rows])
    return applied


def open_bills(unit_id: int, *, lock: bool = False) -> list[Bill]:
    """A unit's open lines in legal order: due before not-yet-due, then oldest first (民法典 560)."""
    qs = Bill.objects.filter(unit_id=unit_id, is_void=False, settled_fen__lt=F("amount_fen"))
    if lock:
        qs = qs.select_for_update()
    return list(qs.select_related("fee_item").order_by(*OPEN_BILL_ORDER))


@transaction.atomic
def payment_record(
    *, actor: User | None, unit: Unit, amount_fen: int, method: str, paid_at: dt.datetime | None = None,
    payer_name: str = "", reference: str = "", bill_ids: list[int] | None = None, note: str = "",
    actor_label: str = "", only_chosen: bool = False, tendered_fen: int | None = None,
) -> Payment:
    """Record money received for a unit and allocate it: to the lines the payer names (their choice wins),
    otherwise oldest first; whatever is left becomes the unit's prepaid balance.

    ``only_chosen``: the money pays only the named lines (none when none are named) and the rest is held
    as prepaid — for a payer who may pay only some of the unit's lines (the seller of a sold unit paying
    their own periods through the owner portal, 民法典 560), or money that is to be refunded."""
    require_project_scope(actor, unit.project_id, "为该项目的房屋收款")
    now = timezone.now()
    paid_at = paid_at or now
    errors = payment_errors(amount_fen=amount_fen, method=method, reference=reference, paid_at=paid_at, now=now)
    if reference and Payment.objects.filter(method=method, reference=reference.strip(), amount_fen__gt=0).exists():
        errors["reference"] = REFERENCE_USED
    if tendered_fen is not None:  # cash handed over at the desk: the receipt shows it and the change
        if method != PaymentMethod.CASH:
            errors["tendered_fen"] = "只有现金收款需要填写收到现金。"
        elif isinstance(amount_fen, int) and tendered_fen < amount_fen:
            errors["tendered_fen"] = f"收到现金少于收款金额 {format_yuan(amount_fen)}。"
    if errors:
        raise ValidationError(errors)
    Unit.objects.select_for_update().filter(pk=unit.pk).first()  # serialise payments of one unit
    lines = open_bills(unit.pk, lock=True)
    if bill_ids or only_chosen:
        by_id = {b.pk: b for b in lines}
        chosen = [by_id.get(i) for i in bill_ids or []]
        if any(b is None for b in chosen):
            raise ValidationError({"bill_ids": "所选账单不属于该房屋或已结清。"})
        # the payer's lines first (民法典 560); what is left pays the other open lines in legal order
        lines = chosen if only_chosen else chosen + [b for b in lines if b.pk not in set(bill_ids)]
    local_day = timezone.localtime(paid_at).date()
    payment = Payment.objects.create(
        project_id=unit.project_id, unit=unit, payer_name=payer_name, amount_fen=amount_fen, method=method,
        paid_at=paid_at, reference=reference.strip(), note=note, created_by=actor, actor_label=actor_label,
        receipt_no=_next_receipt_no(unit.project, timezone.localtime(paid_at).year), tendered_fen=tendered_fen)
    fees_ctx = settlement_fees_context(unit.project, lines, local_day)
    rows, applied = _plan_allocations(payment.pk, lines, amount_fen, local_day)
    fees = settlement_fee_lines(fees_ctx, rows, local_day, payment) if fees_ctx else []
    if fees:  # charged now; what is left of this payment pays them at once, as prepaid money would
        Bill.objects.bulk_create(fees)
        more, extra = _plan_allocations(payment.pk, fees, amount_fen - applied, local_day)
        rows, applied = rows + more, applied + extra
    _record_allocations([(p, b.pk, fen, day) for p, b, fen, day in rows])
    audit_record(actor=actor, actor_label=actor_label, verb="payment.record", obj=payment,
                 after={"amount_fen": amount_fen, "method": method, "applied_fen": applied,
                        "prepaid_fen": amount_fen - applied, "chosen": bill_ids or [],
                        **_fee_audit(fees)})
    units_changed([unit.pk])
    if applied:
        arrears_reduced.send(sender=Payment, unit_id=unit.pk, on=local_day)
    return payment


def _approved_adjustments(bills: list[Bill]) -> dict[int, int]:
    return dict(Adjustment.objects.filter(bill__in=bills, status=ApprovalStatus.APPROVED).values_list("bill_id")
                .annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))


def _release_allocations(bills: list[Bill], on: dt.date) -> None:
    """Undo every allocation on ``bills`` with negative rows: the money goes back to prepaid."""
    # Net per original payment (a reversal's rows count against the payment it reverses).
    net = list(Allocation.objects.filter(bill__in=bills)
               .annotate(root=Coalesce("payment__reverses_id", "payment_id")).values("root", "bill_id")
               .annotate(total=Sum("amount_fen"), first=Min("applied_on")).filter(total__gt=0))
    _record_allocations([(r["root"], r["bill_id"], -r["total"], on) for r in net])
    released: dict[int, list[tuple[int, int, dt.date]]] = defaultdict(list)
    for r in net:
        released[r["bill_id"]].append((r["root"], r["total"], r["first"]))
    return released


def _live_descendants(bill_ids: Iterable[int]) -> list[Bill]:
    """Live lines that stem from these: their reissues and their charged late fees, transitively."""
    found: dict[int, Bill] = {}
    frontier = set(bill_ids)
    while frontier:
        batch = list(Bill.objects.select_for_update().filter(is_void=False)
                     .filter(Q(reissue_of_id__in=frontier) | Q(late_fee_of_id__in=frontier))
                     .exclude(pk__in=list(found)))
        frontier = {b.pk for b in batch}
        found.update((b.pk, b) for b in batch)
    return list(found.values())


def _close_void(bills: list[Bill], *, kind: str, reason: str, actor: User | None, on: dt.date):
    """Void lines: release their money to prepaid and close what is left with approved adjustments."""
    released = _release_allocations(bills, on=on)
    adjusted = _approved_adjustments(bills)
    now = timezone.now()
    Adjustment.objects.bulk_create(
        Adjustment(bill=b, kind=kind, amount_fen=b.amount_fen - adjusted.get(b.pk, 0), reason=reason[:300],
                   status=ApprovalStatus.APPROVED, requested_by=actor, decided_by=actor, decided_at=now)
        for b in bills)
    Bill.objects.filter(pk__in=[b.pk for b in bills]).update(is_void=True, settled_fen=F("amount_fen"))
    return released


@transaction.atomic
def payment_reverse(*, actor: User | None, payment: Payment, reason: str, actor_label: str = "") -> Payment:
    """Reverse a payment (e.g. a bounced transfer): a negative payment and negative allocations.

    ``actor`` None with an ``actor_label`` is the system acting on a rule (the owner portal refunding an
    online payment made twice for the same lines)."""
    from wuye.billing.permissions import can_record_payments

    if actor is None and not actor_label:
        raise ValidationError({"actor": "冲正需要操作人或来源。"})
    if actor is not None and not can_record_payments(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以冲正收款。"})
    if not reason.strip():
        raise ValidationError({"reason": "请填写冲正原因。"})
    require_project_scope(actor, payment.project_id, "冲正该项目的收款")
    Unit.objects.select_for_update().filter(pk=payment.unit_id).first()
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.amount_fen < 0 or Payment.objects.filter(reverses=payment).exists():
        raise ValidationError({"payment": "该收款已冲正或本身是冲正记录。"})
    agreement = PrepayAgreement.objects.filter(payment=payment, cancelled_at__isnull=True).first()
    if agreement is not None:
        used = Adjustment.objects.filter(prepay_period__agreement=agreement, bill__is_void=False).count()
        if used:
            raise ValidationError({"payment": f"这笔预缴已有 {used} 期享受了优惠，不能直接冲正；"
                                              f"请经理先作废并重开这些账单（取消优惠），再冲正。"})
        PrepayAgreement.objects.filter(pk=agreement.pk).update(cancelled_at=timezone.now(),
                                                               cancel_note=f"收款冲正：{reason}"[:300])
    reversal = Payment.objects.create(
        project_id=payment.project_id, unit_id=payment.unit_id, payer_name=payment.payer_name,
        amount_fen=-payment.amount_fen, method=payment.method, paid_at=timezone.now(), reverses=payment,
        note=reason, created_by=actor, actor_label=actor_label[:60])
    net = (Allocation.objects.filter(payment=payment).values("bill_id")
           .annotate(total=Sum("amount_fen"), first=Min("applied_on")).filter(total__gt=0))
    # dated as the money was first applied: a bounced payment never paid anything, so late fees run as if
    # it had never arrived
    rows = [(reversal.pk, r["bill_id"], -r["total"], r["first"]) for r in net]
    _record_allocations(rows)
    # late fees this payment charged when it settled principal go with it (voided, pointing at the reversal)
    fees = list(Bill.objects.select_for_update().filter(charged_with=payment, is_void=False))
    fees += _live_descendants([b.pk for b in fees])
    if fees:
        _close_void(fees, kind=AdjustmentKind.VOID, actor=actor, on=timezone.localdate(),
                    reason=f"随收款 {payment.receipt_no or payment.pk} 冲正作废（冲正记录 #{reversal.pk}）：{reason}")
    audit_record(actor=actor, actor_label=actor_label, verb="payment.reverse", obj=payment, note=reason,
                 after={"reversal": reversal.pk, "released": [r[1] for r in rows],
                        "late_fees_voided": [b.pk for b in fees]})
    if fees:
        prepaid_apply(unit_ids=[payment.unit_id], on=timezone.localdate())
    units_changed([payment.unit_id])
    return reversal


def _prepaid_holders(project: Project) -> list[int]:
    """Units of the project with money not yet applied (two grouped queries, not one per unit)."""
    from wuye.billing.selectors import prepaid_balances

    return [unit_id for unit_id, fen in prepaid_balances(project_id=project.pk).items() if fen > 0]


def prepaid_by_payment(unit_ids: Iterable[int]) -> dict[int, list[tuple[Payment, int]]]:
    """unit → [(payment, unallocated fen)] oldest first, for payments that still hold money."""
    ids = list(unit_ids)
    payments = (Payment.objects.filter(unit_id__in=ids, amount_fen__gt=0, reversed_by__isnull=True)
                .annotate(used=Sum("allocations__amount_fen")).order_by("paid_at", "id"))
    out: dict[int, list[tuple[Payment, int]]] = defaultdict(list)
    for p in payments:
        left = p.amount_fen - (p.used or 0)
        if left > 0:
            out[p.unit_id].append((p, left))
    return out


def _earlier_dates(payment_ids: list[int]) -> dict[tuple[int, int, dt.date], dt.date]:
    """(payment, fee item, period) → first date that money paid a now-void line of that period."""
    if not payment_ids:
        return {}
    rows = (Allocation.objects.filter(payment_id__in=payment_ids, bill__is_void=True, amount_fen__gt=0)
            .values_list("payment_id", "bill__fee_item_id", "bill__period_start").annotate(first=Min("applied_on")))
    return {(p, f, d): first for p, f, d, first in rows}


def prepaid_apply(*, unit_ids: Iterable[int], on: dt.date) -> int:
    """Let prepaid balances pay open lines (oldest first). Returns fen applied.

    Set-based per chunk of 500 units: their locks, their payments holding money, the dates money first paid
    since-voided lines, and their open lines (locked, legal order) are read once; each unit's money is planned
    as before (its payments oldest first, each over the unit's open lines) and written in one insert."""
    ids = list(unit_ids)
    total = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        # the same unit lock payment_record takes: two writers never spend the same prepaid money
        list(Unit.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk", flat=True))
        holders = prepaid_by_payment(chunk)
        if not holders:
            continue
        earlier = _earlier_dates([p.pk for sources in holders.values() for p, _ in sources])
        open_lines: dict[int, list[Bill]] = defaultdict(list)
        for bill in (Bill.objects.select_for_update(of=("self",))
                     .filter(unit_id__in=list(holders), is_void=False, settled_fen__lt=F("amount_fen"))
                     .select_related("fee_item").order_by("unit_id", *OPEN_BILL_ORDER)):
            open_lines[bill.unit_id].append(bill)
        rows: list[AllocationRow] = []
        touched: dict[int, Bill] = {}
        for unit_id, sources in holders.items():
            lines = open_lines.get(unit_id, [])
            for payment, left in sources:
                if not lines:
                    break
                planned, applied = _plan_allocations(payment.pk, lines, left, on, earlier)
                rows.extend((p, b.pk, fen, day) for p, b, fen, day in planned)
                touched.update((b.pk, b) for _, b, _, _ in planned)
                total += applied
                lines = [b for b in lines if b.settled_fen < b.amount_fen]
        _record_allocations(rows, settled={pk: b.settled_fen for pk, b in touched.items()})
        units_changed(holders)
    return total


# --- adjustments with approval -------------------------------------------------------------------------

@transaction.atomic
def adjustment_request(
    *, actor: User, bill: Bill, kind: str, reason: str, amount_fen: int | None = None,
    reissue_amount_fen: int | None = None,
) -> Adjustment:
    """Ask to void, waive or write off (part of) a bill line. A manager's request is approved at once."""
    if kind not in (AdjustmentKind.VOID, AdjustmentKind.WAIVE_PRINCIPAL, AdjustmentKind.WRITE_OFF):
        raise ValidationError({"kind": "不支持的调整类型。"})
    if not reason.strip():
        raise ValidationError({"reason": "请填写原因。"})
    bill = Bill.objects.select_for_update().get(pk=bill.pk)
    require_project_scope(actor, bill.project_id, "申请调整该项目的账单")
    if bill.is_void:
        raise ValidationError({"bill": "该账单已作废。"})
    if kind == AdjustmentKind.VOID:
        amount_fen = bill.amount_fen
        if reissue_amount_fen is not None and reissue_amount_fen < 0:
            raise ValidationError({"reissue_amount_fen": "重开金额不能为负数。"})
        if amount_too_large(reissue_amount_fen):
            raise ValidationError({"reissue_amount_fen": AMOUNT_TOO_LARGE})
    else:
        open_fen = bill.amount_fen - bill.settled_fen
        amount_fen = open_fen if (kind == AdjustmentKind.WRITE_OFF and amount_fen is None) else amount_fen
        if not isinstance(amount_fen, int) or amount_fen <= 0:
            raise ValidationError({"amount_fen": "减免金额必须大于 0。"})
        if amount_fen > open_fen:
            raise ValidationError({"amount_fen": f"减免金额不能超过未缴金额 {format_yuan(open_fen)}。"})
    adjustment = Adjustment.objects.create(bill=bill, kind=kind, amount_fen=amount_fen, reason=reason,
                                           reissue_amount_fen=reissue_amount_fen, requested_by=actor)
    audit_record(actor=actor, verb="adjustment.request", obj=bill, note=reason,
                 after={"adjustment": adjustment.pk, "kind": kind, "amount_fen": amount_fen})
    if can_approve(actor):
        adjustment = adjustment_decide(actor=actor, adjustment=adjustment, approve=True, note="申请人为经理，直接生效")
    return adjustment


@transaction.atomic
def adjustment_decide(*, actor: User, adjustment: Adjustment, approve: bool, note: str = "") -> Adjustment:
    """A manager approves or rejects; an approved adjustment takes effect on the ledger now."""
    if not can_approve(actor):
        raise ValidationError({"actor": "只有经理可以审批减免、作废和核销。"})
    adjustment = Adjustment.objects.select_for_update().select_related("bill").get(pk=adjustment.pk)
    require_project_scope(actor, adjustment.bill.project_id, "审批该项目的调整申请")
    if adjustment.status != ApprovalStatus.PENDING:
        raise ValidationError({"adjustment": "该申请已处理。"})
    if not approve and not note.strip():
        raise ValidationError({"note": "驳回时请填写理由。"})
    adjustment.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    adjustment.decided_by, adjustment.decided_at, adjustment.decision_note = actor, timezone.now(), note
    if approve:
        bill = Bill.objects.select_for_update().get(pk=adjustment.bill_id)
        if bill.is_void:
            raise ValidationError({"bill": "该账单已作废。"})
        today = timezone.localdate()
        if adjustment.kind == AdjustmentKind.VOID:
            released = _release_allocations([bill], on=today)
            # the void closes what earlier waivers left open
            adjustment.amount_fen = bill.amount_fen - _approved_adjustments([bill]).get(bill.pk, 0)
            Bill.objects.filter(pk=bill.pk).update(is_void=True, settled_fen=F("amount_fen"))
            dependants = _live_descendants([bill.pk])  # late fees charged on the wrong line
            if dependants:
                _close_void(dependants, kind=AdjustmentKind.VOID, reason=f"随账单 #{bill.pk} 作废", actor=actor,
                            on=today)
            if adjustment.reissue_amount_fen:
                reissue = Bill.objects.create(
                    project_id=bill.project_id, unit_id=bill.unit_id, party_id=bill.party_id,
                    fee_item_id=bill.fee_item_id, period_start=bill.period_start, period_end=bill.period_end,
                    amount_fen=adjustment.reissue_amount_fen, due_date=bill.due_date, reissue_of=bill,
                    late_fee_of_id=bill.late_fee_of_id, rule=f"更正重开：{adjustment.reason}"[:200])
                adjustment.reissued_bill = reissue
                from wuye.billing.disputes import intervals_carry

                intervals_carry(bill.pk, reissue.pk)  # its disputed and paused days are the reissue's too
                prepay_discounts_apply(project=bill.project, period_start=bill.period_start)
                reissue.refresh_from_db()
                # money that had paid the wrong line pays the right one as of the day it first did,
                # so an owner who paid on time does not start to owe late fees
                for root, fen, first in sorted(released.get(bill.pk, []), key=lambda r: r[2]):
                    if reissue.settled_fen >= reissue.amount_fen:
                        break
                    _allocate(Payment.objects.get(pk=root), [reissue], fen, first)
        else:
            if adjustment.amount_fen > bill.amount_fen - bill.settled_fen:
                raise ValidationError({"amount_fen": "减免金额已超过当前未缴金额，请重新申请。"})
            Bill.objects.filter(pk=bill.pk).update(settled_fen=F("settled_fen") + adjustment.amount_fen)
    adjustment.save()
    audit_record(actor=actor, verb="adjustment.approve" if approve else "adjustment.reject",
                 obj=adjustment.bill, note=note, after={"adjustment": adjustment.pk})
    if approve and adjustment.kind == AdjustmentKind.VOID:
        prepaid_apply(unit_ids=[adjustment.bill.unit_id], on=timezone.localdate())
    units_changed([adjustment.bill.unit_id])
    if approve:
        arrears_reduced.send(sender=Adjustment, unit_id=adjustment.bill.unit_id, on=timezone.localdate())
    return adjustment


def seed_default_fee_items(project: Project, *, effective_from: dt.date, price_per_m2: Decimal) -> FeeItem:
    """A project's 物业服务费 at one price per m² (demo and tests)."""
    from wuye.billing.choices import FeeKind

    item, _ = FeeItem.objects.get_or_create(project=project, code="WYF", defaults={
        "name": "物业服务费", "kind": FeeKind.PROPERTY, "pricing": Pricing.PER_AREA, "sort": 1})
    Rate.objects.get_or_create(fee_item=item, property_type="", effective_from=effective_from,
                               defaults={"price": price_per_m2})
    return item


# --- late fees -------------------------------------------------------------------------------------------

def late_fee_item(project: Project) -> FeeItem:
    from wuye.billing.choices import FeeKind

    item, _ = FeeItem.objects.get_or_create(project=project, code="WYJ", defaults={
        "name": "违约金", "kind": FeeKind.LATE_FEE, "pricing": Pricing.ENTERED, "sort": 90})
    return item


@transaction.atomic
def late_fee_post(*, actor: User, unit: Unit, as_of: dt.date, reason: str) -> list[Bill]:
    """A manager charges the late fees accrued to ``as_of`` on a unit's lines: one 违约金 line per source line,
    for what has not been charged before. The line carries the calculation; it can be waived like any other."""
    from wuye.billing.selectors import statement_for_unit

    if not can_approve(actor):
        raise ValidationError({"actor": "只有经理可以计收违约金。"})
    require_project_scope(actor, unit.project_id, "为该项目的房屋计收违约金")
    if not reason.strip():
        raise ValidationError({"reason": "请填写计收原因（如：业主结清本金时一并收取）。"})
    if as_of > timezone.localdate():
        raise ValidationError({"as_of": "计收日期不能晚于今天。"})
    Unit.objects.select_for_update().filter(pk=unit.pk).first()  # a double submit charges once
    item = late_fee_item(unit.project)
    statement = statement_for_unit(unit, as_of=as_of)
    created = []
    for line in statement.lines:
        if line.late_fee is None or line.unposted_late_fee_fen <= 0:
            continue
        source = line.bill
        created.append(Bill.objects.create(
            project_id=source.project_id, unit_id=source.unit_id, party_id=source.party_id, fee_item=item,
            period_start=source.period_start, period_end=source.period_end, amount_fen=line.unposted_late_fee_fen,
            due_date=as_of, late_fee_of=source, rule=f"{source.fee_item.name}违约金：{line.late_fee.explanation}"[:200]))
    if not created:
        raise ValidationError({"unit": "没有可计收的违约金。"})
    audit_record(actor=actor, verb="late_fee.post", obj=unit, note=reason,
                 after={"bills": [b.pk for b in created], "amount_fen": sum(b.amount_fen for b in created),
                        "as_of": as_of})
    prepaid_apply(unit_ids=[unit.pk], on=timezone.localdate())
    units_changed([unit.pk])
    return created


@dataclass
class SettlementFees:
    """What charging late fees at settlement needs to know about some open lines (read once, kept current
    in memory while many payments are planned)."""

    terms: latefee.Terms
    item: FeeItem
    names: dict[int, str]  # fee item → name, for the charged line's rule
    candidates: set[int]  # open lines whose grace has run out by the latest settlement day
    allocations: dict[int, list[tuple[dt.date, int]]] = field(default_factory=dict)
    adjusted: dict[int, int] = field(default_factory=dict)
    posted: dict[int, int] = field(default_factory=dict)  # late fee already charged per source line
    disputed: dict[int, list] = field(default_factory=dict)  # disputed intervals per line (billing.disputes)


def settlement_fees_context(project: Project, lines: Iterable[Bill], latest: dt.date) -> SettlementFees | None:
    """None unless the project charges late fees at settlement and some of ``lines`` are past their grace
    on ``latest``; otherwise their allocations, approved adjustments, charged late fees and disputed intervals
    (four queries per 2,000 lines)."""
    from wuye.billing.disputes import intervals_for

    policy = policy_for(project)
    if not policy.late_fee_charge_at_settlement or policy.late_fee_per_mille <= 0:
        return None
    grace = dt.timedelta(days=policy.late_fee_grace_days)
    ids = sorted({b.pk for b in lines if b.late_fee_of_id is None and b.due_date + grace < latest})
    if not ids:
        return None
    ctx = SettlementFees(latefee.Terms.from_policy(policy), late_fee_item(project),
                         dict(FeeItem.objects.filter(project=project).values_list("pk", "name")), set(ids))
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        for bill_id, day, fen in Allocation.objects.filter(bill_id__in=chunk).values_list("bill_id", "applied_on",
                                                                                          "amount_fen"):
            ctx.allocations.setdefault(bill_id, []).append((day, fen))
        ctx.adjusted.update(Adjustment.objects.filter(bill_id__in=chunk, status=ApprovalStatus.APPROVED)
                            .values_list("bill_id").annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))
        ctx.posted.update(Bill.objects.filter(late_fee_of_id__in=chunk, is_void=False).values_list("late_fee_of_id")
                          .annotate(t=Sum("amount_fen")).values_list("late_fee_of_id", "t"))
        ctx.disputed.update(intervals_for(chunk))
    return ctx


def settlement_fee_lines(ctx: SettlementFees, rows: list[tuple[int, Bill, int, dt.date]], day: dt.date,
                         payment: Payment) -> list[Bill]:
    """The 违约金 lines (unsaved) to charge because ``rows`` — one payment's planned allocations — settled
    these lines' principal on ``day``: the late fee accrued to that day under the project's terms (grace, cap,
    rounding, nothing while disputed), less what was charged on the line before. Charged once: a second
    settlement finds it charged. Updates ``ctx`` so later payments of the same batch see it."""
    touched: dict[int, Bill] = {}
    for _, bill, fen, applied_on in rows:
        if bill.pk in ctx.candidates:
            ctx.allocations.setdefault(bill.pk, []).append((applied_on, fen))
            touched[bill.pk] = bill
    out = []
    for bill in touched.values():
        if bill.settled_fen < bill.amount_fen:
            continue
        fee = latefee.compute(amount_fen=bill.amount_fen - ctx.adjusted.get(bill.pk, 0), due_date=bill.due_date,
                              as_of=day, terms=ctx.terms, payments=ctx.allocations[bill.pk],
                              disputed=ctx.disputed.get(bill.pk, ()))
        charge = fee.amount_fen - ctx.posted.get(bill.pk, 0)
        if charge <= 0:
            continue
        ctx.posted[bill.pk] = ctx.posted.get(bill.pk, 0) + charge
        out.append(Bill(
            project_id=bill.project_id, unit_id=bill.unit_id, party_id=bill.party_id, fee_item=ctx.item,
            period_start=bill.period_start, period_end=bill.period_end, amount_fen=charge, due_date=day,
            late_fee_of_id=bill.pk, charged_with=payment, settled_fen=0,
            rule=f"结清时计收{ctx.names.get(bill.fee_item_id, '')}违约金：{fee.explanation}"[:200]))
    return out


def _fee_audit(fees: list[Bill]) -> dict:
    return {"late_fee_fen": sum(b.amount_fen for b in fees), "late_fees": [b.pk for b in fees]} if fees else {}


# --- pay-ahead discounts (预缴优惠; taking an offer is in billing.prepay) ---------------------------------------

def prepay_discounts_apply(*, project: Project, period_start: dt.date) -> int:
    """Give the discount of every pay-ahead period of ``period_start`` whose line is now billed: an approved
    ``Adjustment`` (kind 预缴优惠) on that line, requested by whoever took the offer, approved by the manager
    who set the offer up. Once per period on a live line (a voided line's discount moves to its reissue).
    Returns how many lines got one. A few queries whatever the number of agreements."""
    periods = list(PrepayPeriod.objects.filter(
        agreement__project=project, agreement__cancelled_at__isnull=True, period_start=period_start,
        discount_fen__gt=0).values_list(
        "pk", "agreement__unit_id", "agreement__offer__fee_item_id", "discount_fen", "agreement__created_by_id",
        "agreement__offer__created_by_id", "agreement__offer__name", "agreement__payment__receipt_no"))
    if not periods:
        return 0
    done = set(Adjustment.objects.filter(prepay_period_id__in=[p[0] for p in periods], bill__is_void=False,
                                         status=ApprovalStatus.APPROVED).values_list("prepay_period_id", flat=True))
    todo = [p for p in periods if p[0] not in done]
    bills = {(b.unit_id, b.fee_item_id): b for b in Bill.objects.select_for_update().filter(
        project=project, period_start=period_start, is_void=False, late_fee_of__isnull=True,
        unit_id__in=[p[1] for p in todo])}
    now = timezone.now()
    adjustments, settled = [], {}
    for pk, unit_id, item_id, discount, taken_by, approver, name, receipt in todo:
        bill = bills.get((unit_id, item_id))
        fen = min(discount, bill.amount_fen - bill.settled_fen) if bill else 0
        if fen <= 0:
            continue
        adjustments.append(Adjustment(
            bill=bill, kind=AdjustmentKind.PREPAY_DISCOUNT, amount_fen=fen, prepay_period_id=pk,
            reason=f"预缴优惠“{name}”（收据 {receipt}）本期优惠"[:300], status=ApprovalStatus.APPROVED,
            requested_by_id=taken_by, decided_by_id=approver, decided_at=now,
            decision_note="经理设定优惠方案即为审批"))
        bill.settled_fen += fen
        settled[bill.pk] = bill.settled_fen
    Adjustment.objects.bulk_create(adjustments)
    update_rows(Bill, ["settled_fen"], sorted(settled.items()))
    units_changed(a.bill.unit_id for a in adjustments)
    return len(adjustments)


# --- statement delivery ----------------------------------------------------------------------------------

@transaction.atomic
def statement_delivery_record(
    *, actor: User, unit: Unit, period_start: dt.date, method: str, delivered_on: dt.date, signed_by: str = "",
    signer_relation: str = "", reference: str = "",
):
    """Record that a period's statement reached the unit. Where the project's due date runs from delivery,
    the period's open lines become due ``due_days_after_delivery`` days after the first delivery."""
    from wuye.billing.models import StatementDelivery

    require_project_scope(actor, unit.project_id, "记录该项目的账单送达")
    errors = {}
    if method not in StatementDelivery.Method.values:
        errors["method"] = "未知的送达方式。"
    if delivered_on > timezone.localdate():
        errors["delivered_on"] = "送达日期不能晚于今天。"
    lines = list(Bill.objects.select_for_update().filter(unit=unit, period_start=period_start, is_void=False,
                                                         late_fee_of__isnull=True))
    if not lines:
        errors["period_start"] = f"{period_start:%Y-%m} 没有该房屋的账单。"
    elif delivered_on < min(b.created_at for b in lines).astimezone(
            timezone.get_current_timezone()).date():
        errors["delivered_on"] = "送达日期不能早于出账日期。"
    if method == StatementDelivery.Method.HAND and not signed_by.strip():
        errors["signed_by"] = "当面签收请填写签收人。"
    if errors:
        raise ValidationError(errors)
    first = not StatementDelivery.objects.filter(unit=unit, period_start=period_start).exists()
    delivery = StatementDelivery.objects.create(
        project_id=unit.project_id, unit=unit, period_start=period_start, method=method, delivered_on=delivered_on,
        signed_by=signed_by.strip(), signer_relation=signer_relation.strip(), reference=reference.strip(),
        recorded_by=actor)
    moved = []
    policy = policy_for(unit.project)
    if first and policy.due_rule == DueRule.AFTER_DELIVERY:
        due = delivered_on + dt.timedelta(days=policy.due_days_after_delivery)
        for bill in lines:
            if bill.due_date != due:
                moved.append({"bill": bill.pk, "from": bill.due_date, "to": due})
        Bill.objects.filter(pk__in=[m["bill"] for m in moved]).update(due_date=due)
        units_changed([unit.pk])
    audit_record(actor=actor, verb="statement.delivered", obj=unit,
                 after={"delivery": delivery.pk, "period": period_start, "method": method,
                        "delivered_on": delivered_on, "due_moved": moved})
    return delivery




def __getattr__(name: str):
    """``services.payments_record_bulk`` and ``services.PaymentDraft``: the bulk form of ``payment_record``
    lives in ``billing.bulk``, which is built on the helpers here, so it is loaded on first use."""
    if name in ("payments_record_bulk", "PaymentDraft"):
        from wuye.billing import bulk

        return getattr(bulk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
