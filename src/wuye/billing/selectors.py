"""Read queries of the billing ledger.

``account_summaries`` is the one selector the collection engine reads: per unit in arrears, set-based
(two grouped queries, no per-unit query), fast at a million units.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, Min, Q, Sum

from wuye.billing import latefee
from wuye.billing.disputes import intervals_for_units
from wuye.billing.installments import open_plan_standing
from wuye.billing.models import Adjustment, Allocation, Bill, Payment, UnitBalance
from wuye.billing.services import policy_for
from wuye.common.formatting import format_yuan
from wuye.common.lookups import Ids, int_array


@dataclass(frozen=True)
class AccountSummary:
    """One account's position as of a date: a unit and the party liable for its lines (``Bill.party``).
    A unit has one account per debtor — after a sale, the seller's unpaid periods and the buyer's are two
    accounts. Amounts in fen."""

    unit_id: int
    overdue_fen: int  # open amount of lines whose due date has passed
    open_fen: int  # all open amount, due or not
    oldest_due: dt.date | None  # due date of the oldest overdue line
    days_overdue: int  # as_of − oldest_due (0 when nothing is overdue)
    overdue_periods: int  # distinct billing periods with an overdue line
    prepaid_fen: int  # money received and not yet applied
    installment: str | None = None  # approved plan not finished: "good" (in standing) or "broken"
    next_due: dt.date | None = None  # earliest due date of open lines not yet due (pre-due reminders)
    upcoming_fen: int = 0  # open amount of lines not yet due
    project_id: int | None = None  # the unit's project (None on a row that holds only prepaid money)
    late_fee_fen: int = 0  # open 违约金 lines (charged late fees): in open_fen, never in the overdue figures
    party_id: int | None = None  # the debtor (None on a row that holds only prepaid money)

    @property
    def account(self) -> tuple[int, int | None]:
        """(unit, debtor): the key of an account."""
        return (self.unit_id, self.party_id)

    @property
    def open_installment_plan(self) -> bool:
        return self.installment is not None


def prepaid_balances(unit_ids: Iterable[int] | None = None, *, project_id: int | None = None,
                     unit_range: tuple[int | None, int | None] = (None, None)) -> dict[int, int]:
    """unit → prepaid fen (non-zero only): payments received minus what they paid (reversals included).

    Read from ``UnitBalance``, which the database keeps in step with every payment and allocation
    (decision 67); ``prepaid_from_entries`` is the same figure summed from the entries (``check_ledger``)."""
    rows = UnitBalance.objects.exclude(prepaid_fen=0)
    if unit_range[0] is not None:
        rows = rows.filter(unit_id__gte=unit_range[0])
    if unit_range[1] is not None:
        rows = rows.filter(unit_id__lt=unit_range[1])
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    if unit_ids is not None:
        rows = rows.filter(unit_id__in_ids=Ids(unit_ids))
    return dict(rows.values_list("unit_id", "prepaid_fen"))


def prepaid_from_entries(unit_ids: Iterable[int] | None = None, *, project_id: int | None = None) -> dict[int, int]:
    """``prepaid_balances`` recomputed from payments and allocations (what the cached balance must equal)."""
    pay = Payment.objects.all()
    alloc = Allocation.objects.all()
    if project_id is not None:
        pay, alloc = pay.filter(project_id=project_id), alloc.filter(payment__project_id=project_id)
    if unit_ids is not None:
        ids = list(unit_ids)
        pay, alloc = pay.filter(unit_id__in_ids=Ids(ids)), alloc.filter(payment__unit_id__in_ids=Ids(ids))
    balance: dict[int, int] = defaultdict(int)
    for unit_id, total in pay.values_list("unit_id").annotate(t=Sum("amount_fen")).values_list("unit_id", "t"):
        balance[unit_id] += total
    for unit_id, total in (alloc.values_list("payment__unit_id").annotate(t=Sum("amount_fen"))
                           .values_list("payment__unit_id", "t")):
        balance[unit_id] -= total
    return {k: v for k, v in balance.items() if v}


# One row per (unit, debtor) from the open lines, in two grouping steps (per period, then per account) so that
# counting the overdue periods needs no COUNT(DISTINCT), which forces a sort of every open line.
_SUMMARY_SQL = """
SELECT unit_id, party_id, project_id, sum(open_fen), sum(overdue_fen), min(oldest_due),
       count(*) FILTER (WHERE overdue_fen IS NOT NULL), min(next_due), sum(upcoming_fen), sum(late_fee_fen)
