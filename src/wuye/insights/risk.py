"""预警 — the early-warning model: for each account (a unit) not already 90+ days overdue, the probability that
it is 90+ days overdue at one of the next three month-ends, learnt from the estate's own history.

Definitions (T is a month's last day, the day the features are taken; "as of T" as in ``insights.metrics``:
allocations by ``applied_on``, adjustments by their approval, payments by the day they were made):

- **90+ days overdue at D**: a live principal line (not void, not 违约金) due on or before D − 90 is open as of D.
- **Outcome of T** (``y``): 90+ days overdue at the last day of month T+1, T+2 or T+3. The population of T is
  every account with a live line posted by T that is *not* 90+ days overdue at T (those already are where the
  model would send them).
- **Features at T** (``FEATURES``, one grouped query per reference month — never one query per account):
  overdue amount (log of yuan) and periods, days since the oldest open due date, the share of lines due in the
  last 6 months not settled by their due date and its change from the 6 months before (lateness trend), lines of
  the last 12 months partly paid and still open (partial payments), promises broken in the last 12 months,
  disputes opened in the last 12 months, occupancy as of T (vacant or decorating; rented), prepaid balance (log
  of yuan), the owners' contact points known dead (verified by T), calls and visits that reached nobody in the
  last 90 days.
- **Model**: standardised features → logistic regression (scikit-learn, lbfgs, deterministic). It is stored as
  numbers in ``RiskModel`` (means, scales, coefficients, intercept — no pickled object to load back), and an
  account's reasons are its largest ``coefficient × standardised value`` terms.
- **Time-based validation**: with L the last finished month, the test month is t = L − 3 (its outcome window
  t+1..t+3 ends at L); the validation model is trained on reference months whose whole outcome window ends by
  t (``assert_no_future``), so it never sees anything after t. The stored model is then refitted the same way
  on the reference months ending by L − 3 and scores every account as of L.
- **Baseline** beside it: the rule everyone uses — the older the oldest unpaid due date, the riskier (score =
  days overdue; flagged from 30 days).

What it can and cannot show: on the synthetic demo history the owners' behaviour is drawn by a generator, so
the figures say the pipeline works, not how well it would predict real owners; contact validity is known only
as it stands now (a point marked dead after T with no verification date counts from the start).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection

from wuye.common.replica import reads_connection
from wuye.estate.choices import DEAD_VALIDITIES
from wuye.insights.metrics import _d, _t, add_months, local_midnight, month_end, month_start

FEATURES = (
    ("overdue_log", "欠费金额"),
    ("overdue_lines", "逾期账期数"),
    ("days_overdue", "最长逾期天数"),
    ("late_recent", "近 6 个月逾期缴费比例"),
    ("late_trend", "逾期缴费比例上升"),
    ("partial_lines", "部分缴费后仍欠的账期"),
    ("broken_promises", "近 12 个月失约"),
    ("disputes", "近 12 个月争议"),
    ("vacant", "空置或装修中"),
    ("rented", "出租"),
    ("prepaid_log", "预存余额"),
    ("dead_contacts", "无效联系方式"),
    ("unreachable", "近 90 天联系不上"),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURES)
FEATURE_LABELS = dict(FEATURES)
HORIZON_MONTHS = 3
BASELINE_DAYS = 30
UNREACHABLE = ("no_answer", "switched_off", "dead_number", "not_home", "busy")
RELIEF = "('waive_principal', 'write_off', 'prepay_discount')"


def month_end_of(period: dt.date, shift: int = 0) -> dt.date:
    return month_end(add_months(month_start(period), shift))


def horizon_end(as_of: dt.date) -> dt.date:
    """The last day of the outcome window of reference day ``as_of``."""
    return month_end_of(as_of, HORIZON_MONTHS)


def assert_no_future(train_refs: list[dt.date], cutoff: dt.date) -> None:
    """Training on reference months whose outcome is only known after ``cutoff`` would train on the future."""
    late = [t for t in train_refs if horizon_end(t) > cutoff]
    assert not late, f"reference months {late} look past {cutoff}"


@dataclass
class Frame:
    """The population of one reference day: ids, feature matrix and the baseline's days overdue."""

    as_of: dt.date
    units: np.ndarray
    projects: np.ndarray
    X: np.ndarray

    @property
    def days(self) -> np.ndarray:
        return self.X[:, FEATURE_NAMES.index("days_overdue")]

    def __len__(self) -> int:
        return len(self.units)


