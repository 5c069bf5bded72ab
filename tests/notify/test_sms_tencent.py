"""Tencent Cloud SMS: the real SDK talks to a local server that answers like Tencent's SendSms."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from wuye.notify.base import Message, Outcome
from wuye.notify.sms_tencent import TencentSMSBackend, e164

from .conftest import Answer

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

SECRET_ID = "AKIDtestTESTtest0000000000000000"
SECRET_KEY = "test-secret-key-1234567890"


def tc3_signature_is_valid(request, secret_key: str) -> bool:
    """Recompute the TC3-HMAC-SHA256 signature of a captured request, following Tencent Cloud's published
    algorithm (API 3.0 签名方法 v3), and compare it with the one in ``Authorization``."""
    auth = request.headers["authorization"]
    m = re.fullmatch(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
    assert m, auth
    _secret_id, date, service, signed_headers, signature = m.groups()
    timestamp = request.headers["x-tc-timestamp"]
    # the credential date is the UTC date of the timestamp
    assert date == dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d")
    # 1. canonical request: method, URI, query, headers "name:value\n" (lower-case, trimmed), names, body hash
    canonical_headers = "".join(f"{name}:{request.headers[name].strip().lower()}\n"
                                for name in signed_headers.split(";"))
    canonical_request = "\n".join([request.method, request.path, request.raw_query, canonical_headers,
                                   signed_headers, hashlib.sha256(request.body).hexdigest()])
    # 2. string to sign
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope,
                                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])

    # 3. derived key: TC3+key → date → service → "tc3_request"
    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def ok_answer(request) -> Answer:
    sent = request.json()
    return Answer(body={"Response": {
        "SendStatusSet": [{"SerialNo": "5000:104571066915705365784949619", "PhoneNumber": sent["PhoneNumberSet"][0],
                           "Fee": 1, "SessionContext": sent.get("SessionContext", ""), "Code": "Ok",
                           "Message": "send success", "IsoCode": "CN"}],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}})


def status_answer(code: str, message: str = "") -> Answer:
    """A per-number failure: HTTP 200, the code in SendStatusSet."""
    return Answer(body={"Response": {
        "SendStatusSet": [{"SerialNo": "", "PhoneNumber": "+8613800138000", "Fee": 0, "SessionContext": "",
                           "Code": code, "Message": message or code, "IsoCode": "CN"}],
        "RequestId": "b1"}})


def error_answer(code: str, message: str = "") -> Answer:
    """A failure of the whole request: HTTP 200 with ``Response.Error``."""
    return Answer(body={"Response": {"Error": {"Code": code, "Message": message or code}, "RequestId": "c2"}})


@pytest.fixture
def make_backend(provider):
    def make(**overrides):
        options = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "app_id": "1400006666",
                   "endpoint": provider.endpoint, "scheme": "http", "timeout": 2, "sign_name": "默认签名"}
        options.update(overrides)
        return TencentSMSBackend(**options)

    return make


def message(**kw) -> Message:
    fields = {"channel": "sms", "to": "13800138000", "body": "您的物业费已欠缴", "out_id": "act-42-1",
              "template_id": "1110", "params": ("3-1502", "1,280.00"), "sign_name": "绿城物业"}
    fields.update(kw)
    return Message(**fields)


def test_it_sends_a_signed_request_and_returns_the_serial_number(provider, make_backend):
    provider.answer = ok_answer
    before = int(time.time())

    result = make_backend().send(message())

    assert result.outcome == Outcome.SENT
    assert result.provider_message_id == "5000:104571066915705365784949619"
    (request,) = provider.requests
    assert request.method == "POST" and request.path == "/"
    assert request.headers["x-tc-action"] == "SendSms"
    assert request.headers["x-tc-version"] == "2021-01-11"
    assert request.headers["x-tc-region"] == "ap-guangzhou"
    assert request.headers["host"] == provider.endpoint
    assert request.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert abs(int(request.headers["x-tc-timestamp"]) - before) <= 5
    assert tc3_signature_is_valid(request, SECRET_KEY)
    assert not tc3_signature_is_valid(request, "another-key")  # the verifier does check something
    assert request.json() == {
        "PhoneNumberSet": ["+8613800138000"],
        "SmsSdkAppId": "1400006666",
        "SignName": "绿城物业",
        "TemplateId": "1110",
        "TemplateParamSet": ["3-1502", "1,280.00"],
        "SessionContext": "act-42-1",
    }


def test_it_falls_back_to_the_configured_sign_and_template(provider, make_backend):
    provider.answer = ok_answer
    make_backend(template_id="2220").send(message(sign_name="", template_id=""))
    sent = provider.requests[0].json()
    assert (sent["SignName"], sent["TemplateId"]) == ("默认签名", "2220")


def test_it_writes_mainland_numbers_in_e164():
    assert e164("13800138000") == "+8613800138000"
    assert e164("138 0013 8000") == "+8613800138000"
    assert e164("8613800138000") == "+8613800138000"
    assert e164("008613800138000") == "+8613800138000"
    assert e164("+8613800138000") == "+8613800138000"
    assert e164("+85261234567") == "+85261234567"  # not mainland: as written


@pytest.mark.parametrize(("code", "dead"), [
    ("InvalidParameterValue.IncorrectPhoneNumber", "wrong"),
    ("FailedOperation.PhoneNumberParseFail", "wrong"),
    ("MissingParameter.EmptyPhoneNumberSet", "empty"),
])
def test_it_flags_a_bad_number_as_dead(provider, make_backend, code, dead):
    provider.answer = status_answer(code)
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, dead)
    assert code in result.detail


def test_it_gives_up_on_a_blacklisted_number_without_calling_it_dead(provider, make_backend):
    # unsubscribed or on a carrier's do-not-disturb list: SMS will never work, a phone call still may
    provider.answer = status_answer("FailedOperation.PhoneNumberInBlacklist")
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "")


def test_it_gives_up_on_a_rejected_template(provider, make_backend):
    provider.answer = status_answer("FailedOperation.TemplateIncorrectOrUnapproved")
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "")


@pytest.mark.parametrize("answer", [
    status_answer("LimitExceeded.PhoneNumberThirtySecondLimit"),
    status_answer("LimitExceeded.PhoneNumberDailyLimit"),
    error_answer("RequestLimitExceeded", "请求的次数超过了频率限制"),
    error_answer("InternalError.Timeout"),
    status_answer("FailedOperation.InsufficientBalanceInSmsPackage"),
], ids=["30s-limit", "daily-limit", "api-rate-limit", "provider-timeout", "package-empty"])
def test_it_retries_later_after_a_throttle(provider, make_backend, answer):
    provider.answer = answer
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.TRANSIENT, "")


def test_it_does_not_retry_a_request_level_auth_error(provider, make_backend):
    provider.answer = error_answer("AuthFailure.SignatureFailure")
    result = make_backend().send(message())
    assert result.outcome == Outcome.PERMANENT
    assert result.extra["code"] == "AuthFailure.SignatureFailure"


def test_it_retries_later_after_a_server_error(provider, make_backend):
    provider.answer = Answer(status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    result = make_backend().send(message())
    assert result.outcome == Outcome.TRANSIENT
    assert result.extra["code"] == "ServerNetworkError"


def test_it_does_not_retry_an_unreadable_answer(provider, make_backend):
    # HTTP 200 that is not JSON: the SMS may have gone out, so no blind resend
    provider.answer = Answer(body="<html>gateway page</html>", content_type="text/html")
    assert make_backend().send(message()).outcome == Outcome.PERMANENT


def test_it_retries_later_when_the_connection_is_refused(closed_port, make_backend):
    result = make_backend(endpoint=f"127.0.0.1:{closed_port}").send(message())
    assert result.outcome == Outcome.TRANSIENT
    assert result.extra["code"] == "ClientNetworkError"


def test_a_timeout_after_the_request_went_out_is_uncertain_not_retried(provider, make_backend):
    provider.answer = Answer(delay=1.0, body={})
    started = time.monotonic()
    result = make_backend(timeout=0.2).send(message())
    assert len(provider.requests) == 1  # the provider got it: it may send it even though we heard nothing
    assert result.outcome == Outcome.UNCERTAIN and result.detail.startswith("ClientNetworkError")
    assert time.monotonic() - started < 0.9


def test_it_sends_nothing_to_an_empty_number(provider, make_backend):
    result = make_backend().send(message(to="  "))
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "empty")
    assert provider.requests == []


def test_it_sends_a_batch_over_one_connection(provider, make_backend):
    provider.answer = ok_answer
    results = make_backend().send_many([message(out_id="a"), message(out_id="b", to="13900139000")])
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert [r.json()["SessionContext"] for r in provider.requests] == ["a", "b"]
    assert provider.requests[1].json()["PhoneNumberSet"] == ["+8613900139000"]
    assert provider.requests[0].client_port == provider.requests[1].client_port


def test_it_refuses_to_start_without_keys():
    with pytest.raises(ImproperlyConfigured, match="密钥"):
        TencentSMSBackend(secret_id="", secret_key="", app_id="1400006666")
    with pytest.raises(ImproperlyConfigured, match="SmsSdkAppId"):
        TencentSMSBackend(secret_id=SECRET_ID, secret_key=SECRET_KEY, app_id="")
