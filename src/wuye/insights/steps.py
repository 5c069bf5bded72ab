"""What each ladder step recovers (seed 002 「找出成功率较低的环节」): for every step and channel, how many of the
accounts it reached paid within 7 / 14 / 30 days, the money received within 30 days, what it cost, and the same
rate among similar accounts that got no contact that day.

Definitions (a window of decision days [start, end], ``end`` at least 30 days ago so every outcome is complete):
- An action counts when it was performed: status 已发送 or 已送达 (messages, letters; calls, visits and notices
  once their task was made). Its day is the engine's decision day (``decided_on``; sending follows the same day
  inside the contact window).
- Paid within N days: a payment for the unit (not reversed) made from the start of that day to N days later.
  Recovered: the sum of those payments within 30 days. A unit reached by two steps the same day counts for both.
- Cost: actions × the channel's unit cost (``WUYE_INSIGHTS_STEP_COSTS_FEN``, fen per action).
- Comparison: accounts overdue that day (principal open past its due date, rebuilt as of that day from the
  ledger) that got no performed action that day, in the same cell of (day, days overdue band, amount band); the
  expected rate is the control rate of each treated account's cell, averaged over the treated accounts whose cell
  has controls (``covered``). Reminders before the due date have no overdue cell and so no comparison.
All in three grouped queries; Python only combines cells.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection

from wuye.common.replica import reads_connection
from wuye.insights.metrics import RELIEF_KINDS, local_midnight

HORIZONS = (7, 14, 30)
DAY_BANDS = ("≤30 天", "31–90 天", "91–180 天", "180 天以上")
AMOUNT_BANDS = ("<500 元", "500–2,000 元", "2,000–5,000 元", "≥5,000 元")
AMOUNT_LIMITS = (50_000, 200_000, 500_000)  # fen
DEFAULT_COSTS_FEN = {"sms": 5, "wechat": 0, "email": 0, "notice": 300, "registered": 1500, "call": 300,
                     "visit": 2000, "referral": 0, "escalate": 0}
PERFORMED = ("sent", "delivered")


def _d(value):
    return connection.ops.adapt_datefield_value(value)


def _t(value):
    return connection.ops.adapt_datetimefield_value(value)


def costs() -> dict[str, int]:
    return {**DEFAULT_COSTS_FEN, **getattr(settings, "WUYE_INSIGHTS_STEP_COSTS_FEN", {})}


@dataclass
class StepEffect:
    step_id: int
    step: str
    channel: str
    actions: int = 0
    paid: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0))
    recovered_fen: int = 0
    cost_fen: int = 0
    covered: int = 0          # treated accounts whose cell has controls
    covered_paid: int = 0     # of those, paid within 30 days
    expected_paid: Decimal = Decimal(0)  # Σ control rate of their cells

    def rate(self, days: int) -> Decimal | None:
        return _pct(Decimal(self.paid[days]), self.actions)

    @property
    def covered_rate(self) -> Decimal | None:
        return _pct(Decimal(self.covered_paid), self.covered)

    @property
    def control_rate(self) -> Decimal | None:
        return _pct(self.expected_paid, self.covered)

    @property
    def lift(self) -> Decimal | None:
        if self.covered_rate is None or self.control_rate is None:
            return None
        return self.covered_rate - self.control_rate

    @property
    def cost_per_100_recovered(self) -> Decimal | None:
        if not self.recovered_fen:
            return None
        return (Decimal(self.cost_fen) * 100 / self.recovered_fen).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _pct(num: Decimal, den: int) -> Decimal | None:
    if not den:
        return None
    return (num * 100 / den).quantize(Decimal("0.01"), ROUND_HALF_UP)


def step_effects(*, start: dt.date, end: dt.date, project_ids: list[int] | None = None) -> list[StepEffect]:
    """The effect of every step with performed actions decided in [start, end] (see the module docstring)."""
    scope, sp = "", []
    if project_ids is not None:
        if not project_ids:
            return []
        scope = f" AND a.project_id IN ({', '.join(['%s'] * len(project_ids))})"
        sp = list(project_ids)
    with reads_connection().cursor() as cur:
        cur.execute(f"SELECT DISTINCT a.decided_on FROM dunning_action a WHERE a.status IN ('sent', 'delivered') "
                    f"AND a.decided_on >= %s AND a.decided_on <= %s{scope}", [_d(start), _d(end), *sp])
        days = sorted(dt.date.fromisoformat(str(r[0])[:10]) for r in cur.fetchall())
    if not days:
        return []
    # one row per day: the day, its start, the ends of the 7/14/30-day horizons, and the days-overdue limits
    values, params = [], []
    for d in days:
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s)")
        params += [_d(d), _t(local_midnight(d)), *(_t(local_midnight(d + dt.timedelta(days=n + 1))) for n in HORIZONS),
                   *(_d(d - dt.timedelta(days=n)) for n in (30, 90, 180))]
    day_cte = f"days(d, d_at, h7, h14, h30, t30, t90, t180) AS (VALUES {', '.join(values)})"
    first_at = _t(local_midnight(days[0]))
    relief = ", ".join(f"'{k}'" for k in RELIEF_KINDS)
    # overdue principal per (day, unit) rebuilt as of the day: open now + what was applied or relieved since
    state_cte = f"""
        lines AS (
            SELECT days.d, b.unit_id, b.due_date,
                   (b.amount_fen - b.settled_fen)
                   + COALESCE((SELECT SUM(x.amount_fen) FROM billing_allocation x
                               WHERE x.bill_id = b.id AND x.applied_on >= days.d), 0)
                   + COALESCE((SELECT SUM(j.amount_fen) FROM billing_adjustment j
                               WHERE j.bill_id = b.id AND j.status = 'approved' AND j.kind IN ({relief})
                                 AND j.decided_at >= days.d_at), 0) AS open_fen
            FROM days JOIN billing_bill b ON b.due_date < days.d
            WHERE b.is_void = %s AND b.late_fee_of_id IS NULL
              AND (b.settled_fen < b.amount_fen
                   OR EXISTS (SELECT 1 FROM billing_allocation x WHERE x.bill_id = b.id AND x.applied_on >= %s)
                   OR EXISTS (SELECT 1 FROM billing_adjustment j WHERE j.bill_id = b.id AND j.decided_at >= %s))
        ),
        state AS (
            SELECT l.d, l.unit_id, SUM(l.open_fen) AS open_fen, MIN(l.due_date) AS oldest
            FROM lines l WHERE l.open_fen > 0 GROUP BY l.d, l.unit_id
        )"""
    state_params = [False, _d(days[0]), first_at]
    band = """
        CASE WHEN s.unit_id IS NULL THEN -1 WHEN s.oldest >= days.t30 THEN 0 WHEN s.oldest >= days.t90 THEN 1
             WHEN s.oldest >= days.t180 THEN 2 ELSE 3 END AS day_band,
        CASE WHEN s.unit_id IS NULL THEN -1 WHEN s.open_fen < %s THEN 0 WHEN s.open_fen < %s THEN 1
             WHEN s.open_fen < %s THEN 2 ELSE 3 END AS amount_band"""
    band_params = list(AMOUNT_LIMITS)
    def paid_sql(unit: str, horizon: str) -> str:
        return f"""CASE WHEN EXISTS (SELECT 1 FROM billing_payment p WHERE p.unit_id = {unit} AND p.amount_fen > 0
             AND p.paid_at >= days.d_at AND p.paid_at < days.{horizon}
             AND NOT EXISTS (SELECT 1 FROM billing_payment r WHERE r.reverses_id = p.id)) THEN 1 ELSE 0 END"""

    outcome = ", ".join(f"SUM({paid_sql('acted.unit_id', f'h{n}')})" for n in HORIZONS)
    recovered = """SUM(COALESCE((SELECT SUM(p.amount_fen) FROM billing_payment p WHERE p.unit_id = acted.unit_id
             AND p.amount_fen > 0 AND p.paid_at >= days.d_at AND p.paid_at < days.h30
             AND NOT EXISTS (SELECT 1 FROM billing_payment r WHERE r.reverses_id = p.id)), 0))"""
    effects: dict[int, StepEffect] = {}
    treated: dict[tuple, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    with reads_connection().cursor() as cur:
        cur.execute(f"""
            WITH {day_cte}, {state_cte},
            acted AS (SELECT DISTINCT a.decided_on AS d, a.unit_id, a.step_id FROM dunning_action a
                      WHERE a.status IN ('sent', 'delivered') AND a.decided_on >= %s AND a.decided_on <= %s{scope})
            SELECT acted.step_id, days.d, {band}, COUNT(*), {outcome}, {recovered}
            FROM acted JOIN days ON days.d = acted.d
            LEFT JOIN state s ON s.d = acted.d AND s.unit_id = acted.unit_id
            GROUP BY acted.step_id, days.d, 3, 4
        """, [*params, *state_params, _d(start), _d(end), *sp, *band_params])
        for step_id, d, day_band, amount_band, n, p7, p14, p30, rec in cur.fetchall():
            e = effects.setdefault(step_id, StepEffect(step_id, "", ""))
            e.actions += n
            for h, v in zip(HORIZONS, (p7, p14, p30), strict=True):
                e.paid[h] += int(v or 0)
            e.recovered_fen += int(rec or 0)
            if day_band >= 0:
                cell = treated[(str(d)[:10], day_band, amount_band)][step_id]
                cell[0] += n
                cell[1] += int(p30 or 0)
        # controls: overdue that day, no performed action that day (any step)
        cur.execute(f"""
            WITH {day_cte}, {state_cte}
            SELECT days.d, {band}, COUNT(*), SUM({paid_sql("s.unit_id", "h30")})
            FROM state s JOIN days ON days.d = s.d
            WHERE NOT EXISTS (SELECT 1 FROM dunning_action a WHERE a.unit_id = s.unit_id AND a.decided_on = s.d
                              AND a.status IN ('sent', 'delivered'))
            GROUP BY days.d, 2, 3
        """, [*params, *state_params, *band_params])
        controls = {(str(d)[:10], db, ab): (n, int(p or 0)) for d, db, ab, n, p in cur.fetchall()}
    from wuye.dunning.models import Step

    unit_cost = costs()
    for step in Step.objects.filter(pk__in=list(effects)).select_related("policy"):
        e = effects[step.pk]
        e.step, e.channel = f"{step.policy.name} · {step.name}", step.channel
        e.cost_fen = e.actions * unit_cost.get(step.channel, 0)
    for cell, by_step in treated.items():
        control = controls.get(cell)
        if not control or not control[0]:
            continue
        rate = Decimal(control[1]) / control[0]
        for step_id, (n, p30) in by_step.items():
            e = effects[step_id]
            e.covered += n
            e.covered_paid += p30
            e.expected_paid += rate * n
    return sorted(effects.values(), key=lambda e: (e.channel, e.step))
