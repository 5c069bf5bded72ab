"""Every door through which a template or a talking point is written refuses a text the guardrails forbid: the
model (save, objects.create, bulk_create, bulk_update, queryset update), the pages, the REST API, the Django
admin and the installers of the shipped library. A text written before a rule existed can still be switched
off unchanged, and the two shipped talking points that failed the old check are reworded by a migration."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.models import QuerySet

from wuye.casework.models import TalkingPoint
from wuye.dunning.defaults import templates_install_defaults
from wuye.dunning.guardrails import GuardrailError
from wuye.dunning.models import MessageTemplate

# the reviewer's phrasings (issue 13, item 6); each must be refused at every door
REVIEWER = ["限制进出", "停用您的电梯卡", "门卡将失效", "车辆将禁止入内", "水电将暂停供应", "停止为您家供水供电", "逾期将停電",
            "公布欠费业主名单", "业主微信群通报", "门上张贴欠费通知", "【某某律师事务所】律师函：请三日内缴清欠费"]


@pytest.fixture
def template(db):
    return templates_install_defaults()["arrears_sms"]


# --- the model ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", REVIEWER)
def test_objects_create_refuses(db, body):
    with pytest.raises(GuardrailError):
        MessageTemplate.objects.create(code="x", name="x", channel="sms", body=f"{{unit}} 欠费 {{amount}}，{body}")
    assert not MessageTemplate.objects.filter(code="x").exists()


def test_save_bulk_create_bulk_update_and_update_refuse(template):
    template.body = "再不缴费将停水停电，并在公告栏公示。"
    with pytest.raises(GuardrailError) as exc:
        template.save()
    assert {v.category for v in exc.value.violations} == {"utilities", "shaming"}
    with pytest.raises(GuardrailError):
        MessageTemplate.objects.bulk_create([MessageTemplate(code="y", name="y", channel="sms", body="门卡将失效")])
    with pytest.raises(GuardrailError):
        MessageTemplate.objects.bulk_update([template], ["body"])
    with pytest.raises(GuardrailError):
        MessageTemplate.objects.filter(pk=template.pk).update(body="停水停电")
    with pytest.raises(GuardrailError):
        MessageTemplate.objects.filter(pk=template.pk).update(subject="律师函")  # subject of an SMS template
    template.refresh_from_db()
    assert "停水" not in template.body
    # writes that leave the text alone pass; lawyer wording is fine on the internal referral channel
    template.name = "欠费提醒"
    template.save(update_fields=["name"])
    MessageTemplate.objects.create(code="ref", name="转介", channel="referral", body="交合作律所审核是否发律师函。")
    with pytest.raises(GuardrailError):
        MessageTemplate.objects.filter(code="ref").update(channel="sms")


def test_talking_point_model_refuses_and_an_old_text_can_still_be_switched_off(db, alice):
    from wuye.casework import services

    with pytest.raises(GuardrailError):
        TalkingPoint.objects.create(code="t1", title="提醒", body="不缴就通知您的工作单位。")
    with pytest.raises(GuardrailError):
        TalkingPoint.objects.bulk_create([TalkingPoint(code="t2", title="欠费将停电", body="请缴费")])
    # a point stored before a rule existed (written past the model, as an old release did)
    [old] = QuerySet(model=TalkingPoint).bulk_create([TalkingPoint(code="old", title="老话术", body="我们会在业主群通报。")])
    with pytest.raises(GuardrailError):
        services.talking_point_save(actor=alice, point=old, title=old.title, body=old.body, active=True)
    services.talking_point_save(actor=alice, point=old, title=old.title, body=old.body, active=False)
    old.refresh_from_db()
    assert old.active is False
    with pytest.raises(GuardrailError):  # switching it back on is refused
        old.active = True
        old.save()


# --- the pages ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", REVIEWER)
def test_the_template_page_refuses_with_the_phrase_and_the_reason(client, alice, template, body):
    client.force_login(alice)
    r = client.post(f"/collection/templates/{template.pk}/", {"subject": "", "body": body, "provider_template_id": ""})
    assert r.status_code == 200
    text = r.content.decode()
    assert "不得" in text and ("民法典" in text or "个人信息保护法" in text or "律师法" in text)
    template.refresh_from_db()
    assert template.version == 1 and template.body != body


def test_the_talking_point_page_refuses_the_title_too(client, alice):
    client.force_login(alice)
    r = client.post("/casework/talking-points/", {"title": "门卡将失效", "body": "请尽快缴费。", "sort": 1, "active": "on"})
    assert r.status_code == 200 and "“门卡将失效”" in r.content.decode()
    assert not TalkingPoint.objects.filter(body="请尽快缴费。").exists()


# --- the REST API ------------------------------------------------------------------------------------------

def test_the_template_api_refuses_a_threat_and_saves_a_lawful_text(client, alice, bob, template):
    client.force_login(alice)
    url = f"/api/v1/message-templates/{template.pk}/"
    r = client.patch(url, {"body": "{unit} 欠费 {amount}，车辆将禁止入内。"}, content_type="application/json")
    assert r.status_code == 400
    assert "车辆将禁止入内" in r.json()["error"]["fields"]["body"][0]
    r = client.patch(url, {"subject": "律师函", "body": "{unit} 欠费 {amount}。"}, content_type="application/json")
    assert r.status_code == 400 and "subject" in r.json()["error"]["fields"]
    template.refresh_from_db()
    assert template.version == 1
    r = client.patch(url, {"body": "{unit} 欠费 {amount}，请于 {deadline} 前缴纳。"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["version"] == 2
    assert any(t["code"] == "arrears_sms" for t in client.get("/api/v1/message-templates/").json())
    client.force_login(bob)
    assert client.patch(url, {"body": "请缴费"}, content_type="application/json").status_code == 403


def test_the_talking_point_api_refuses_a_threat(client, alice):
    client.force_login(alice)
    r = client.post("/api/v1/talking-points/", {"title": "提醒", "body": "再不缴费，我们会在业主微信群通报。"},
                    content_type="application/json")
    assert r.status_code == 400 and "业主微信群通报" in r.json()["error"]["fields"]["body"][0]
    r = client.post("/api/v1/talking-points/", {"title": "提醒", "body": "缴费可以用微信、支付宝或银行转账。"},
                    content_type="application/json")
    assert r.status_code == 201
    pk = r.json()["id"]
    r = client.patch(f"/api/v1/talking-points/{pk}/", {"body": "不缴就联系您的工作单位。"}, content_type="application/json")
    assert r.status_code == 400
    assert TalkingPoint.objects.get(pk=pk).body == "缴费可以用微信、支付宝或银行转账。"


# --- the Django admin --------------------------------------------------------------------------------------

def test_the_admin_refuses(client, admin_user, template):
    client.force_login(admin_user)
    r = client.post(f"/admin/dunning/messagetemplate/{template.pk}/change/", {
        "project": "", "code": template.code, "name": template.name, "channel": "sms", "subject": "",
        "body": "逾期水电将暂停供应。", "provider_template_id": ""})
    assert r.status_code == 200 and "水电将暂停供应" in r.content.decode()
    template.refresh_from_db()
    assert "暂停" not in template.body
    r = client.post("/admin/casework/talkingpoint/add/", {
        "code": "admin-x", "account_class": "", "reason": "", "title": "提醒", "body": "公布欠费业主名单。", "sort": 1,
        "active": "on"})
    assert r.status_code == 200 and not TalkingPoint.objects.filter(code="admin-x").exists()
    r = client.post("/admin/casework/talkingpoint/add/", {
        "code": "admin-y", "account_class": "", "reason": "", "title": "提醒", "body": "请按时缴费。", "sort": 1,
        "active": "on"})
    assert r.status_code == 302 and TalkingPoint.objects.filter(code="admin-y").exists()


# --- the installers (imports of the shipped library) ------------------------------------------------------

def test_the_installers_refuse_a_poisoned_library(db, monkeypatch):
    from wuye.casework import talking_points
    from wuye.dunning import defaults

    monkeypatch.setattr(talking_points, "LIBRARY", [("new-bad", "", "", "提醒", "欠费将停電。")])
    with pytest.raises(GuardrailError):
        talking_points.talking_points_install()
    assert not TalkingPoint.objects.filter(code="new-bad").exists()
    monkeypatch.setitem(defaults.TEMPLATES, "new_bad", ("坏模板", "sms", "", "律师函：请缴费。"))
    with pytest.raises(GuardrailError):
        defaults.templates_install_defaults()
    assert not MessageTemplate.objects.filter(code="new_bad").exists()


@pytest.mark.parametrize(("model", "fields"), [
    ("dunning.messagetemplate", {"code": "fx", "name": "导入", "channel": "sms", "subject": "",
                                 "body": "{unit} 欠费 {amount}，并将暂停对贵单元的有关服务。"}),
    ("dunning.messagetemplate", {"code": "fx", "name": "导入", "channel": "sms", "subject": "", "body": "逾期将停水停电。"}),
    ("casework.talkingpoint", {"code": "fx", "title": "提醒", "body": "告诉业主不交就在业主群公示。"}),
])
def test_loaddata_refuses_a_fixture_with_a_forbidden_text(db, tmp_path, model, fields):
    """``loaddata`` saves raw rows (``Model.save`` is not called): the guardrails refuse there too."""
    import json

    from django.core.management import call_command

    fixture = tmp_path / "import.json"
    row = {"model": model, "pk": 9901, "fields": {**fields, "updated_at": "2026-01-01T00:00:00Z"}}
    fixture.write_text(json.dumps([row], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(GuardrailError):
        call_command("loaddata", str(fixture), verbosity=0)
    assert not MessageTemplate.objects.filter(code="fx").exists() and not TalkingPoint.objects.filter(code="fx").exists()
    row["fields"]["body"] = "{unit} 欠费 {amount}，请尽快缴纳。"
    fixture.write_text(json.dumps([row], ensure_ascii=False), encoding="utf-8")
    call_command("loaddata", str(fixture), verbosity=0)  # a lawful text loads
    assert MessageTemplate.objects.filter(code="fx").exists() or TalkingPoint.objects.filter(code="fx").exists()


# --- the shipped talking points ---------------------------------------------------------------------------

def test_the_migration_rewords_the_two_points_only_where_unedited(db):
    name = "0006_talking_points_lawful_wording"
    migration = importlib.import_module(f"wuye.casework.migrations.{name}")
    apps = MigrationLoader(connection).project_state(("casework", name)).apps
    plain = QuerySet(model=TalkingPoint)
    plain.filter(code="reason-theft").update(body=migration.OLD["reason-theft"])
    plain.filter(code="reason-fee-level").update(body="本小区收费标准见服务中心公告。")  # a manager's edit
    migration.forward(apps, None)
    theft = TalkingPoint.objects.get(code="reason-theft")
    assert theft.body == migration.NEW["reason-theft"] and "向派出所报案" in theft.body and "不是保险人" in theft.body
    assert TalkingPoint.objects.get(code="reason-fee-level").body == "本小区收费标准见服务中心公告。"
    # the shipped points can be edited and switched off again
    theft.active = False
    theft.save()
    fee = TalkingPoint.objects.get(code="reason-fee-level")
    fee.body = "收费标准按合同执行，小区年度收支公示可以在服务中心查看。"
    fee.save()
