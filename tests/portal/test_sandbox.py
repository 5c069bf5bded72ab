"""Issue 17 item 9: the demo's local stand-ins for WeChat Pay and Alipay — an order placed through the real
SDK code, the owner's confirmation, the signed notification to our endpoint, one payment; a banner; and a
system check that refuses the sandbox anywhere but on the loopback."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.core.checks import run_checks

from tests.portal.conftest import order_for
from wuye.billing.models import Payment
from wuye.portal.choices import OrderStatus
from wuye.portal.sandbox import Sandbox, make_keys


@pytest.fixture
def sandbox(tmp_path, settings, live_server):
    box = Sandbox(make_keys(tmp_path / "keys")).start()
    for name, value in box.settings().items():
        setattr(settings, name, True if name == "WUYE_PAY_SANDBOX" else value)
    settings.WUYE_PAY_NOTIFY_BASE = live_server.url
    yield box
    box.close()


def _open(url: str, data: bytes | None = None) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=data, method="POST" if data is not None else "GET"),
                     timeout=30) as r:
        return r.read().decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("provider", "channel"), [("wechat", "native"), ("alipay", "native"), ("alipay", "wap")])
def test_an_order_is_paid_in_the_sandbox_and_settled_by_its_signed_notification(sandbox, link, provider, channel):
    order = order_for(link, provider=provider, channel=channel)
    page_url = order.code_url or order.pay_url
    assert page_url.startswith(sandbox.url)
    page = _open(page_url)  # (Alipay's wap URL is the gateway: it sends the browser to the pay page)
    assert "沙箱支付 · 仅供演示，不会扣款" in page and f"¥{order.amount_fen / 100:,.2f}" in page
    pay_page = f"{sandbox.url}/sandbox/pay/{provider}/{order.out_trade_no}"
    done = _open(pay_page, data=urllib.parse.urlencode({"back": "http://127.0.0.1/p/x/"}).encode())
    assert "支付成功" in done
    assert sandbox.notifications == [(order.out_trade_no, 200)]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get()
    assert (payment.method, payment.amount_fen) == (provider, order.amount_fen)
    # asking the provider afterwards agrees (the worker's query job reads the same stand-in)
    from wuye.portal import providers

    if provider == "wechat":
        assert providers.wechat_query(order.out_trade_no)["trade_state"] == "SUCCESS"
    else:
        assert providers.alipay_query(order.out_trade_no)["trade_status"] == "TRADE_SUCCESS"


@pytest.mark.django_db(transaction=True)
def test_the_owner_pages_say_these_are_sandbox_providers(client, sandbox, link, settings):
    html = client.get(link["url"]).content.decode()
    assert 'data-testid="sandbox-banner"' in html and "本机沙箱" in html
    r = client.post(f"{link['url']}pay/", {"pay": "wechat:native"}, follow=True)
    html = r.content.decode()
    assert 'data-testid="sandbox-open"' in html and sandbox.url in html
    settings.WUYE_PAY_SANDBOX = False
    assert 'data-testid="sandbox-banner"' not in client.get(link["url"]).content.decode()


def test_the_system_check_refuses_the_sandbox_outside_the_loopback(settings):
    settings.WUYE_PAY_SANDBOX = True
    settings.WECHATPAY_API_BASE = "http://127.0.0.1:9000"
    settings.ALIPAY_GATEWAY = "http://127.0.0.1:9000/gateway.do"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    assert [e for e in run_checks() if e.id == "wuye.E101"] == []
    settings.ALLOWED_HOSTS = ["wuye.example.com"]
    errors = [e for e in run_checks() if e.id == "wuye.E101"]
    assert len(errors) == 1 and "wuye.example.com" in errors[0].msg
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WECHATPAY_API_BASE = "https://api.mch.weixin.qq.com"
    assert "WECHATPAY_API_BASE" in next(e for e in run_checks() if e.id == "wuye.E101").msg
    settings.WUYE_PAY_SANDBOX = False
    assert [e for e in run_checks() if e.id == "wuye.E101"] == []


@pytest.mark.django_db
def test_the_demo_bank_account_and_its_sample_statement_import(tmp_path, arrears_estate, make_user):
    from wuye.accounts.choices import Role
    from wuye.banking.demo import demo_banking
    from wuye.banking.services import statement_import

    make_user("caiwu", Role.FINANCE)
    account, path = demo_banking(directory=tmp_path, project_code="T1")
    assert account.layout == "icbc_csv" and path.exists()
    again, _ = demo_banking(directory=tmp_path, project_code="T1")
    assert again.pk == account.pk  # once
    finance = account.created_by if hasattr(account, "created_by") else None
    statement = statement_import(actor=finance, account=account, filename=path.name, raw=path.read_bytes(),
                                 actor_label="" if finance else "job:demo")
    assert not statement.errors
    # the four transfers carry a 缴费编号 or the unit's code: all matched and posted; 预交 without either waits
    assert statement.counts["matched"] == 4 and Payment.objects.count() == 4, statement.counts


@pytest.mark.django_db
def test_the_demo_command_points_itself_and_its_worker_at_the_sandbox(settings, monkeypatch, tmp_path, link):
    import os

    from wuye.accounts.management.commands.demo import demo_owner_link, start_pay_sandbox
    from wuye.portal import providers

    monkeypatch.setattr(os, "environ", dict(os.environ))  # the worker's environment, restored afterwards
    settings.DATA_DIR = tmp_path
    box = start_pay_sandbox("127.0.0.1:8000")
    try:
        assert settings.WUYE_PAY_SANDBOX is True and settings.WECHATPAY_API_BASE == box.url
        assert os.environ["ALIPAY_GATEWAY"] == f"{box.url}/gateway.do" and os.environ["WUYE_PAY_SANDBOX"] == "1"
        assert providers.wechat_configured() and providers.alipay_configured()
        assert [e for e in run_checks() if e.id == "wuye.E101"] == []
    finally:
        box.close()
    assert box.outbox == settings.WUYE_OUTBOX_DIR  # the SMS inbox reads the file backend's folder
    url, phone = demo_owner_link("127.0.0.1:8000", project_codes=("NONE", link["unit"].project.code))
    assert url.startswith("http://127.0.0.1:8000/p/")
    # the printed phone logs in to the owner of the unit the printed link is for
    from wuye.portal.links import link_resolve
    from wuye.portal.login import parties_of_phone, units_of_parties

    unit = link_resolve(url.rstrip("/").rsplit("/", 1)[1], count_use=False).unit
    assert unit in units_of_parties(parties_of_phone(phone))


WECHAT_PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN")


def _no_redirect(url: str) -> tuple[int, str]:
    class Stop(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), Stop)
    try:
        with opener.open(url, timeout=30) as r:
            return r.status, r.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


@pytest.mark.django_db(transaction=True)
def test_in_wechat_the_demo_pays_by_jsapi_through_the_sandbox(client, sandbox, link, settings):
    """微信内支付 in the demo: silent 网页授权 at the stand-in, a JSAPI order for the sandbox openid, and — no
    WeChat client being around — the stand-in's pay page instead of the bridge; the signed notification settles
    it."""
    from wuye.portal.models import PaymentOrder

    client.defaults["HTTP_USER_AGENT"] = WECHAT_PHONE
    r = client.post(f"{link['url']}pay/", {"provider": "wechat"})
    assert r.status_code == 302 and r["Location"].startswith(sandbox.url + "/connect/oauth2/authorize?")
    status, back = _no_redirect(r["Location"].split("#")[0])
    assert status == 302 and back.startswith(live_url := settings.WUYE_PAY_NOTIFY_BASE)
    r = client.get(back[len(live_url):])  # WeChat sends the browser back to our callback with the code
    assert r.status_code == 302, r.content
    order = PaymentOrder.objects.get()
    assert (order.channel, order.status) == ("jsapi", OrderStatus.CREATED) and order.prepay_id
    html = client.get(r["Location"]).content.decode()
    pay_page = f"{sandbox.url}/sandbox/pay/wechat/{order.out_trade_no}"
    assert 'data-testid="jsapi-sandbox"' in html and pay_page in html
    assert "portal_jsapi.js" not in html  # no bridge to wait for in the sandbox
    assert "支付成功" in _open(pay_page, data=b"back=")
    assert sandbox.notifications == [(order.out_trade_no, 200)]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and Payment.objects.get().amount_fen == order.amount_fen


def test_the_sandbox_token_endpoint_wants_our_secret_and_a_code_it_gave(tmp_path):
    box = Sandbox(make_keys(tmp_path / "keys"))
    assert box.access_token({"appid": "wxd678efh567hg6787", "secret": "nope", "code": "x"})["errcode"] == 40125
    secret = (tmp_path / "keys" / "wechat_mp_secret").read_text().strip()
    assert box.access_token({"appid": "wxd678efh567hg6787", "secret": secret, "code": "x"})["errcode"] == 40029
    assert box.authorize({"appid": "wxd678efh567hg6787", "redirect_uri": "https://evil.example/cb"}) is None
    target = box.authorize({"appid": "wxd678efh567hg6787", "redirect_uri": "http://127.0.0.1:1/p/wechat/oauth/",
                            "state": "s"})
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)["code"][0]
    answer = box.access_token({"appid": "wxd678efh567hg6787", "secret": secret, "code": code})
    assert answer["openid"].startswith("oSandbox")
    assert box.access_token({"appid": "wxd678efh567hg6787", "secret": secret, "code": code})["errcode"] == 40029


def test_the_system_check_covers_the_sandbox_oauth_endpoints(settings):
    settings.WUYE_PAY_SANDBOX = True
    settings.WECHATPAY_API_BASE = "http://127.0.0.1:9000"
    settings.ALIPAY_GATEWAY = "http://127.0.0.1:9000/gateway.do"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WECHAT_MP_APPID = "wxd678efh567hg6787"
    settings.WECHAT_MP_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
    settings.WECHAT_MP_TOKEN_URL = "http://127.0.0.1:9000/sns/oauth2/access_token"
    errors = [e for e in run_checks() if e.id == "wuye.E101"]
    assert len(errors) == 1 and "WECHAT_MP_AUTHORIZE_URL" in errors[0].msg


def test_the_sandbox_sms_inbox_shows_login_codes_only_newest_first(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "sms.jsonl").write_text(
        '{"out_id": "action-1", "to": "13800000001", "body": "您有物业费未缴"}\n'
        '{"out_id": "login-1", "to": "13800000001", "body": "您的物业缴费登录验证码为 111111"}\n'
        'not json\n'
        '{"out_id": "login-2", "to": "13800000002", "body": "您的物业缴费登录验证码为 <b>222222</b>"}\n')
    box = Sandbox(make_keys(tmp_path / "keys"), outbox=outbox).start()
    try:
        page = _open(box.url + "/sandbox/sms/")
    finally:
        box.close()
    assert "物业费未缴" not in page
    assert page.index("13800000002") < page.index("13800000001")  # newest first
    assert "&lt;b&gt;222222" in page  # escaped
    assert "沙箱" in Sandbox(make_keys(tmp_path / "k2")).sms_page()  # no outbox: an empty inbox, no error


@pytest.mark.django_db(transaction=True)
def test_the_login_code_page_points_to_the_sandbox_sms_inbox(client, sandbox, link, settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    r = client.post("/p/login/", {"phone": "13800000001"}, follow=True)
    html = r.content.decode()
    assert 'data-testid="sandbox-sms-link"' in html and f"{sandbox.url}/sandbox/sms/" in html
    settings.WUYE_PAY_SANDBOX = False
    assert 'data-testid="sandbox-sms-link"' not in client.get("/p/login/code/").content.decode()
