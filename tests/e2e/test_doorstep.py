"""Field work in a real browser, on phones (375 × 812):

1. payment on the doorstep — the collector opens a worklist card, chooses the periods, shows the QR code; the
   owner scans it on their own phone, pays through the WeChat Pay stand-in (tests/portal), the notification
   arrives, the owner downloads the receipt, and the collector's card shows what is left;
2. a visit with a photo — the photo and its SHA-256 appear on the unit's evidence list."""

from __future__ import annotations

import hashlib
import re

import pytest
import requests
from django.utils import timezone

from tests.legal.conftest import png_bytes
from tests.portal.conftest import _no_proxy, keys, wechat, wechat_notification  # noqa: F401
from wuye.billing.models import Payment
from wuye.casework.models import VisitPhoto
from wuye.dunning.engine import dunning_run
from wuye.portal.models import PaymentOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _phone(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def _login_collector(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("bob")
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/casework/$"))  # a collector's first page is the worklist



def test_the_owner_pays_on_the_doorstep_from_the_collectors_qr_code(browser, live_server, arrears_estate,
                                                                   bob_territory, wechat, keys,  # noqa: F811
                                                                   shots, settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    dunning_run(as_of=timezone.localdate())
    unit = arrears_estate["units"][0]
    collector_ctx, collector = _phone(browser)
    owner_ctx, owner = _phone(browser)
    failed = []
    for p in (collector, owner):
        # a refused send (outside contact hours) answers 400 with its reason: that is not a failure here
        p.on("response", lambda r: failed.append(r.url) if r.status >= 400 and "/send/" not in r.url else None)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=Door0001"})
    try:
        _login_collector(collector, live_server)
        card = collector.get_by_test_id(f"row-{unit.code}")
        assert "¥1,253.00" in card.inner_text() and "7 期" in card.inner_text()
        # “我可以把缴费链接发到您手机上”: one tap; the answer shows on the card (sent, or why not — e.g. at night)
        card.get_by_test_id(f"send-link-{unit.code}").click()
        answer = card.locator(".alert").first
        answer.wait_for()
        assert re.search(r"缴费链接已发送至 138\*\*\*\*0001|未发送：", answer.inner_text()), answer.inner_text()
        card.get_by_test_id(f"qr-{unit.code}").click()
        collector.get_by_test_id("pay-qr").wait_for()
        assert collector.get_by_test_id("qr-amount").inner_text() == "¥1,253.00"
        # the owner pays the three oldest months now
        boxes = collector.get_by_test_id("periods").locator("input[type=checkbox]")
        for i in range(3, boxes.count()):
            boxes.nth(i).uncheck()
        collector.get_by_role("button", name="按所选账期更新二维码").click()
        collector.wait_for_url(re.compile(r"period="))
        assert collector.get_by_test_id("qr-amount").inner_text() == "¥537.00"
        assert collector.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        collector.screenshot(path=str(shots / "doorstep-qr-375.png"), full_page=True)
        url = collector.get_by_test_id("pay-qr").get_attribute("data-url")
        assert "/p/" in url and "periods=2026-01-01%2C2026-02-01%2C2026-03-01" in url

        # the owner scans the code: their phone opens the link, the three months are ticked
        owner.goto(live_server.url + url[url.index("/p/"):])
        ticked = owner.get_by_test_id("pay-form").locator("input[name=period]:checked")
        assert ticked.count() == 3
        owner.get_by_role("button", name="微信支付").click()
        owner.get_by_test_id("pay-qr").wait_for()
        order = PaymentOrder.objects.get()
        assert order.amount_fen == 53_700
        headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
        answer = requests.post(f"{live_server.url}/api/v1/pay/wechat/notify/", data=body.encode(),
                               headers={**headers, "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 200
        owner.get_by_text("支付成功").wait_for(timeout=10_000)
        payment = Payment.objects.get()
        receipt = owner.get_by_test_id("order-status").get_by_role("link", name="下载收据")
        pdf = owner.request.get(live_server.url + receipt.get_attribute("href"))
        assert pdf.ok and pdf.body().startswith(b"%PDF")
        owner.screenshot(path=str(shots / "doorstep-owner-paid-375.png"), full_page=True)

        # the collector's card shows what is left
        collector.goto(f"{live_server.url}/casework/")
        card = collector.get_by_test_id(f"row-{unit.code}")
        assert "¥716.00" in card.inner_text() and "4 期" in card.inner_text()
        card.scroll_into_view_if_needed()
        collector.screenshot(path=str(shots / "doorstep-card-after-375.png"), full_page=False)
        collector.goto(f"{live_server.url}/casework/units/{unit.pk}/")
        assert "2026年1月" not in collector.get_by_test_id("owed-periods").inner_text()
        assert payment.amount_fen == 53_700
        assert failed == []
    finally:
        collector_ctx.close()
        owner_ctx.close()


def test_a_visit_with_a_photo_shows_the_photo_and_its_hash_on_the_evidence_list(browser, live_server,
                                                                               arrears_estate, bob_territory,
                                                                               tmp_path, shots):
    dunning_run(as_of=timezone.localdate())
    unit = arrears_estate["units"][0]
    photo = tmp_path / "notice.png"
    photo.write_bytes(png_bytes((230, 200, 40), (120, 90)))
    context, page = _phone(browser)
    try:
        _login_collector(page, live_server)
        # a mis-tap is undone in one more tap (recorded as a correction)
        card = page.get_by_test_id(f"row-{unit.code}")
        card.get_by_role("button", name="无人接听").click()
        card.get_by_test_id("recorded").wait_for()
        assert "暂未明确" in card.get_by_test_id("recorded").inner_text()
        card.get_by_test_id("undo").click()
        card.get_by_test_id("undone").wait_for()
        assert "已撤销“无人接听”" in card.get_by_test_id("undone").inner_text()
        page.goto(f"{live_server.url}/casework/")
        page.get_by_test_id(f"visit-{unit.code}").click()
        page.get_by_test_id("visit-form").wait_for()
        assert page.get_by_label("所拨号码").count() == 0  # a visit dials nothing
        page.get_by_text("已张贴/塞门通知").click()
        # the photo is picked with a button in Chinese (the browser's own file button is hidden: it speaks the
        # phone's language), which names the file chosen
        assert page.get_by_test_id("photo-pick").inner_text() == "拍照或选择照片"
        assert page.get_by_label("照片（张贴/塞门的通知、门牌）").bounding_box()["width"] <= 1  # visually hidden
        assert page.get_by_test_id("photo-name").inner_text() == "未选择照片"
        page.get_by_label("照片（张贴/塞门的通知、门牌）").set_input_files(str(photo))
        assert page.get_by_test_id("photo-name").inner_text() == "已选择：notice.png"
        page.get_by_label("备注").fill("催缴通知已塞入门缝")
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.screenshot(path=str(shots / "visit-form-375.png"), full_page=True)
        page.get_by_test_id("save-visit").click()
        page.wait_for_url(re.compile(r"/casework/"))
        page.goto(f"{live_server.url}/casework/units/{unit.pk}/")
        evidence = page.get_by_test_id("evidence")
        shot = VisitPhoto.objects.get(unit=unit)
        assert evidence.get_by_test_id("photo-hash").inner_text() == shot.sha256
        assert shot.sha256 == hashlib.sha256(shot.file.read()).hexdigest()
        image = evidence.locator("img")
        assert image.evaluate("img => img.complete && img.naturalWidth") == 120
        evidence.scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.screenshot(path=str(shots / "visit-evidence-375.png"), full_page=False)
        contacts = page.get_by_test_id("contacts").inner_text()
        assert "已张贴/塞门通知" in contacts and "撤销误记" in contacts
    finally:
        context.close()