def _scope(alias: str, project_id: int | None, sample: int) -> tuple[str, list]:
    """Lines of one project, and/or of the accounts whose id is a multiple of ``sample``."""
    sql, params = "", []
    if project_id:
        sql, params = f" AND {alias}.project_id = %s", [project_id]
    if sample > 1:
        sql += f" AND {alias}.unit_id %% %s = 0"
        params.append(sample)
    return sql, params


def _days_between(later_param: str, earlier_sql: str) -> str:
    if connection.vendor == "postgresql":
        return f"({later_param}::date - {earlier_sql})"
    return f"CAST(julianday({later_param}) - julianday({earlier_sql}) AS INTEGER)"


# For the one read of ``features`` on PostgreSQL (decision 97), set back afterwards: no JIT; no nested loops
# (the planner estimates one account after the filter on the grouped lines and then joined the per-unit
# groups by nested loops: more than 15 minutes at a million units); one process (a parallel plan has to
# gather every bill's partial sums into the leader and finish them there: 47 s against 26 s); memory for the
# per-account hash aggregation (about 0.5 GB at a million accounts) so that it does not spill to disk.
FEATURE_SETTINGS = (("jit", "off"), ("enable_nestloop", "off"), ("max_parallel_workers_per_gather", "0"),
                    ("work_mem", "512MB"))
F8 = "double precision"  # the columns come back as floats (no Decimal per value); sums of fen are exact in it


