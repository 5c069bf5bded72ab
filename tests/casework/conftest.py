import datetime as dt

import pytest

from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action

D = dt.date


def run(*days):
    for day in days:
        dunning_run(as_of=day)


def names(unit, **filters):
    return [(a.decided_on, a.step.name) for a in
            Action.objects.filter(unit=unit, **filters).select_related("step").order_by("decided_on", "pk")]


@pytest.fixture
def outbox(tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    return tmp_path / "outbox"


@pytest.fixture
def erin(make_user):
    """A second collector (building 2 once assigned)."""
    from wuye.accounts.choices import Role

    return make_user("erin", Role.COLLECTOR)


@pytest.fixture
def unit(arrears_estate, bob_territory):
    """Unit 1-101 in bob's building, first seen in arrears on 16 January 2026."""
    return arrears_estate["units"][0]