FROM (SELECT unit_id, party_id, project_id, period_start,
             sum(amount_fen - settled_fen) AS open_fen,
             sum(amount_fen - settled_fen) FILTER (WHERE late_fee_of_id IS NULL AND due_date < %(as_of)s)
                 AS overdue_fen,
             min(due_date) FILTER (WHERE late_fee_of_id IS NULL AND due_date < %(as_of)s) AS oldest_due,
             min(due_date) FILTER (WHERE late_fee_of_id IS NULL AND due_date >= %(as_of)s) AS next_due,
             sum(amount_fen - settled_fen) FILTER (WHERE late_fee_of_id IS NULL AND due_date >= %(as_of)s)
                 AS upcoming_fen,
             sum(amount_fen - settled_fen) FILTER (WHERE late_fee_of_id IS NOT NULL) AS late_fee_fen
      FROM billing_bill
      WHERE NOT is_void AND settled_fen < amount_fen {where}
      GROUP BY unit_id, party_id, project_id, period_start) per_period
GROUP BY unit_id, party_id, project_id {having}
ORDER BY unit_id, party_id
"""

# The planner takes the open lines from the unit_id index in unit order (it cannot estimate
# settled_fen < amount_fen and guesses a third of the table): 4 million page reads at a million units where a
# scan of the open lines takes one pass, and a JIT compile that costs more than the query. For this read only.
_SUMMARY_SETTINGS = (("enable_indexscan", "off"), ("jit", "off"))


def _summary_rows(as_of: dt.date, project_id: int | None, ids: list[int] | None,
                  only_overdue: bool, unit_range: tuple[int | None, int | None] = (None, None)) -> list[tuple]:
    sqlite = connection.vendor == "sqlite"
    where, params = "", {"as_of": as_of.isoformat() if sqlite else as_of}
    low, high = unit_range
    if low is not None:
        where += " AND unit_id >= %(low)s"
        params["low"] = low
    if high is not None:
        where += " AND unit_id < %(high)s"
        params["high"] = high
    if project_id is not None:
        where += " AND project_id = %(project)s"
        params["project"] = project_id
    if ids is not None:
        where += " AND unit_id IN (SELECT value FROM json_each(%(ids)s))" if sqlite \
            else " AND unit_id = ANY(%(ids)s::bigint[])"
        params["ids"] = json.dumps(ids) if sqlite else int_array(ids)
    having = "HAVING sum(overdue_fen) > 0" if only_overdue else ""
    sql = _SUMMARY_SQL.format(where=where, having=having)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name, _ in _SUMMARY_SETTINGS))
            before = cursor.fetchone()
            cursor.execute("SELECT " + ", ".join(f"set_config('{name}', '{value}', false)"
                                                 for name, value in _SUMMARY_SETTINGS))
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.execute("SELECT " + ", ".join(f"set_config('{name}', %s, false)"
                                                     for name, _ in _SUMMARY_SETTINGS), list(before))
        cursor.execute(sql, params)
        return cursor.fetchall()


def account_summaries(
    *, as_of: dt.date, project_id: int | None = None, unit_ids: Iterable[int] | None = None,
    only_overdue: bool = True, prepaid: bool = True, unit_range: tuple[int | None, int | None] = (None, None),
) -> Iterator[AccountSummary]:
    """Per-account arrears as of ``as_of`` — one row per unit and debtor (``Bill.party``; a unit sold with
    unpaid periods has a row for the seller and one for the buyer), ordered by unit: total overdue, oldest unpaid due date, days overdue, overdue periods,
    open amount, prepaid balance, the standing of an open installment plan, and the next due date with the
    amount not yet due (for pre-due reminders). Yields only units with
    something overdue unless ``only_overdue=False``. ``unit_range`` (low, high) keeps the units with
    low ≤ id < high (either end open as ``None``): a part of the daily run reads its own range.

    Charged late fees (违约金 lines) count in ``open_fen`` and in ``late_fee_fen`` but not in the overdue or
    upcoming figures (amount, oldest due date, days, periods): a fee charged when an owner settles the
    principal is due at once, and counting it would make someone who has just paid look like a new debtor,
    with the ladder starting over on a fee alone. The ladder works on principal; the fee stays on the
    statement, payable and waivable (dunning's notices already list principal only).

    One grouped query over the open lines (``_SUMMARY_SQL``) and the cached prepaid balances (``UnitBalance``,
    decision 67). ``prepaid=False`` leaves the prepaid balance out (``prepaid_fen`` is 0 and units holding only
    prepaid money are not yielded). ``tests/billing/test_summaries.py`` compares it with the former ORM
    computation (``account_summaries_orm``) on random ledgers.
    """
    ids = list(unit_ids) if unit_ids is not None else None
    rows = _summary_rows(as_of, project_id, ids, only_overdue, unit_range)
    prepaid = prepaid_balances(ids, project_id=project_id, unit_range=unit_range) if prepaid else {}
    plans = open_plan_standing(ids, as_of)
    seen = set()
    for unit_id, party_id, proj, open_fen, overdue_fen, oldest, periods, next_due, upcoming, late in rows:
        seen.add(unit_id)
        if isinstance(oldest, str):  # SQLite returns dates of aggregates as text
            oldest = dt.date.fromisoformat(oldest)
        if isinstance(next_due, str):
            next_due = dt.date.fromisoformat(next_due)
        yield AccountSummary(
            unit_id=unit_id, overdue_fen=int(overdue_fen or 0), open_fen=int(open_fen or 0),
            oldest_due=oldest, days_overdue=(as_of - oldest).days if oldest else 0,
            overdue_periods=periods or 0, prepaid_fen=prepaid.get(unit_id, 0),
            installment=plans.get(unit_id), next_due=next_due, upcoming_fen=int(upcoming or 0),
            project_id=proj, late_fee_fen=int(late or 0), party_id=party_id)
    if not only_overdue:
        for unit_id, fen in sorted(prepaid.items()):
            if unit_id not in seen:
                yield AccountSummary(unit_id, 0, 0, None, 0, 0, fen, plans.get(unit_id))


def account_summaries_orm(
    *, as_of: dt.date, project_id: int | None = None, unit_ids: Iterable[int] | None = None,
    only_overdue: bool = True, prepaid: bool = True,
) -> Iterator[AccountSummary]:
    """The former computation of ``account_summaries`` (ORM grouping, prepaid summed from the entries), kept
    as the reference its tests compare against."""
    bills = Bill.objects.filter(is_void=False, settled_fen__lt=F("amount_fen"))
    if project_id is not None:
        bills = bills.filter(project_id=project_id)
    ids = list(unit_ids) if unit_ids is not None else None
    if ids is not None:
        bills = bills.filter(unit_id__in_ids=Ids(ids))
    principal = Q(late_fee_of__isnull=True)
    overdue = principal & Q(due_date__lt=as_of)
    upcoming = principal & Q(due_date__gte=as_of)
    rows = (bills.values("unit_id", "party_id", "project_id")
            .annotate(open_fen=Sum(F("amount_fen") - F("settled_fen")),
                      overdue_fen=Sum(F("amount_fen") - F("settled_fen"), filter=overdue),
                      oldest_due=Min("due_date", filter=overdue),
                      periods=Count("period_start", filter=overdue, distinct=True),
                      next_due=Min("due_date", filter=upcoming),
                      upcoming_fen=Sum(F("amount_fen") - F("settled_fen"), filter=upcoming),
                      late_fee_fen=Sum(F("amount_fen") - F("settled_fen"), filter=~principal))
            .order_by("unit_id", "party_id"))
    if only_overdue:
        rows = rows.filter(overdue_fen__gt=0)
    prepaid = prepaid_from_entries(ids, project_id=project_id) if prepaid else {}
    plans = open_plan_standing(ids, as_of)
    seen = set()
    for r in rows.iterator(chunk_size=10_000):
        seen.add(r["unit_id"])
        oldest = r["oldest_due"]
        yield AccountSummary(
            unit_id=r["unit_id"], overdue_fen=r["overdue_fen"] or 0, open_fen=r["open_fen"] or 0,
            oldest_due=oldest, days_overdue=(as_of - oldest).days if oldest else 0,
            overdue_periods=r["periods"] or 0, prepaid_fen=prepaid.get(r["unit_id"], 0),
            installment=plans.get(r["unit_id"]), next_due=r["next_due"], upcoming_fen=r["upcoming_fen"] or 0,
            project_id=r["project_id"], late_fee_fen=r["late_fee_fen"] or 0, party_id=r["party_id"])
    if not only_overdue:
        for unit_id, fen in prepaid.items():
            if unit_id not in seen:
                yield AccountSummary(unit_id, 0, 0, None, 0, 0, fen, plans.get(unit_id))


@dataclass
class StatementLine:
    bill: Bill
    paid_fen: int
    adjusted_fen: int
    open_fen: int
    late_fee: latefee.LateFee | None  # accrued on this line to the statement date (never on a late-fee line)
    posted_late_fee_fen: int = 0  # already charged as 违约金 lines
    notes: str = ""  # what the adjustments on the line were (e.g. a pay-ahead discount and its offer)

    @property
    def unposted_late_fee_fen(self) -> int:
        return max(0, (self.late_fee.amount_fen if self.late_fee else 0) - self.posted_late_fee_fen)


@dataclass
class LateFeeBlock:
    """违约金 summarised once per statement: what the contract terms give to the statement date, what has been
    charged as 违约金 lines (and is still open), what is not charged yet, the court figure — and, for anyone
    who asks, each line's calculation (``details``) and the charged lines themselves (``charged``)."""

    accrued_fen: int
    charged_fen: int
    charged_open_fen: int
    uncharged_fen: int
    court_fen: int
    details: list[StatementLine]
    charged: list[StatementLine]

    def __bool__(self) -> bool:
        return bool(self.details or self.charged)


@dataclass
class Statement:
    unit_id: int
    as_of: dt.date
    lines: list[StatementLine] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    prepaid_fen: int = 0

    @property
    def billed_fen(self) -> int:
        return sum(line.bill.amount_fen for line in self.lines if not line.bill.is_void)

    @property
    def open_fen(self) -> int:
        return sum(line.open_fen for line in self.lines)

    @property
    def overdue_fen(self) -> int:
        return sum(line.open_fen for line in self.lines if line.bill.due_date < self.as_of)

    @property
    def late_fee_fen(self) -> int:
        """Late fee accrued and not yet charged (charged late fees are ordinary open lines)."""
        return sum(line.unposted_late_fee_fen for line in self.lines)

    @property
    def court_late_fee_fen(self) -> int:
        return sum(line.late_fee.court_fen for line in self.lines if line.late_fee)

    @property
    def principal_lines(self) -> list[StatementLine]:
        """The lines of fees themselves, without 违约金 lines (those are in ``late_fee_block``)."""
        return [line for line in self.lines if line.bill.late_fee_of_id is None]

    @property
    def late_fee_block(self) -> LateFeeBlock:
        details = [line for line in self.lines if line.late_fee and line.late_fee.amount_fen]
        charged = [line for line in self.lines if line.bill.late_fee_of_id is not None]
        live = [line for line in charged if not line.bill.is_void]
        return LateFeeBlock(
            accrued_fen=sum(line.late_fee.amount_fen for line in details),
            charged_fen=sum(line.bill.amount_fen for line in live), charged_open_fen=sum(x.open_fen for x in live),
            uncharged_fen=self.late_fee_fen, court_fen=self.court_late_fee_fen, details=details, charged=charged)


def statement_for_unit(unit, *, as_of: dt.date) -> Statement:
    """Everything billed, paid and adjusted for a unit, what is open, and late fees to ``as_of`` (7 queries)."""
    return statements_for_units([unit], as_of=as_of)[unit.pk]


def statements_for_units(units: Iterable, *, as_of: dt.date, payments: bool = True) -> dict[int, Statement]:
    """``statement_for_unit`` for many units at once (printed notices in batch): the same seven queries
    whatever the number of units (the seventh: disputed intervals), plus one policy read per project. Without ``payments`` the payment list
    and prepaid balance are not read (a demand needs only what is open)."""
    units = list(units)
    ids = [u.pk for u in units]
    terms: dict[int, latefee.Terms] = {}
    for u in units:
        if u.project_id not in terms:
            terms[u.project_id] = latefee.Terms.from_policy(policy_for(u.project))
    bills: dict[int, list[Bill]] = defaultdict(list)
    for bill in (Bill.objects.filter(unit_id__in_ids=ids).select_related("fee_item")
                 .order_by("unit_id", "period_start", "fee_item__sort", "id")):
        bills[bill.unit_id].append(bill)
    allocations: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for bill_id, day, fen in Allocation.objects.filter(bill__unit_id__in_ids=ids).values_list(
            "bill_id", "applied_on", "amount_fen"):
        allocations[bill_id].append((day, fen))
    adjusted: dict[int, int] = dict(
        Adjustment.objects.filter(bill__unit_id__in_ids=ids, status="approved").values_list("bill_id")
        .annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))
    disputed = intervals_for_units(ids)
    notes: dict[int, list[str]] = defaultdict(list)
    for bill_id, reason, fen in Adjustment.objects.filter(bill__unit_id__in_ids=ids, status="approved",
                                                          kind="prepay_discount").values_list("bill_id", "reason",
                                                                                              "amount_fen"):
        notes[bill_id].append(f"{reason} −{format_yuan(fen)}")
    out: dict[int, Statement] = {}
    for u in units:
        posted: dict[int, int] = defaultdict(int)
        for bill in bills[u.pk]:
            if bill.late_fee_of_id and not bill.is_void:
                posted[bill.late_fee_of_id] += bill.amount_fen
        statement = out[u.pk] = Statement(u.pk, as_of)
        for bill in bills[u.pk]:
            paid = sum(fen for _, fen in allocations.get(bill.pk, []))
            adj = adjusted.get(bill.pk, 0)
            open_fen = 0 if bill.is_void else bill.amount_fen - paid - adj
            fee = None
            if not bill.is_void and bill.due_date < as_of and bill.late_fee_of_id is None:
                fee = latefee.compute(amount_fen=bill.amount_fen - adj, due_date=bill.due_date, as_of=as_of,
                                      terms=terms[u.project_id], payments=allocations.get(bill.pk, []),
                                      disputed=disputed.get(bill.pk, ()))
            statement.lines.append(StatementLine(bill, paid, adj, open_fen, fee, posted.get(bill.pk, 0),
                                                 "；".join(notes.get(bill.pk, []))))
    if payments:
        for p in Payment.objects.filter(unit_id__in_ids=ids).order_by("paid_at", "id"):
            out[p.unit_id].payments.append(p)
        for unit_id, fen in prepaid_balances(ids).items():
            out[unit_id].prepaid_fen = fen
    return out