def features(as_of: dt.date, *, project_id: int | None = None, sample: int = 1) -> Frame:
    """Every account's features at ``as_of`` (not 90+ days overdue then); ``sample`` > 1 keeps the accounts
    whose id is a multiple of it (an even, deterministic draw for training at scale).

    One set-based pass: each bill line meets its allocations up to ``as_of`` (on PostgreSQL through a
    ``LATERAL`` sum on the allocation index, so the whole read is one level of grouping per account that the
    parallel workers share), the account-level figures (occupancy state as of ``as_of``, money received,
    promises, disputes, dead contacts, unreachable attempts) are grouped once each and joined by unit. The
    same numbers as ``features_reference`` (the tests compare them)."""
    pg = connection.vendor == "postgresql"
    T, T_at = as_of, local_midnight(as_of + dt.timedelta(days=1))
    p = {"T": _d(T), "T_at": _t(T_at), "no": False, "d90": _d(T - dt.timedelta(days=90)),
         "d182": _d(T - dt.timedelta(days=182)), "d365": _d(T - dt.timedelta(days=365))}
    scope = unit_scope = ""
    if project_id:
        scope, p["project"] = " AND b.project_id = %(project)s", project_id
    if sample > 1:
        scope += " AND b.unit_id %% %(sample)s = 0"
        unit_scope, p["sample"] = " AND {}.unit_id %% %(sample)s = 0", sample
    dead = ", ".join(f"'{v.value}'" for v in sorted(DEAD_VALIDITIES))
    unreachable = ", ".join(f"'{v}'" for v in UNREACHABLE)
    days_sql = _days_between("%(T)s", "acct.oldest_due")
    live = "pb.live = 1"
    sql = f"""
        SELECT u.id, u.project_id, CAST(acct.overdue AS {F8}), CAST(acct.lines AS {F8}),
               CAST(CASE WHEN acct.oldest_due IS NULL THEN 0 ELSE {days_sql} END AS {F8}),
               CAST(acct.r_lines AS {F8}), CAST(acct.r_late AS {F8}), CAST(acct.p_lines AS {F8}),
               CAST(acct.p_late AS {F8}), CAST(acct.partial_lines AS {F8}),
               CAST(COALESCE(pr.n, 0) AS {F8}), CAST(COALESCE(dp.n, 0) AS {F8}),
               CAST(CASE WHEN COALESCE(st.state, u.state) IN ('vacant', 'decorating') THEN 1 ELSE 0 END AS {F8}),
               CAST(CASE WHEN COALESCE(st.state, u.state) = 'rented' THEN 1 ELSE 0 END AS {F8}),
               CAST(COALESCE(pay.received, 0) - acct.applied AS {F8}),
               CAST(COALESCE(dc.n, 0) AS {F8}), CAST(COALESCE(ct.n, 0) AS {F8})
        FROM (
            SELECT pb.unit_id,
                   SUM(CASE WHEN {live} AND pb.due_date < %(T)s AND pb.open_t > 0 THEN pb.open_t ELSE 0 END) AS overdue,
                   SUM(CASE WHEN {live} AND pb.due_date < %(T)s AND pb.open_t > 0 THEN 1 ELSE 0 END) AS lines,
                   MIN(CASE WHEN {live} AND pb.due_date < %(T)s AND pb.open_t > 0 THEN pb.due_date END) AS oldest_due,
                   MAX(CASE WHEN {live} AND pb.due_date <= %(d90)s AND pb.open_t > 0 THEN 1 ELSE 0 END) AS ninety,
                   SUM(CASE WHEN {live} AND pb.due_date < %(T)s AND pb.due_date > %(d182)s THEN 1 ELSE 0 END) AS r_lines,
                   SUM(CASE WHEN {live} AND pb.due_date < %(T)s AND pb.due_date > %(d182)s
                            AND pb.paid_due < pb.amount_fen THEN 1 ELSE 0 END) AS r_late,
                   SUM(CASE WHEN {live} AND pb.due_date <= %(d182)s AND pb.due_date > %(d365)s
                            THEN 1 ELSE 0 END) AS p_lines,
                   SUM(CASE WHEN {live} AND pb.due_date <= %(d182)s AND pb.due_date > %(d365)s
                            AND pb.paid_due < pb.amount_fen THEN 1 ELSE 0 END) AS p_late,
                   SUM(CASE WHEN {live} AND pb.due_date > %(d365)s AND pb.paid_t > 0 AND pb.open_t > 0
                            THEN 1 ELSE 0 END) AS partial_lines,
                   SUM(pb.paid_t) AS applied, SUM(pb.live) AS live_lines
            FROM (
                SELECT b.unit_id, b.due_date, b.amount_fen,
                       CASE WHEN b.is_void = %(no)s AND b.late_fee_of_id IS NULL THEN 1 ELSE 0 END AS live,
                       CAST(COALESCE(SUM(a.amount_fen), 0) AS bigint) AS paid_t,
                       CAST(COALESCE(SUM(CASE WHEN a.applied_on <= b.due_date THEN a.amount_fen ELSE 0 END), 0)
                            AS bigint) AS paid_due,
                       CAST(b.amount_fen - COALESCE(SUM(a.amount_fen), 0) - COALESCE(MAX(ad.rel_t), 0)
                            AS bigint) AS open_t
                FROM billing_bill b
                LEFT JOIN billing_allocation a ON a.bill_id = b.id AND a.applied_on <= %(T)s
                LEFT JOIN (SELECT j.bill_id, SUM(j.amount_fen) AS rel_t FROM billing_adjustment j
                           WHERE j.status = 'approved' AND j.kind IN {RELIEF} AND j.decided_at < %(T_at)s
                           GROUP BY j.bill_id) ad ON ad.bill_id = b.id
                WHERE b.period_start <= %(T)s {scope}
                GROUP BY b.id, b.unit_id, b.due_date, b.amount_fen, b.is_void, b.late_fee_of_id
            ) pb
            GROUP BY pb.unit_id
        ) acct
        JOIN estate_unit u ON u.id = acct.unit_id
        LEFT JOIN (SELECT z.unit_id, z.state FROM (
                       SELECT s.unit_id, s.state,
                              ROW_NUMBER() OVER (PARTITION BY s.unit_id ORDER BY s.since DESC, s.id DESC) AS n
                       FROM estate_unitstatechange s WHERE s.since <= %(T)s {unit_scope.format("s")}) z
                   WHERE z.n = 1) st ON st.unit_id = u.id
        LEFT JOIN (SELECT x.unit_id, SUM(x.amount_fen) AS received FROM billing_payment x
                   LEFT JOIN billing_payment o ON o.id = x.reverses_id
                   WHERE COALESCE(o.paid_at, x.paid_at) < %(T_at)s {unit_scope.format("x")}
                   GROUP BY x.unit_id) pay ON pay.unit_id = u.id
        LEFT JOIN (SELECT p.unit_id, COUNT(*) AS n FROM casework_promise p JOIN dunning_hold h ON h.id = p.hold_id
                   WHERE h.outcome = 'broken' AND p.promised_on < %(T)s AND p.promised_on > %(d365)s
                   GROUP BY p.unit_id) pr ON pr.unit_id = u.id
        LEFT JOIN (SELECT d.unit_id, COUNT(*) AS n FROM casework_dispute d
                   WHERE d.opened_on <= %(T)s AND d.opened_on > %(d365)s GROUP BY d.unit_id) dp ON dp.unit_id = u.id
        LEFT JOIN (SELECT o.unit_id, COUNT(DISTINCT cp.id) AS n FROM estate_occupancy o
                   JOIN estate_contactpoint cp ON cp.party_id = o.party_id
                   WHERE o.role = 'owner' AND o.start <= %(T)s AND (o."end" IS NULL OR o."end" >= %(T)s)
                     AND cp.validity IN ({dead}) AND (cp.last_verified IS NULL OR cp.last_verified <= %(T)s)
                   GROUP BY o.unit_id) dc ON dc.unit_id = u.id
        LEFT JOIN (SELECT c.unit_id, COUNT(*) AS n FROM casework_contactattempt c
                   WHERE c."on" <= %(T)s AND c."on" > %(d90)s AND c.outcome IN ({unreachable})
                   GROUP BY c.unit_id) ct ON ct.unit_id = u.id
        WHERE acct.live_lines > 0 AND acct.ninety = 0
        ORDER BY u.id
    """
    chunks = []
    with reads_connection().cursor() as cur, _planner(cur, FEATURE_SETTINGS if pg else ()):
        cur.execute(sql, p)
        while batch := cur.fetchmany(100_000):
            chunks.append(np.array(batch, dtype=np.float64))
    raw = np.concatenate(chunks) if chunks else np.zeros((0, 17))
    return Frame(as_of, raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64), _derive(raw[:, 2:]))


