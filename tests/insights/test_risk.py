"""The early-warning model (insights.risk) on a synthetic estate whose outcome is predictable from one feature.

400 flats, ¥100 a month, due on the 15th, June 2025 – November 2026. Half the owners have a live phone and are
forgetful: each month one in five pays that month's line 40 days late and one in seven 70 days late instead of
3 days early, so they are often one or two months behind at a month's end but never 90 days. The other half have a phone known dead since 2025 and,
each month with probability 0.06, stop paying for good — three months later they are 90+ days overdue. At a
month's end a forgetful owner one line behind and an owner who just stopped look the same to the days-overdue
rule; only the dead phone tells them apart, so the model must beat the rule.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pytest

from wuye.insights import risk
from wuye.insights.models import RiskModel, RiskScore
from wuye.insights.services import risk_model_train, risk_monthly, risk_scores_refresh

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 4)
CN = dt.timezone(dt.timedelta(hours=8))
MONTHS = [dt.date(2025 + (5 + i) // 12, (5 + i) % 12 + 1, 1) for i in range(18)]  # 2025-06 … 2026-11


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=CN)


@pytest.fixture
def estate(db, settings):
    settings.WUYE_RISK_TRAIN_MONTHS = 4
    from wuye.billing.choices import FeeKind, PaymentMethod, Pricing
    from wuye.billing.models import Allocation, Bill, FeeItem, Payment
    from wuye.estate.choices import ContactKind, OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, ContactPoint, Occupancy, Party, Project, Unit

    rng = random.Random(16)
    dev = Party.objects.create(kind=PartyKind.COMPANY, name="开发商", natural_key="dev:R1", is_developer=True)
    project = Project.objects.create(code="R1", name="预警小区", developer=dev)
    building = Building.objects.create(project=project, code="1", name="1幢", floors=20)
    item = FeeItem.objects.create(project=project, code="WY", name="物业服务费", kind=FeeKind.PROPERTY,
                                  pricing=Pricing.FIXED)
    units = Unit.objects.bulk_create(
        Unit(project=project, building=building, floor=1 + i // 20, number=f"{i:03d}", code=f"1-{i:03d}",
             property_type=PropertyType.HIGH_RISE, area=Decimal("80.00"), state="self") for i in range(400))
    owners = Party.objects.bulk_create(Party(name=f"业主{i}", natural_key=f"r:{i}") for i in range(400))
    Occupancy.objects.bulk_create(Occupancy(unit=u, party=p, role=OccupantRole.OWNER, start=dt.date(2020, 1, 1))
                                  for u, p in zip(units, owners, strict=True))
    ContactPoint.objects.bulk_create(
        ContactPoint(party=p, kind=ContactKind.MOBILE, value=f"139{i:08d}", is_primary=True,
                     validity="empty" if i % 2 else "valid", last_verified=dt.date(2025, 3, 1))
        for i, p in enumerate(owners))
    bills, pays = [], []
    for i, (unit, owner) in enumerate(zip(units, owners, strict=True)):
        dead = i % 2 == 1
        stopped = False
        for first in MONTHS:
            due = first.replace(day=15)
            bills.append(Bill(project=project, unit=unit, party=owner, fee_item=item, period_start=first,
                              period_end=(first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
                              - dt.timedelta(days=1), amount_fen=10000, due_date=due, rule="固定 100 元/月"))
            if dead:
                stopped = stopped or rng.random() < 0.06
                paid = None if stopped else due - dt.timedelta(days=3)
            else:
                r = rng.random()
                paid = due + dt.timedelta(days=40 if r < 0.2 else 70 if r < 0.35 else -3)
            pays.append((len(bills) - 1, paid))
    bills = Bill.objects.bulk_create(bills)
    payments, allocations = [], []
    for index, paid in pays:
        if paid is None or paid >= TODAY:
            continue
        bill = bills[index]
        payments.append(Payment(project=project, unit=bill.unit, amount_fen=10000, method=PaymentMethod.CASH,
                                paid_at=_at(paid)))
        allocations.append((bill, paid))
    payments = Payment.objects.bulk_create(payments)
    Allocation.objects.bulk_create(Allocation(payment=p, bill=b, amount_fen=10000, applied_on=day)
                                   for p, (b, day) in zip(payments, allocations, strict=True))
    Bill.objects.filter(pk__in=[b.pk for b, _ in allocations]).update(settled_fen=10000)
    return {"project": project, "units": units}


def test_the_time_split_never_trains_on_the_future():
    p = risk.plan(TODAY, 6, MONTHS[0])
    assert p["last"] == dt.date(2026, 11, 30) and p["test"] == dt.date(2026, 8, 31)
    assert p["validation_train"][-1] == dt.date(2026, 5, 31) and p["validation_train"][0] == dt.date(2025, 12, 31)
    assert all(risk.horizon_end(t) <= p["test"] for t in p["validation_train"])
    assert all(risk.horizon_end(t) <= p["last"] for t in p["final_train"])
    risk.assert_no_future(p["validation_train"], p["test"])
    with pytest.raises(AssertionError):  # a month whose outcome window runs past the test month
        risk.assert_no_future([*p["validation_train"], dt.date(2026, 6, 30)], p["test"])
    # history shorter than the reference window: only months with bills
    assert risk.plan(TODAY, 6, dt.date(2026, 3, 1))["validation_train"] == [dt.date(2026, 3, 31),
                                                                          dt.date(2026, 4, 30),
                                                                          dt.date(2026, 5, 31)]


def test_features_and_outcomes_follow_the_ledger(estate):
    frame = risk.features(dt.date(2026, 8, 31))
    x = dict(zip(frame.units.tolist(), frame.X.tolist(), strict=True))
    units = estate["units"]
    dead = risk.FEATURE_NAMES.index("dead_contacts")
    assert x[units[1].pk][dead] == 1 if units[1].pk in x else True
    assert x[units[0].pk][dead] == 0
    y = risk.outcome(frame)
    # an account counted positive is 90+ days overdue at one of the next three month-ends, and not at T
    ninety_now = set(risk.ninety_plus(dt.date(2026, 8, 31)).tolist())
    assert not ninety_now & set(frame.units.tolist())
    later = set()
    for day in (dt.date(2026, 9, 30), dt.date(2026, 10, 31), dt.date(2026, 11, 30)):
        later |= set(risk.ninety_plus(day).tolist())
    assert {u for u, hit in zip(frame.units.tolist(), y.tolist(), strict=True) if hit} == later & set(frame.units.tolist())
    assert y.sum() > 0


def test_the_model_beats_the_days_overdue_rule_and_is_stored_with_its_metrics(estate):
    model = risk_model_train(today=TODAY)
    m = model.metrics
    assert m["test_month"] == "2026-08" and m["validation_train"] == ["2026-02", "2026-03", "2026-04", "2026-05"]
    assert m["positives"] > 0 and m["train_positives"] > 0
    assert m["auc"] > 0.9 and m["auc"] > m["baseline_auc"] + 0.03, m
    assert m["calibration"] and all(0 <= p <= 1 and 0 <= f <= 1 for p, f, _ in m["calibration"])
    assert model.as_of == dt.date(2026, 11, 30) and model.features == list(risk.FEATURE_NAMES)
    # the dead phone is what the model learnt
    coef = dict(zip(model.features, model.coef, strict=True))
    assert coef["dead_contacts"] == max(coef.values())


def test_scoring_is_deterministic_and_explains_itself(estate):
    model = risk_monthly(today=TODAY)
    assert model.scored == RiskScore.objects.count() > 0
    first = dict(RiskScore.objects.values_list("unit_id", "probability"))
    risk_scores_refresh(model=model)
    assert dict(RiskScore.objects.values_list("unit_id", "probability")) == first
    again = risk_model_train(today=TODAY)
    assert again.coef == model.coef and again.intercept == model.intercept
    top = RiskScore.objects.order_by("-probability").first()
    assert top.reasons and top.reasons[0][0] in risk.FEATURE_NAMES
    assert "dead_contacts" in [r[0] for r in top.reasons]
    low = RiskScore.objects.order_by("probability").first()
    assert low.probability < 0.2 < top.probability


def test_sampling_keeps_an_even_deterministic_share(estate):
    whole = risk.features(dt.date(2026, 5, 31))
    half = risk.features(dt.date(2026, 5, 31), sample=2)
    assert set(half.units.tolist()) == {u for u in whole.units.tolist() if u % 2 == 0}
    assert np.array_equal(half.X, whole.X[whole.units % 2 == 0])


def test_too_little_history_is_said_plainly(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        risk_model_train(today=TODAY)
    assert not RiskModel.objects.exists()


def test_the_command_trains_scores_and_the_page_shows_it(client, alice, estate):
    import io

    from django.core.management import call_command

    client.force_login(alice)
    assert 'data-testid="risk-none"' in client.get("/insights/risk/").content.decode()
    out = io.StringIO()
    call_command("risk_train", "--today", "2026-12-04", stdout=out)
    model = RiskModel.objects.get()
    assert "AUC" in out.getvalue() and f"评分 {model.scored} 户" in out.getvalue()
    page = client.get("/insights/risk/").content.decode()
    assert f'data-testid="auc">{model.metrics["auc"]}<' in page
    assert f'data-testid="baseline-auc">{model.metrics["baseline_auc"]}<' in page
    assert page.count("<tr>", page.index('data-testid="risk-calibration"')) > 2
    top = RiskScore.objects.order_by("-probability", "unit_id").first()
    assert top.unit.code in page and "无效联系方式" in page
    assert "不给业主看" in page  # what the score is for, and not for
    assert 'data-testid="link-risk"' in client.get("/insights/").content.decode()


def test_collectors_do_not_see_the_risk_page(client, bob):
    client.force_login(bob)
    assert client.get("/insights/risk/").status_code == 403


def test_the_api_gives_the_model_and_its_validation(client, alice, estate):
    client.force_login(alice)
    assert client.get("/api/v1/insights/risk/").status_code == 404
    model = risk_model_train(today=TODAY)
    body = client.get("/api/v1/insights/risk/").json()
    assert body["metrics"]["auc"] == model.metrics["auc"] and body["features"] == list(risk.FEATURE_NAMES)
