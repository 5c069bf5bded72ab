"""Set-based billing history for large estates: ``seed_history_fast``.

``wuye.billing.synthetic.seed_history`` pushes every bill and payment through the services, one unit at a
time: right for the 1,500-unit demo (it exercises the real services, waivers and installment requests), far
too slow for a million units. This module writes the same kind of history with a few dozen SQL statements
(``INSERT … SELECT`` over staging tables), whatever the number of units. The same SQL runs on PostgreSQL
and SQLite; only a handful of expressions (dates, ``LEAST``/``GREATEST``, text formatting) differ.

What it writes, per project, for every billing cycle that starts in the ``months`` + 1 calendar months up
to ``as_of`` (the same window as ``seed_history``):

* the fee standards of ``setup_fee_standards`` (the same function the demo uses);
* one ``BillRun`` per period and the bill lines ``bill_generate`` would post for it: same fee items, rates
  (vacant price for vacant units), amounts rounded the same way, liable party (the owner in force on the
  first day of the cycle, else the developer), period bounds and due date, and the same ``rule`` text;
  the run and its lines are dated 08:00 on the first day of the cycle;
* payments with receipt numbers continuing each project's receipt book per year, allocated to the oldest
  open lines first (due date, period, fee item) — money paid before a line existed is applied on the day
  its run posted it, as ``prepaid_apply`` would; ``settled_fen`` holds the sum of the allocations.

No late-fee lines, waivers or installment plans: those belong to the demo generator.

Every account gets a behaviour, deterministically from the seed (integer arithmetic only, so PostgreSQL and
SQLite give the same history for the same units). Shares are per mille of occupied units:

=================  ====  ===========================================================================
on time             640  pays each cycle between the first day and the due date
forgetful           120  pays each cycle 2–25 days after the due date
late                 80  lets cycles pile up, then pays everything due in one sum, now and then
chronic              60  paid on time, then stopped 2–11 months before ``as_of``
prepaid              50  paid all cycles ahead at the start (plus one spare); one in three paid for
                         all but the last cycle and has run out
dispute              20  stopped paying 1–8 months ago over a complaint; its open lines are disputed
hardship             30  paid in full, then only half of each cycle, some cycles nothing
=================  ====  ===========================================================================

Vacant units (and units of investors): 45 % by bank direct debit on the due date, 30 % once a year in
January for the whole year ahead, 13 % in lumps like the late payers, 12 % never. Unsold units (no owner):
the developer pays what is due every half year (cycles starting in January and July).

With these shares about a fifth of the units end in arrears (a third in the days right after a due date,
when the forgetful have not paid yet; a seventh just before one), at every depth the collection ladder
knows: one cycle just missed, three to six months, more than six months, and five-figure sums on offices,
shops and villas. On PostgreSQL a million units × 12 months take about four minutes
(``bench/bench_history.py``; SQLite manages 20,000 units in six seconds).

Writing: bills, runs and payments get their ids here (``MAX(id)`` + 1 onwards, the sequences are moved
past them at the end), so allocations and cached balances are computed before a single ledger row is
written and nothing is updated afterwards. On PostgreSQL the billing tables are locked for the duration;
when they were empty their foreign keys, unique constraints and secondary indexes are dropped for the load
and re-created at the end (one validating join or one sort each instead of per-row work). Run it while
nobody else bills.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from wuye.billing.choices import Pricing
from wuye.billing.models import (
    Allocation,
    Bill,
    BillDispute,
    BillingPolicy,
    BillRun,
    FeeItem,
    Payment,
    Rate,
    ReceiptCounter,
)
from wuye.billing.services import add_months, cycle_start_months, due_date_for, period_bounds
from wuye.billing.synthetic import setup_fee_standards
from wuye.estate.choices import PropertyType
from wuye.estate.models import Project

# Above this many units ``seed_billing`` (and ``seed --months``) use this generator by default.
FAST_HISTORY_UNITS = 20_000

# Behaviour codes (stored in the staging table only).
ON_TIME, FORGETFUL, LATE, CHRONIC, PREPAID, DISPUTE, HARDSHIP = 1, 2, 3, 4, 5, 6, 7
V_DEBIT, V_YEARLY, V_LATE, V_NEVER = 11, 12, 13, 14
DEVELOPER = 20

OCCUPIED_MIX = ((ON_TIME, 640), (FORGETFUL, 120), (LATE, 80), (CHRONIC, 60), (PREPAID, 50), (DISPUTE, 20),
                (HARDSHIP, 30))
VACANT_MIX = ((V_DEBIT, 450), (V_YEARLY, 300), (V_LATE, 130), (V_NEVER, 120))
BEHAVIOUR_NAMES = {ON_TIME: "on_time", FORGETFUL: "forgetful", LATE: "late", CHRONIC: "chronic",
                   PREPAID: "prepaid", DISPUTE: "dispute", HARDSHIP: "hardship", V_DEBIT: "vacant_debit",
                   V_YEARLY: "vacant_yearly", V_LATE: "vacant_late", V_NEVER: "vacant_never",
                   DEVELOPER: "developer"}
# Days before ``as_of`` at which chronic debtors stopped, disputes began, hardship set in: (low, span).
STOP_DAYS = {CHRONIC: (60, 280), DISPUTE: (30, 220), HARDSHIP: (60, 240)}
# Payment methods by share (per cent); bank direct debit is what the vacant owners set up.
METHOD_MIX = (("wechat", 38), ("alipay", 22), ("cash", 10), ("pos", 12), ("transfer", 18))
# Largest amount per method (fen), as ``services.METHOD_LIMIT_FEN``; above it the money comes by transfer.
METHOD_CAPS = (("cash", 5_000_000), ("pos", 50_000_000), ("wechat", 20_000_000), ("alipay", 20_000_000),
               ("direct_debit", 100_000_000))

# Random numbers: r(unit, k, salt) in 0..9999 from two squarings modulo the prime 2^31 − 1. Every product
# stays below 2^62, so PostgreSQL's bigint and SQLite's integer compute the same values.
PRIME = 2_147_483_647
SALT_KIND, SALT_STOP, SALT_VARIANT, SALT_DAY, SALT_LUMP, SALT_METHOD, SALT_MINUTE = 1, 2, 3, 4, 5, 6, 7

EPOCH = dt.date(1970, 1, 1)
TEMP_TABLES = ("wuye_hist_project", "wuye_hist_period", "wuye_hist_rate", "wuye_hist_unit", "wuye_hist_owner",
               "wuye_hist_bill", "wuye_hist_acct", "wuye_hist_pay_raw", "wuye_hist_pay", "wuye_hist_alloc",
               "wuye_hist_counter")
LEDGER_TABLES = (BillRun, Bill, Payment, Allocation)


def _day(day: dt.date) -> int:
    return (day - EPOCH).days


@dataclass
class _Period:
    project_id: int
    k: int
    run_id: int
    start: dt.date
    end: dt.date
    due: dt.date
    months: int


class _Sql:
    """The few expressions that differ between PostgreSQL and SQLite, and the random-number expression."""

    def __init__(self, conn, seed: int):
        self.pg = conn.vendor == "postgresql"
        self.seed_term = (seed % PRIME) * 1_000_003 % PRIME + 12_345

    def rand(self, salt: int, unit: str, k: str = "0") -> str:
        base = f"(({self.seed_term} + {unit} * 7919 + {k} * 104729 + {salt * 15_485_863 % PRIME}) % {PRIME})"
        once = f"(({base} * {base} + 1) % {PRIME})"
        return f"((({once} * {once} + 7) % {PRIME}) % 10000)"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"MIN({a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"MAX({a}, {b})"

    def date(self, day: str) -> str:
        """A day number (days since 1970-01-01) as a date."""
        return f"(DATE '1970-01-01' + CAST({day} AS INTEGER))" if self.pg else f"date(({day}) * 86400, 'unixepoch')"

    def stamp(self, day: str, minute: str = "0") -> str:
        """Day number + minutes after 00:00 UTC (08:00 in Shanghai) as a stored timestamp."""
        seconds = f"(({day}) * 86400 + ({minute}) * 60)"
        return f"to_timestamp({seconds})" if self.pg else f"datetime({seconds}, 'unixepoch')"

    def area_text(self, column: str) -> str:
        """The unit's area as ``str(Decimal)`` gives it (two places), for the rule text."""
        return f"CAST({column} AS TEXT)" if self.pg else f"printf('%.2f', {column})"

    def area_centi(self, column: str) -> str:
        return f"CAST(ROUND({column} * 100) AS BIGINT)"

    def temp_types(self) -> dict[str, str]:
        return {"date": "DATE" if self.pg else "TEXT"}


