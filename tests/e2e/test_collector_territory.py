import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    assert page.locator("h1").inner_text() == "物业收缴"
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/$"))


def test_a_collector_logs_in_and_sees_only_their_territory(page, live_server, bob_territory, estate):
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on("request", lambda r: failed.append(r.url) if not r.url.startswith(live_server.url) else None)
    _login(page, live_server, "bob")
    assert page.url.endswith("/casework/")  # a collector's first page is the worklist
    page.get_by_role("link", name="首页", exact=True).click()
    page.wait_for_url(re.compile(r"/$"))
    assert failed == [], "every asset is served locally and loads"
    assert page.get_by_test_id("units-total").inner_text() == "12"
    page.get_by_role("link", name="房屋", exact=True).click()
    page.wait_for_url(re.compile(r"/estate/units/$"))  # count the new page's rows, not the old page's
    rows = page.locator("[data-unit-code]")
    assert rows.count() == 12
    codes = set(rows.evaluate_all("els => els.map(e => e.dataset.unitCode)"))
    assert codes == {u.code for u in estate["units"] if u.building_id == estate["buildings"][0].pk}

    # Opening a unit outside the territory by URL is refused.
    outside = estate["units"][-1]
    response = page.goto(f"{live_server.url}/estate/units/{outside.pk}/")
    assert response.status == 404


def test_a_collector_reveals_a_phone_and_it_is_logged(page, live_server, bob_territory, estate):
    from wuye.accounts.models import AuditEvent

    _login(page, live_server, "bob")
    unit = estate["units"][0]
    page.goto(f"{live_server.url}/estate/units/{unit.pk}/")
    assert page.get_by_text("138****0001").is_visible()
    page.get_by_role("button", name="查看").first.click()
    page.get_by_test_id("revealed").wait_for()
    assert page.get_by_test_id("revealed").inner_text() == "13800000001"
    assert AuditEvent.objects.filter(verb="pii.reveal", actor=bob_territory).count() == 1


def test_the_unit_list_works_on_a_phone_screen(browser, live_server, bob_territory, estate):
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812})
    page = context.new_page()
    _login(page, live_server, "bob")
    page.goto(f"{live_server.url}/estate/units/")
    assert page.locator("[data-unit-code]").count() == 12
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, f"page scrolls sideways at 375 px ({width})"
    context.close()
