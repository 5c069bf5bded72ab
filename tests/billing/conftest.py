import datetime as dt
from decimal import Decimal

import pytest

from wuye.billing.models import BillingPolicy, Rate
from wuye.billing.services import seed_default_fee_items


@pytest.fixture
def billed_estate(estate):
    """The test estate with 物业服务费 at ¥2.00/m²/月 (vacant ¥1.40), monthly, due on the 15th."""
    project = estate["project"]
    from wuye.estate.models import Unit

    Unit.objects.filter(project=project).update(state="self")
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15,
                                 late_fee_per_mille=Decimal("0.5"), late_fee_grace_days=5)
    item = seed_default_fee_items(project, effective_from=dt.date(2020, 1, 1), price_per_m2=Decimal("2.00"))
    Rate.objects.filter(fee_item=item).update(vacant_price=Decimal("1.40"))
    estate["fee_item"] = item
    return estate
