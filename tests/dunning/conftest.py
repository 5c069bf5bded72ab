import datetime as dt

import pytest

from wuye.billing.services import bill_generate
from wuye.dunning.models import Action


@pytest.fixture
def arrears_estate(alice, billed_estate):
    """The test estate billed monthly January–July 2026 (due on the 15th); nobody has paid."""
    for month in range(1, 8):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate


def actions_of(unit, **filters):
    return list(Action.objects.filter(unit=unit, **filters).select_related("step").order_by("decided_on", "pk"))


def names(unit, **filters):
    return [(a.decided_on, a.step.name) for a in actions_of(unit, **filters)]
