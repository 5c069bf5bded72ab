"""The limitation clock (诉讼时效) of one billing period — a pure function, like ``billing/latefee.py``.

Each period's fee is its own debt with its own clock (民法典 188; SPC 法答网 2023 guidance on property fees):

- **Start**: the day after the line's due date (the day the right is infringed).
- **Period**: 3 years. Counting follows 民法典 201–202: the first day is not counted, and the period ends on the
  corresponding day of the month three years on (29 February → 28 February). A period anchored on date A
  therefore ends on ``A + 3 years``.
- **Interruption** (民法典 195; 诉讼时效规定 arts. 8–14) restarts the 3 years from the day of the event:
  a written demand naming the period that reached the debtor (SMS/WeChat/e-mail with a delivery receipt, a
  registered letter or EMS signed for, a notice signed by the owner or an adult of the household, a signed
  回执, a lawyer's letter delivered); a partial payment of that line; an installment plan or a promise that
  covers it; a request for mediation; the filing of a 支付令 or a lawsuit; the end of such a proceeding.
  Posted notices, group messages, calls and messages without a delivery receipt do not interrupt.
- **After expiry** only the debtor's agreement to pay counts — a promise or an installment plan (诉讼时效规定
  art. 19: the debtor who agreed to pay cannot then plead the lapse). A payment after expiry keeps what it paid
  (民法典 192(2)) but does not revive the rest of the line: the system applied it to the oldest lines, the payer
  did not choose the barred one (decision 132). A demand or a filing after expiry is listed but changes nothing.
- **Holidays**: a period whose last day is a rest day or public holiday ends on the next working day
  (民法典 203), read from the official calendar (``dunning.calendar.Calendar``). When no source covers the
  days needed, the unextended date is shown and flagged 「节假日待核」: a holiday can only move the date later,
  so the flagged date is the conservative answer, never a guess.
- **Long stop**: never more than 20 years after the start (民法典 188).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from wuye.dunning.calendar import Calendar, UncoveredDate
from wuye.legal.choices import ACKNOWLEDGEMENTS, ClockState, Interruption

YEARS = 3
LONG_STOP_YEARS = 20
HOLIDAY_UNCHECKED = "节假日待核"


def add_years(day: dt.date, years: int) -> dt.date:
    """The corresponding day ``years`` on; a day the target month lacks (29 Feb) becomes its last day."""
    year = day.year + years
    return dt.date(year, day.month, min(day.day, _calendar.monthrange(year, day.month)[1]))


@dataclass(frozen=True, order=True)
class Event:
    """Something that may interrupt a clock: its date, kind and what it was (e.g. 「动作 #12 短信」)."""

    on: dt.date
    kind: str
    ref: str = ""

    @property
    def acknowledges(self) -> bool:
        return self.kind in ACKNOWLEDGEMENTS

    @property
    def label(self) -> str:
        return Interruption(self.kind).label


@dataclass
class Clock:
    """The clock of one line as computed: when it started, which events restarted it and which came too late,
    the last day of the period (extended past holidays where the calendar knows them), the 20-year long stop."""

    start: dt.date
    expiry: dt.date
    long_stop: dt.date
    anchor: dt.date  # the start or the last event that restarted the clock
    applied: list[Event] = field(default_factory=list)
    ignored: list[Event] = field(default_factory=list)  # demands and filings after expiry
    holiday_unchecked: bool = False
    revived: bool = False  # an acknowledgement came after the clock had run out
    capped: bool = False  # the 20-year long stop cut the date

    @property
    def last(self) -> Event | None:
        return self.applied[-1] if self.applied else None

    def state(self, as_of: dt.date, warn_days: int = 90) -> str:
        if self.expiry < as_of:
            return ClockState.BARRED
        if (self.expiry - as_of).days <= warn_days:
            return ClockState.EXPIRING
        return ClockState.RUNNING

    def barred(self, as_of: dt.date) -> bool:
        return self.expiry < as_of

    def days_left(self, as_of: dt.date) -> int:
        return (self.expiry - as_of).days

    @property
    def summary(self) -> str:
        """The calculation with the last eight interruptions (pages)."""
        return self.explanation(limit=8)

    def explanation(self, limit: int | None = None) -> str:
        """The calculation in words; with ``limit``, only the last ``limit`` interruptions are named."""
        parts = [f"起算 {self.start:%Y-%m-%d}"]
        shown = self.applied if limit is None or len(self.applied) <= limit else self.applied[-limit:]
        if len(shown) < len(self.applied):
            parts.append(f"此前 {len(self.applied) - len(shown)} 次中断从略")
        for ev in shown:
            parts.append(f"{ev.on:%Y-%m-%d} {ev.label}{'（' + ev.ref + '）' if ev.ref else ''}")
        text = "；".join(parts) + f" → 届满 {self.expiry:%Y-%m-%d}"
        if self.holiday_unchecked:
            text += f"（{HOLIDAY_UNCHECKED}：未顺延节假日）"
        if self.capped:
            text += "（不超过起算后 20 年）"
        if self.revived:
            text += "；届满后债务人又同意履行，时效抗辩不再成立"
        for ev in self.ignored[-(limit or len(self.ignored) or 1):]:
            if ev.kind == Interruption.PAYMENT:
                text += f"；{ev.on:%Y-%m-%d} {ev.label}在时效届满后，只及于所缴金额，不恢复其余部分的时效"
            else:
                text += f"；{ev.on:%Y-%m-%d} {ev.label}在时效届满后，不产生中断"
        return text


class Expiries:
    """``anchor → (last day, unchecked)`` with the holiday extension, memoised: an estate's clocks share a few
    thousand anchor dates, and the calendar is read once."""

    def __init__(self, cal: Calendar | None = None):
        self.cal = cal if cal is not None else Calendar()
        self._memo: dict[dt.date, tuple[dt.date, bool]] = {}

    def __call__(self, anchor: dt.date) -> tuple[dt.date, bool]:
        hit = self._memo.get(anchor)
        if hit is None:
            raw = add_years(anchor, YEARS)
            try:
                hit = (self.cal.next_working_day(raw), False)
            except UncoveredDate:
                hit = (raw, True)
            self._memo[anchor] = hit
        return hit


def compute(*, due_date: dt.date, events: Iterable[Event] = (), expiries: Expiries) -> Clock:
    """The clock of a line due on ``due_date`` given the events that may interrupt it (any order)."""
    start = due_date + dt.timedelta(days=1)
    long_stop = add_years(start, LONG_STOP_YEARS)
    anchor = start
    expiry, unchecked = expiries(anchor)
    clock = Clock(start=start, expiry=expiry, long_stop=long_stop, anchor=anchor, holiday_unchecked=unchecked)
    for ev in sorted(events):
        if ev.on < start:
            continue  # before the debt fell due: nothing to interrupt
        if ev.on > expiry:
            if not ev.acknowledges:
                clock.ignored.append(ev)
                continue
            clock.revived = True
        if ev.on < anchor:
            continue  # an earlier event than one already applied on the same line (sorted: equal dates only)
        anchor = ev.on
        expiry, unchecked = expiries(anchor)
        clock.applied.append(ev)
    clock.anchor = anchor
    if expiry > long_stop:
        expiry, unchecked, clock.capped = long_stop, False, True
    clock.expiry, clock.holiday_unchecked = expiry, unchecked
    return clock
