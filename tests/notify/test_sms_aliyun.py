"""Aliyun SMS: the real SDK talks to a local server that answers like dysmsapi's SendSms."""

from __future__ import annotations

import builtins
import hashlib
import hmac
import importlib
import json
import re
import sys
import time
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured

from wuye.notify.base import Message, Outcome

from .conftest import Answer

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

pytest.importorskip("alibabacloud_dysmsapi20170525", reason="the aliyun extra is not installed")

from wuye.notify.sms_aliyun import AliyunSMSBackend, national_number  # noqa: E402

KEY_ID = "LTAI5tTestKeyId00000000"
KEY_SECRET = "test-aliyun-secret-0987654321"


def acs3_signature_is_valid(request, secret: str) -> bool:
    """Recompute the ACS3-HMAC-SHA256 signature (Aliyun's V3 request signature) of a captured request."""
    m = re.fullmatch(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([a-z0-9;-]+),Signature=([0-9a-f]{64})",
                     request.headers["authorization"])
    assert m, request.headers["authorization"]
    _key_id, signed_headers, signature = m.groups()
    # the payload hash is sent along and must be that of the body
    payload_hash = hashlib.sha256(request.body).hexdigest()
    assert request.headers["x-acs-content-sha256"] == payload_hash
    # canonical query: RFC 3986 encoding of names and values, sorted by name
    query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(request.query))
    headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed_headers.split(";"))
    canonical_request = "\n".join([request.method, request.path or "/", query, headers, signed_headers,
                                   payload_hash])
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    expected = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def answer(code: str = "OK", message: str = "OK", status: int = 200, **extra) -> Answer:
    body = {"Code": code, "Message": message, "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}
    if code == "OK":
        body["BizId"] = "900619746936498440^0"
    return Answer(status=status, body=body, **extra)


@pytest.fixture
def make_backend(provider):
    def make(**overrides):
        options = {"access_key_id": KEY_ID, "access_key_secret": KEY_SECRET, "endpoint": provider.endpoint,
                   "protocol": "http", "timeout": 2, "sign_name": "默认签名"}
        options.update(overrides)
        return AliyunSMSBackend(**options)

    return make


def message(**kw) -> Message:
    fields = {"channel": "sms", "to": "13800138000", "body": "您的物业费已欠缴", "out_id": "act-42-1",
              "template_id": "SMS_154950909", "params": ("3幢1502室", "1280.00"), "sign_name": "绿城物业"}
    fields.update(kw)
    return Message(**fields)


def test_it_sends_a_signed_request_and_returns_the_biz_id(provider, make_backend):
    provider.answer = answer()

    result = make_backend(param_names=["room", "amount"]).send(message())

    assert result.outcome == Outcome.SENT
    assert result.provider_message_id == "900619746936498440^0"
    (request,) = provider.requests
    assert request.method == "POST" and request.path == "/"
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"
    assert request.headers["host"] == provider.endpoint
    assert request.headers["authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={KEY_ID},")
    assert acs3_signature_is_valid(request, KEY_SECRET)
    assert not acs3_signature_is_valid(request, "another-secret")
    sent = request.params()
    assert sent["PhoneNumbers"] == "13800138000"
    assert sent["SignName"] == "绿城物业"
    assert sent["TemplateCode"] == "SMS_154950909"
    assert sent["OutId"] == "act-42-1"
    assert json.loads(sent["TemplateParam"]) == {"room": "3幢1502室", "amount": "1280.00"}


def test_it_names_params_p1_p2_by_default_or_per_template(provider, make_backend):
    provider.answer = answer()
    make_backend().send(message())
    make_backend(param_names={"SMS_154950909": ["room"]}).send(message())
    first, second = (json.loads(r.params()["TemplateParam"]) for r in provider.requests)
    assert first == {"p1": "3幢1502室", "p2": "1280.00"}
    assert second == {"room": "3幢1502室", "p2": "1280.00"}


def test_it_falls_back_to_the_configured_sign_and_template(provider, make_backend):
    provider.answer = answer()
    make_backend(template_code="SMS_1").send(message(sign_name="", template_id="", params=()))
    sent = provider.requests[0].params()
    assert (sent["SignName"], sent["TemplateCode"]) == ("默认签名", "SMS_1")
    assert "TemplateParam" not in sent


def test_it_writes_mainland_numbers_bare():
    assert national_number("+86 138-0013-8000") == "13800138000"
    assert national_number("008613800138000") == "13800138000"
    assert national_number("+85261234567") == "85261234567"


@pytest.mark.parametrize("code", ["isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT"])
def test_it_flags_a_bad_number_as_wrong(provider, make_backend, code):
    provider.answer = answer(code, "非法手机号")
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "wrong")
    assert result.extra["code"] == code


