"""/api/v1/insights/: the same figures as the pages, in the OpenAPI schema, for the roles that may read them."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 4)


@pytest.fixture
def api(alice):
    c = APIClient()
    c.force_authenticate(alice)
    return c


def test_figures_by_building_and_collector_match_the_closed_month(api, small_ledger, bob):
    month_close(period=dt.date(2026, 2, 1), today=TODAY)
    r = api.get("/api/v1/insights/figures/?period=2026-02&by=building")
    assert r.status_code == 200 and r.data["source"] == "close"
    by = {g["building"]: g for g in r.data["groups"]}
    b1, b2 = by[small_ledger["b1"].pk], by[small_ledger["b2"].pk]
    assert (b1["collected_fen"], b1["units_settled"], b1["prepaid_fen"]) == (20000, 2, 5000)
    assert (b2["old_start_fen"], b2["old_collected_fen"], str(b2["clearance_rate"])) == (20000, 6000, "30.00")
    r = api.get("/api/v1/insights/figures/?period=2026-02&by=collector")
    assert {g["collector"]: g["collected_fen"] for g in r.data["groups"]} == {bob.pk: 20000, None: 0}
    r = api.get("/api/v1/insights/figures/?period=2026-02&by=nothing")
    assert r.status_code == 400


def test_trend_ageing_units_and_targets(api, small_ledger):
    month_close(period=dt.date(2026, 2, 1), today=TODAY)
    points = api.get("/api/v1/insights/trend/?months=24").data
    assert len(points) == 24 and any(p["label"] == "2026-02" and p["collection_rate"] == "50.00" for p in points)
    ageing = {a["bucket"]: a["amount_fen"] for a in api.get("/api/v1/insights/ageing/?period=2026-02").data}
    assert (ageing["age_30_fen"], ageing["age_90_fen"]) == (20000, 10000)
    units = api.get(f"/api/v1/insights/units/?building={small_ledger['b2'].pk}").data
    assert {u["code"] for u in units["results"]} == {"2-101", "2-102"}
    r = api.post("/api/v1/insights/targets/", {"project": small_ledger["project"].pk, "period": "2026-02",
                                              "collection_rate": "95.00"}, format="json")
    assert r.status_code == 201
    assert api.get("/api/v1/insights/targets/?period=2026-02").data[0]["collection_rate"] == "95.00"
    r = api.post("/api/v1/insights/targets/", {"project": small_ledger["project"].pk, "period": "2026-02",
                                              "collection_rate": "101"}, format="json")
    assert r.status_code == 400


def test_collectors_cannot_read_the_numbers(bob):
    c = APIClient()
    c.force_authenticate(bob)
    assert c.get("/api/v1/insights/figures/").status_code == 403
    assert c.get("/api/v1/insights/units/").status_code == 403


def test_the_endpoints_are_in_the_openapi_schema(client, alice):
    client.force_login(alice)
    schema = client.get("/api/schema/").content.decode()
    for path in ("figures", "trend", "ageing", "units", "targets"):
        assert f"/api/v1/insights/{path}/" in schema
