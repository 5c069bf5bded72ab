"""Limitation clocks for many lines at once: a fixed number of grouped reads, then the pure ``limitation.compute``
per line (no query per line).

Reads, each over the lines in scope:
1. the open, matured principal lines (``Bill``: unit, party, period, due date) — or the given bill ids;
2. delivered written demands: ``dunning.Action`` rows delivered (``delivered_at``) on a written channel, one
   row per (unit[, party], period named, channel, local day) — exploded from ``Action.periods`` in SQL
   (``jsonb_array_elements_text`` on PostgreSQL, ``json_each`` on SQLite);
3. partial payments: allocations of money not reversed, per (line, day);
4. promises to pay (casework ``Promise``) not withdrawn, per (unit, party, day);
5. installment plans approved, with the party liable on the day of approval;
6. the legal cases claiming the lines: 律师函 delivered, mediation, 支付令 and lawsuit filings, the end of a
   proceeding.
A demand names periods, not lines: it interrupts every line of that unit and period — of its addressee where
the action records one (``Action.party``), else of whoever owes the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import F, Q

from wuye.billing.models import Allocation, Bill, InstallmentPlan, Payment
from wuye.casework.models import Promise
from wuye.common.lookups import Ids, int_array
from wuye.dunning.calendar import Calendar
from wuye.dunning.choices import ActionStatus, Channel
from wuye.dunning.models import Action
from wuye.estate.selectors import liable_party_ids
from wuye.legal import limitation
from wuye.legal.choices import EVENT_INTERRUPTS, Event, Interruption
from wuye.legal.limitation import Clock, Expiries
from wuye.legal.limitation import Event as ClockEvent

TZ = ZoneInfo("Asia/Shanghai")
# written demands and what their delivery is (calls, visits, referrals and escalations are not demands)
DEMAND_KIND = {Channel.SMS: Interruption.MESSAGE, Channel.WECHAT: Interruption.MESSAGE,
               Channel.EMAIL: Interruption.MESSAGE, Channel.REGISTERED: Interruption.LETTER,
               Channel.NOTICE: Interruption.NOTICE}
FILINGS = (Event.MEDIATION_REQUESTED, Event.PAYMENT_ORDER_FILED, Event.LAWSUIT_FILED)
PROCEEDING_ENDS = (Event.MEDIATION_ENDED, Event.PAYMENT_ORDER_VOID, Event.CLOSED)


def action_has_party() -> bool:
    """Whether the outbox records the debtor of each action (``Action.party``, added with per-party accounts)."""
    return any(f.name == "party" for f in Action._meta.concrete_fields)


@dataclass(slots=True)
class LineClock:
    bill_id: int
    unit_id: int
    party_id: int
    project_id: int
    period_start: dt.date
    due_date: dt.date
    open_fen: int
    clock: Clock

    @property
    def expiry(self) -> dt.date:
        return self.clock.expiry

    def state(self, as_of: dt.date, warn_days: int = 90) -> str:
        return self.clock.state(as_of, warn_days)


@dataclass(frozen=True)
class Scope:
    as_of: dt.date
    project_id: int | None = None
    unit_ids: tuple[int, ...] | None = None
    party_id: int | None = None
    bill_ids: tuple[int, ...] | None = None
    due_before: dt.date | None = None

    def bill_q(self, prefix: str = "") -> Q:
        q = Q(**{f"{prefix}is_void": False, f"{prefix}late_fee_of__isnull": True})
        if self.bill_ids is not None:
            return q & Q(**{f"{prefix}pk__in_ids": Ids(self.bill_ids)})
        q &= Q(**{f"{prefix}settled_fen__lt": F(f"{prefix}amount_fen"),
                  f"{prefix}due_date__lt": min(self.as_of, self.due_before or self.as_of)})
        if self.due_before is not None:
            # the same bound on the period (a line falls due within its period, or a year before at most), so a
            # project's read walks the (project, period) index over old periods only instead of all its bills
            q &= Q(**{f"{prefix}period_start__lt": self.due_before + dt.timedelta(days=366)})
        if self.project_id is not None:
            q &= Q(**{f"{prefix}project_id": self.project_id})
        if self.unit_ids is not None:
            q &= Q(**{f"{prefix}unit_id__in_ids": Ids(self.unit_ids)})
        if self.party_id is not None:
            q &= Q(**{f"{prefix}party_id": self.party_id})
        return q


def limitation_clocks(*, as_of: dt.date, project_id: int | None = None, unit_ids=None, party_id: int | None = None,
                      bill_ids=None, detail: bool = False, cal: Calendar | None = None,
                      due_before: dt.date | None = None) -> list[LineClock]:
    """The clock of every open, matured principal line in scope (or of the lines ``bill_ids``, open or not).
    ``detail`` keeps a reference on each event (which action, payment, promise, case) for pages and the
    evidence pack; without it the reads are grouped as far as the rules allow (the whole estate).
    ``due_before`` limits the lines to those due before that day: interruptions only move an expiry later,
    so a question about clocks running out by a date concerns only lines due three years before it."""
    scope = Scope(as_of, project_id, tuple(unit_ids) if unit_ids is not None else None, party_id,
                  tuple(bill_ids) if bill_ids is not None else None, due_before)
    if scope.unit_ids is not None or scope.bill_ids is not None or scope.due_before is not None:
        return _clocks(scope, detail, cal)  # index lookups: nothing for the JIT to compile
    with _no_jit():
        return _clocks(scope, detail, cal)


@contextmanager
def _no_jit():
    """PostgreSQL's JIT compiles these plain scans for seconds before running them (its cost estimate sees
    millions of rows); off for the duration of the reads."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET jit")


