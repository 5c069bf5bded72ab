"""Court fees per 诉讼费用交纳办法, with worked examples (amounts in yuan as a person would check them)."""

import pytest

from wuye.legal.courtfee import court_fee

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

Y = 100


@pytest.mark.parametrize(("claim", "kind", "fee"), [
    (8_000, "lawsuit", 50),  # up to ¥10,000: ¥50 flat
    (10_000, "lawsuit", 50),
    (10_001, "lawsuit", 50.03),  # 50 + 1 × 2.5% = 50.025 → 50.03 (half away from zero)
    (50_000, "lawsuit", 1_050),  # 50 + 40,000 × 2.5%
    (100_000, "lawsuit", 2_300),  # 50 + 90,000 × 2.5%
    (150_000, "lawsuit", 3_300),  # 2,300 + 50,000 × 2%
    (300_000, "lawsuit", 5_800),  # 2,300 + 2,000 + 100,000 × 1.5%
    (1_500_000, "lawsuit", 18_300),  # 50+2,250+2,000+4,500+5,000 = 13,800 + 500,000 × 0.9%
    (30_000_000, "lawsuit", 191_800),  # … 141,800 + 10,000,000 × 0.5%
    (50_000, "summary", 525),  # 简易程序: half
    (50_000, "mediated", 525),
    (50_000, "payment_order", 350),  # 1/3 of 1,050
    (8_000, "payment_order", 16.67),  # 50/3 = 16.666… → 16.67
    (36_000, "payment_order", 233.33),  # (50 + 26,000 × 2.5%) / 3 = 700/3
    (8_000, "enforcement", 50),
    (100_000, "enforcement", 1_400),  # 50 + 90,000 × 1.5%
    (600_000, "enforcement", 8_400),  # 50 + 490,000 × 1.5% + 100,000 × 1%
])
def test_worked_examples(claim, kind, fee):
    result = court_fee(claim * Y, kind)
    assert result.fee_fen == round(fee * Y)
    assert result.explanation.endswith(f"¥{fee:,.2f}")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_refuses_a_claim_that_is_not_a_positive_amount(bad):
    with pytest.raises(ValueError, match="大于 0"):
        court_fee(bad)


def test_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="未知"):
        court_fee(100, "appeal")
