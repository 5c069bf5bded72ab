"""Browser test of the manager's territory board: drag a building onto a collector (HTML5 drag and drop in
Debian's Chromium) and the assignment is stored; a floor dragged to another collector splits the building."""

import re

import pytest

from wuye.accounts.choices import Role
from wuye.accounts.models import Territory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/$"))


def test_a_manager_drags_a_building_and_a_floor_onto_collectors(page, live_server, estate, bob_territory, alice,
                                                                  make_user):
    erin = make_user("erin", Role.COLLECTOR)
    b2, b1 = estate["buildings"][1], estate["buildings"][0]
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on("request", lambda r: failed.append(r.url) if not r.url.startswith(live_server.url) else None)
    _login(page, live_server, "alice")
    page.goto(f"{live_server.url}/casework/desk/territories/")
    page.get_by_test_id(f"owner-{b2.code}").wait_for()
    assert "未分配" in page.get_by_test_id(f"owner-{b2.code}").inner_text()

    page.get_by_test_id(f"building-{b2.code}").drag_to(page.get_by_test_id("collector-erin"))
    page.wait_for_load_state("load")
    page.get_by_text("已交由 erin 负责").wait_for()
    assert page.get_by_test_id(f"owner-{b2.code}").inner_text().strip() == "erin"
    assert list(Territory.objects.filter(user=erin).values_list("building_id", "floor_from", "floor_to")) == [
        (b2.pk, None, None)]

    # one floor of bob's building goes to erin
    page.get_by_test_id(f"building-{b1.code}").locator("xpath=..").locator("summary").click()
    page.get_by_test_id(f"floor-{b1.code}-3").drag_to(page.get_by_test_id("collector-erin"))
    page.get_by_text("3 层 已交由 erin 负责").wait_for()
    assert "erin" in page.get_by_test_id(f"floor-{b1.code}-3").text_content()
    assert sorted(Territory.objects.filter(user=bob_territory).values_list("floor_from", "floor_to"),
                  key=lambda r: r[0] or 0) == [(None, 2), (4, None)]
    assert failed == []
