"""Fixtures shared by the billing tests."""

import datetime as dt

import pytest


@pytest.fixture
def owing(alice, billed_estate):
    """Unit 1-101 billed March–May 2026, nothing paid: owes 3 × ¥179.00 = ¥537.00 (the installment tests)."""
    from wuye.billing.services import bill_generate

    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate["units"][0]
