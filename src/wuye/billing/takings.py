"""收款日报与交班 — the day's takings per cashier and method, and a cashier's shift handover.

Reads are two grouped queries over ``Payment`` (the ledger is the truth: reversals count, negative, in the
shift and on the day they were entered); a handover freezes its shift's figures in a ``CashierHandover`` row
and records the cash counted against the cash expected (长短款). Nothing here moves money.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.choices import PaymentMethod
from wuye.billing.models import CashierHandover, Payment
from wuye.billing.permissions import can_record_payments
from wuye.common.formatting import format_yuan
from wuye.common.labels import actor_label as who_words

METHOD_ORDER = [m for m, _ in PaymentMethod.choices]
METHOD_WORDS = dict(PaymentMethod.choices)


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return start, start + dt.timedelta(days=1)


@dataclass
class CashierRow:
    """One cashier's (or one channel's) takings on the day: by method, total and count."""

    key: str
    name: str
    cashier_id: int | None
    by_method: dict[str, int] = field(default_factory=dict)
    count: int = 0

    @property
    def total_fen(self) -> int:
        return sum(self.by_method.values())

    def cells(self) -> list[int]:
        return [self.by_method.get(m, 0) for m in METHOD_ORDER]


@dataclass
class Takings:
    day: dt.date
    rows: list[CashierRow]
    payments: QuerySet[Payment]
    handovers: list[CashierHandover]

    @property
    def by_method(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            for m, fen in r.by_method.items():
                out[m] = out.get(m, 0) + fen
        return out

    @property
    def method_totals(self) -> list[int]:
        return [self.by_method.get(m, 0) for m in METHOD_ORDER]

    @property
    def total_fen(self) -> int:
        return sum(r.total_fen for r in self.rows)

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)


def takings_for_day(*, projects, day: dt.date, cashier_id: int | None = None, company_wide: bool = True) -> Takings:
    """收款日报: every payment entered on ``day`` (local) in ``projects``, grouped by who took it and how.
    Money that came in without a person (online, bank statements) is its own row, named by its channel.
    Handovers carry no project: unless the reader works ``company_wide``, only those of cashiers who took money
    in ``projects`` that day or who work in one of them are listed (a T1 manager does not read T2's shifts)."""
    start, end = _day_bounds(day)
    qs = Payment.objects.filter(project__in=projects, created_at__gte=start, created_at__lt=end)
    if cashier_id:
        qs = qs.filter(created_by_id=cashier_id)
    rows: dict[str, CashierRow] = {}
    names = {}
    grouped = qs.values("created_by_id", "actor_label", "method").annotate(n=Count("id"), fen=Sum("amount_fen"))
    user_ids = {g["created_by_id"] for g in grouped if g["created_by_id"]}
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=user_ids)}
    for g in grouped:
        uid = g["created_by_id"]
        key = f"u{uid}" if uid else f"l{who_words(g['actor_label'])}"
        row = rows.setdefault(key, CashierRow(key=key, name=names.get(uid) or who_words(g["actor_label"]),
                                              cashier_id=uid))
        row.by_method[g["method"]] = row.by_method.get(g["method"], 0) + (g["fen"] or 0)
        row.count += g["n"]
    # every payment of the day, in the order taken: the page shows it a page at a time, the Excel all of it
    payments = qs.select_related("unit", "project", "created_by").order_by("created_at", "pk")
    handovers = list(CashierHandover.objects.filter(shift_end__gte=start, shift_end__lt=end)
                     .select_related("cashier", "handed_to").order_by("shift_end"))
    if cashier_id:
        handovers = [h for h in handovers if h.cashier_id == cashier_id]
    if not company_wide and handovers:
        here = set(user_ids) | set(User.projects.through.objects.filter(project__in=projects)
                                    .values_list("user_id", flat=True))
        handovers = [h for h in handovers if h.cashier_id in here]
    ordered = sorted(rows.values(), key=lambda r: (r.cashier_id is None, r.name))
    return Takings(day=day, rows=ordered, payments=payments, handovers=handovers)


# --- the shift ------------------------------------------------------------------------------------------------

@dataclass
class Shift:
    cashier: User
    start: dt.datetime
    end: dt.datetime
    count: int
    by_method: dict[str, int]

    @property
    def total_fen(self) -> int:
        return sum(self.by_method.values())

    @property
    def cash_expected_fen(self) -> int:
        return self.by_method.get(PaymentMethod.CASH, 0)

    def lines(self) -> list[tuple[str, int]]:
        return [(METHOD_WORDS[m], self.by_method[m]) for m in METHOD_ORDER if self.by_method.get(m)]


def shift_open(cashier: User, *, now: dt.datetime | None = None) -> Shift:
    """The cashier's shift so far: since their last handover (or the start of today), what they entered."""
    now = now or timezone.now()
    last = CashierHandover.objects.filter(cashier=cashier).order_by("-shift_end").values_list(
        "shift_end", flat=True).first()
    start = last or _day_bounds(timezone.localtime(now).date())[0]
    grouped = (Payment.objects.filter(created_by=cashier, created_at__gte=start, created_at__lt=now)
               .values("method").annotate(n=Count("id"), fen=Sum("amount_fen")))
    by_method = {g["method"]: g["fen"] or 0 for g in grouped}
    return Shift(cashier=cashier, start=start, end=now, count=sum(g["n"] for g in grouped), by_method=by_method)


