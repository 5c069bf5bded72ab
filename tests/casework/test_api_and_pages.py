"""REST endpoints, the territory rule on API and pages, corrections, the manager's desk."""

import pytest
from rest_framework.test import APIClient

from wuye.accounts.models import AuditEvent
from wuye.billing.models import InstallmentPlan
from wuye.casework import services
from wuye.casework.models import ContactAttempt, ImmutableError, PaymentCheck, Promise
from wuye.dunning.models import Episode, Hold, Task

from .conftest import D, run


def fields(response) -> dict[str, str]:
    """The project's error format: {"error": {"fields": {name: message or [messages]}}}."""
    out = response.json()["error"]["fields"]
    return {k: v if isinstance(v, str) else "；".join(v) for k, v in out.items()}


@pytest.fixture
def api(bob_territory):
    client = APIClient()
    client.force_authenticate(bob_territory)
    return client


def test_the_worklist_endpoint_returns_the_collectors_ordered_list(api, arrears_estate, bob_territory):
    run(D(2026, 1, 16))
    r = api.get("/api/v1/worklist/?date=2026-02-01")
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert len(rows) == 12 and rows[0]["amount"].startswith("¥")
    assert isinstance(rows[0]["overdue_fen"], int) and "*" in rows[0]["phone_masked"]
    assert fields(api.get("/api/v1/worklist/?date=2026-13-01")) == {"date": "日期格式应为 YYYY-MM-DD。"}


def test_the_worklist_endpoint_fills_the_talking_points_as_the_page_does(api, client, arrears_estate, bob_territory):
    from wuye.casework.models import TalkingPoint

    TalkingPoint.objects.update(body="请问是 {房号} 的业主本人吗？")
    run(D(2026, 1, 16))
    rows = api.get("/api/v1/worklist/?date=2026-02-01").json()["rows"]
    bodies = [(row["code"], p["body"]) for row in rows for p in row["points"]]
    assert bodies, rows[0]
    assert all(body == f"请问是 {code} 的业主本人吗？" for code, body in bodies), bodies[:3]
    client.force_login(bob_territory)
    page = client.get("/casework/?date=2026-02-01").content.decode()
    assert f"请问是 {rows[0]['code']} 的业主本人吗？" in page and "{房号}" not in page


def test_recording_a_contact_and_a_promise_through_the_api(api, unit):
    run(D(2026, 1, 16))
    r = api.post("/api/v1/contacts/", {"unit": unit.pk, "channel": "call", "outcome": "promised",
                                       "promised_on": "2026-01-25", "amount_fen": 17_900, "on": "2026-01-17"},
                 format="json")
    assert r.status_code == 201, r.content
    assert r.json()["account_class"] == "promised"
    assert Promise.objects.get(unit=unit).hold.until == D(2026, 1, 25)
    r = api.post("/api/v1/contacts/", {"unit": unit.pk, "channel": "call", "outcome": "promised"}, format="json")
    assert r.status_code == 400 and fields(r) == {"promised_on": "请填写承诺缴费日期。"}
    r = api.post("/api/v1/contacts/", {"unit": unit.pk, "channel": "fax", "outcome": "busy"}, format="json")
    assert r.status_code == 400 and "联系方式" in fields(r)["channel"]
    r = api.post("/api/v1/promises/", {"unit": unit.pk, "promised_on": "2026-01-28", "amount_fen": "12.5",
                                       "on": "2026-01-18"}, format="json")
    assert r.status_code == 400 and "整数" in fields(r)["amount_fen"]
    r = api.post("/api/v1/promises/", {"unit": unit.pk, "promised_on": "2026-01-28", "on": "2026-01-18"},
                 format="json")
    assert r.status_code == 201 and r.json()["state"] == "open"


def test_a_collector_cannot_see_or_act_outside_the_territory(api, client, arrears_estate, bob_territory):
    run(D(2026, 1, 16))
    far = arrears_estate["units"][12]  # building 2
    assert api.post("/api/v1/contacts/", {"unit": far.pk, "channel": "call", "outcome": "busy"},
                    format="json").status_code == 404
    assert api.post("/api/v1/promises/", {"unit": far.pk, "promised_on": "2026-03-01"},
                    format="json").status_code == 404
    assert far.code not in str(api.get("/api/v1/worklist/?date=2026-02-01").json())
    client.force_login(bob_territory)
    assert client.get(f"/casework/units/{far.pk}/contact/").status_code == 404
    assert client.post(f"/casework/units/{far.pk}/quick/", {"outcome": "busy"}).status_code == 404
    assert client.get(f"/casework/units/{far.pk}/").status_code == 404
    with pytest.raises(Exception, match="责任区"):
        services.contact_record(actor=bob_territory, unit=far, channel="call", outcome="busy")
    assert not ContactAttempt.objects.filter(unit=far).exists()


