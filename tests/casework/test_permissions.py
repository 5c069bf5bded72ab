"""Who may edit the talking-point library and who may send, work on, close or cancel a work order."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from wuye.accounts.choices import Role
from wuye.accounts.models import AuditEvent
from wuye.casework import services
from wuye.casework.models import TalkingPoint, WorkOrder
from wuye.casework.selectors import points_for
from wuye.dunning.choices import AccountClass

from .conftest import D, run


@pytest.fixture
def gong(make_user):
    """工程 (engineering): works on work orders."""
    return make_user("gong", Role.ENGINEERING)


# --- talking points ----------------------------------------------------------------------------------------

def test_a_manager_adds_edits_and_deactivates_a_talking_point(alice, client):
    client.force_login(alice)
    r = client.post("/casework/talking-points/", {"title": "发薪日提醒", "body": "您之前说月初发工资，我们这周再联系您。",
                                                  "account_class": AccountClass.UNDECIDED, "reason": "", "sort": 5,
                                                  "active": "on"})
    assert r.status_code == 302
    point = TalkingPoint.objects.get(title="发薪日提醒")
    assert point.updated_by == alice and point.active
    assert point in points_for(AccountClass.UNDECIDED)
    r = client.post(f"/casework/talking-points/{point.pk}/", {"title": "发薪日后提醒", "body": point.body,
                                                             "account_class": AccountClass.UNDECIDED, "reason": "",
                                                             "sort": 5, "active": "on"})
    assert r.status_code == 302
    point.refresh_from_db()
    assert point.title == "发薪日后提醒"
    r = client.post(f"/casework/talking-points/{point.pk}/", {"title": point.title, "body": point.body,
                                                             "account_class": AccountClass.UNDECIDED, "reason": "",
                                                             "sort": 5})  # "active" unticked
    assert r.status_code == 302
    point.refresh_from_db()
    assert not point.active and point not in points_for(AccountClass.UNDECIDED)
    assert "已停用" in client.get("/casework/talking-points/").content.decode()
    events = AuditEvent.objects.filter(verb="casework.talking_point", object_id=str(point.pk)).order_by("pk")
    assert [e.after["active"] for e in events] == [True, True, False]
    assert events[1].before["title"] == "发薪日提醒"


def test_a_talking_point_is_checked_and_errors_name_the_field(alice, client):
    client.force_login(alice)
    r = client.post("/casework/talking-points/", {"title": "", "body": "", "sort": 1})
    text = r.content.decode()
    assert r.status_code == 200 and "要点：请填写要点。" in text and "话术：请填写话术内容。" in text
    r = client.post("/casework/talking-points/", {"title": "威胁", "body": "再不交就停水停电。", "sort": 1, "active": "on"})
    assert r.status_code == 200 and "话术：" in r.content.decode()
    assert not TalkingPoint.objects.filter(title="威胁").exists()


def test_a_collector_reads_the_library_but_cannot_change_it(bob_territory, client):
    point = TalkingPoint.objects.filter(active=True).first()
    client.force_login(bob_territory)
    r = client.get("/casework/talking-points/")
    assert r.status_code == 200 and point.title in r.content.decode()
    assert "新增话术" not in r.content.decode() and "修改</a>" not in r.content.decode()
    data = {"title": "改掉", "body": "随便说说", "sort": 1, "active": "on"}
    assert client.post("/casework/talking-points/", data).status_code == 403
    assert client.post(f"/casework/talking-points/{point.pk}/", {**data, "active": ""}).status_code == 403
    point.refresh_from_db()
    assert point.active and point.title != "改掉" and not TalkingPoint.objects.filter(title="改掉").exists()
    with pytest.raises(PermissionDenied):
        services.talking_point_save(actor=bob_territory, point=point, title="x", body="y", active=False)


# --- work orders -------------------------------------------------------------------------------------------

@pytest.fixture
def dispute(unit, bob_territory):
    run(D(2026, 1, 16))
    return services.dispute_open(actor=bob_territory, unit=unit, reason="service", description="楼道灯坏了一个月",
                                 on=D(2026, 1, 17))


def test_who_may_send_a_work_order(dispute, bob_territory, alice, gong, dave, make_user):
    due = D(2099, 1, 1)
    finance = make_user("fen", Role.FINANCE)
    for person in (gong, finance):
        with pytest.raises(PermissionDenied):
            services.work_order_open(actor=person, dispute=dispute, title="换灯", due_on=due, on=D(2026, 1, 17))
    for person in (bob_territory, dave, alice):  # the collector of the territory, customer service, a manager
        services.work_order_open(actor=person, dispute=dispute, title=f"换灯（{person}）", due_on=due,
                                 on=D(2026, 1, 17))
    assert WorkOrder.objects.filter(dispute=dispute).count() == 3


def test_a_collector_outside_the_territory_cannot_send_one(dispute, erin):
    with pytest.raises(PermissionDenied):
        services.work_order_open(actor=erin, dispute=dispute, title="换灯", due_on=D(2099, 1, 1), on=D(2026, 1, 17))


def test_engineering_works_on_and_closes_a_work_order_a_collector_cannot(dispute, bob_territory, gong, client):
    wo = services.work_order_open(actor=bob_territory, dispute=dispute, title="换楼道灯", due_on=D(2099, 1, 1),
                                  on=D(2026, 1, 17))
    with pytest.raises(PermissionDenied):
        services.work_order_update(actor=bob_territory, work_order=wo, status="done", note="修好了")
    client.force_login(bob_territory)
    assert client.post(f"/casework/work-orders/{wo.pk}/", {"status": "done", "note": "修好了"}).status_code == 403
    page = client.get(f"/casework/disputes/{dispute.pk}/").content.decode()
    assert f"/casework/work-orders/{wo.pk}/" not in page  # no update form for a collector
    wo.refresh_from_db()
    assert wo.status == "open"

    client.force_login(gong)
    page = client.get("/casework/work-orders/").content.decode()
    assert f"/casework/work-orders/{wo.pk}/" in page and 'value="cancelled"' not in page
    assert client.post(f"/casework/work-orders/{wo.pk}/", {"status": "in_progress"}).status_code == 302
    wo.refresh_from_db()
    assert wo.status == "in_progress"
    with pytest.raises(ValidationError) as err:
        services.work_order_update(actor=gong, work_order=wo, status="done", note="")
    assert "note" in err.value.message_dict
    with pytest.raises(PermissionDenied):
        services.work_order_update(actor=gong, work_order=wo, status="cancelled", note="不修了")
    services.work_order_update(actor=gong, work_order=wo, status="done", note="更换灯具，已亮")
    wo.refresh_from_db()
    assert wo.status == "done" and wo.closed_by == gong and wo.closed_at is not None
    with pytest.raises(ValidationError):
        services.work_order_update(actor=gong, work_order=wo, status="in_progress")
    events = AuditEvent.objects.filter(verb="casework.work_order", object_id=str(wo.unit_id)).order_by("pk")
    assert [(e.before["status"], e.after["status"]) for e in events] == [("open", "in_progress"),
                                                                        ("in_progress", "done")]


def test_only_a_manager_cancels_a_work_order(dispute, alice, bob_territory, client):
    wo = services.work_order_open(actor=bob_territory, dispute=dispute, title="换灯", due_on=D(2099, 1, 1),
                                  on=D(2026, 1, 17))
    client.force_login(alice)
    assert 'value="cancelled"' in client.get("/casework/work-orders/").content.decode()
    client.post(f"/casework/work-orders/{wo.pk}/", {"status": "cancelled", "note": "业主自行修好"})
    wo.refresh_from_db()
    assert wo.status == "cancelled" and wo.closed_by == alice


# --- the territory rule on the other casework pages, finance checks, warranty labels -----------------------

def test_a_collector_cannot_see_or_act_on_another_territorys_disputes_checks_or_worklist(
        arrears_estate, bob_territory, erin, alice, client):
    from rest_framework.test import APIClient

    from wuye.accounts.services import territory_assign
    from wuye.casework.models import PaymentCheck

    territory_assign(actor=alice, user=erin, building=arrears_estate["buildings"][1])
    run(D(2026, 1, 16))
    far = arrears_estate["units"][12]  # building 2: erin's
    dispute = services.dispute_open(actor=erin, unit=far, reason="neighbour", description="楼上噪音",
                                    on=D(2026, 1, 17))
    services.contact_record(actor=erin, unit=far, channel="desk", outcome="paid_already", on=D(2026, 1, 17))
    check = PaymentCheck.objects.get(unit=far)
    client.force_login(bob_territory)
    assert client.get(f"/casework/disputes/{dispute.pk}/").status_code == 404
    assert client.post(f"/casework/disputes/{dispute.pk}/", {"action": "resolve", "note": "x"}).status_code == 404
    assert far.code not in client.get("/casework/disputes/").content.decode()
    assert far.code not in client.get("/casework/checks/").content.decode()
    assert client.post("/casework/checks/", {"check": check.pk, "found": "1", "note": "x"}).status_code in (403, 404)
    with pytest.raises(PermissionDenied):
        services.dispute_resolve(actor=bob_territory, dispute=dispute, note="不归我管")
    # a collector asking for another collector's list gets their own
    api = APIClient()
    api.force_authenticate(bob_territory)
    rows = api.get(f"/api/v1/worklist/?date=2026-02-01&collector={erin.pk}").json()["rows"]
    assert rows and {r["building"] for r in rows} == {arrears_estate["buildings"][0].name}
    page = client.get(f"/casework/?date=2026-02-01&collector={erin.pk}").content.decode()
    assert far.code not in page
    dispute.refresh_from_db()
    check.refresh_from_db()
    assert dispute.status == "open" and check.status == "open"


def test_paid_already_reaches_finance_who_records_what_they_found(unit, bob_territory, make_user, client):
    from wuye.casework.models import PaymentCheck

    finance = make_user("fen", Role.FINANCE)
    run(D(2026, 1, 16))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="paid_already",
                            note="业主说1月10日微信缴过", on=D(2026, 1, 17))
    check = PaymentCheck.objects.get(unit=unit)
    assert check.status == "open" and check.contact.made_by == bob_territory
    with pytest.raises(PermissionDenied):
        services.payment_check_resolve(actor=bob_territory, check=check, found=True, note="我看到了")
    client.force_login(finance)
    page = client.get("/casework/checks/").content.decode()
    assert unit.code in page and "业主说1月10日微信缴过" in page
    r = client.post("/casework/checks/", {"check": check.pk, "found": "0", "note": ""}, follow=True)
    assert "请填写核对结果" in r.content.decode()
    check.refresh_from_db()
    assert check.status == "open"
    client.post("/casework/checks/", {"check": check.pk, "found": "0", "note": "微信商户流水中没有该房号的款项"})
    check.refresh_from_db()
    assert check.status == "not_found" and check.resolved_by == finance
    assert AuditEvent.objects.filter(verb="casework.payment_check", actor=finance).count() == 1


def test_a_developer_warranty_dispute_is_labelled_on_the_pages(unit, bob_territory, client):
    run(D(2026, 1, 16))
    client.force_login(bob_territory)
    r = client.post(f"/casework/units/{unit.pk}/contact/", {
        "channel": "visit", "outcome": "refused", "reason": "house_quality", "developer_warranty": "on",
        "note": "交房两年内外墙渗水"})
    assert r.status_code == 302
    dispute = unit.disputes.get()
    assert dispute.developer_warranty
    for url in (f"/casework/disputes/{dispute.pk}/", "/casework/disputes/", f"/casework/units/{unit.pk}/"):
        assert "属开发商保修" in client.get(url).content.decode(), url
