"""WeChat template messages against a local server that plays api.weixin.qq.com (token + template/send)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from wuye.notify import wechat
from wuye.notify.base import Message, Outcome
from wuye.notify.wechat import WeChatTemplateBackend

from .conftest import Answer

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

APP_ID, APP_SECRET = "wx1234567890abcdef", "test-app-secret"


class FakeWeChat:
    """Issues TOKEN-1, TOKEN-2 … and accepts a send only with a token it still considers valid."""

    def __init__(self, provider):
        self.provider = provider
        self.valid: set[str] = set()
        self.issued = 0
        self.expires_in = 7200
        self.token_reply: dict | None = None  # an error answer of the token endpoint
        self.send_reply: dict | Answer = {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
        provider.answer = self

    def __call__(self, request) -> Answer:
        if request.path == "/cgi-bin/token":
            params = request.params()
            if self.token_reply:
                return Answer(body=self.token_reply)
            if (params.get("appid"), params.get("secret"), params.get("grant_type")) != (
                    APP_ID, APP_SECRET, "client_credential"):
                return Answer(body={"errcode": 40125, "errmsg": "invalid appsecret"})
            self.issued += 1
            token = f"TOKEN-{self.issued}"
            self.valid.add(token)
            return Answer(body={"access_token": token, "expires_in": self.expires_in})
        if request.path == "/cgi-bin/message/template/send":
            if request.params().get("access_token") not in self.valid:
                return Answer(body={"errcode": 42001, "errmsg": "access_token expired"})
            reply = self.send_reply
            return reply if isinstance(reply, Answer) else Answer(body=reply)
        return Answer(status=404, body={"errcode": 404})

    def expire_all(self):
        self.valid.clear()

    def token_requests(self):
        return [r for r in self.provider.requests if r.path == "/cgi-bin/token"]

    def sends(self):
        return [r for r in self.provider.requests if r.path == "/cgi-bin/message/template/send"]


@pytest.fixture(autouse=True)
def _no_cached_tokens(monkeypatch):
    monkeypatch.setattr(wechat, "_tokens", {})


@pytest.fixture
def weixin(provider):
    return FakeWeChat(provider)


@pytest.fixture
def make_backend(provider):
    def make(**overrides):
        options = {"app_id": APP_ID, "app_secret": APP_SECRET, "api_base": provider.url, "timeout": 2}
        options.update(overrides)
        return WeChatTemplateBackend(**options)

    return make


def message(**kw) -> Message:
    fields = {"channel": "wechat", "to": "oS-u15oz9-BJ5TaiO_qFHA2rtBx8", "body": "物业费催缴",
              "out_id": "act-42-1", "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
              "params": ("3幢1502室", "¥1,280.00", "2026年5月15日")}
    fields.update(kw)
    return Message(**fields)


def test_it_fetches_a_token_and_sends_the_template(weixin, make_backend):
    result = make_backend(url="https://wuye.example.com/portal").send(message())

    assert result.outcome == Outcome.SENT
    assert result.provider_message_id == "200228332"
    (token_request,) = weixin.token_requests()
    assert token_request.method == "GET"
    assert token_request.params() == {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}
    (send,) = weixin.sends()
    assert send.method == "POST"
    assert send.params() == {"access_token": "TOKEN-1"}
    assert send.headers["content-type"].startswith("application/json")
    assert "3幢1502室".encode() in send.body  # plain UTF-8, not \\u escapes
    assert send.json() == {
        "touser": "oS-u15oz9-BJ5TaiO_qFHA2rtBx8",
        "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        "url": "https://wuye.example.com/portal",
        "client_msg_id": "act-42-1",
        "data": {"keyword1": {"value": "3幢1502室"}, "keyword2": {"value": "¥1,280.00"},
                 "keyword3": {"value": "2026年5月15日"}},
    }


def test_it_uses_the_template_s_own_data_keys(weixin, make_backend):
    names = {"T-NEW": ["thing2", "amount3"]}
    make_backend(param_names=names).send(message(template_id="T-NEW", params=("3幢1502室", "1280.00")))
    assert weixin.sends()[0].json()["data"] == {"thing2": {"value": "3幢1502室"}, "amount3": {"value": "1280.00"}}


def test_it_caches_the_token_across_messages_and_backend_instances(weixin, make_backend):
    assert make_backend().send(message(out_id="a")).outcome == Outcome.SENT
    assert make_backend().send(message(out_id="b")).outcome == Outcome.SENT
    assert len(weixin.token_requests()) == 1
    assert [s.params()["access_token"] for s in weixin.sends()] == ["TOKEN-1", "TOKEN-1"]


def test_it_fetches_a_new_token_shortly_before_expiry(weixin, make_backend):
    weixin.expires_in = wechat.EXPIRY_MARGIN  # expires within the margin: never reused
    make_backend().send(message(out_id="a"))
    make_backend().send(message(out_id="b"))
    assert [s.params()["access_token"] for s in weixin.sends()] == ["TOKEN-1", "TOKEN-2"]


def test_it_refreshes_an_expired_token_once_and_retries(weixin, make_backend):
    backend = make_backend()
    backend.send(message(out_id="a"))
    weixin.expire_all()  # e.g. another process fetched a new token

    result = backend.send(message(out_id="b"))

    assert result.outcome == Outcome.SENT
    assert len(weixin.token_requests()) == 2
    assert [(s.params()["access_token"], s.json()["client_msg_id"]) for s in weixin.sends()] == [
        ("TOKEN-1", "a"), ("TOKEN-1", "b"), ("TOKEN-2", "b")]


def test_it_retries_only_once_when_even_a_fresh_token_is_refused(weixin, make_backend):
    weixin.send_reply = {"errcode": 40001, "errmsg": "invalid credential"}
    result = make_backend().send(message())
    assert result.outcome == Outcome.TRANSIENT
    assert (len(weixin.token_requests()), len(weixin.sends())) == (2, 2)


@pytest.mark.parametrize(("errcode", "errmsg"), [(43004, "require subscribe"), (40003, "invalid openid")])
def test_it_flags_an_unsubscribed_or_unknown_openid(weixin, make_backend, errcode, errmsg):
    weixin.send_reply = {"errcode": errcode, "errmsg": f"{errmsg} rid: 6385c6c1"}
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "wrong")
    assert result.extra["errcode"] == errcode


def test_it_gives_up_on_an_invalid_template(weixin, make_backend):
    weixin.send_reply = {"errcode": 40037, "errmsg": "invalid template_id"}
    result = make_backend().send(message())
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "")


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_it_retries_later_when_wechat_is_busy_or_the_quota_is_used(weixin, make_backend, errcode):
    weixin.send_reply = {"errcode": errcode, "errmsg": "system error"}
    assert make_backend().send(message()).outcome == Outcome.TRANSIENT


def test_it_retries_later_after_a_server_error_without_leaking_the_token(weixin, make_backend):
    weixin.send_reply = Answer(status=500, body="<html>500</html>", content_type="text/html")
    result = make_backend().send(message())
    assert result.outcome == Outcome.TRANSIENT
    assert "TOKEN" not in result.detail and "HTTP 500" in result.detail


def test_it_retries_later_when_the_connection_is_refused(closed_port, make_backend):
    result = make_backend(api_base=f"http://127.0.0.1:{closed_port}").send(message())
    assert result.outcome == Outcome.TRANSIENT


def test_a_timeout_after_the_message_was_posted_is_uncertain_not_retried(weixin, make_backend):
    weixin.send_reply = Answer(delay=1.0, body={"errcode": 0})
    result = make_backend(timeout=0.2).send(message())
    assert result.outcome == Outcome.UNCERTAIN and result.detail.startswith("发送超时，平台可能已收到")


def test_it_gives_up_when_the_app_secret_is_wrong(weixin, make_backend):
    result = make_backend(app_secret="wrong").send(message())
    assert result.outcome == Outcome.PERMANENT
    assert result.extra["errcode"] == 40125
    assert weixin.sends() == []


def test_it_retries_later_when_the_token_endpoint_is_busy(weixin, make_backend):
    weixin.token_reply = {"errcode": -1, "errmsg": "system error"}
    assert make_backend().send(message()).outcome == Outcome.TRANSIENT


def test_it_sends_nothing_without_an_openid(weixin, make_backend):
    result = make_backend().send(message(to=""))
    assert (result.outcome, result.dead_address) == (Outcome.PERMANENT, "empty")
    assert weixin.provider.requests == []


def test_it_refuses_to_start_without_app_credentials():
    with pytest.raises(ImproperlyConfigured, match="AppID"):
        WeChatTemplateBackend(app_id="", app_secret="")