def test_the_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/worklist/", "/api/v1/contacts/", "/api/v1/promises/"):
        assert path in schema
    assert api.get("/api/v1/contacts/").status_code == 200  # estate's contact list still answers GET


def test_contacts_are_immutable_and_corrections_append(unit, bob_territory):
    run(D(2026, 1, 16))
    first = services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away",
                                    on=D(2026, 1, 17))
    first.note = "changed"
    with pytest.raises(ImmutableError):
        first.save()
    with pytest.raises(ImmutableError):
        first.delete()
    with pytest.raises(Exception, match="更正"):
        services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer",
                                corrects=first, on=D(2026, 1, 17))
    fix = services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer",
                                  corrects=first, note="点错了，实际无人接听", on=D(2026, 1, 17))
    assert ContactAttempt.objects.filter(unit=unit).count() == 2
    assert ContactAttempt.objects.get(pk=first.pk).outcome == "away" and fix.corrects_id == first.pk
    assert Episode.objects.get(unit=unit).account_class == "undecided"
    with pytest.raises(Exception, match="已被更正"):
        services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="busy", corrects=first,
                                note="再改", on=D(2026, 1, 17))
    assert AuditEvent.objects.filter(verb="casework.contact", actor=bob_territory).count() == 2


def test_paid_already_opens_a_finance_check_and_installment_goes_to_the_approvals_queue(
        unit, bob_territory, alice, client):
    run(D(2026, 1, 16))
    services.contact_record(actor=bob_territory, unit=unit, channel="desk", outcome="paid_already",
                            note="说上周在银行转账了", on=D(2026, 1, 17))
    check = PaymentCheck.objects.get(unit=unit)
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="installment",
                            installments=4, note="刚换工作，分四期")
    plan = InstallmentPlan.objects.get(unit=unit)
    assert plan.status == "pending" and plan.items.count() == 4
    client.force_login(alice)
    page = client.get("/casework/desk/approvals/").content.decode()
    assert f'data-testid="plan-{plan.pk}"' in page
    r = client.post(f"/casework/desk/approvals/plan/{plan.pk}/", {"approve": "0", "note": ""}, follow=True)
    assert "驳回时请填写理由" in r.content.decode()
    client.post(f"/casework/desk/approvals/plan/{plan.pk}/", {"approve": "1", "note": "同意"})
    plan.refresh_from_db()
    assert plan.status == "active"
    client.post("/casework/checks/", {"check": check.pk, "found": "1", "note": "1月12日银行流水已到"})
    check.refresh_from_db()
    assert check.status == "found" and check.resolved_by == alice


def test_a_class_override_needs_a_reason(unit, bob_territory, client):
    run(D(2026, 1, 16))
    client.force_login(bob_territory)
    r = client.post(f"/casework/units/{unit.pk}/", {"account_class": "away", "reason": ""})
    assert "请填写调整原因" in r.content.decode()
    client.post(f"/casework/units/{unit.pk}/", {"account_class": "away", "reason": "业主在外地工作，年底回来"})
    assert Episode.objects.get(unit=unit).account_class == "away"


