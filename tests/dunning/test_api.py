import datetime as dt

from rest_framework.test import APIClient

from wuye.dunning.choices import HoldKind
from wuye.dunning.engine import dunning_run
from wuye.dunning.services import hold_place

D = dt.date


def test_collection_endpoint_shows_segment_step_holds_and_actions(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    for day in (D(2026, 1, 16), D(2026, 1, 18)):
        dunning_run(as_of=day)
    hold_place(actor=alice, unit=unit, kind=HoldKind.PROMISE, reason="月底缴", until=D(2026, 1, 30),
               starts_on=D(2026, 1, 19))
    client = APIClient()
    client.force_authenticate(alice)
    r = client.get(f"/api/v1/units/{unit.pk}/collection/?as_of=2026-01-20")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["segment"] == "residential" and body["segment_label"] == "自住住宅"
    assert body["policy"] == "住宅标准催缴"
    assert body["current_step"] == "逾期 3 天电话" and body["current_stage"] == 20
    assert body["reachable"] is True
    assert body["held_today"] == "业主承诺 2026-01-30 缴费"
    assert [h["kind"] for h in body["holds"]] == ["promise"]
    steps = [(a["step"], a["status"]) for a in body["actions"]]
    assert ("逾期短信", "cancelled") in steps  # the promise cancelled what had not gone yet
    assert r.json()["today"] == []


def test_collection_endpoint_respects_territories(bob_territory, arrears_estate):
    client = APIClient()
    client.force_authenticate(bob_territory)
    inside, outside = arrears_estate["units"][0], arrears_estate["units"][-1]
    assert client.get(f"/api/v1/units/{inside.pk}/collection/").status_code == 200
    assert client.get(f"/api/v1/units/{outside.pk}/collection/").status_code == 404
    assert client.get(f"/api/v1/units/{inside.pk}/collection/?as_of=bad").status_code == 400
