"""The collection figures of one month, computed from the ledger in a few grouped queries (no per-unit work).

Definitions (written once here and in docs/glossary.md; M is a calendar month, ``s`` its first day, ``e`` its
last day — or today for the month in progress; "as of e" means entries dated on or before e: allocations by
``applied_on``, adjustments by the local day they were approved, payments by the local day they were made):

- Lines counted: live (not voided) principal lines; 违约金 lines (``late_fee_of``) are left out of every figure.
  A voided line drops out; its reissue counts in its place.
- 当期应收 ``billed_fen``: the amounts of the lines whose period starts in M.
- 当期实收 ``collected_fen``: money applied to those lines as of e, whenever it was received (prepaid money
  applied when the bill was posted counts).
- 当期减免 ``relieved_fen``: approved waivers, write-offs and pay-ahead discounts on those lines as of e.
- 收费率（当期） = 当期实收 ÷ 当期应收.
- 户收费率 = 结清户数 ÷ 应收户数: units with a line of M whose every line of M is settled as of e (paid or
  relieved) ÷ units with a line of M.
- 陈欠 at a date: the open amount, as of that date, of the lines whose period started before M.
  月初陈欠 ``old_start_fen`` is as of the day before s.
- 清欠实收 ``old_collected_fen``: money applied in M (s ≤ applied_on ≤ e) to lines whose period started before M.
- 清欠率 = 清欠实收 ÷ 月初陈欠.
- 月末当期欠费 / 月末陈欠: the open amounts as of e of M's lines / of earlier lines (陈欠 and 当期 split).
- Ageing: the open amount as of e of every line whose due date is before e, by e − due date: 1–30, 31–90,
  91–180, 181–365 days, 1–2 years (366–730), 2–3 years (731–1095), over 3 years (> 1095 days: look at the
  limitation clocks — each period's clock runs 3 years from its due date unless a recorded event restarted it).
- 预存余额 ``prepaid_fen``: money received as of e minus money applied to lines as of e (per unit, summed); a
  reversal counts on its original payment's day, as its allocations do (a bounced payment never arrived).
- 本月减免 / 本月核销 / 本月预缴优惠: approved ``waive_principal`` / ``write_off`` / ``prepay_discount``
  adjustments approved in M, on any line.

The grain is (project, building, floor, fee item); floors map to collectors through their territories, so
every dimension (company, project, building, collector, fee item) rolls up from the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from wuye.common.replica import reads_connection
from wuye.insights.models import MEASURES

# (days overdue up to, measure); the last bucket has no upper bound.
AGE_BOUNDS = ((30, "age_30_fen"), (90, "age_90_fen"), (180, "age_180_fen"), (365, "age_365_fen"),
              (730, "age_2y_fen"), (1095, "age_3y_fen"))
AGE_LABELS = {"age_30_fen": "1–30 天", "age_90_fen": "31–90 天", "age_180_fen": "91–180 天",
              "age_365_fen": "181–365 天", "age_2y_fen": "1–2 年", "age_3y_fen": "2–3 年",
              "age_over_3y_fen": "3 年以上"}
RELIEF_KINDS = ("waive_principal", "write_off", "prepay_discount")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(first: dt.date) -> dt.date:
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def add_months(first: dt.date, n: int) -> dt.date:
    y, m = divmod(first.year * 12 + first.month - 1 + n, 12)
    return dt.date(y, m + 1, 1)


def local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_default_timezone())


@dataclass(frozen=True)
class Window:
    period: dt.date  # first day of M
    end: dt.date     # e: last day of M, or the day the figures are taken for the month in progress

    @classmethod
    def of(cls, period: dt.date, as_of: dt.date | None = None) -> Window:
        period = month_start(period)
        last = month_end(period)
        return cls(period, min(last, as_of) if as_of else last)


Key = tuple[int, int, int | None, int | None]  # project, building, floor, fee item (None: all items)


def _d(value: dt.date):
    return connection.ops.adapt_datefield_value(value)


def _t(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _scope(alias: str, project_id: int | None) -> tuple[str, list]:
    return (f" AND {alias}.project_id = %s", [project_id]) if project_id else ("", [])


def _age_columns(e: dt.date) -> tuple[list[str], list]:
    """The ageing sums of the per-line rows ``pb`` as of e (the buckets of ``AGE_BOUNDS``), with their params."""
    cols, params = [], []
    upper = e  # due before e: overdue as of e
    for days, _name in AGE_BOUNDS:
        low = e - dt.timedelta(days=days)
        cols.append("SUM(CASE WHEN pb.due_date < %s AND pb.due_date >= %s THEN pb.open_e ELSE 0 END)")
        params += [_d(upper), _d(low)]
        upper = low
    cols.append("SUM(CASE WHEN pb.due_date < %s THEN pb.open_e ELSE 0 END)")
    params.append(_d(upper))
    return cols, params


def per_bill_sql(window: Window, *, project_id: int | None = None) -> tuple[str, list]:
    """The month's lines that can add to any of its figures, with what was paid and relieved on each as of s and
    as of e (columns id, unit_id, fee_item_id, amount_fen, period_start, due_date, cur, paid_e, paid_s, rel_e,
    rel_s, open_e) — the reference form: every allocation and adjustment grouped per line, then joined."""
    s, e = window.period, window.end
    s_at, e_at = local_midnight(s), local_midnight(e + dt.timedelta(days=1))
    where, wp = _scope("b", project_id)
    sql = f"""
        SELECT b.id, b.unit_id, b.fee_item_id, b.amount_fen, b.period_start, b.due_date,
               CASE WHEN b.period_start >= %s THEN 1 ELSE 0 END AS cur,
               COALESCE(al.paid_e, 0) AS paid_e, COALESCE(al.paid_s, 0) AS paid_s,
               COALESCE(ad.rel_e, 0) AS rel_e, COALESCE(ad.rel_s, 0) AS rel_s,
               b.amount_fen - COALESCE(al.paid_e, 0) - COALESCE(ad.rel_e, 0) AS open_e
        FROM billing_bill b
        LEFT JOIN (SELECT a.bill_id,
                          SUM(CASE WHEN a.applied_on <= %s THEN a.amount_fen ELSE 0 END) AS paid_e,
                          SUM(CASE WHEN a.applied_on < %s THEN a.amount_fen ELSE 0 END) AS paid_s
                   FROM billing_allocation a GROUP BY a.bill_id) al ON al.bill_id = b.id
        LEFT JOIN (SELECT j.bill_id,
                          SUM(CASE WHEN j.decided_at < %s THEN j.amount_fen ELSE 0 END) AS rel_e,
                          SUM(CASE WHEN j.decided_at < %s THEN j.amount_fen ELSE 0 END) AS rel_s
                   FROM billing_adjustment j
                   WHERE j.status = 'approved' AND j.kind IN ('waive_principal', 'write_off', 'prepay_discount')
                   GROUP BY j.bill_id) ad ON ad.bill_id = b.id
        WHERE b.is_void = %s AND b.late_fee_of_id IS NULL AND b.period_start <= %s{where}
          AND (b.period_start >= %s OR b.settled_fen < b.amount_fen
               OR EXISTS (SELECT 1 FROM billing_allocation x WHERE x.bill_id = b.id AND x.applied_on >= %s)
               OR EXISTS (SELECT 1 FROM billing_adjustment x WHERE x.bill_id = b.id AND x.decided_at >= %s))
    """
    # An earlier period's line settled now, with no entry dated from s on, was settled before M began: it adds
    # nothing to any figure of M, so only lines of M, lines open now and lines with entries since s are read.
    return sql, [_d(s), _d(e), _d(s), _t(e_at), _t(s_at), False, _d(e), *wp, _d(s), _d(s), _t(s_at)]


# How the unit rows are grouped: (the column after project and building, joins it needs). The reference groups
# by floor and folds floors into collectors in Python (``rows``); the set-based close joins a (building, floor)
# → collector table and groups by collector at once (``insights.snapshot``).
FLOOR_GRAIN = ("u.floor", "")


def aggregate_sql(window: Window, pb: str, grain: tuple[str, str] = FLOOR_GRAIN) -> tuple[str, list]:
    """The money figures and household counts per (project, building, floor, fee item) from per-line rows ``pb``
    (a table or a ``WITH``), plus rows of fee item -1 that count households over all fee items."""
    age_cols, age_params = _age_columns(window.end)
    col, join = grain
    sql = f"""
        SELECT u.project_id, u.building_id, {col}, pb.fee_item_id,
               SUM(CASE WHEN pb.cur = 1 THEN pb.amount_fen ELSE 0 END),
               SUM(CASE WHEN pb.cur = 1 THEN pb.paid_e ELSE 0 END),
               SUM(CASE WHEN pb.cur = 1 THEN pb.rel_e ELSE 0 END),
               COUNT(DISTINCT CASE WHEN pb.cur = 1 THEN pb.unit_id END),
               COUNT(DISTINCT CASE WHEN pb.cur = 1 AND pb.open_e > 0 THEN pb.unit_id END),
               SUM(CASE WHEN pb.cur = 0 THEN pb.amount_fen - pb.paid_s - pb.rel_s ELSE 0 END),
               SUM(CASE WHEN pb.cur = 0 THEN pb.paid_e - pb.paid_s ELSE 0 END),
               SUM(CASE WHEN pb.cur = 0 THEN pb.rel_e - pb.rel_s ELSE 0 END),
               SUM(CASE WHEN pb.cur = 1 THEN pb.open_e ELSE 0 END),
               SUM(CASE WHEN pb.cur = 0 THEN pb.open_e ELSE 0 END),
               {", ".join(age_cols)}
        FROM {pb} JOIN estate_unit u ON u.id = pb.unit_id {join}
        GROUP BY u.project_id, u.building_id, {col}, pb.fee_item_id
        UNION ALL
        SELECT u.project_id, u.building_id, {col}, -1,
               0, 0, 0,
               COUNT(DISTINCT CASE WHEN pb.cur = 1 THEN pb.unit_id END),
               COUNT(DISTINCT CASE WHEN pb.cur = 1 AND pb.open_e > 0 THEN pb.unit_id END),
               0, 0, 0, 0, 0, {", ".join(["0"] * (len(AGE_BOUNDS) + 1))}
        FROM {pb} JOIN estate_unit u ON u.id = pb.unit_id {join}
        WHERE pb.cur = 1
        GROUP BY u.project_id, u.building_id, {col}
    """
    return sql, age_params


MONEY = ("billed_fen", "collected_fen", "relieved_fen", "units_billed", "units_open", "old_start_fen",
         "old_collected_fen", "old_relieved_fen", "current_open_fen", "old_open_fen",
         *(name for _, name in AGE_BOUNDS), "age_over_3y_fen")


def add_aggregates(out: dict, fetched) -> None:
    """Fold the rows of ``aggregate_sql`` into ``out`` (per fee item, and summed under fee item None)."""
    for row in fetched:
        if row[3] == -1:  # households over all fee items: a unit is settled only when all its lines of M are
            total = out[(row[0], row[1], row[2], None)]
            total["units_billed"], total["units_settled"] = int(row[7]), int(row[7]) - int(row[8])
            continue
        key = (row[0], row[1], row[2], row[3])
        values = dict(zip(MONEY, (int(v or 0) for v in row[4:]), strict=True))
        values["units_settled"] = values["units_billed"] - values.pop("units_open")
        target, total = out[key], out[(row[0], row[1], row[2], None)]
        for name, v in values.items():
            target[name] += v
            if not name.startswith("units_"):
                total[name] += v


def add_relief(cur, window: Window, out: dict, *, project_id: int | None = None,
               grain: tuple[str, str] = FLOOR_GRAIN, extra: str = "") -> None:
    """本月减免 / 本月核销 / 本月预缴优惠: relief approved in M, on any line (``extra``: a further condition on the
    line ``b`` without parameters, e.g. a scoped snapshot's units)."""
    s_at, e_at = local_midnight(window.period), local_midnight(window.end + dt.timedelta(days=1))
    where, wp = _scope("b", project_id)
    col, join = grain
    cur.execute(f"""
        SELECT u.project_id, u.building_id, {col}, b.fee_item_id,
               SUM(CASE WHEN j.kind = 'waive_principal' THEN j.amount_fen ELSE 0 END),
               SUM(CASE WHEN j.kind = 'write_off' THEN j.amount_fen ELSE 0 END),
               SUM(CASE WHEN j.kind = 'prepay_discount' THEN j.amount_fen ELSE 0 END)
        FROM billing_adjustment j JOIN billing_bill b ON b.id = j.bill_id JOIN estate_unit u ON u.id = b.unit_id {join}
        WHERE j.status = 'approved' AND j.kind IN ('waive_principal', 'write_off', 'prepay_discount')
          AND j.decided_at >= %s AND j.decided_at < %s{where}{extra}
        GROUP BY u.project_id, u.building_id, {col}, b.fee_item_id
    """, [_t(s_at), _t(e_at), *wp])
    for p, b, f, item, waived, written, discount in cur.fetchall():
        for key in ((p, b, f, item), (p, b, f, None)):
            out[key]["waived_fen"] += int(waived or 0)
            out[key]["written_off_fen"] += int(written or 0)
            out[key]["discount_fen"] += int(discount or 0)


def add_prepaid(out: dict, fetched) -> None:
    for p, b, f, fen in fetched:
        if fen:
            out[(p, b, f, None)]["prepaid_fen"] += int(fen)


def facts(window: Window, *, project_id: int | None = None) -> dict[Key, dict[str, int]]:
    """The month's figures per (project, building, floor, fee item) plus, under fee item None, the same
    money figures for all items together with household counts and prepaid balances."""
    e = window.end
    e_at = local_midnight(e + dt.timedelta(days=1))
    out: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    per_bill, per_bill_params = per_bill_sql(window, project_id=project_id)
    sql, age_params = aggregate_sql(window, "pb")
    with reads_connection().cursor() as cur:
        cur.execute(f"WITH pb AS ({per_bill}) {sql}", per_bill_params + age_params)
        add_aggregates(out, cur.fetchall())
        # prepaid balance as of e: received minus applied, over the units
        pwhere, pp = _scope("x", project_id)
        cur.execute(f"""
            SELECT u.project_id, u.building_id, u.floor, SUM(t.fen) FROM (
                SELECT x.unit_id, x.amount_fen AS fen FROM billing_payment x
                LEFT JOIN billing_payment o ON o.id = x.reverses_id
                WHERE COALESCE(o.paid_at, x.paid_at) < %s{pwhere}
                UNION ALL
                SELECT x.unit_id, -a.amount_fen FROM billing_allocation a JOIN billing_bill x ON x.id = a.bill_id
                WHERE a.applied_on <= %s{pwhere}
            ) t JOIN estate_unit u ON u.id = t.unit_id
            GROUP BY u.project_id, u.building_id, u.floor
        """, [_t(e_at), *pp, _d(e), *pp])
        add_prepaid(out, cur.fetchall())
        add_relief(cur, window, out, project_id=project_id)
    return dict(out)


def collectors_by_floor(keys) -> dict[tuple[int, int | None], int | None]:
    """(building, floor) → the collector whose territory holds it (one responsible person per unit)."""
    from wuye.accounts.models import Territory

    buildings = {k[1] for k in keys}
    territories = defaultdict(list)
    for t in Territory.objects.filter(building_id__in=buildings).order_by("id"):
        territories[t.building_id].append(t)
    out = {}
    for b, f in {(k[1], k[2]) for k in keys}:
        out[(b, f)] = None
        for t in territories.get(b, ()):
            if t.floor_from is not None and (f is None or f < t.floor_from):
                continue
            if t.floor_to is not None and (f is None or f > t.floor_to):
                continue
            out[(b, f)] = t.user_id
            break
    return out


RowKey = tuple[int, int, int | None, int | None]  # project, building, collector, fee item


def rows(window: Window, *, project_id: int | None = None, found: dict | None = None) -> dict[RowKey, dict[str, int]]:
    """The figures at the snapshot's grain: floors folded into the collector whose territory holds them
    (``found``: the ``facts`` already computed, e.g. by the set-based close)."""
    if found is None:
        found = facts(window, project_id=project_id)
    who = collectors_by_floor(found)
    out: dict[RowKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for (p, b, f, item), values in found.items():
        target = out[(p, b, who[(b, f)], item)]
        for name, v in values.items():
            target[name] += v
    return {k: v for k, v in out.items() if any(v.values())}


def unit_ageing(window: Window, *, project_id: int | None = None) -> list[tuple]:
    """What the month's ageing figures are made of, per unit: (project, building, floor, fee item, unit, bucket,
    open fen, lines, oldest due date) for every unit with principal overdue and open as of e — one grouped
    query with the same definitions as ``facts`` (its age buckets add up to these rows)."""
    e = window.end
    e_at = local_midnight(e + dt.timedelta(days=1))
    where, wp = _scope("b", project_id)
    cases, params = [], []
    upper = e
    for days, name in AGE_BOUNDS:
        low = e - dt.timedelta(days=days)
        cases.append(f"WHEN pb.due_date >= %s THEN '{name}'")
        params.append(_d(low))
        upper = low
    del upper
    sql = f"""
        WITH pb AS (
            SELECT b.unit_id, b.fee_item_id, b.due_date,
                   b.amount_fen - COALESCE((SELECT SUM(a.amount_fen) FROM billing_allocation a
                                            WHERE a.bill_id = b.id AND a.applied_on <= %s), 0)
                                - COALESCE((SELECT SUM(j.amount_fen) FROM billing_adjustment j
                                            WHERE j.bill_id = b.id AND j.status = 'approved'
                                              AND j.kind IN ('waive_principal', 'write_off', 'prepay_discount')
                                              AND j.decided_at < %s), 0) AS open_e
            FROM billing_bill b
            WHERE b.is_void = %s AND b.late_fee_of_id IS NULL AND b.period_start <= %s AND b.due_date < %s{where}
              AND (b.settled_fen < b.amount_fen
                   OR EXISTS (SELECT 1 FROM billing_allocation x WHERE x.bill_id = b.id AND x.applied_on > %s)
                   OR EXISTS (SELECT 1 FROM billing_adjustment x WHERE x.bill_id = b.id AND x.decided_at >= %s))
        )
        SELECT u.project_id, u.building_id, u.floor, pb.fee_item_id, pb.unit_id, pb.bucket,
               SUM(pb.open_e), COUNT(*), MIN(pb.due_date)
        FROM (SELECT pb.*, CASE {" ".join(cases)} ELSE 'age_over_3y_fen' END AS bucket
              FROM pb WHERE pb.open_e > 0) pb
        JOIN estate_unit u ON u.id = pb.unit_id
        GROUP BY u.project_id, u.building_id, u.floor, pb.fee_item_id, pb.unit_id, pb.bucket
    """
    # a line settled now with no entry after e was settled as of e: only open lines and lines with later entries
    head = [_d(e), _t(e_at), False, _d(e), _d(e), *wp, _d(e), _t(e_at)]
    with reads_connection().cursor() as cur:
        cur.execute(sql, head + params)
        return [(p, b, f, item, unit, bucket, int(fen), int(n), _date(oldest))
                for p, b, f, item, unit, bucket, fen, n, oldest in cur.fetchall()]


def _date(value):
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
