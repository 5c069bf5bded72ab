"""Phone-first, every page (issue 17): each staff page as the role that uses it, and the owner's pages, at 375 px
(a phone) and 1280 px (a desk). On every page: HTTP 200, nothing wider than the window (``scrollWidth <=
clientWidth``); at 375 px every visible tap target (links, buttons, fields, the labels of check boxes) is at
least 44 × 44 px — a link inside a sentence excepted, as WCAG 2.5.5 excepts it. A screenshot of each page is
saved to ``$WUYE_SCREENSHOTS`` (the folder the browser tests share) as ``walk-<role>-<page>-<width>.png``."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.legal.conftest import png_bytes, referral_for, send_letters

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")
MIN_TARGET = 44

# The visible tap targets smaller than 44 × 44 px: [{what, w, h}]. Check boxes and radios count by their label;
# an inline link inside running text is excepted (WCAG 2.5.5).
SMALL_TARGETS_JS = """(min) => {
  const out = [];
  const seen = new Set();
  const els = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary');
  for (const el of els) {
    let target = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      target = el.closest('label, .form-check') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    if (seen.has(target)) continue;
    seen.add(target);
    const style = getComputedStyle(target);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const r = target.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (!target.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    if (r.right <= 0 || r.left >= window.innerWidth) continue;  // an off-canvas menu, not on screen
    if (el.tagName === 'A' && style.display === 'inline') {
      const parentText = (el.parentElement.innerText || '').replace(/\\s+/g, '');
      const ownText = (el.innerText || '').replace(/\\s+/g, '');
      if (parentText.length > ownText.length) continue;  // a link inside a sentence
    }
    if (r.width < min - 0.5 || r.height < min - 0.5) {
      out.push({what: (el.tagName + ' ' + (el.innerText || el.value || el.name || el.getAttribute('aria-label')
               || el.type || '')).trim().slice(0, 40), w: Math.round(r.width), h: Math.round(r.height)});
    }
  }
  return out;
}"""


# Pages whose lists must show every column on a phone without scrolling sideways (cards, not a table that
# scrolls inside itself): the column on the right — the project's 收费 link — was off-screen at 375 px.
WHOLE_ON_PHONE = {"/estate/projects/", "/collection/"}

# What scrolls sideways inside the page, or lies beyond its right edge: [text]
SIDEWAYS_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    const s = getComputedStyle(el);
    if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} 内部横向滚动 ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  for (const cell of document.querySelectorAll('main td, main th')) {
    const r = cell.getBoundingClientRect();
    if (r.width > 0 && r.right > window.innerWidth + 1) {
      out.push(`“${(cell.innerText || '').trim().slice(0, 20)}”超出屏幕右缘 ${Math.round(r.right)}`);
    }
  }
  return out;
}"""


@pytest.fixture
def walk_estate(arrears_estate, bob_territory, alice, carol, dave, make_user, tmp_path, settings):
    """The test estate with something on every page: letters sent, tasks, a dispute with a work order, a visit
    photo, a promise, a desk payment, a transfer recorded at the door, a legal case, a pay link."""
    from wuye.billing.services import payment_record
    from wuye.casework import services as casework
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run
    from wuye.dunning.models import Action, Policy, Task
    from wuye.legal import services as legal
    from wuye.portal import field
    from wuye.portal.links import link_create, link_url

    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    send_letters(arrears_estate)
    today = timezone.localdate()
    dunning_run(as_of=today)
    dispatch(now=dt.datetime.combine(today, dt.time(10), tzinfo=SH))
    units = arrears_estate["units"]
    unit = units[0]
    casework.contact_record(actor=bob_territory, unit=units[1], channel="call", outcome="refused", reason="service",
                            note="电梯经常停运，维修后再缴")
    dispute = units[1].disputes.get()
    casework.work_order_open(actor=bob_territory, dispute=dispute, title="电梯维修", due_on=today + dt.timedelta(7))
    casework.contact_record(actor=bob_territory, unit=units[2], channel="call", outcome="promised",
                            promised_on=today + dt.timedelta(days=5))
    casework.contact_record(actor=bob_territory, unit=units[3], channel="call", outcome="paid_already")
    casework.visit_record(actor=bob_territory, unit=unit, outcome="notice_left", note="通知塞入门缝",
                          photo=SimpleUploadedFile("门口.png", png_bytes()))
    payment = payment_record(actor=alice, unit=units[4], amount_fen=17_900, method="cash")
    finance = make_user("cai", "finance")
    make_user("gong", "engineering")
    field.field_payment_record(actor=bob_territory, unit=unit, party_id=unit.occupancies.first().party_id,
                               amount_fen=17_900, method="wechat", reference="4200009999202612040001", paid_on=today)
    case = legal.case_open_from_referral(actor=carol, task=referral_for(units[5]), on=today)
    _, token = link_create(unit=unit, actor=alice)
    return {"unit": unit, "dispute": dispute, "payment": payment, "case": case, "owner_url": link_url(token),
            "party": units[4].occupancies.first().party, "policy": Policy.objects.first(),
            "action": Action.objects.filter(channel="sms").first() or Action.objects.first(),
            "task": Task.objects.first(), "finance": finance}


def pages_by_role(w) -> dict[str, list[tuple[str, str]]]:
    u, d = w["unit"].pk, w["dispute"]
    return {
        "bob": [("worklist", "/casework/"), ("case", f"/casework/units/{u}/"),
                ("contact", f"/casework/units/{u}/contact/"), ("visit", f"/casework/units/{u}/visit/"),
                ("doorstep", f"/portal-admin/doorstep/{u}/"), ("disputes", "/casework/disputes/"),
                ("dispute", f"/casework/disputes/{d.pk}/"), ("work-orders", "/casework/work-orders/"),
                ("talking-points", "/casework/talking-points/"), ("tasks", "/collection/tasks/"),
                ("units", "/estate/units/"), ("unit", f"/estate/units/{u}/"), ("home", "/"),
                ("dunning-unit", f"/collection/units/{u}/")],
        "cai": [("units", "/estate/units/"), ("statement", f"/billing/units/{u}/"),
                ("receipt", f"/billing/payments/{w['payment'].pk}/receipt/"), ("runs", "/billing/runs/"), ("takings", "/billing/takings/"),
                ("owner-statement", f"/billing/owners/{w['party'].pk}/"),
                ("bank", "/banking/"), ("bank-review", "/banking/review/"), ("bank-accounts", "/banking/accounts/"),
                ("mandates", "/banking/mandates/"), ("batches", "/banking/batches/"),
                ("online", "/portal-admin/"), ("field-payments", "/portal-admin/field-payments/"),
                ("checks", "/casework/checks/")],
        "alice": [("dashboard", "/insights/"), ("home", "/"), ("approvals", "/casework/desk/approvals/"),
                  ("escalations", "/casework/desk/escalations/"), ("team", "/casework/desk/team/"),
                  ("territories", "/casework/desk/territories/"), ("debrief", "/casework/desk/debrief/"),
                  ("billing-approvals", "/billing/approvals/"), ("collection", "/collection/"),
                  ("policies", "/collection/policies/"), ("policy", f"/collection/policies/{w['policy'].pk}/"),
                  ("outbox", "/collection/outbox/"), ("action", f"/collection/outbox/{w['action'].pk}/"),
                  ("calendar", "/collection/calendar/"), ("notices", "/collection/notices/"),
                  ("audit", "/audit/"), ("territory-list", "/territories/"), ("projects", "/estate/projects/"),
                  ("imports", "/estate/imports/"), ("parties", "/estate/parties/"),
                  ("prepay-offers", f"/billing/projects/{w['unit'].project_id}/prepay-offers/"),
                  ("billing-policy", f"/billing/projects/{w['unit'].project_id}/policy/"),
                  ("worklist-of-bob", f"/casework/?collector={_bob_id()}")],
        "carol": [("cases", "/legal/"), ("case", f"/legal/cases/{w['case'].pk}/"), ("proofs", "/legal/proofs/"),
                  ("numbers", "/legal/numbers/"), ("templates", "/legal/templates/"),
                  ("court-fee", "/legal/court-fee/")],
        "dave": [("home", "/"), ("disputes", "/casework/disputes/"), ("doorstep", f"/portal-admin/doorstep/{u}/"),
                 ("unit", f"/estate/units/{u}/")],
        "gong": [("work-orders", "/casework/work-orders/")],
    }


def _bob_id() -> int:
    from wuye.accounts.models import User

    return User.objects.get(username="bob").pk


def _check(page, width: int, where: str, failures: list[str], path: str = "") -> None:
    sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if sizes[0] > sizes[1]:
        failures.append(f"{where}: 横向滚动 scrollWidth {sizes[0]} > clientWidth {sizes[1]}")
    if width < 600 and path in WHOLE_ON_PHONE:
        sideways = page.evaluate(SIDEWAYS_JS)
        if sideways:
            failures.append(f"{where}: 手机上有列看不到: {sideways[:6]}")
    if width < 600:
        small = page.evaluate(SMALL_TARGETS_JS, MIN_TARGET)
        if small:
            failures.append(f"{where}: 点击区域小于 {MIN_TARGET}px: {small[:8]}")


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 800)])
def test_every_page_fits_the_screen_and_every_target_is_big_enough(browser, live_server, walk_estate, tmp_path,
                                                                   width, height):
    shots = Path(os.environ.get("WUYE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    visited = 0
    for user, pages in pages_by_role(walk_estate).items():
        context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                      is_mobile=width < 600, has_touch=width < 600)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("用户名").fill(user)
            page.get_by_label("密码").fill("pw-12345678")
            page.get_by_role("button", name="登录").click()
            page.wait_for_load_state("load")
            assert "/login/" not in page.url
            for name, path in pages:
                response = page.goto(live_server.url + path)
                assert response is not None and response.status == 200, f"{user} {path}: {response and response.status}"
                page.wait_for_load_state("load")
                _check(page, width, f"{user} {path}", failures, path)
                page.screenshot(path=str(shots / f"walk-{user}-{name}-{width}.png"), full_page=True)
                visited += 1
        finally:
            context.close()
    # the owner's pages: the bill from a pay link, and the login by phone
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                  is_mobile=width < 600, has_touch=width < 600)
    page = context.new_page()
    try:
        for name, url in (("bill", walk_estate["owner_url"]), ("login", f"{live_server.url}/p/login/")):
            url = url.replace(re.match(r"https?://[^/]+", url).group(0), live_server.url)
            response = page.goto(url)
            assert response.status == 200, url
            _check(page, width, f"owner {name}", failures)
            page.screenshot(path=str(shots / f"walk-owner-{name}-{width}.png"), full_page=True)
            visited += 1
    finally:
        context.close()
    assert visited >= 60
    assert failures == [], "\n".join(failures)
