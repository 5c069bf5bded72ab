"""Late fees (违约金): simple interest per bill line, explained, capped, and beside it what a court upholds.

Rules (configured per project in ``BillingPolicy``):
- the fee runs on the line's open principal from the day after ``due_date + grace_days`` up to and including
  the ``as_of`` date; if the line is settled within the grace days there is no fee;
- payments reduce the principal from the day they are applied (piecewise, so partial payments count);
- no fee accrues on a day the line is disputed: ``disputed`` lists the intervals (``starts_on``, ``ends_on``),
  ``ends_on`` the day the dispute was resolved (the fee runs again from that day) or None while it is open
  (``billing.disputes`` reads them); nor on a day an installment plan in good standing covered it (the same
  intervals with the kind ``INSTALLMENT``, decision 207); the explanation names each interval it excluded;
- the total is capped at ``cap_percent`` of the line's amount and, when set, at the amount itself;
- the result is rounded once, to the fen, half away from zero (``common.formatting.round_fen``);
- the court figure uses the same days and principal at the 1-year LPR raised by the margin, per 365 days
  (courts cut late fees more than 30 % above the actual loss — 民法典 585, 合同编通则解释 65).
Nothing here writes: charging a late fee is a separate, approved step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from wuye.common.formatting import format_yuan, round_fen


@dataclass(frozen=True)
class Terms:
    per_mille_per_day: Decimal
    grace_days: int = 0
    cap_percent: Decimal | None = None
    not_above_principal: bool = True
    lpr_percent: Decimal = Decimal("3.00")
    margin_percent: Decimal = Decimal("30.00")

    @classmethod
    def from_policy(cls, policy) -> Terms:
        return cls(policy.late_fee_per_mille, policy.late_fee_grace_days, policy.late_fee_cap_percent,
                   policy.late_fee_not_above_principal, policy.court_lpr_percent, policy.court_margin_percent)


@dataclass
class Segment:
    start: dt.date  # first day counted
    end: dt.date  # last day counted
    principal_fen: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class LateFee:
    amount_fen: int  # what the contract terms give, capped and rounded
    court_fen: int  # what a court is likely to uphold
    uncapped_fen: int
    capped: bool
    segments: list[Segment] = field(default_factory=list)
    explanation: str = ""


# (first day without a fee, the day the fee runs again or None[, kind]): a dispute's days (no kind) or an installment
# plan's (``INSTALLMENT``: decision 207); the kind only names the days in the explanation
Interval = tuple
DISPUTE, INSTALLMENT = "dispute", "installment"
GAP_WORDS = {DISPUTE: "争议期间", INSTALLMENT: "分期履行期间"}


def merged(disputed: Iterable[Interval]) -> list[tuple[dt.date, dt.date | None]]:
    """The intervals (of any kind) sorted and joined where they overlap or touch; empty ones dropped."""
    out: list[list] = []
    for start, end, *_kind in sorted(disputed, key=lambda x: (x[0], x[1] is None, x[1])):
        if end is not None and end <= start:
            continue
        if out and (out[-1][1] is None or start <= out[-1][1]):
            if out[-1][1] is not None:
                out[-1][1] = None if end is None else max(out[-1][1], end)
            continue
        out.append([start, end])
    return [(a, b) for a, b in out]


def _without(start: dt.date, end: dt.date, gaps: list[tuple[dt.date, dt.date | None]]) -> list[tuple]:
    """The day ranges of [start, end] (inclusive) outside the merged ``gaps`` ([a, b) each)."""
    out = []
    cursor = start
    for a, b in gaps:
        if cursor > end:
            break
        if b is not None and b <= cursor:
            continue
        if a > end:
            break
        if a > cursor:
            out.append((cursor, a - dt.timedelta(days=1)))
        if b is None:
            return out
        cursor = max(cursor, b)
    if cursor <= end:
        out.append((cursor, end))
    return out


def compute(
    *, amount_fen: int, due_date: dt.date, as_of: dt.date, terms: Terms,
    payments: list[tuple[dt.date, int]] = (), disputed: Iterable[Interval] = (),
) -> LateFee:
    """The late fee of one bill line as of ``as_of``. ``payments`` are (date applied, fen) reducing it;
    ``disputed`` the days without a fee: the line's dispute intervals and installment pauses (``Interval``)."""
    rate = terms.per_mille_per_day / Decimal(1000)
    court_rate = terms.lpr_percent / Decimal(100) * (1 + terms.margin_percent / Decimal(100)) / Decimal(365)
    first_day = due_date + dt.timedelta(days=terms.grace_days + 1)
    last_day = as_of
    disputed = list(disputed)
    gaps = merged(disputed)
    segments: list[Segment] = []
    if rate > 0 and last_day >= first_day:
        principal = amount_fen
        # principal still open at the start of first_day
        events = sorted(payments)
        for day, fen in events:
            if day < first_day:
                principal -= fen
        runs: list[Segment] = []
        cursor = first_day
        for day, fen in events:
            if day < first_day or day > last_day:
                continue
            # a payment applied on ``day`` stops interest on that money from ``day`` on
            if day > cursor and principal > 0:
                runs.append(Segment(cursor, day - dt.timedelta(days=1), principal))
            cursor = max(cursor, day)
            principal -= fen
        if principal > 0 and cursor <= last_day:
            runs.append(Segment(cursor, last_day, principal))
        for run in runs:  # the disputed days are cut out of each run of one principal
            segments.extend(Segment(a, b, run.principal_fen) for a, b in _without(run.start, run.end, gaps))
    raw = sum((Decimal(s.principal_fen) * rate * s.days for s in segments), Decimal(0))
    court_raw = sum((Decimal(s.principal_fen) * court_rate * s.days for s in segments), Decimal(0))
    cap = None
    if terms.cap_percent is not None:
        cap = Decimal(amount_fen) * terms.cap_percent / Decimal(100)
    if terms.not_above_principal:
        cap = Decimal(amount_fen) if cap is None else min(cap, Decimal(amount_fen))
    capped = cap is not None and raw > cap
    fee = round_fen(min(raw, cap) if capped else raw)
    court = min(round_fen(court_raw), fee)
    lines = [f"{format_yuan(s.principal_fen)} × {terms.per_mille_per_day.normalize():f}‰ × {s.days}天"
             f"（{s.start:%Y-%m-%d} 至 {s.end:%Y-%m-%d}）" for s in segments]
    text = " + ".join(lines) if lines else "未逾期或在宽限期内，无违约金"
    if capped:
        text += f"；超过上限，按上限 {format_yuan(round_fen(cap))} 计"
    for kind, words in GAP_WORDS.items():  # every interval of each kind that falls in the days the fee could run
        for a, b in merged(i for i in disputed if (i[2] if len(i) > 2 else DISPUTE) == kind):
            if a > as_of or (b is not None and b <= first_day):
                continue
            if b is None or b > as_of:
                text += f"；自 {a:%Y-%m-%d} 起{words}不计"
            else:
                text += f"；{a:%Y-%m-%d} 至 {b - dt.timedelta(days=1):%Y-%m-%d} {words}不计"
    text += f"；法院通常支持约 {format_yuan(court)}（一年期 LPR {terms.lpr_percent.normalize():f}% 上浮 " \
            f"{terms.margin_percent.normalize():f}%）"
    return LateFee(fee, court, round_fen(raw), capped, segments, text)
