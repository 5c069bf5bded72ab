"""The early-warning features and scores after the speed-up (decision 97) are the former ones: ``features``
equals ``features_reference`` (the first query, kept) on the synthetic estate of ``test_risk`` and on random
ledgers, and ``risk_scores_refresh`` stores the probabilities and reasons the former per-row code gave."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.billing.test_ledger_properties import _apply, op, tiny  # noqa: F401 (fixture)
from tests.insights.test_risk import TODAY, estate  # noqa: F401 (fixture)
from wuye.insights import risk
from wuye.insights.models import RiskScore
from wuye.insights.services import fitted, risk_model_train, risk_scores_refresh

pytestmark = pytest.mark.django_db


def _same(as_of: dt.date, **kw) -> risk.Frame:
    new, old = risk.features(as_of, **kw), risk.features_reference(as_of, **kw)
    assert new.units.tolist() == old.units.tolist() and new.projects.tolist() == old.projects.tolist()
    assert np.array_equal(new.X, old.X), (as_of, kw)
    return new


def test_the_features_are_the_former_ones_on_the_synthetic_estate(estate):  # noqa: F811
    from wuye.casework.models import Dispute
    from wuye.estate.models import UnitStateChange

    units = estate["units"]
    # the account-level inputs too: a state history, a dispute (the seed of test_risk has neither)
    UnitStateChange.objects.create(unit=units[3], state="rented", since=dt.date(2026, 2, 1))
    UnitStateChange.objects.create(unit=units[3], state="vacant", since=dt.date(2026, 6, 1))
    UnitStateChange.objects.create(unit=units[5], state="decorating", since=dt.date(2026, 9, 1))
    Dispute.objects.create(unit=units[4], project=estate["project"], reason="service", description="漏水",
                           opened_on=dt.date(2026, 5, 2), hold_until=dt.date(2026, 6, 1))
    frames = [_same(day) for day in (dt.date(2025, 12, 31), dt.date(2026, 5, 31), dt.date(2026, 8, 31),
                                     dt.date(2026, 11, 30))]
    assert all(len(f) > 100 for f in frames)
    assert frames[-1].X[:, risk.FEATURE_NAMES.index("dead_contacts")].sum() > 0
    _same(dt.date(2026, 5, 31), sample=3)
    _same(dt.date(2026, 5, 31), project_id=estate["project"].pk)


def test_the_stored_scores_are_the_former_per_row_ones(estate):  # noqa: F811
    model = risk_model_train(today=TODAY)
    n = risk_scores_refresh(model=model)
    frame = risk.features_reference(model.as_of)
    m = fitted(model)
    former = {int(u): (int(p), model.pk, round(float(prob), 6), json.loads(json.dumps(r, ensure_ascii=False)))
              for u, p, prob, r in zip(frame.units, frame.projects, m.predict(frame.X), m.reasons(frame.X),
                                       strict=True)}
    stored = {u: (p, mid, prob, reasons) for u, p, mid, prob, reasons in RiskScore.objects.values_list(
        "unit_id", "project_id", "model_id", "probability", "reasons")}
    assert n == len(former) > 100
    assert stored == {u: (p, mid, prob, [list(x) for x in r]) for u, (p, mid, prob, r) in former.items()}
    assert any(len(r) == 3 for *_, r in stored.values()) and any(len(r) < 3 for *_, r in stored.values())


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14), day=st.integers(0, 300), sample=st.sampled_from([1, 2]))
def test_the_features_are_the_former_ones_on_random_ledgers(ops, day, sample, alice, tiny):  # noqa: F811
    project, units = tiny
    sid = transaction.savepoint()
    try:
        _apply(ops, alice, project, units)
        _same(dt.date(2026, 1, 1) + dt.timedelta(days=day), sample=sample)
    finally:
        transaction.savepoint_rollback(sid)
