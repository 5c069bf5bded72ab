"""Worked late-fee cases. Rule: simple interest on the open principal from the day after due date + grace
days up to and including the as-of date; capped; rounded once to the fen, half away from zero."""

import datetime as dt
from decimal import Decimal

import pytest

from wuye.billing.latefee import Terms, compute

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

D = dt.date
T = Terms

CASES = [
    # amount   due            as_of          terms                                              payments                 fee      court  why
    (100_000, D(2026, 1, 15), D(2026, 3, 1), T(Decimal("0.5"), 5), [], 2_000, 427,
     "¥1,000.00, 45 days overdue, 5 grace → 40 days × 0.5‰ = ¥20.00; court 1000×3.9%/365×40 = ¥4.27"),
    (100_000, D(2026, 1, 15), D(2026, 1, 20), T(Decimal("0.5"), 5), [], 0, 0, "inside the grace days"),
    (100_000, D(2026, 1, 15), D(2027, 1, 15), T(Decimal("3"), 0, Decimal("20")), [], 20_000, 3_900,
     "3‰ for 365 days = ¥1,095 raw, capped at 20% = ¥200.00"),
    (100_000, D(2026, 1, 15), D(2029, 1, 15), T(Decimal("3"), 0), [], 100_000, 11_711,
     "3‰ × 1,096 days (2028 is a leap year) = ¥3,288 raw, not above the principal ¥1,000"),
    (100_000, D(2026, 1, 15), D(2026, 2, 14), T(Decimal("1"), 0), [(D(2026, 1, 25), 60_000)], 1_740, 186,
     "¥1,000 for 9 days (16–24 Jan) then ¥400 for 21 days (25 Jan–14 Feb) = 9.00 + 8.40"),
    (33_333, D(2026, 1, 15), D(2026, 1, 16), T(Decimal("0.3"), 0), [], 10, 0, "9.9999 fen rounds to 10"),
    (100_000, D(2026, 1, 15), D(2026, 3, 1), T(Decimal("0"), 0), [], 0, 0, "no late-fee clause: no late fee"),
]


@pytest.mark.parametrize(("amount", "due", "as_of", "terms", "payments", "fee", "court", "why"), CASES)
def test_worked_cases(amount, due, as_of, terms, payments, fee, court, why):
    result = compute(amount_fen=amount, due_date=due, as_of=as_of, terms=terms, payments=payments)
    assert result.amount_fen == fee, why
    if court:
        assert result.court_fen == court, why
    assert result.court_fen <= result.amount_fen


def test_the_court_figure_uses_lpr_plus_margin():
    result = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2026, 3, 1),
                     terms=T(Decimal("0.5"), 5))
    # 1000 × 3.00% × 1.3 / 365 × 40 days = 4.2739… → ¥4.27
    assert result.court_fen == 427
    assert "40天" in result.explanation and "法院通常支持约 ¥4.27" in result.explanation


def test_no_late_fee_accrues_while_disputed():
    disputed = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2026, 3, 1),
                       terms=T(Decimal("0.5"), 0), disputed_since=D(2026, 2, 1))
    assert disputed.amount_fen == 800  # 16 Jan – 31 Jan only
    assert "争议期间不计" in disputed.explanation


def test_the_cap_is_stated_in_the_explanation():
    result = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2027, 1, 15),
                     terms=T(Decimal("3"), 0, Decimal("20")))
    assert result.capped and "按上限 ¥200.00 计" in result.explanation