def handover_people(actor: User) -> QuerySet[User]:
    """Whom ``actor`` may hand the cash to (and the cashiers the takings page names): active finance staff,
    managers and admins who share a project with ``actor``, or who work company-wide (no project assigned, or
    a superuser). A company-wide actor may hand to any of them. A T1 cashier is not offered T2's finance."""
    from wuye.accounts.selectors import scope_project_ids
    from wuye.billing.permissions import PAYMENT_ROLES

    people = User.objects.filter(is_active=True, role__in=PAYMENT_ROLES)
    ids = scope_project_ids(actor)
    if ids is None:
        return people.order_by("username")
    shared = User.objects.filter(projects__in=ids).values("pk")
    company_wide = Q(is_superuser=True) | ~Q(pk__in=User.projects.through.objects.values("user_id"))
    return people.filter(Q(pk__in=shared) | company_wide).order_by("username")


@transaction.atomic
def handover_record(*, actor: User, cash_counted_fen: int, handed_to: User | None = None, note: str = "",
                    now: dt.datetime | None = None) -> CashierHandover:
    """交班: the acting cashier closes their shift. A difference between the cash counted and the cash the
    ledger expects (长短款) needs a note; the figures are frozen on the row and audited."""
    if not can_record_payments(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以交班。"})
    if cash_counted_fen is None or cash_counted_fen < 0:
        raise ValidationError({"cash_counted_fen": "请填写实点现金（元），没有现金填 0。"})
    if handed_to is not None and handed_to.pk == actor.pk:
        raise ValidationError({"handed_to": "接班人不能是自己。"})
    if handed_to is not None and not handover_people(actor).filter(pk=handed_to.pk).exists():
        raise ValidationError({"handed_to": "接班人须是与您同项目（或全公司）的在职财务、经理或管理员。"})
    User.objects.select_for_update().filter(pk=actor.pk).first()  # one handover at a time per cashier
    shift = shift_open(actor, now=now)
    note = note.strip()
    if cash_counted_fen != shift.cash_expected_fen and not note:
        diff = cash_counted_fen - shift.cash_expected_fen
        raise ValidationError({"note": f"实点现金与应交现金相差 {format_yuan(diff)}（{'长款' if diff > 0 else '短款'}），"
                                       "请在备注中说明。"})
    handover = CashierHandover(
        cashier=actor, shift_start=shift.start, shift_end=shift.end, payments_count=shift.count,
        total_fen=shift.total_fen, by_method=shift.by_method, cash_expected_fen=shift.cash_expected_fen,
        cash_counted_fen=cash_counted_fen, handed_to=handed_to, note=note)
    handover.full_clean(exclude=["by_method"])  # an empty shift hands over nothing by method: {} is its figure
    handover.save()
    audit_record(actor=actor, verb="billing.handover", obj=None,
                 note=f"交班：{shift.count} 笔 {format_yuan(shift.total_fen)}，应交现金 "
                      f"{format_yuan(shift.cash_expected_fen)}，实点 {format_yuan(cash_counted_fen)}",
                 after={"handover": handover.pk, "by_method": shift.by_method,
                        "cash_counted_fen": cash_counted_fen})
    return handover


# --- Excel ------------------------------------------------------------------------------------------------------

def takings_xlsx(takings: Takings) -> io.BytesIO:
    """收款日报 as a workbook: 汇总 (cashier × method), 明细 (every payment), 交班 (handovers of the day).
    Every row goes through ``safe_row`` (names and notes are typed by people)."""
    import openpyxl
    from openpyxl.styles import Font

    from wuye.common.formatting import fen_to_yuan
    from wuye.common.tabular import safe_row

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(safe_row([f"收款日报 {takings.day:%Y-%m-%d}"]))
    ws.append(["收款人/渠道", "笔数", *[METHOD_WORDS[m] + "(元)" for m in METHOD_ORDER], "合计(元)"])
    for r in takings.rows:
        ws.append(safe_row([r.name, r.count, *[fen_to_yuan(f) for f in r.cells()], fen_to_yuan(r.total_fen)]))
    ws.append(safe_row(["合计", takings.count, *[fen_to_yuan(f) for f in takings.method_totals],
                        fen_to_yuan(takings.total_fen)]))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    detail = wb.create_sheet("明细")
    detail.append(["录入时间", "收据号", "项目", "房屋", "付款人", "方式", "金额(元)", "收到现金(元)", "找零(元)",
                   "凭证号", "收款人", "备注"])
    for p in takings.payments.iterator(chunk_size=2000):
        detail.append(safe_row([
            timezone.localtime(p.created_at).replace(tzinfo=None), p.receipt_no or "冲正", p.project.name,
            p.unit.code, p.payer_name, p.get_method_display(), fen_to_yuan(p.amount_fen),
            fen_to_yuan(p.tendered_fen) if p.tendered_fen is not None else None,
            fen_to_yuan(p.change_fen) if p.change_fen is not None else None, p.reference,
            str(p.created_by) if p.created_by else who_words(p.actor_label), p.note]))
    hand = wb.create_sheet("交班")
    hand.append(["收款人", "班次开始", "班次结束", "笔数", "合计(元)", "应交现金(元)", "实点现金(元)", "长短款(元)",
                 "接班人", "备注"])
    for h in takings.handovers:
        hand.append(safe_row([
            str(h.cashier), timezone.localtime(h.shift_start).replace(tzinfo=None),
            timezone.localtime(h.shift_end).replace(tzinfo=None), h.payments_count, fen_to_yuan(h.total_fen),
            fen_to_yuan(h.cash_expected_fen), fen_to_yuan(h.cash_counted_fen), fen_to_yuan(h.difference_fen),
            str(h.handed_to or ""), h.note]))
    for sheet in (ws, detail, hand):
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if hasattr(cell.value, "as_tuple"):
                    cell.number_format = "#,##0.00"
                elif isinstance(cell.value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out