def _execute(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.rowcount


def _scalar(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _next_id(model) -> int:
    table = connection.ops.quote_name(model._meta.db_table)
    return (_scalar(f"SELECT COALESCE(MAX(id), 0) FROM {table}") or 0) + 1


def _create_temp_tables(q: _Sql) -> None:
    date = q.temp_types()["date"]
    for name in TEMP_TABLES:
        _execute(f"DROP TABLE IF EXISTS {name}")
    ddl = {
        "wuye_hist_project": "project_id BIGINT PRIMARY KEY, developer_id BIGINT",
        "wuye_hist_period": (f"project_id BIGINT, k INTEGER, run_id BIGINT, period_start {date}, period_end {date}, "
                             f"due_date {date}, start_day INTEGER, due_day INTEGER, due_age INTEGER, "
                             "months INTEGER, span INTEGER, per_year INTEGER, half_year INTEGER, january INTEGER, "
                             "first_january INTEGER, PRIMARY KEY (project_id, k)"),
        "wuye_hist_rate": ("project_id BIGINT, k INTEGER, property_type TEXT, fee_item_id BIGINT, sort INTEGER, "
                           "per_area INTEGER, price BIGINT, vacant_price BIGINT, tail TEXT, vacant_tail TEXT"),
        "wuye_hist_unit": "unit_id BIGINT PRIMARY KEY, project_id BIGINT, kind INTEGER, stop INTEGER, variant INTEGER",
        "wuye_hist_owner": "unit_id BIGINT, k INTEGER, party_id BIGINT",
        "wuye_hist_bill": ("id BIGINT, unit_id BIGINT, project_id BIGINT, k INTEGER, fee_item_id BIGINT, "
                           "sort INTEGER, amount BIGINT, rule TEXT, party_id BIGINT"),
        "wuye_hist_acct": "unit_id BIGINT, project_id BIGINT, k INTEGER, amount BIGINT, cum BIGINT, total BIGINT",
        "wuye_hist_pay_raw": "unit_id BIGINT, project_id BIGINT, k INTEGER, day INTEGER, amount BIGINT",
        "wuye_hist_pay": ("id BIGINT, unit_id BIGINT, project_id BIGINT, k INTEGER, day INTEGER, minute INTEGER, "
                          "amount BIGINT, method TEXT, year INTEGER"),
        "wuye_hist_alloc": "payment_id BIGINT, bill_id BIGINT, amount BIGINT, day INTEGER, minute INTEGER",
        "wuye_hist_counter": "project_id BIGINT, year INTEGER, last INTEGER",
    }
    for name in TEMP_TABLES:
        _execute(f"CREATE TEMP TABLE {name} ({ddl[name]})")


def _analyze(q: _Sql, *tables: str) -> None:
    """PostgreSQL never analyses temporary tables by itself; without statistics it plans the big joins badly."""
    if q.pg:
        for table in tables:
            _execute(f"ANALYZE {table}")


# --- the plan: periods and rates, in Python (a few rows per project) ----------------------------------------

def _plan(projects: list[Project], first: dt.date, as_of: dt.date, run_base: int) -> tuple[list[_Period], list]:
    """Periods of every project in the window and, per period, the rate of each fee item for each property type."""
    months = []
    day = first
    while day <= as_of:
        months.append(day)
        day = add_months(day, 1)
    policies = {p.project_id: p for p in BillingPolicy.objects.filter(project__in=projects)}
    items: dict[int, list[FeeItem]] = {}
    for item in FeeItem.objects.filter(project__in=projects, active=True).exclude(pricing=Pricing.ENTERED):
        items.setdefault(item.project_id, []).append(item)
    rates: dict[int, list[Rate]] = {}
    for rate in Rate.objects.filter(fee_item__in=[i for group in items.values() for i in group]).order_by(
            "effective_from", "id"):
        rates.setdefault(rate.fee_item_id, []).append(rate)
    periods: list[_Period] = []
    rate_rows = []
    run_id = run_base
    for project in projects:
        policy = policies[project.pk]
        starts = set(cycle_start_months(policy))
        k = 0
        for month in months:
            if month.month not in starts:
                continue
            start, end = period_bounds(policy, month)
            periods.append(_Period(project.pk, k, run_id, start, end, due_date_for(policy, start),
                                   policy.cycle_months))
            for item in items.get(project.pk, []):
                in_force: dict[str, Rate] = {}  # property type or '' → latest rate effective by the start
                for rate in rates.get(item.pk, []):
                    if rate.effective_from <= start:
                        in_force[rate.property_type] = rate
                for ptype in PropertyType.values:
                    rate = in_force.get(ptype) or in_force.get("")
                    if rate is not None:
                        rate_rows.append(_rate_row(project.pk, k, ptype, item, rate, policy.cycle_months))
            k += 1
            run_id += 1
    return periods, rate_rows


def _rate_row(project_id: int, k: int, ptype: str, item: FeeItem, rate: Rate, months: int) -> tuple:
    """One rate as integers (1/10,000 yuan) plus the tail of the rule text ``bill_plan`` writes."""
    def tail(price, tag: str) -> str:
        if item.pricing == Pricing.PER_AREA:
            return f"m² × ¥{price.normalize():f}/m²/月{tag} × {months}个月"
        return f"¥{price.normalize():f}/户/月{tag} × {months}个月"

    vacant = rate.vacant_price
    return (project_id, k, ptype, item.pk, item.sort, 1 if item.pricing == Pricing.PER_AREA else 0,
            int(rate.price * 10_000), int(vacant * 10_000) if vacant is not None else None,
            tail(rate.price, ""), tail(vacant, "（空置）") if vacant is not None else None)


def _period_rows(periods: list[_Period], as_of: dt.date) -> list[tuple]:
    first_january: dict[int, int] = {}
    for p in periods:
        if p.start.month == 1:
            first_january.setdefault(p.project_id, p.k)
    return [(p.project_id, p.k, p.run_id, p.start, p.end, p.due, _day(p.start), _day(p.due),
             _day(as_of) - _day(p.due), p.months, p.months * 30, 12 // p.months,
             1 if p.start.month in (1, 7) else 0, 1 if p.start.month == 1 else 0,
             1 if first_january.get(p.project_id) == p.k else 0) for p in periods]


# --- the SQL steps --------------------------------------------------------------------------------------------

def _choose(r: str, mix) -> str:
    """CASE choosing a code from a (code, per mille) mix with a random number 0..9999."""
    whens, edge = [], 0
    for code, share in mix[:-1]:
        edge += share * 10
        whens.append(f"WHEN {r} < {edge} THEN {code}")
    return f"CASE {' '.join(whens)} ELSE {mix[-1][0]} END"


def _classify_units(q: _Sql) -> int:
    """wuye_hist_unit: a behaviour per unit from its owner (none: developer; investor or vacant) and a draw."""
    r_kind = q.rand(SALT_KIND, "u.id")
    stop = " ".join(f"WHEN {code} THEN {low} + {q.rand(SALT_STOP, 'x.unit_id')} % {span}"
                    for code, (low, span) in STOP_DAYS.items())
    return _execute(f"""
        INSERT INTO wuye_hist_unit (unit_id, project_id, kind, stop, variant)
        SELECT x.unit_id, x.project_id, x.kind, CASE x.kind {stop} ELSE 0 END,
               {q.rand(SALT_VARIANT, 'x.unit_id')}
        FROM (
            SELECT u.id AS unit_id, u.project_id,
                   CASE WHEN own.unit_id IS NULL THEN {DEVELOPER}
                        WHEN own.investor = 1 OR u.state = 'vacant' THEN {_choose(r_kind, VACANT_MIX)}
                        ELSE {_choose(r_kind, OCCUPIED_MIX)} END AS kind
            FROM estate_unit u
            JOIN wuye_hist_project hp ON hp.project_id = u.project_id
            LEFT JOIN (
                SELECT o.unit_id, MAX(CASE WHEN pa.is_investor THEN 1 ELSE 0 END) AS investor
                FROM estate_occupancy o
                JOIN estate_unit ou ON ou.id = o.unit_id
                JOIN wuye_hist_project op ON op.project_id = ou.project_id
                JOIN estate_party pa ON pa.id = o.party_id
                WHERE o.role = 'owner' AND o."end" IS NULL
                GROUP BY o.unit_id
            ) own ON own.unit_id = u.id
        ) x""")


def _stage_bills(q: _Sql, bill_base: int) -> int:
    """wuye_hist_bill: the lines ``bill_plan`` would draft, with their final ids."""
    vacant = "(u.state = 'vacant' AND r.vacant_price IS NOT NULL)"
    price = f"CASE WHEN {vacant} THEN r.vacant_price ELSE r.price END"
    tail = f"CASE WHEN {vacant} THEN r.vacant_tail ELSE r.tail END"
    # the owner in force on the first day of the cycle (the latest start, as ``liable_parties``)
    _execute("""
        INSERT INTO wuye_hist_owner (unit_id, k, party_id)
        SELECT unit_id, k, party_id FROM (
            SELECT o.unit_id, p.k, o.party_id,
                   ROW_NUMBER() OVER (PARTITION BY o.unit_id, p.k ORDER BY o.start DESC, o.id DESC) AS n
            FROM estate_occupancy o
            JOIN estate_unit u ON u.id = o.unit_id
            JOIN wuye_hist_period p ON p.project_id = u.project_id
            WHERE o.role = 'owner' AND o.start <= p.period_start AND (o."end" IS NULL OR o."end" >= p.period_start)
        ) x WHERE n = 1""")
    _analyze(q, "wuye_hist_owner")
    return _execute(f"""
        INSERT INTO wuye_hist_bill (id, unit_id, project_id, k, fee_item_id, sort, amount, rule, party_id)
        SELECT {bill_base - 1} + ROW_NUMBER() OVER (ORDER BY x.project_id, x.k, x.unit_id, x.sort, x.fee_item_id),
               x.unit_id, x.project_id, x.k, x.fee_item_id, x.sort, x.amount, x.rule, x.party_id
        FROM (
            SELECT u.id AS unit_id, u.project_id, p.k, r.fee_item_id, r.sort,
                   CASE WHEN r.per_area = 1
                        THEN ({q.area_centi('u.area')} * ({price}) * p.months + 5000) / 10000
                        ELSE (({price}) * p.months + 50) / 100 END AS amount,
                   CASE WHEN r.per_area = 1 THEN {q.area_text('u.area')} || ({tail}) ELSE {tail} END AS rule,
                   COALESCE(o.party_id, hp.developer_id) AS party_id
            FROM estate_unit u
            JOIN wuye_hist_project hp ON hp.project_id = u.project_id
            JOIN wuye_hist_period p ON p.project_id = u.project_id
            JOIN wuye_hist_rate r ON r.project_id = p.project_id AND r.k = p.k AND r.property_type = u.property_type
            LEFT JOIN wuye_hist_owner o ON o.unit_id = u.id AND o.k = p.k
        ) x
        WHERE x.amount > 0""")


def _stage_accounts(q: _Sql) -> int:
    """wuye_hist_acct: per unit and period the amount billed, the running total and the unit's total."""
    return _execute("""
        INSERT INTO wuye_hist_acct (unit_id, project_id, k, amount, cum, total)
        SELECT unit_id, project_id, k, SUM(amount),
               SUM(SUM(amount)) OVER (PARTITION BY unit_id ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               SUM(SUM(amount)) OVER (PARTITION BY unit_id)
        FROM wuye_hist_bill
        GROUP BY unit_id, project_id, k""")


def _stage_payments(q: _Sql, as_of_day: int) -> int:
    """wuye_hist_pay_raw: who pays what on which day, per behaviour. At most one payment per unit and period."""
    r_day = q.rand(SALT_DAY, "a.unit_id", "a.k")
    r_lump = q.rand(SALT_LUMP, "a.unit_id", "a.k")
    src = """FROM wuye_hist_acct a
             JOIN wuye_hist_unit hu ON hu.unit_id = a.unit_id
             JOIN wuye_hist_period p ON p.project_id = a.project_id AND p.k = a.k"""
    insert = "INSERT INTO wuye_hist_pay_raw (unit_id, project_id, k, day, amount)"
    stopped = f"hu.kind IN ({CHRONIC}, {DISPUTE}, {HARDSHIP})"
    rows = 0
    # 1. a cycle's bill paid in full: on time, forgetful, by direct debit, and the later debtors before they stopped
    rows += _execute(f"""{insert}
        SELECT unit_id, project_id, k, day, amount FROM (
            SELECT a.unit_id, a.project_id, a.k, a.amount,
                   CASE hu.kind WHEN {ON_TIME} THEN p.start_day + {r_day} % (p.due_day - p.start_day + 1)
                                WHEN {V_DEBIT} THEN p.due_day
                                WHEN {FORGETFUL} THEN p.due_day + 2 + {r_day} % 24
                                ELSE p.due_day - 7 + {r_day} % 30 END AS day
            {src}
            WHERE hu.kind IN ({ON_TIME}, {V_DEBIT}, {FORGETFUL}) OR ({stopped} AND p.due_age > hu.stop)
        ) x WHERE day < {as_of_day}""")
    # 2. hardship: half of a cycle's bill, well after the due date, and in three cycles out of ten nothing
    rows += _execute(f"""{insert}
        SELECT unit_id, project_id, k, day, amount FROM (
            SELECT a.unit_id, a.project_id, a.k, a.amount / 2 AS amount, p.due_day + 10 + {r_day} % 50 AS day
            {src}
            WHERE hu.kind = {HARDSHIP} AND p.due_age <= hu.stop AND {r_lump} < 7000
        ) x WHERE day < {as_of_day} AND amount > 0""")
    # 3. lumps: everything billed since the previous lump, some weeks after a due date. Late payers pick the
    #    cycles at random, the developer pays in the cycles starting in January and July.
    rows += _execute(f"""{insert}
        SELECT unit_id, project_id, k, day,
               cum - COALESCE(LAG(cum) OVER (PARTITION BY unit_id ORDER BY k), 0) FROM (
            SELECT a.unit_id, a.project_id, a.k, a.cum,
                   CASE WHEN hu.kind = {DEVELOPER} THEN p.due_day + 20 + {r_day} % 60
                        ELSE p.due_day + 5 + {r_day} % (p.span - 10) END AS day
            {src}
            WHERE (hu.kind IN ({LATE}, {V_LATE}) AND {r_lump} < CASE WHEN p.months = 1 THEN 3500 ELSE 5000 END)
               OR (hu.kind = {DEVELOPER} AND p.half_year = 1)
        ) x WHERE day < {as_of_day}""")
    # 4. vacant owners paying yearly: in January the whole year ahead (the first time also what is open)
    rows += _execute(f"""{insert}
        SELECT unit_id, project_id, k, day, amount FROM (
            SELECT a.unit_id, a.project_id, a.k, p.start_day + {r_day} % 40 AS day,
                   a.amount * p.per_year + CASE WHEN p.first_january = 1 THEN a.cum - a.amount ELSE 0 END AS amount
            {src}
            WHERE hu.kind = {V_YEARLY} AND p.january = 1
        ) x WHERE day < {as_of_day}""")
    # 5. prepaid, before the first cycle: every cycle and one more, or (one in three) one cycle short
    rows += _execute(f"""{insert}
        SELECT unit_id, project_id, k, day, amount FROM (
            SELECT a.unit_id, a.project_id, a.k, p.start_day - 1 - {r_day} % 20 AS day,
                   a.total + CASE WHEN hu.variant < 6700 THEN a.amount ELSE -a.amount END AS amount
            {src}
            WHERE hu.kind = {PREPAID} AND a.k = 0
        ) x WHERE day < {as_of_day} AND amount > 0""")
    return rows


def _number_payments(q: _Sql, pay_base: int, first: dt.date, as_of: dt.date) -> int:
    """wuye_hist_pay: payments in time order with their final ids, method, minute and receipt year."""
    r_method = q.rand(SALT_METHOD, "x.unit_id", "x.k")
    r_minute = q.rand(SALT_MINUTE, "x.unit_id", "x.k")
    whens, edge = [], 0
    for method, share in METHOD_MIX[:-1]:
        edge += share * 100
        whens.append(f"WHEN {r_method} < {edge} THEN '{method}'")
    drawn = f"CASE WHEN hu.kind = {V_DEBIT} THEN 'direct_debit' {' '.join(whens)} ELSE '{METHOD_MIX[-1][0]}' END"
    capped = "CASE " + " ".join(f"WHEN y.method = '{m}' AND y.amount > {cap} THEN 'transfer'"
                                for m, cap in METHOD_CAPS) + " ELSE y.method END"
    years = range(as_of.year, first.year - 2, -1)
    year = "CASE " + " ".join(f"WHEN y.day >= {_day(dt.date(y, 1, 1))} THEN {y}" for y in years) + \
           f" ELSE {first.year - 2} END"
    return _execute(f"""
        INSERT INTO wuye_hist_pay (id, unit_id, project_id, k, day, minute, amount, method, year)
        SELECT {pay_base - 1} + ROW_NUMBER() OVER (ORDER BY y.day, y.minute, y.unit_id, y.k),
               y.unit_id, y.project_id, y.k, y.day, y.minute, y.amount, {capped}, {year}
        FROM (
            SELECT x.unit_id, x.project_id, x.k, x.day, x.amount, 60 + {r_minute} % 540 AS minute,
                   {drawn} AS method
            FROM wuye_hist_pay_raw x JOIN wuye_hist_unit hu ON hu.unit_id = x.unit_id
        ) y""")


def _allocate(q: _Sql) -> int:
    """wuye_hist_alloc: each unit's payments (in time order) matched to its lines (oldest first), as
    ``payment_record`` and ``prepaid_apply`` would do them one by one: the k-th fen paid settles the k-th fen
    billed. Money that arrived before its line was posted is applied on the day of the run."""
    frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    return _execute(f"""
        INSERT INTO wuye_hist_alloc (payment_id, bill_id, amount, day, minute)
        SELECT q.id, b.id,
               {q.least('q.hi', 'b.hi')} - {q.greatest('q.hi - q.amount', 'b.hi - b.amount')},
               {q.greatest('q.day', 'b.run_day')},
               CASE WHEN b.run_day > q.day THEN 0 ELSE q.minute END
        FROM (
            SELECT hb.id, hb.unit_id, hb.amount, p.start_day AS run_day,
                   SUM(hb.amount) OVER (PARTITION BY hb.unit_id ORDER BY p.due_day, hb.k, hb.sort, hb.id {frame}) AS hi
            FROM wuye_hist_bill hb JOIN wuye_hist_period p ON p.project_id = hb.project_id AND p.k = hb.k
        ) b
        JOIN (
            SELECT id, unit_id, amount, day, minute,
                   SUM(amount) OVER (PARTITION BY unit_id ORDER BY id {frame}) AS hi
            FROM wuye_hist_pay
        ) q ON q.unit_id = b.unit_id AND q.hi - q.amount < b.hi AND b.hi - b.amount < q.hi""")


def _write_ledger(q: _Sql, as_of_day: int, seed: int) -> dict[str, int]:
    """Runs, bills (with their settled amount and dispute date), payments and allocations."""
    counts = {}
    counts["runs"] = _execute(f"""
        INSERT INTO billing_billrun (id, project_id, period, created_at, created_by_id, actor_label, bills_created,
                                     amount_fen, reversed_at, reversed_by_id, reversal_reason)
        SELECT p.run_id, p.project_id, p.period_start, {q.stamp('p.start_day')}, NULL, 'seed', b.n, b.total,
               NULL, NULL, ''
        FROM wuye_hist_period p
        JOIN (SELECT project_id, k, COUNT(*) AS n, SUM(amount) AS total FROM wuye_hist_bill
              GROUP BY project_id, k) b ON b.project_id = p.project_id AND b.k = p.k""")
    settled = "COALESCE(s.settled, 0)"
    counts["bills"] = _execute(f"""
        INSERT INTO billing_bill (id, project_id, unit_id, party_id, fee_item_id, run_id, period_start, period_end,
                                  amount_fen, due_date, rule, reissue_of_id, late_fee_of_id, disputed_since,
                                  settled_fen, is_void, created_at)
        SELECT hb.id, hb.project_id, hb.unit_id, hb.party_id, hb.fee_item_id, p.run_id, p.period_start,
               p.period_end, hb.amount, p.due_date, hb.rule, NULL, NULL,
               CASE WHEN hu.kind = {DISPUTE} AND {settled} < hb.amount THEN {q.date(f'{as_of_day} - hu.stop')} END,
               {settled}, FALSE, {q.stamp('p.start_day')}
        FROM wuye_hist_bill hb
        JOIN wuye_hist_period p ON p.project_id = hb.project_id AND p.k = hb.k
        JOIN wuye_hist_unit hu ON hu.unit_id = hb.unit_id
        LEFT JOIN (SELECT bill_id, SUM(amount) AS settled FROM wuye_hist_alloc GROUP BY bill_id) s
               ON s.bill_id = hb.id""")
    number = "COALESCE(c.last, 0) + ROW_NUMBER() OVER (PARTITION BY hp.project_id, hp.year ORDER BY hp.id)"
    counts["payments"] = _execute(f"""
        INSERT INTO billing_payment (id, project_id, unit_id, payer_name, amount_fen, method, paid_at, reference,
                                     receipt_no, note, reverses_id, created_at, created_by_id, actor_label)
        SELECT hp.id, hp.project_id, hp.unit_id, '', hp.amount, hp.method, {q.stamp('hp.day', 'hp.minute')},
               CASE WHEN hp.method IN ('cash', 'pos') THEN ''
                    ELSE 'H{int(seed)}-' || CAST(hp.unit_id AS TEXT) || '-' || CAST(hp.k AS TEXT) END,
               pr.code || '-' || CAST(hp.year AS TEXT) || '-' ||
                   CASE WHEN {number} < 1000000 THEN SUBSTR(CAST(1000000 + {number} AS TEXT), 2)
                        ELSE CAST({number} AS TEXT) END,
               '', NULL, {q.stamp('hp.day', 'hp.minute')}, NULL, 'seed'
        FROM wuye_hist_pay hp
        JOIN estate_project pr ON pr.id = hp.project_id
        LEFT JOIN wuye_hist_counter c ON c.project_id = hp.project_id AND c.year = hp.year""")
    counts["allocations"] = _execute(f"""
        INSERT INTO billing_allocation (payment_id, bill_id, amount_fen, applied_on, created_at)
        SELECT payment_id, bill_id, amount, {q.date('day')}, {q.stamp('day', 'minute')} FROM wuye_hist_alloc""")
    return counts


def _write_dispute_intervals(projects: list[Project]) -> int:
    """The disputed days of the lines just written (decision 194): one open interval per disputed line from its
    ``disputed_since``, in one ``INSERT … SELECT``. Returns how many lines are disputed."""
    qn = connection.ops.quote_name
    ids = ", ".join(str(int(p.pk)) for p in projects)
    return _execute(f"""
        INSERT INTO {qn(BillDispute._meta.db_table)} (bill_id, dispute_ref, starts_on, ends_on, created_at)
        SELECT b.id, NULL, b.disputed_since, NULL, b.created_at FROM {qn(Bill._meta.db_table)} b
        WHERE b.project_id IN ({ids}) AND b.disputed_since IS NOT NULL""")


def _update_receipt_counters() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT project_id, year, COUNT(*) FROM wuye_hist_pay GROUP BY project_id, year")
        used = cursor.fetchall()
    existing = {(c.project_id, c.year): c for c in ReceiptCounter.objects.filter(
        project_id__in={p for p, _, _ in used})}
    new, changed = [], []
    for project_id, year, n in used:
        counter = existing.get((project_id, year))
        if counter is None:
            new.append(ReceiptCounter(project_id=project_id, year=year, last=n))
        else:
            counter.last += n
            changed.append(counter)
    ReceiptCounter.objects.bulk_create(new, batch_size=2000)
    ReceiptCounter.objects.bulk_update(changed, ["last"], batch_size=2000)


# --- PostgreSQL bulk-load mode ---------------------------------------------------------------------------------

class _LoadMode:
    """On PostgreSQL: lock the ledger tables; when they are empty, drop their foreign keys, unique constraints and
    secondary indexes for the load and restore them from their own definitions afterwards (which checks every
    row at once: a duplicate or a dangling key still rolls everything back)."""

    def __init__(self, q: _Sql):
        self.q = q
        self.tables = [m._meta.db_table for m in LEDGER_TABLES]
        self.keys: list[tuple[str, str, str]] = []
        self.indexes: list[tuple[str, str]] = []

    def begin(self) -> bool:
        if not self.q.pg:
            return False
        qn = connection.ops.quote_name
        _execute(f"LOCK TABLE {', '.join(qn(t) for t in self.tables)} IN EXCLUSIVE MODE")
        _execute("SET LOCAL work_mem = '1GB'")  # the sorts and hashes of a million units fit in memory
        _execute("SET LOCAL maintenance_work_mem = '512MB'")
        if _scalar(f"SELECT EXISTS (SELECT 1 FROM {qn(Bill._meta.db_table)})"):
            return False
        # Dropping a foreign key needs the referenced table free of pending (deferred) checks, e.g. from units
        # inserted earlier in this transaction: run those checks now. Django's keys are all initially deferred.
        _execute("SET CONSTRAINTS ALL IMMEDIATE")
        _execute("SET CONSTRAINTS ALL DEFERRED")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype IN ('f', 'u') AND conrelid = ANY(%s::regclass[]) ORDER BY contype DESC, 1, 2",
                [self.tables])  # unique constraints first: they are restored before the foreign keys
            self.keys = cursor.fetchall()
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT EXISTS ("
                "  SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1", [self.tables])
            self.indexes = cursor.fetchall()
            for table, name, _definition in reversed(self.keys):
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
            for name, _definition in self.indexes:
                cursor.execute(f"DROP INDEX {name}")
        return True

    def end(self) -> None:
        if not self.q.pg:
            return
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            for _name, definition in self.indexes:
                cursor.execute(definition)
            for table, name, definition in self.keys:
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}")
            for model in (BillRun, Bill, Payment):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                               f"(SELECT COALESCE(MAX(id), 1) FROM {qn(table)}))", [table])
            cursor.execute(f"ANALYZE {', '.join(qn(t) for t in self.tables)}")
        self.keys, self.indexes = [], []