def test_it_gives_up_on_a_blacklisted_number_without_calling_it_dead(provider, make_backend):
    provider.answer = answer("isv.BLACK_KEY_CONTROL_LIMIT", "黑名单管控")
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "")


@pytest.mark.parametrize("reply", [
    answer("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
    answer("isv.DAY_LIMIT_CONTROL", "触发日发送限额"),
    answer("Throttling.User", "Request was denied due to user flow control.", status=400),
    answer("Throttling.Api", "throttled", status=400, headers={"x-acs-retry-after": "2000"}),
], ids=["flow-control", "day-limit", "gateway-throttle", "retry-after"])
def test_it_retries_later_after_a_throttle(provider, make_backend, reply):
    provider.answer = reply
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.TRANSIENT, "")


def test_it_does_not_retry_a_client_error(provider, make_backend):
    provider.answer = answer("InvalidAccessKeyId.NotFound", "Specified access key is not found.", status=404)
    result = make_backend().send(message())
    assert result.outcome == Outcome.PERMANENT
    assert result.extra["code"] == "InvalidAccessKeyId.NotFound"


@pytest.mark.parametrize("reply", [
    answer("ServiceUnavailable", "The request has failed due to a temporary failure of the server.", status=503),
    Answer(status=500, body="<html>Internal Server Error</html>", content_type="text/html"),
], ids=["json", "html"])
def test_it_retries_later_after_a_server_error(provider, make_backend, reply):
    provider.answer = reply
    assert make_backend().send(message()).outcome == Outcome.TRANSIENT


def test_it_retries_later_when_the_connection_is_refused(closed_port, make_backend):
    result = make_backend(endpoint=f"127.0.0.1:{closed_port}").send(message())
    assert result.outcome == Outcome.TRANSIENT
    assert "13800138000" not in result.detail  # the failed URL carries the number: kept out of the record


def test_a_timeout_after_the_request_went_out_is_uncertain_not_retried(provider, make_backend):
    provider.answer = Answer(delay=1.0, body={})
    started = time.monotonic()
    result = make_backend(timeout=0.2).send(message())
    assert len(provider.requests) == 1
    assert result.outcome == Outcome.UNCERTAIN and result.detail.startswith("发送超时，平台可能已收到")
    assert time.monotonic() - started < 0.9


def test_it_sends_nothing_to_an_empty_number(provider, make_backend):
    result = make_backend().send(message(to=""))
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "empty")
    assert provider.requests == []


def test_the_module_imports_without_the_sdk_and_explains_what_is_missing(monkeypatch):
    real_import = builtins.__import__

    def without_aliyun(name, *args, **kwargs):
        if name.startswith("alibabacloud_"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for name in [n for n in sys.modules if n.startswith("alibabacloud_")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", without_aliyun)
    module = importlib.reload(sys.modules["wuye.notify.sms_aliyun"])
    with pytest.raises(ImproperlyConfigured, match="未安装阿里云短信 SDK"):
        module.AliyunSMSBackend(access_key_id=KEY_ID, access_key_secret=KEY_SECRET)


def test_it_refuses_to_start_without_keys():
    with pytest.raises(ImproperlyConfigured, match="AccessKey"):
        AliyunSMSBackend(access_key_id="", access_key_secret="")