class _planner:
    """Planner settings for one read, set back afterwards (as ``billing.selectors`` does for its summary)."""

    def __init__(self, cur, settings: tuple[tuple[str, str], ...]):
        self.cur, self.settings, self.before = cur, settings, None

    def __enter__(self):
        if self.settings:
            names = [name for name, _ in self.settings]
            self.cur.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
            self.before = self.cur.fetchone()
            self.cur.execute("SELECT " + ", ".join(f"set_config('{n}', %s, false)" for n in names),
                             [value for _, value in self.settings])
        return self

    def __exit__(self, *exc):
        if self.settings and self.before is not None:
            self.cur.execute("SELECT " + ", ".join(f"set_config('{n}', %s, false)" for n, _ in self.settings),
                             list(self.before))
        return False


def features_reference(as_of: dt.date, *, project_id: int | None = None, sample: int = 1) -> Frame:
    """The first form of ``features`` (CTEs joined twice to the bills, a correlated subquery per unit for the
    occupancy state), kept as the reference the tests compare ``features`` with (decision 97)."""
    T, T_at = as_of, local_midnight(as_of + dt.timedelta(days=1))
    d90, d182, d365 = (T - dt.timedelta(days=n) for n in (90, 182, 365))
    scope, scope_p = _scope("b", project_id, sample)
    xscope, xscope_p = _scope("x", project_id, sample)
    live = "pb.live = 1"
    dead = ", ".join(f"'{v.value}'" for v in sorted(DEAD_VALIDITIES))
    unreachable = ", ".join(f"'{v}'" for v in UNREACHABLE)
    days_sql = _days_between("%s", "acct.oldest_due")
    sql = f"""
        WITH al AS (
            SELECT a.bill_id, SUM(a.amount_fen) AS paid_t,
                   SUM(CASE WHEN a.applied_on <= x.due_date THEN a.amount_fen ELSE 0 END) AS paid_due
            FROM billing_allocation a JOIN billing_bill x ON x.id = a.bill_id
            WHERE a.applied_on <= %s {xscope}
            GROUP BY a.bill_id
        ), ad AS (
            SELECT j.bill_id, SUM(j.amount_fen) AS rel_t FROM billing_adjustment j
            WHERE j.status = 'approved' AND j.kind IN {RELIEF} AND j.decided_at < %s
            GROUP BY j.bill_id
        ), pb AS (
            SELECT b.unit_id, b.due_date, b.amount_fen,
                   CASE WHEN b.is_void = %s AND b.late_fee_of_id IS NULL THEN 1 ELSE 0 END AS live,
                   COALESCE(al.paid_t, 0) AS paid_t, COALESCE(al.paid_due, 0) AS paid_due,
                   b.amount_fen - COALESCE(al.paid_t, 0) - COALESCE(ad.rel_t, 0) AS open_t
            FROM billing_bill b LEFT JOIN al ON al.bill_id = b.id LEFT JOIN ad ON ad.bill_id = b.id
            WHERE b.period_start <= %s {scope}
        ), acct AS (
            SELECT pb.unit_id,
                   SUM(CASE WHEN {live} AND pb.due_date < %s AND pb.open_t > 0 THEN pb.open_t ELSE 0 END) AS overdue,
                   SUM(CASE WHEN {live} AND pb.due_date < %s AND pb.open_t > 0 THEN 1 ELSE 0 END) AS lines,
                   MIN(CASE WHEN {live} AND pb.due_date < %s AND pb.open_t > 0 THEN pb.due_date END) AS oldest_due,
                   MAX(CASE WHEN {live} AND pb.due_date <= %s AND pb.open_t > 0 THEN 1 ELSE 0 END) AS ninety,
                   SUM(CASE WHEN {live} AND pb.due_date < %s AND pb.due_date > %s THEN 1 ELSE 0 END) AS r_lines,
                   SUM(CASE WHEN {live} AND pb.due_date < %s AND pb.due_date > %s
                            AND pb.paid_due < pb.amount_fen THEN 1 ELSE 0 END) AS r_late,
                   SUM(CASE WHEN {live} AND pb.due_date <= %s AND pb.due_date > %s THEN 1 ELSE 0 END) AS p_lines,
                   SUM(CASE WHEN {live} AND pb.due_date <= %s AND pb.due_date > %s
                            AND pb.paid_due < pb.amount_fen THEN 1 ELSE 0 END) AS p_late,
                   SUM(CASE WHEN {live} AND pb.due_date > %s AND pb.paid_t > 0 AND pb.open_t > 0
                            THEN 1 ELSE 0 END) AS partial_lines,
                   SUM(pb.paid_t) AS applied, SUM(pb.live) AS live_lines
            FROM pb GROUP BY pb.unit_id
        )
        SELECT u.id, u.project_id, acct.overdue, acct.lines,
               CASE WHEN acct.oldest_due IS NULL THEN 0 ELSE {days_sql} END,
               acct.r_lines, acct.r_late, acct.p_lines, acct.p_late, acct.partial_lines,
               COALESCE(pr.n, 0), COALESCE(dp.n, 0),
               CASE WHEN st.state IN ('vacant', 'decorating') THEN 1 ELSE 0 END,
               CASE WHEN st.state = 'rented' THEN 1 ELSE 0 END,
               COALESCE(pay.received, 0) - acct.applied, COALESCE(dc.n, 0), COALESCE(ct.n, 0)
        FROM acct JOIN estate_unit u ON u.id = acct.unit_id
        JOIN (SELECT u2.id AS unit_id,
                     COALESCE((SELECT s.state FROM estate_unitstatechange s WHERE s.unit_id = u2.id AND s.since <= %s
                               ORDER BY s.since DESC, s.id DESC LIMIT 1), u2.state) AS state
              FROM estate_unit u2) st ON st.unit_id = u.id
        LEFT JOIN (SELECT x.unit_id, SUM(x.amount_fen) AS received FROM billing_payment x
                   LEFT JOIN billing_payment o ON o.id = x.reverses_id
                   WHERE COALESCE(o.paid_at, x.paid_at) < %s GROUP BY x.unit_id) pay ON pay.unit_id = u.id
        LEFT JOIN (SELECT p.unit_id, COUNT(*) AS n FROM casework_promise p JOIN dunning_hold h ON h.id = p.hold_id
                   WHERE h.outcome = 'broken' AND p.promised_on < %s AND p.promised_on > %s
                   GROUP BY p.unit_id) pr ON pr.unit_id = u.id
        LEFT JOIN (SELECT d.unit_id, COUNT(*) AS n FROM casework_dispute d
                   WHERE d.opened_on <= %s AND d.opened_on > %s GROUP BY d.unit_id) dp ON dp.unit_id = u.id
        LEFT JOIN (SELECT o.unit_id, COUNT(DISTINCT cp.id) AS n FROM estate_occupancy o
                   JOIN estate_contactpoint cp ON cp.party_id = o.party_id
                   WHERE o.role = 'owner' AND o.start <= %s AND (o."end" IS NULL OR o."end" >= %s)
                     AND cp.validity IN ({dead}) AND (cp.last_verified IS NULL OR cp.last_verified <= %s)
                   GROUP BY o.unit_id) dc ON dc.unit_id = u.id
        LEFT JOIN (SELECT c.unit_id, COUNT(*) AS n FROM casework_contactattempt c
                   WHERE c."on" <= %s AND c."on" > %s AND c.outcome IN ({unreachable})
                   GROUP BY c.unit_id) ct ON ct.unit_id = u.id
        WHERE acct.live_lines > 0 AND acct.ninety = 0
        ORDER BY u.id
    """
    params = [
        _d(T), *xscope_p, _t(T_at), False, _d(T), *scope_p,
        _d(T), _d(T), _d(T), _d(d90), _d(T), _d(d182), _d(T), _d(d182), _d(d182), _d(d365), _d(d182), _d(d365),
        _d(d365),
        _d(T),
        _d(T), _t(T_at), _d(T), _d(d365), _d(T), _d(d365), _d(T), _d(T), _d(T), _d(T), _d(d90),
    ]
    chunks = []
    with reads_connection().cursor() as cur:
        cur.execute(sql, params)
        while batch := cur.fetchmany(50_000):
            chunks.append(np.array(batch, dtype=np.float64))
    raw = np.concatenate(chunks) if chunks else np.zeros((0, 17))
    return Frame(as_of, raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64), _derive(raw[:, 2:]))


