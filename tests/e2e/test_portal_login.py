"""An owner on a phone (375 × 812) logs in with the phone number and the SMS code (sent through the file SMS
backend, read back by the test), chooses a unit and sees the same bill page a signed link opens."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.e2e.conftest import artefacts_dir
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Party
from wuye.estate.services import occupancy_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_logs_in_by_sms_and_picks_a_unit(browser, live_server, arrears_estate, alice, settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    party = Party.objects.get(contacts__value="13800000001")
    occupancy_start(actor=alice, unit=arrears_estate["units"][3], party=party, role=OccupantRole.OWNER,
                    start=dt.date(2024, 1, 1))
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 500 else None)
    page.on("request", lambda r: failed.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        page.goto(f"{live_server.url}/p/login/")
        page.get_by_label("手机号码").fill("138 0000 0001")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(artefacts_dir() / "portal-login-375.png"))
        page.get_by_test_id("send-code").click()
        page.get_by_test_id("login-code").wait_for()
        assert "138****0001" in page.content()
        sms = [json.loads(line) for line in (tmp_path / "outbox" / "sms.jsonl").read_text().splitlines()]
        code = re.search(r"\d{6}", sms[-1]["body"]).group()
        page.get_by_label("验证码").fill("000000" if code != "000000" else "111111")
        page.get_by_test_id("verify-code").click()
        assert "验证码不正确或已失效" in page.get_by_test_id("error").inner_text()
        page.get_by_label("验证码").fill(code)
        page.get_by_test_id("verify-code").click()
        page.get_by_test_id("login-units").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(artefacts_dir() / "portal-login-units-375.png"))
        page.get_by_test_id(f"unit-{arrears_estate['units'][3].code}").click()
        summary = page.get_by_test_id("summary")
        assert arrears_estate["units"][3].code in summary.inner_text()
        assert page.get_by_test_id("open-amount").inner_text().startswith("¥")
        page.get_by_role("link", name="切换房屋").click()
        page.get_by_test_id("unit-1-101").click()
        assert "1-101" in page.get_by_test_id("summary").inner_text()
        page.get_by_role("button", name="退出登录").click()
        page.get_by_test_id("login-phone").wait_for()
        assert failed == []
    finally:
        context.close()