def _clocks(scope: Scope, detail: bool, cal: Calendar | None) -> list[LineClock]:
    as_of = scope.as_of
    lines = list(Bill.objects.filter(scope.bill_q()).values_list(
        "pk", "unit_id", "party_id", "project_id", "period_start", "due_date", "amount_fen", "settled_fen").order_by())
    if not lines:
        return []
    if scope.bill_ids is not None or scope.party_id is not None or (
            scope.due_before is not None and len({row[1] for row in lines}) <= 50_000):
        # events are read by the units of these lines
        scope = Scope(as_of, None, tuple(sorted({row[1] for row in lines})), None, scope.bill_ids)
    demands = _demands(scope, detail, _unaccepted(scope) if detail else ())
    payments = _payments([row[0] for row in lines if row[7] > 0], detail)
    promises = _promises(scope, detail)
    plans = _plans(scope, detail)
    legal = _legal(scope, [row[0] for row in lines], detail)
    # when each line was billed matters only against an installment plan (the plan covers what was billed)
    created = dict(Bill.objects.filter(pk__in_ids=[row[0] for row in lines if row[1] in plans])
                   .values_list("pk", "created_at")) if plans else {}
    expiries = Expiries(cal)
    with_party = action_has_party()
    out = []
    memo: dict[tuple, Clock] = {}
    empty: tuple = ()
    for pk, unit_id, party_id, project_id_, period, due, amount, settled in lines:
        if due >= as_of and scope.bill_ids is None:
            continue
        events: list[ClockEvent] = []
        events.extend(demands.get((unit_id, period, None), empty))
        if with_party:
            events.extend(demands.get((unit_id, period, party_id), empty))
        events.extend(payments.get(pk, empty))
        events.extend(promises.get((unit_id, party_id), empty))
        events.extend(promises.get((unit_id, None), empty))
        for decided_at, plan_party, ev in plans.get(unit_id, empty):
            if created[pk] <= decided_at and plan_party in (party_id, None):
                events.append(ev)
        events.extend(legal.get(pk, empty))
        # lines due the same day with the same events have the same clock: computed once, shared (read-only)
        key = (due, tuple(events))
        clock = memo.get(key)
        if clock is None:
            clock = memo[key] = limitation.compute(due_date=due, events=events, expiries=expiries)
        out.append(LineClock(pk, unit_id, party_id, project_id_, period, due, amount - settled, clock))
    return out


def _local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(TZ).date()


def _unaccepted(scope: Scope) -> list[int]:
    """Delivered notices and letters signed by someone who does not count (decision 160): left out."""
    from wuye.legal.signers import unaccepted_deliveries

    return sorted(unaccepted_deliveries(project_id=scope.project_id, unit_ids=scope.unit_ids))