def _derive(r: np.ndarray) -> np.ndarray:
    """Raw aggregates → the model's features, in ``FEATURES`` order."""
    (overdue, lines, days, r_lines, r_late, p_lines, p_late, partial, broken, disputes, vacant, rented, prepaid,
     dead, unreachable) = r.T if len(r) else np.zeros((15, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        late_recent = np.where(r_lines > 0, r_late / np.maximum(r_lines, 1), 0.0)
        late_prior = np.where(p_lines > 0, p_late / np.maximum(p_lines, 1), late_recent)
    cols = [np.log1p(np.maximum(overdue, 0) / 100), lines, days, late_recent, late_recent - late_prior, partial,
            broken, disputes, vacant, rented, np.log1p(np.maximum(prepaid, 0) / 100), dead, unreachable]
    return np.column_stack(cols) if len(r) else np.zeros((0, len(FEATURES)))


def ninety_plus(day: dt.date, *, project_id: int | None = None, sample: int = 1) -> np.ndarray:
    """Accounts 90+ days overdue at ``day`` (sorted unit ids). Lines settled now with no entry after ``day``
    were settled then, so only open lines and lines with later entries are looked at."""
    day_at = local_midnight(day + dt.timedelta(days=1))
    scope, scope_p = _scope("b", project_id, sample)
    sql = f"""
        SELECT DISTINCT b.unit_id FROM billing_bill b
        WHERE b.is_void = %s AND b.late_fee_of_id IS NULL AND b.period_start <= %s AND b.due_date <= %s {scope}
          AND (b.settled_fen < b.amount_fen
               OR EXISTS (SELECT 1 FROM billing_allocation x WHERE x.bill_id = b.id AND x.applied_on > %s)
               OR EXISTS (SELECT 1 FROM billing_adjustment x WHERE x.bill_id = b.id AND x.decided_at >= %s))
          AND b.amount_fen
              - COALESCE((SELECT SUM(a.amount_fen) FROM billing_allocation a
                          WHERE a.bill_id = b.id AND a.applied_on <= %s), 0)
              - COALESCE((SELECT SUM(j.amount_fen) FROM billing_adjustment j
                          WHERE j.bill_id = b.id AND j.status = 'approved' AND j.kind IN {RELIEF}
                            AND j.decided_at < %s), 0) > 0
    """
    with reads_connection().cursor() as cur:
        cur.execute(sql, [False, _d(day), _d(day - dt.timedelta(days=90)), *scope_p, _d(day), _t(day_at), _d(day),
                          _t(day_at)])
        return np.sort(np.array([r[0] for r in cur.fetchall()], dtype=np.int64))


def outcome(frame: Frame, *, project_id: int | None = None, sample: int = 1,
            cache: dict | None = None) -> np.ndarray:
    """1 where the account is 90+ days overdue at one of the next three month-ends (``cache``: the 90+ sets
    by month-end, shared by reference months whose windows overlap)."""
    cache = {} if cache is None else cache
    hit = np.zeros(len(frame), dtype=np.int64)
    for k in range(1, HORIZON_MONTHS + 1):
        day = month_end_of(frame.as_of, k)
        if day not in cache:
            cache[day] = ninety_plus(day, project_id=project_id, sample=sample)
        hit |= np.isin(frame.units, cache[day])
    return hit


def examples(refs: list[dt.date], *, sample: int = 1, project_id: int | None = None, cache: dict | None = None):
    """Features and outcomes over several reference days, stacked. ``cache`` (a dict kept by the caller) keeps
    frames and 90+ sets between calls: the validation and the kept model share reference months."""
    cache = {} if cache is None else cache
    frames_cache, ninety_cache = cache.setdefault("frames", {}), cache.setdefault("ninety", {})
    for t in refs:
        if t not in frames_cache:
            frames_cache[t] = features(t, project_id=project_id, sample=sample)
    frames = [frames_cache[t] for t in refs]
    X = np.vstack([f.X for f in frames]) if frames else np.zeros((0, len(FEATURES)))
    y = (np.concatenate([outcome(f, project_id=project_id, sample=sample, cache=ninety_cache) for f in frames])
         if frames else np.zeros(0))
    days = np.concatenate([f.days for f in frames]) if frames else np.zeros(0)
    return X, y, days


@dataclass
class Fitted:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logits(self, X: np.ndarray) -> np.ndarray:
        return self.standard(X) @ self.coef + self.intercept

    def standard(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale

    def predict(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(X)))

    def reasons(self, X: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per row, the features pushing the risk up most (coefficient × standardised value > 0)."""
        terms = self.standard(X) * self.coef
        order = np.argsort(-terms, axis=1, kind="stable")[:, :top]
        out = []
        for row, idx in zip(terms, order, strict=True):
            out.append([(FEATURE_NAMES[i], round(float(row[i]), 3)) for i in idx if row[i] > 0.05])
        return out


    def top_terms(self, X: np.ndarray, top: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``reasons`` as arrays: per row the ``top`` feature indexes by descending term, their terms and how
        many of them lead (term > 0.05; a prefix, the terms being sorted)."""
        terms = self.standard(X) * self.coef
        order = np.argsort(-terms, axis=1, kind="stable")[:, :top]
        values = np.take_along_axis(terms, order, axis=1)
        return order, values, (values > 0.05).sum(axis=1)

    def reasons_json(self, X: np.ndarray, top: int = 3) -> list[str]:
        """``reasons`` of every row as its JSON text (what ``RiskScore.reasons`` stores), from the arrays of
        ``top_terms``: the same names and rounded values, without a list of tuples per row."""
        order, values, kept = self.top_terms(X, top)
        names = [json.dumps(n) for n in FEATURE_NAMES]
        out = []
        for idx, vals, k in zip(order.tolist(), values.tolist(), kept.tolist(), strict=True):
            out.append("[" + ", ".join(f"[{names[i]}, {round(v, 3)!r}]" for i, v in zip(idx[:k], vals[:k],
                                                                                         strict=True)) + "]")
        return out


def fit(X: np.ndarray, y: np.ndarray) -> Fitted:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(set(y.tolist())) < 2:
        raise ValidationError("历史数据中没有（或全部都是）逾期 90 天以上的户，无法训练预警模型。")
    scaler = StandardScaler().fit(X)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(X), y)
    return Fitted(scaler.mean_.copy(), scaler.scale_.copy(), model.coef_[0].copy(), float(model.intercept_[0]))


def evaluate(model: Fitted, X: np.ndarray, y: np.ndarray, days: np.ndarray, *, high: float) -> dict:
    """AUC and calibration of the model, and the same for the days-overdue rule, on the held-out month."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, roc_auc_score

    p = model.predict(X)
    both = len(set(y.tolist())) == 2
    out = {"n_test": int(len(y)), "positives": int(y.sum()), "base_rate": round(float(y.mean()), 4) if len(y) else None,
           "auc": round(float(roc_auc_score(y, p)), 4) if both else None,
           "baseline_auc": round(float(roc_auc_score(y, days)), 4) if both else None,
           "brier": round(float(brier_score_loss(y, p)), 4) if len(y) else None,
           "calibration": [], "flagged": _flag_stats(y, p >= high),
           "baseline_flagged": _flag_stats(y, days >= BASELINE_DAYS)}
    if both:
        bins = min(10, max(2, len(y) // 50))
        frac, mean = calibration_curve(y, p, n_bins=bins, strategy="quantile")
        edges = np.quantile(p, np.linspace(0, 1, bins + 1))
        counts = np.histogram(p, bins=np.unique(edges))[0]
        out["calibration"] = [[round(float(m), 4), round(float(f), 4), int(c)]
                              for m, f, c in zip(mean, frac, counts, strict=False)]
    return out


def _flag_stats(y: np.ndarray, flagged: np.ndarray) -> dict:
    n, hits = int(flagged.sum()), int((flagged & (y == 1)).sum())
    return {"flagged": n, "precision": round(hits / n, 4) if n else None,
            "recall": round(hits / int(y.sum()), 4) if y.sum() else None}


def plan(today: dt.date, months: int, first_period: dt.date) -> dict:
    """The reference days: the held-out month t and the months trained on for it, then the months of the model
    kept (ending three months before the last finished month L)."""
    last = month_end_of(today, -1)
    test = month_end_of(last, -HORIZON_MONTHS)
    earliest = month_end(month_start(first_period))

    def refs(newest: dt.date) -> list[dt.date]:
        out = [month_end_of(newest, -i) for i in range(months)]
        return sorted(t for t in out if t >= earliest)

    return {"last": last, "test": test, "validation_train": refs(month_end_of(test, -HORIZON_MONTHS)),
            "final_train": refs(test)}


def sample_every(max_rows: int) -> int:
    from wuye.estate.models import Unit

    return max(1, math.ceil(Unit.objects.count() / max(1, max_rows)))