def test_one_tap_outcome_and_the_pages_render(unit, bob_territory, alice, client):
    run(D(2026, 1, 16))
    client.force_login(bob_territory)
    page = client.get("/casework/?date=2026-02-01").content.decode()
    assert unit.code in page and "138****0001" in page and "13800000001" not in page
    r = client.post(f"/casework/units/{unit.pk}/quick/", {"outcome": "no_answer"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "暂未明确" in r.content.decode()
    assert client.post(f"/casework/units/{unit.pk}/quick/", {"outcome": "promised"}).status_code == 400
    r = client.post(f"/casework/units/{unit.pk}/contact/", {"channel": "call", "outcome": "refused"})
    assert "拒交或投诉时请选择原因" in r.content.decode()
    r = client.post(f"/casework/units/{unit.pk}/contact/", {"channel": "call", "outcome": "promised",
                                                            "promised_on": "2026-12-01", "amount_fen": "abc"})
    assert "承诺金额（元）" in r.content.decode()
    assert client.get("/casework/desk/debrief/").status_code == 403
    for url in ("/casework/disputes/", "/casework/work-orders/", "/casework/talking-points/",
                f"/casework/units/{unit.pk}/", f"/casework/units/{unit.pk}/contact/?outcome=promised"):
        assert client.get(url).status_code == 200, url
    client.force_login(alice)
    for url in ("/casework/desk/approvals/", "/casework/desk/escalations/", "/casework/desk/team/",
                "/casework/desk/debrief/?date=2026-02-01", "/casework/checks/",
                f"/casework/?collector={bob_territory.pk}&date=2026-02-01"):
        assert client.get(url).status_code == 200, url


def test_a_dispute_page_sends_a_work_order_and_resolves(unit, bob_territory, alice, client):
    run(D(2026, 1, 16))
    dispute = services.dispute_open(actor=bob_territory, unit=unit, reason="service", description="电梯常坏")
    client.force_login(alice)
    r = client.post(f"/casework/disputes/{dispute.pk}/", {"action": "work_order", "title": "", "due_on": ""})
    assert "请填写工单事项" in r.content.decode()
    client.post(f"/casework/disputes/{dispute.pk}/", {"action": "work_order", "title": "电梯全面检修",
                                                      "due_on": "2099-01-01"})
    assert dispute.work_orders.count() == 1
    wo = dispute.work_orders.get()
    client.post(f"/casework/work-orders/{wo.pk}/", {"status": "done", "note": "已更换控制板"})
    client.post(f"/casework/disputes/{dispute.pk}/", {"action": "resolve", "note": "检修完成，业主认可"})
    dispute.refresh_from_db()
    assert dispute.status == "resolved"
    assert Hold.objects.get(pk=dispute.hold_id).released_on is not None


def test_handing_a_territory_over_moves_the_open_tasks(unit, bob_territory, alice, erin, outbox):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from wuye.dunning.dispatch import dispatch

    run(D(2026, 1, 16), D(2026, 1, 19))
    dispatch(now=dt.datetime(2026, 1, 19, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert Task.objects.filter(assigned_to=bob_territory, status="open").count() == 12
    with pytest.raises(Exception, match="经理"):
        services.territory_handover(actor=bob_territory, from_user=bob_territory, to_user=erin)
    assert services.territory_handover(actor=alice, from_user=bob_territory, to_user=erin) == (1, 12)
    assert Task.objects.filter(assigned_to=erin, status="open").count() == 12
    assert not bob_territory.territories.exists() and erin.territories.count() == 1


def test_the_debrief_counts_contacts_promises_and_money(unit, bob_territory, alice):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from wuye.billing.services import payment_record
    from wuye.casework.selectors import debrief

    run(D(2026, 1, 16))
    day = D(2026, 1, 17)
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer", on=day)
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised",
                            promised_on=D(2026, 1, 20), amount_fen=17_900, on=day)
    other = unit.building.units.exclude(pk=unit.pk).first()
    services.contact_record(actor=bob_territory, unit=other, channel="visit", outcome="refused", reason="fee_level",
                            note="认为收费太高", on=day)
    payment_record(actor=alice, unit=unit, amount_fen=17_900, method="cash",
                   paid_at=dt.datetime(2026, 1, 17, 15, tzinfo=ZoneInfo("Asia/Shanghai")))
    row = next(r for r in debrief(user=alice, day=day) if r.collector == bob_territory)
    assert (row.contacts, row.reached, row.promises_made, row.promised_fen) == (3, 2, 1, 17_900)
    assert row.promises_kept == 1 and row.collected_fen == 17_900
    assert [c.unit_id for c in row.hard_cases] == [other.pk]


def test_a_contact_cannot_be_dated_in_the_future_nor_a_follow_up_in_the_past(api, unit, bob_territory, client):
    import datetime as dt

    from django.utils import timezone

    run(D(2026, 1, 16))
    today = timezone.localdate()
    tomorrow, yesterday = today + dt.timedelta(days=1), today - dt.timedelta(days=1)
    base = {"unit": unit.pk, "channel": "call", "outcome": "no_answer"}
    r = api.post("/api/v1/contacts/", {**base, "on": tomorrow.isoformat()}, format="json")
    assert r.status_code == 400 and "联系日期不能晚于今天" in fields(r)["on"]
    r = api.post("/api/v1/contacts/", {**base, "follow_up_on": yesterday.isoformat()}, format="json")
    assert r.status_code == 400 and fields(r) == {"follow_up_on": "下次跟进日期不能早于今天。"}
    r = api.post("/api/v1/contacts/", {**base, "follow_up_on": (today + dt.timedelta(days=400)).isoformat()},
                 format="json")
    assert r.status_code == 400 and "下次跟进日期不能晚于" in fields(r)["follow_up_on"]
    promise = {**base, "outcome": "promised", "amount_fen": 100}
    r = api.post("/api/v1/contacts/", {**promise, "promised_on": yesterday.isoformat()}, format="json")
    assert r.status_code == 400 and "承诺缴费日期不能早于" in fields(r)["promised_on"]
    r = api.post("/api/v1/contacts/", {**promise, "promised_on": (today + dt.timedelta(days=200)).isoformat()},
                 format="json")
    assert r.status_code == 400 and "分期" in fields(r)["promised_on"]
    assert not ContactAttempt.objects.filter(unit=unit).exists() and not Promise.objects.exists()  # nothing written
    r = api.post("/api/v1/contacts/", {**base, "on": yesterday.isoformat(), "follow_up_on": today.isoformat()},
                 format="json")
    assert r.status_code == 201 and r.json()["on"] == yesterday.isoformat()  # a late record of yesterday's call

    # the contact form says the same, next to the field, and writes nothing
    client.force_login(bob_territory)
    url = f"/casework/units/{unit.pk}/contact/"
    page = client.get(url).content.decode()
    assert f'max="{today.isoformat()}"' in page
    r = client.post(url, {"channel": "call", "outcome": "no_answer", "on": tomorrow.isoformat()})
    assert r.status_code == 200 and "联系日期：联系日期不能晚于今天" in r.content.decode()
    r = client.post(url, {"channel": "call", "outcome": "no_answer", "follow_up_on": yesterday.isoformat()})
    assert "下次跟进日期：下次跟进日期不能早于今天。" in r.content.decode()
    r = client.post(url, {"channel": "call", "outcome": "promised", "promised_on": yesterday.isoformat()})
    assert "承诺缴费日期：承诺缴费日期不能早于" in r.content.decode()
    assert ContactAttempt.objects.filter(unit=unit).count() == 1
    r = client.post(url, {"channel": "visit", "outcome": "away", "on": yesterday.isoformat()})
    assert r.status_code == 302
    assert ContactAttempt.objects.filter(unit=unit, on=yesterday).count() == 2


def test_correcting_a_promised_contact_withdraws_its_promise_and_keeps_both_records(unit, bob_territory):
    run(D(2026, 1, 16))
    first = services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="promised",
                                    promised_on=D(2026, 1, 25), amount_fen=17_900, on=D(2026, 1, 17))
    promise = first.promises.get()
    assert Episode.objects.get(unit=unit).account_class == "promised"
    fix = services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="no_answer",
                                  corrects=first, note="记错了房号，这户其实没接电话", on=D(2026, 1, 17))
    promise.refresh_from_db()
    assert promise.state == "withdrawn" and str(fix.pk) in promise.hold.release_note
    assert Episode.objects.get(unit=unit).account_class == "undecided"
    assert ContactAttempt.objects.get(pk=first.pk).outcome == "promised"  # the old record stays as it was
    assert Promise.objects.filter(unit=unit).count() == 1
    run(D(2026, 1, 24), D(2026, 1, 26))  # no reminder, no broken promise for a promise that never was
    from wuye.dunning.models import Action

    assert not Action.objects.filter(unit=unit, step__name__in=["承诺前一天提醒", "承诺失约跟进"]).exists()


@pytest.mark.parametrize("query, field", [
    ("floor_from=99999999999999999999", "floor_from"), ("floor_to=1000", "floor_to"), ("floor_from=-11", "floor_from"),
    ("building=１２", "building"), ("min_fen=-5", "min_fen"), ("limit=1e9", "limit"), ("collector=0", "collector"),
])
def test_the_worklist_endpoint_bounds_every_number(api, arrears_estate, query, field):
    """``?floor_from=99999999999999999999`` reached the query (an overflow: a 500 on both databases); every number
    the worklist endpoint reads is now bounded and a bad one is a 400 naming it."""
    r = api.get(f"/api/v1/worklist/?date=2026-02-01&{query}")
    assert r.status_code == 400 and field in fields(r)
    assert api.get("/api/v1/worklist/?date=2026-02-01&floor_from=-10&floor_to=200&limit=5000").status_code == 200


def test_a_contact_asking_for_installments_is_bounded_at_the_api(api, arrears_estate):
    unit = arrears_estate["units"][0]
    for count in (1, 25, 2**40):
        r = api.post("/api/v1/contacts/", {"unit": unit.pk, "channel": "call", "outcome": "installment",
                                           "installments": count}, format="json")
        assert r.status_code == 400 and "installments" in fields(r), (count, r.content)
    assert not ContactAttempt.objects.exists() and not InstallmentPlan.objects.exists()


def test_a_worklist_and_a_territory_floor_out_of_range_is_a_message_not_an_error(client, alice, bob, estate):
    from wuye.accounts.models import Territory
    from wuye.accounts.services import territory_assign

    client.force_login(alice)
    r = client.get("/casework/", {"floor_from": "40000"})
    assert r.status_code == 200
    r = client.post("/territories/", {"user": bob.pk, "building": estate["buildings"][0].pk, "floor_from": "1",
                                      "floor_to": "99999999999"})
    assert r.status_code == 200 and "200" in r.content.decode() and not Territory.objects.exists()
    with pytest.raises(Exception, match="楼层应在 -10 到 200 之间"):
        territory_assign(actor=alice, user=bob, building=estate["buildings"][0], floor_from=40_000)
    assert not Territory.objects.exists()