def _demands(scope: Scope, detail: bool, unaccepted: list[int] = ()) -> dict[tuple, list[ClockEvent]]:
    """(unit, period, party or None) → delivered written demands naming that period, leaving out a notice or
    letter signed for by someone who could not receive it for the debtor (decisions 131 and 160): ``unaccepted``
    on the detailed read, the same rule in SQL on the grouped one."""
    out: dict[tuple, list[ClockEvent]] = defaultdict(list)
    with_party = action_has_party()
    if detail:
        qs = Action.objects.filter(status=ActionStatus.DELIVERED, delivered_at__isnull=False,
                                   channel__in=list(DEMAND_KIND))
        qs = _scope_units(qs, scope)
        if unaccepted:
            qs = qs.exclude(pk__in_ids=Ids(list(unaccepted)))
        cols = ["pk", "unit_id", "periods", "channel", "delivered_at"] + (["party_id"] if with_party else [])
        for row in qs.values_list(*cols):
            pk, unit_id, periods, channel, at = row[:5]
            party = row[5] if with_party else None
            ev = ClockEvent(_local_day(at), DEMAND_KIND[channel], f"催缴动作 #{pk} {Channel(channel).label}")
            for p in periods or []:
                out[(unit_id, dt.date.fromisoformat(p), party)].append(ev)
        return out
    table = Action._meta.db_table
    party_col = "a.party_id" if with_party else "NULL"
    where = ["a.status = %s", "a.delivered_at IS NOT NULL"]
    params: list = [ActionStatus.DELIVERED]
    channels = list(DEMAND_KIND)
    where.append(f"a.channel IN ({', '.join(['%s'] * len(channels))})")
    params += channels
    if scope.project_id is not None:
        where.append("a.project_id = %s")
        params.append(scope.project_id)
    pg = connection.vendor == "postgresql"
    if scope.unit_ids is not None:
        if pg:
            where.append("a.unit_id = ANY(%s::bigint[])")
            params.append(int_array(scope.unit_ids))
        else:
            where.append("a.unit_id IN (SELECT value FROM json_each(%s))")
            import json

            params.append(json.dumps(list(scope.unit_ids)))
    # a notice signed for by someone who could not receive it for the debtor (decision 160)
    from wuye.legal.signers import unaccepted_sql

    signer_sql, signer_params = unaccepted_sql("a")
    where.append(f"NOT {signer_sql}")
    params += signer_params
    if pg:
        sql = (f"SELECT a.unit_id, {party_col}, p.value, a.channel, (a.delivered_at AT TIME ZONE 'Asia/Shanghai')::date "
               f"FROM {table} a CROSS JOIN LATERAL jsonb_array_elements_text("
               f"CASE WHEN jsonb_typeof(a.periods) = 'array' THEN a.periods ELSE '[]'::jsonb END) AS p(value) "
               f"WHERE {' AND '.join(where)} GROUP BY 1, 2, 3, 4, 5")
    else:
        sql = (f"SELECT a.unit_id, {party_col}, p.value, a.channel, date(a.delivered_at, '+8 hours') "
               f"FROM {table} a, json_each(a.periods) p WHERE {' AND '.join(where)} GROUP BY 1, 2, 3, 4, 5")
    cache: dict[tuple, ClockEvent] = {}
    periods: dict[str, dt.date] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(20_000):
            for unit_id, party, period, channel, day in rows:
                if isinstance(day, str):
                    day = dt.date.fromisoformat(day)
                key = (day, channel)
                ev = cache.get(key)
                if ev is None:
                    ev = cache[key] = ClockEvent(day, DEMAND_KIND[channel])
                start = periods.get(period)
                if start is None:
                    start = periods[period] = dt.date.fromisoformat(period)
                out[(unit_id, start, party)].append(ev)
    return out


def _scope_units(qs, scope: Scope, prefix: str = ""):
    if scope.project_id is not None:
        qs = qs.filter(**{f"{prefix}project_id": scope.project_id})
    if scope.unit_ids is not None:
        qs = qs.filter(**{f"{prefix}unit_id__in_ids": Ids(scope.unit_ids)})
    return qs


