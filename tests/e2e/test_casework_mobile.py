"""The collector's morning on a phone (375×812): open the worklist, record a promise, see the class change."""

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, Episode, Hold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_collector_records_a_promise_from_the_worklist_on_a_phone(browser, live_server, arrears_estate,
                                                                     bob_territory, tmp_path):
    shots = Path(os.environ.get("WUYE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    today = timezone.localdate()
    dunning_run(as_of=today)
    unit = arrears_estate["units"][0]
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("bob")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/$"))
        page.goto(f"{live_server.url}/casework/")
        card = page.get_by_test_id(f"row-{unit.code}")
        card.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
        page.screenshot(path=str(shots / "casework-worklist-375.png"), full_page=False)
        card.get_by_test_id(f"call-{unit.code}").click()  # tap to call: reveals the number (logged)
        card.get_by_test_id("revealed").wait_for()
        card.get_by_test_id(f"promise-{unit.code}").click()
        promised_on = today + dt.timedelta(days=7)
        page.get_by_label("承诺缴费日期").fill(promised_on.isoformat())
        page.get_by_label("承诺金额（元）").fill("179.00")
        page.get_by_label("备注").fill("业主说下周发工资后缴")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(shots / "casework-contact-form-375.png"), full_page=True)
        page.get_by_test_id("save-contact").click()
        page.wait_for_url(re.compile(r"/casework/"))
        card = page.get_by_test_id(f"row-{unit.code}")
        assert card.get_by_test_id(f"class-{unit.code}").inner_text() == "近期交纳"
        page.screenshot(path=str(shots / "casework-after-promise-375.png"), full_page=False)
        assert failed == []
    finally:
        context.close()
    assert Episode.objects.get(unit=unit, closed_on__isnull=True).account_class == "promised"
    hold = Hold.objects.get(unit=unit, kind="promise")
    assert hold.until == promised_on and hold.amount_fen == 17_900
    # the next task changes: the engine reminds the day before the promised date
    dunning_run(as_of=promised_on - dt.timedelta(days=1))
    assert Action.objects.filter(unit=unit, step__name="承诺前一天提醒").exists()
    assert (shots / "casework-worklist-375.png").stat().st_size > 0
