"""Worked late-fee cases. Rule: simple interest on the open principal from the day after due date + grace
days up to and including the as-of date; capped; rounded once to the fen, half away from zero."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wuye.billing.latefee import Terms, compute
from wuye.common.formatting import round_fen

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
                       terms=T(Decimal("0.5"), 0), disputed=[(D(2026, 2, 1), None)])
    assert disputed.amount_fen == 800  # 16 Jan – 31 Jan only
    assert "自 2026-02-01 起争议期间不计" in disputed.explanation


def test_a_resolved_dispute_leaves_its_days_out_and_the_fee_runs_again_from_the_resolution_day():
    # disputed 1 Feb, resolved 16 Mar: 16–31 Jan (16 days) + 16 Mar – 1 Apr (17 days) = 33 days × ¥0.50
    fee = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2026, 4, 1), terms=T(Decimal("0.5"), 0),
                  disputed=[(D(2026, 2, 1), D(2026, 3, 16))])
    assert fee.amount_fen == 1_650
    assert [(s.start, s.end) for s in fee.segments] == [(D(2026, 1, 16), D(2026, 1, 31)),
                                                         (D(2026, 3, 16), D(2026, 4, 1))]
    assert "2026-02-01 至 2026-03-15 争议期间不计" in fee.explanation
    # two disputes, one still open; the explanation names each
    fee = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2026, 4, 1), terms=T(Decimal("0.5"), 0),
                  disputed=[(D(2026, 3, 20), None), (D(2026, 2, 1), D(2026, 3, 1))])
    assert fee.amount_fen == (16 + 19) * 50
    assert "2026-02-01 至 2026-02-28 争议期间不计；自 2026-03-20 起争议期间不计" in fee.explanation


def test_a_dispute_over_before_the_fee_could_run_is_not_named():
    fee = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2026, 2, 1), terms=T(Decimal("0.5"), 0),
                  disputed=[(D(2026, 1, 1), D(2026, 1, 16))])
    assert fee.amount_fen == 17 * 50 and "争议" not in fee.explanation


DAY0 = D(2026, 1, 1)
day = st.integers(0, 200).map(lambda n: DAY0 + dt.timedelta(days=n))


@st.composite
def intervals(draw):
    start = draw(day)
    end = draw(st.one_of(st.none(), st.integers(0, 90).map(lambda n: start + dt.timedelta(days=n))))
    return start, end


@given(amount=st.integers(1, 2_000_000), due=day, as_of=day, grace=st.integers(0, 10),
       per_mille=st.sampled_from(["0.3", "0.5", "1", "3"]),
       payments=st.lists(st.tuples(day, st.integers(1, 500_000)), max_size=5),
       disputed=st.lists(intervals(), max_size=4))
@settings(max_examples=300, deadline=None)
def test_the_fee_is_the_day_by_day_sum_over_undisputed_days(amount, due, as_of, grace, per_mille, payments, disputed):
    terms = T(Decimal(per_mille), grace, None, False)  # no cap: the raw sum is compared
    got = compute(amount_fen=amount, due_date=due, as_of=as_of, terms=terms, payments=payments, disputed=disputed)
    # brute force: each day from due + grace + 1 to as_of, the principal open at the start of that day (payments
    # applied that day already count), unless some interval [start, end) holds the day
    raw = Decimal(0)
    d = due + dt.timedelta(days=grace + 1)
    while d <= as_of:
        principal = amount - sum(fen for pay_day, fen in payments if pay_day <= d)
        held = any(a <= d and (b is None or d < b) for a, b in disputed)
        if principal > 0 and not held:
            raw += Decimal(principal) * Decimal(per_mille) / 1000
        d += dt.timedelta(days=1)
    assert got.uncapped_fen == round_fen(raw)
    assert got.amount_fen == round_fen(raw)
    # no counted segment touches a disputed day
    for seg in got.segments:
        for a, b in disputed:
            assert b is not None and b <= seg.start or a > seg.end or (b is not None and b <= a)


def test_the_cap_is_stated_in_the_explanation():
    result = compute(amount_fen=100_000, due_date=D(2026, 1, 15), as_of=D(2027, 1, 15),
                     terms=T(Decimal("3"), 0, Decimal("20")))
    assert result.capped and "按上限 ¥200.00 计" in result.explanation