# --- entry point -----------------------------------------------------------------------------------------------

def seed_history_fast(
    *, projects: list[Project], months: int, seed: int, as_of: dt.date | None = None, stdout=None,
) -> dict:
    """Bill ``months`` months up to ``as_of`` (default today) for ``projects`` and simulate how each account
    pays, set-based. Projects that already have bills are left alone (listed as ``projects_skipped``).
    Returns counts of what was written."""
    from wuye.accounts.services import audit_record

    started = time.perf_counter()
    lap = [started]

    def say(text: str) -> None:
        if stdout is not None:
            now = time.perf_counter()
            stdout.write(f"  {text}（{now - lap[0]:.1f} 秒）\n")
            lap[0] = now

    as_of = as_of or timezone.localdate()
    first = add_months(as_of.replace(day=1), -months)
    as_of_day = _day(as_of)
    billed = set(Bill.objects.filter(project__in=projects).values_list("project_id", flat=True).distinct())
    todo = [p for p in projects if p.pk not in billed]
    counts: dict[str, int] = {"projects": len(todo), "projects_skipped": len(projects) - len(todo)}
    if not todo:
        return counts
    q = _Sql(connection, seed)
    with transaction.atomic():
        for project in todo:
            setup_fee_standards(project, since=first)
        say(f"收费标准：{len(todo)} 个项目")
        load = _LoadMode(q)
        loading = load.begin()
        periods, rate_rows = _plan(todo, first, as_of, _next_id(BillRun))
        _create_temp_tables(q)
        _insert_staging("wuye_hist_project", ["project_id", "developer_id"], [(p.pk, p.developer_id) for p in todo])
        _insert_staging("wuye_hist_period", ["project_id", "k", "run_id", "period_start", "period_end", "due_date",
                                             "start_day", "due_day", "due_age", "months", "span", "per_year",
                                             "half_year", "january", "first_january"], _period_rows(periods, as_of))
        _insert_staging("wuye_hist_rate", ["project_id", "k", "property_type", "fee_item_id", "sort", "per_area",
                                           "price", "vacant_price", "tail", "vacant_tail"], rate_rows)
        _analyze(q, "wuye_hist_project", "wuye_hist_period", "wuye_hist_rate")
        counts["units"] = _classify_units(q)
        _analyze(q, "wuye_hist_unit")
        say(f"账户行为：{counts['units']:,} 套房屋，{len(periods):,} 个账期")
        staged = _stage_bills(q, _next_id(Bill))
        _analyze(q, "wuye_hist_bill")
        orphans = _scalar("SELECT COUNT(DISTINCT unit_id) FROM wuye_hist_bill WHERE party_id IS NULL")
        if orphans:
            raise ValidationError({"project": f"{orphans} 套房屋没有业主，项目也未登记开发商，无法出账。"})
        say(f"账单行：{staged:,}")
        _stage_accounts(q)
        _analyze(q, "wuye_hist_acct")
        _stage_payments(q, as_of_day)
        _analyze(q, "wuye_hist_pay_raw")
        _insert_staging("wuye_hist_counter", ["project_id", "year", "last"], ReceiptCounter.objects.filter(
            project__in=todo).values_list("project_id", "year", "last"))
        _number_payments(q, _next_id(Payment), first, as_of)
        _analyze(q, "wuye_hist_pay", "wuye_hist_counter")
        say("收款")
        _allocate(q)
        _analyze(q, "wuye_hist_alloc")
        say("核销")
        counts.update(_write_ledger(q, as_of_day, seed))
        _update_receipt_counters()
        say("写入出账批次、账单、收款、核销")
        counts["disputed_lines"] = _write_dispute_intervals(todo)
        for name in TEMP_TABLES:
            _execute(f"DROP TABLE IF EXISTS {name}")
        load.end()
        if loading:
            say("重建索引、校验外键")
        audit_record(actor=None, actor_label="seed", verb="billing.seed_history",
                     after={**counts, "months": months, "as_of": as_of.isoformat(), "fast": True},
                     note=f"模拟出账与收款历史（集合式）：种子 {seed}，{months} 个月至 {as_of}")
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def _insert_staging(table: str, columns: list[str], rows) -> int:
    """Insert plain tuples into a staging table (``common.bulk.insert_rows`` works on models)."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    rows = list(rows)
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {qn(table)} ({cols}) VALUES ({marks})",
                               [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row) for row in rows])
    return len(rows)
