"""Issue 17 item 9 in the browser: an owner on a phone opens their link, pays through the sandbox's WeChat Pay
page (the demo's stand-in: the signed notification reaches Wuye by itself), comes back and downloads the
receipt, with the sandbox banner on every page."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import artefacts_dir
from tests.portal.conftest import _no_proxy, link  # noqa: F401
from wuye.billing.models import Payment
from wuye.portal.sandbox import Sandbox, make_keys

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox(tmp_path, settings, live_server):
    box = Sandbox(make_keys(tmp_path / "keys")).start()
    for name, value in box.settings().items():
        setattr(settings, name, True if name == "WUYE_PAY_SANDBOX" else value)
    settings.WUYE_PAY_NOTIFY_BASE = live_server.url
    yield box
    box.close()


def test_an_owner_pays_in_the_sandbox_and_gets_the_receipt(browser, live_server, sandbox, link):  # noqa: F811
    shots = artefacts_dir()
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}{link['url']}")
        assert "本机沙箱" in page.get_by_test_id("sandbox-banner").inner_text()
        page.get_by_role("button", name="微信支付").click()
        page.get_by_test_id("sandbox-open").click()
        assert "仅供演示" in page.get_by_test_id("sandbox-banner").inner_text()
        page.screenshot(path=str(shots / "sandbox-pay-375.png"), full_page=True)
        page.get_by_test_id("sandbox-confirm").click()
        page.get_by_test_id("sandbox-paid").wait_for()
        assert sandbox.notifications and sandbox.notifications[0][1] == 200
        page.get_by_test_id("sandbox-back").click()
        page.get_by_text("支付成功").wait_for(timeout=15_000)
        payment = Payment.objects.get()
        status = page.get_by_test_id("order-status")
        assert payment.receipt_no in status.inner_text()
        page.screenshot(path=str(shots / "sandbox-paid-375.png"), full_page=True)
        pdf = page.request.get(live_server.url + status.get_by_role("link", name="下载收据").get_attribute("href"))
        assert pdf.ok and pdf.body().startswith(b"%PDF")
    finally:
        context.close()