def _payments(paid_ids: list[int], detail: bool) -> dict[int, list[ClockEvent]]:
    """line → the days money was applied to it (payments not reversed). Only lines partly settled can have
    one (a reversed payment takes its allocation back), so the read is by those lines' ids (an index lookup)."""
    if not paid_ids:
        return {}
    cols = ("bill_id", "applied_on", "payment_id") + (("payment__receipt_no",) if detail else ())
    rows = list(Allocation.objects.filter(bill_id__in_ids=paid_ids, amount_fen__gt=0).values_list(*cols).order_by())
    reversed_ = set(Payment.objects.filter(reverses_id__in_ids=sorted({r[2] for r in rows}))
                    .values_list("reverses_id", flat=True)) if rows else set()
    out: dict[int, list[ClockEvent]] = defaultdict(list)
    cache: dict[dt.date, ClockEvent] = {}
    seen: set[tuple[int, dt.date]] = set()
    for row in rows:
        bill_id, day, pid = row[:3]
        if pid in reversed_:
            continue
        if detail:
            out[bill_id].append(ClockEvent(day, Interruption.PAYMENT, f"收款 {row[3] or '#' + str(pid)}"))
            continue
        if (bill_id, day) in seen:
            continue
        seen.add((bill_id, day))
        ev = cache.get(day)
        if ev is None:
            ev = cache[day] = ClockEvent(day, Interruption.PAYMENT)
        out[bill_id].append(ev)
    return out


def _promises(scope: Scope, detail: bool) -> dict[tuple, list[ClockEvent]]:
    """(unit, party) → promises to pay made (a withdrawn promise — a corrected record — is not one)."""
    qs = Promise.objects.filter(Q(hold__released_on__isnull=True) | ~Q(hold__outcome=""))
    qs = _scope_units(qs, scope)
    out: dict[tuple, list[ClockEvent]] = defaultdict(list)
    for pk, unit_id, party_id, made_on in qs.values_list("pk", "unit_id", "party_id", "made_on").order_by():
        out[(unit_id, party_id)].append(ClockEvent(made_on, Interruption.PROMISE, f"承诺 #{pk}" if detail else ""))
    return out


def _plans(scope: Scope, detail: bool) -> dict[int, list[tuple]]:
    """unit → (approved at, party liable that day, event) of approved installment plans."""
    qs = InstallmentPlan.objects.filter(status__in=[InstallmentPlan.Status.ACTIVE, InstallmentPlan.Status.BROKEN,
                                                    InstallmentPlan.Status.COMPLETED], decided_at__isnull=False)
    qs = _scope_units(qs, scope)
    rows = list(qs.values_list("pk", "unit_id", "decided_at").order_by())
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for _pk, unit_id, decided_at in rows:
        by_day[_local_day(decided_at)].append(unit_id)
    liable = {day: liable_party_ids(sorted(set(units)), day) for day, units in by_day.items()}
    out: dict[int, list[tuple]] = defaultdict(list)
    for pk, unit_id, decided_at in rows:
        day = _local_day(decided_at)
        ev = ClockEvent(day, Interruption.INSTALLMENT, f"分期计划 #{pk}" if detail else "")
        out[unit_id].append((decided_at, liable[day].get(unit_id), ev))
    return out


def _legal(scope: Scope, bill_ids: list[int], detail: bool) -> dict[int, list[ClockEvent]]:
    """line → the events of the cases that claim it: 律师函 delivered, mediation requested, 支付令 or lawsuit
    filed, and the end of such a proceeding (the clock restarts from it, 民法典 195)."""
    from wuye.legal.models import CaseEvent, CaseLine

    lines: dict[int, list[int]] = defaultdict(list)
    qs = CaseLine.objects.all()
    if scope.bill_ids is not None or len(bill_ids) <= 5_000:
        qs = qs.filter(bill_id__in_ids=bill_ids)
    elif scope.project_id is not None:
        qs = qs.filter(case__project_id=scope.project_id)
    for case_id, bill_id in qs.values_list("case_id", "bill_id"):
        lines[case_id].append(bill_id)
    if not lines:
        return {}
    out: dict[int, list[ClockEvent]] = defaultdict(list)
    events = list(CaseEvent.objects.filter(case_id__in_ids=list(lines), event__in=list(EVENT_INTERRUPTS)
                                           + list(PROCEEDING_ENDS))
                  .values_list("case_id", "event", "on", "case__number").order_by("case_id", "on", "pk"))
    filed: set[int] = {case_id for case_id, event, _on, _n in events if event in FILINGS}
    for case_id, event, on, number in events:
        if event in PROCEEDING_ENDS:
            if case_id not in filed:
                continue
            kind = Interruption.PROCEEDING_END
        else:
            kind = EVENT_INTERRUPTS[event]
        ev = ClockEvent(on, kind, f"案件 {number} {Event(event).label}" if detail else "")
        for bill_id in lines[case_id]:
            out[bill_id].append(ev)
    return out
