"""Delivery receipts pushed by the providers: matched to actions, idempotent, dead numbers flagged."""

import datetime as dt
import hashlib
import json
from zoneinfo import ZoneInfo

import pytest

from wuye.dunning.choices import AccountClass, ActionStatus
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, ActionEvent, Episode
from wuye.estate.models import ContactPoint

SH = ZoneInfo("Asia/Shanghai")
TOKEN = "r3ceipt-t0ken-for-tests"


@pytest.fixture
def sent(arrears_estate, tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    settings.WUYE_RECEIPT_TOKEN = TOKEN
    settings.WUYE_WECHAT_SERVER_TOKEN = "wx-server-token"
    dunning_run(as_of=dt.date(2026, 1, 16))
    dispatch(now=dt.datetime(2026, 1, 16, 10, tzinfo=SH))
    unit = arrears_estate["units"][0]
    action = Action.objects.get(unit=unit, channel="sms")
    assert action.status == ActionStatus.SENT
    Action.objects.filter(pk=action.pk).update(provider_message_id="2019:sid-0001")
    action.refresh_from_db()
    return action


def url(provider, token=TOKEN):
    return f"/api/v1/receipts/{provider}/{token}/"


def test_a_tencent_receipt_marks_the_message_delivered_once(client, sent):
    body = [{"user_receive_time": "2026-01-16 10:00:07", "nationcode": "86", "mobile": sent.address,
             "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "2019:sid-0001"},
            {"user_receive_time": "2026-01-16 10:00:09", "nationcode": "86", "mobile": "13900000000",
             "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "", "sid": "someone-elses"}]
    for _ in range(2):  # the provider retries when it misses our answer
        r = client.post(url("tencent"), json.dumps(body), content_type="application/json")
        assert r.status_code == 200 and r.json() == {"result": 0, "errmsg": "OK"}
    sent.refresh_from_db()
    assert sent.status == ActionStatus.DELIVERED
    assert sent.delivered_at == dt.datetime(2026, 1, 16, 10, 0, 7, tzinfo=SH)  # restarts the limitation clock
    assert ActionEvent.objects.filter(action=sent, status=ActionStatus.DELIVERED).count() == 1


def test_an_aliyun_receipt_for_a_stopped_number_fails_the_message_and_flags_the_contact(client, sent):
    body = [{"phone_number": sent.address, "send_time": "2026-01-16 10:00:00", "report_time": "2026-01-16 10:00:30",
             "success": False, "err_code": "MOBILE_NOT_ON_SERVICE", "err_msg": "停机", "biz_id": "x", "out_id": sent.out_id}]
    r = client.post(url("aliyun"), json.dumps(body), content_type="application/json")
    assert r.status_code == 200 and r.json()["code"] == 0
    sent.refresh_from_db()
    assert sent.status == ActionStatus.FAILED and "MOBILE_NOT_ON_SERVICE" in sent.last_error
    assert ContactPoint.objects.get(value=sent.address, kind="mobile").validity == "suspended"
    # the owner had no other number: the account is now 无法联系
    assert Episode.objects.get(unit_id=sent.unit_id, closed_on__isnull=True).account_class == AccountClass.UNREACHABLE


def test_a_wechat_push_must_carry_the_server_signature(client, sent):
    Action.objects.filter(pk=sent.pk).update(provider_message_id="200228332")
    xml = ("<xml><ToUserName>gh_x</ToUserName><FromUserName>oX</FromUserName><CreateTime>1768528800</CreateTime>"
           "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>200228332</MsgID>"
           "<Status>success</Status></xml>")
    ts, nonce = "1768528800", "abc"
    good = hashlib.sha1("".join(sorted(["wx-server-token", ts, nonce])).encode()).hexdigest()
    bad = client.post(url("wechat") + f"?signature={'0' * 40}&timestamp={ts}&nonce={nonce}", xml,
                      content_type="text/xml")
    assert bad.status_code == 403
    sent.refresh_from_db()
    assert sent.status == ActionStatus.SENT
    ok = client.post(url("wechat") + f"?signature={good}&timestamp={ts}&nonce={nonce}", xml, content_type="text/xml")
    assert ok.status_code == 200 and ok.content == b"success"
    sent.refresh_from_db()
    assert sent.status == ActionStatus.DELIVERED
    # the console's server-address check echoes echostr when signed
    echo = client.get(url("wechat") + f"?signature={good}&timestamp={ts}&nonce={nonce}&echostr=hello")
    assert echo.content == b"hello"


def test_a_wrong_token_or_a_bad_body_changes_nothing(client, sent):
    assert client.post(url("tencent", "guess"), "[]", content_type="application/json").status_code == 404
    assert client.post(url("nosuch"), "[]", content_type="application/json").status_code == 404
    r = client.post(url("tencent"), "not json", content_type="application/json")
    assert r.status_code == 400 and "JSON" in r.content.decode()
    # one good and one broken row: the whole push is refused, so nothing is half-applied
    body = [{"sid": "2019:sid-0001", "report_status": "SUCCESS"}, {"sid": "", "report_status": "SUCCESS"}]
    r = client.post(url("tencent"), json.dumps(body), content_type="application/json")
    assert r.status_code == 400 and "第 2 条" in r.content.decode()
    sent.refresh_from_db()
    assert sent.status == ActionStatus.SENT


def test_receipts_are_off_without_a_token(client, sent, settings):
    settings.WUYE_RECEIPT_TOKEN = ""
    assert client.post(url("tencent", ""), "[]", content_type="application/json").status_code == 404
