"""The collection pages in a real browser: tomorrow's preview, a unit's ladder, placing a promise hold."""

import datetime as dt
import re

import pytest

from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Hold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/$"))


def test_a_manager_previews_tomorrow_and_holds_an_account_on_a_promise(page, live_server, alice, arrears_estate):
    dunning_run(as_of=dt.date(2026, 1, 16))
    dunning_run(as_of=dt.date(2026, 1, 19))
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    _login(page, live_server, "alice")
    page.get_by_role("link", name="概况与明日预览").first.click()
    page.get_by_label("日期").fill("2026-01-26")
    page.get_by_role("button", name="预览").click()
    preview = page.get_by_test_id("preview")
    assert "定期电话" in preview.inner_text()
    unit = arrears_estate["units"][0]
    preview.get_by_role("link", name=unit.code, exact=True).click()
    state = page.get_by_test_id("collection-state")
    assert "自住住宅" in state.inner_text() and "逾期 3 天电话" in state.inner_text()
    page.get_by_text("新增暂停").click()
    page.get_by_label("类型").select_option("promise")
    page.get_by_label("截止日期").fill("2026-12-20")
    page.get_by_label("原因").fill("业主电话承诺月底缴清")
    page.get_by_role("button", name="暂停", exact=True).click()
    page.get_by_text("已暂停催缴").wait_for()
    assert Hold.objects.get(unit=unit).until == dt.date(2026, 12, 20)
    assert failed == []
