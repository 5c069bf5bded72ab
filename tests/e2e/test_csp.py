"""Issue 14 item 6: every page passes the Content-Security-Policy — Chromium loads the key pages of each role
and the owner's bill, and no policy violation (console or ``securitypolicyviolation`` event) is reported."""

from __future__ import annotations

import re

import pytest

from wuye.billing.services import payment_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def _watch(page):
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda m: problems.append(f"console: {m.text}")
            if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    return problems


def _check(page, url, problems):
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # htmx and behaviours run on load
    found = problems + page.evaluate("window.__csp || []")
    assert found == [], f"{url}: {found}"


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw-12345678")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/$"))


def test_staff_pages_raise_no_csp_violation(page, live_server, admin_user, alice, arrears_estate):
    unit = arrears_estate["units"][0]
    payment = payment_record(actor=alice, unit=unit, amount_fen=10_000, method="cash")
    owner = unit.occupancies.get().party
    problems = _watch(page)
    _check(page, f"{live_server.url}/login/", problems)
    _login(page, live_server, "root")
    for path in ("/", "/estate/units/", f"/estate/units/{unit.pk}/", f"/estate/parties/{owner.pk}/",
                 "/estate/imports/", "/estate/projects/", f"/billing/units/{unit.pk}/",
                 f"/billing/payments/{payment.pk}/receipt/", "/billing/approvals/", "/collection/",
                 "/collection/policies/", "/collection/outbox/", "/collection/tasks/", "/collection/calendar/",
                 f"/collection/units/{unit.pk}/", "/casework/", f"/casework/units/{unit.pk}/contact/",
                 "/casework/desk/territories/", "/casework/desk/debrief/", "/legal/", "/legal/proofs/",
                 "/legal/numbers/", "/legal/court-fee/", "/banking/", "/banking/review/", "/portal-admin/",
                 "/audit/", "/territories/", "/insights/", "/insights/units/"):
        _check(page, live_server.url + path, problems)

    # the behaviours that replaced inline handlers still work: choosing a project submits the filter form
    page.goto(f"{live_server.url}/estate/units/")
    page.locator("select[name=project]").select_option(str(arrears_estate["project"].pk))
    page.wait_for_url(re.compile(r"project=\d+"))
    assert page.evaluate("window.__csp") == [] and problems == []


def test_the_owners_bill_raises_no_csp_violation(browser, live_server, alice, arrears_estate):
    from wuye.portal.links import link_create

    _, token = link_create(unit=arrears_estate["units"][0], actor=alice)
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    problems = _watch(page)
    _check(page, f"{live_server.url}/p/{token}/", problems)
    _check(page, f"{live_server.url}/p/login/", problems)
    context.close()
