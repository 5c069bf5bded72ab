"""Phone-first, every page (issue 17): each staff page as the role that uses it, the owner's pages and the error
pages, at 375 px (a phone) and 1280 px (a desk). On every page: the expected HTTP status, nothing wider than the
window (``scrollWidth <= clientWidth``), no raw key or English word of the code's in the text, no amount broken
or running out of its box and no date or unit code standing alone broken over two lines; at 375 px every
visible tap target (links, buttons, fields, the labels of check boxes) is at least 44 × 44 px — a link inside a
sentence excepted, as WCAG 2.5.5 excepts it (a link beside other links, with no words of its own around it, is
not in a sentence). A screenshot of each page is saved to the artefacts folder the browser tests share
(``$WUYE_SCREENSHOTS``, else ``var/e2e-artefacts/``) as ``walk-<role>-<page>-<width>.png``.

A test beside the walk checks that the walk leaves out no staff page: every page that answers GET with HTML is
listed below for some role (downloads, fragments and form targets are named in NOT_PAGES)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.e2e.conftest import artefacts_dir
from tests.legal.conftest import png_bytes, referral_for, send_letters

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")
MIN_TARGET = 44

# The visible tap targets smaller than 44 × 44 px: [{what, w, h}]. Check boxes, radios and a hidden file input
# count by their label; an inline link inside running text is excepted (WCAG 2.5.5).
SMALL_TARGETS_JS = """(min) => {
  const out = [];
  const seen = new Set();
  const els = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary');
  for (const el of els) {
    let target = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      target = el.closest('label, .form-check') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    } else if (el.matches('input[type=file].visually-hidden')) {
      target = (el.id && document.querySelector(`label.btn[for="${el.id}"]`)) || el;  // the button that picks it
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
      // a link inside a sentence: its parent has words of its own besides the links and buttons in it
      const words = el.parentElement.cloneNode(true);
      words.querySelectorAll('a, button, input, select, textarea, label').forEach((n) => n.remove());
      if ((words.textContent || '').replace(/[\\s·|/()（）:：,，、.。←→-]+/g, '').length > 0) continue;
    }
    if (r.width < min - 0.5 || r.height < min - 0.5) {
      out.push({what: (el.tagName + ' ' + (el.innerText || el.value || el.name || el.getAttribute('aria-label')
               || el.type || '')).trim().slice(0, 40), w: Math.round(r.width), h: Math.round(r.height)});
    }
  }
  return out;
}"""


# Pages whose lists must show every column on a phone without scrolling sideways (cards, not a table that
# scrolls inside itself): the column on the right — the project's 收费 link, a dispute's status, a task's 完成 —
# was off-screen at 375 px.
WHOLE_ON_PHONE = {"/estate/projects/", "/collection/", "/casework/disputes/", "/casework/work-orders/",
                  "/collection/tasks/", "/estate/units/",
                  # the cashier's desk: a unit's account with its payment form, the day's takings (decision 174)
                  "/billing/units/<id>/", "/billing/takings/", "/billing/owners/<id>/", "/billing/runs/",
                  "/casework/checks/", "/portal-admin/",
                  # the manager's desk
                  "/casework/desk/approvals/", "/casework/desk/debrief/", "/casework/desk/escalations/",
                  # bank reconciliation: imports, a statement's lines, the review queue, accounts, mandates, batches
                  "/banking/", "/banking/statements/<id>/", "/banking/review/", "/banking/accounts/",
                  "/banking/accounts/<id>/", "/banking/mandates/", "/banking/batches/", "/banking/batches/<id>/"}


def _whole_on_phone(path: str) -> bool:
    return any(re.fullmatch(re.escape(p).replace("<id>", r"\d+"), path) for p in WHOLE_ON_PHONE)


def _selected(user: str, name: str) -> bool:
    """``WUYE_WALK_PAGES=cai,alice:approvals`` walks only those roles and pages (all when unset): a change to a
    few pages is looked at without the whole walk. The full walk is what ``make test`` runs."""
    import os

    wanted = [w.strip() for w in os.environ.get("WUYE_WALK_PAGES", "").split(",") if w.strip()]
    return not wanted or any(w in (user, f"{user}:{name}") for w in wanted)

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


# Money broken over two lines or running out of the box it stands in (a card, a cell, an item of a list), a date or
# a unit code standing alone broken over two lines: [text]. The browser breaks 2026-12-05 or 1-302 at its hyphen
# unless the page keeps it whole.
BROKEN_JS = """() => {
  const out = [];
  const pattern = /¥-?[\\d,]+(?:\\.\\d+)?|\\b\\d{4}-\\d{2}-\\d{2}\\b|\\b\\d{1,2}-\\d{3,4}\\b/g;
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !parent.checkVisibility()) continue;
    for (const m of node.textContent.matchAll(pattern)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter((r) => r.width > 0);
      if (rects.length === 0) continue;
      // a date or a code inside a sentence may break at its hyphen as words do; standing alone it may not
      const alone = m[0].startsWith('¥') || node.textContent.trim() === m[0];
      if (alone && new Set(rects.map((r) => Math.round(r.bottom))).size > 1) {
        out.push(`“${m[0]}”断成两行`);
        continue;
      }
      const box = parent.closest('.card, td, th, li, .list-group-item, .alert');
      const right = Math.max(...rects.map((r) => r.right));
      if (m[0].startsWith('¥') && box && right > box.getBoundingClientRect().right + 1) {
        out.push(`“${m[0]}”超出所在框 ${Math.round(right - box.getBoundingClientRect().right)}px`);
      }
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
    extra = _pages_beyond_the_day(arrears_estate, alice, bob_territory, finance, tmp_path, settings)
    return {"unit": unit, "dispute": dispute, "payment": payment, "case": case, "owner_url": link_url(token),
            "party": units[4].occupancies.first().party, "policy": Policy.objects.first(),
            "action": Action.objects.filter(channel="sms").first() or Action.objects.first(),
            "task": Task.objects.first(), "finance": finance, "units": units, **extra}


def _pages_beyond_the_day(estate, alice, bob, finance, tmp_path, settings) -> dict:
    """What the rest of the staff pages show: approvals waiting (two waivers, a plan, a referral), an estate import
    with an error, the demo's bank account with its sample statement imported, a direct-debit batch, a published
    quarter (公示)."""
    from wuye.banking.demo import demo_banking
    from wuye.banking.services import debit_batch_create, mandate_create, statement_import
    from wuye.billing import installments
    from wuye.billing import services as billing
    from wuye.billing.models import Bill
    from wuye.casework.models import TalkingPoint
    from wuye.dunning.models import MessageTemplate
    from wuye.estate import importer
    from wuye.insights.disclosure import disclosure_publish

    units = estate["units"]
    for unit, fen in ((units[6], 5_000), (units[7], 12_000)):
        bill = Bill.objects.filter(unit=unit).order_by("period_start").first()
        billing.adjustment_request(actor=bob, bill=bill, kind="waive_principal", reason="电梯停运", amount_fen=fen)
    owed = sum(b.amount_fen - b.settled_fen for b in Bill.objects.filter(unit=units[8]))
    installments.installment_request(actor=bob, unit=units[8], reason="孩子住院",
                                     schedule=installments.equal_schedule(owed, 3, timezone.localdate()
                                                                          + dt.timedelta(days=10)))
    referral_for(units[9])
    bad = "项目编码,项目名称,楼栋编码,楼层,房号,物业类型,建筑面积,业主姓名\nX1,新项目,1,1,101,住宅,不是数字,王五\n"
    job = importer.import_submit(actor=alice, upload=SimpleUploadedFile("楼盘.csv", bad.encode()))
    account, sample = demo_banking(directory=tmp_path / "bank", project_code=estate["project"].code,
                                   finance=finance.username)
    statement = statement_import(actor=finance, account=account, filename=sample.name, raw=sample.read_bytes())
    for unit in units[10:12]:
        mandate_create(actor=finance, unit=unit, payer_name="业主", bank="农业银行",
                       account_no="6228480000000000" + unit.code[-3:], signed_on=dt.date(2026, 1, 5))
    batch = debit_batch_create(actor=finance, project=estate["project"], as_of=timezone.localdate())
    settings.WUYE_DISCLOSURE_MIN_UNITS = 1
    disclosure = disclosure_publish(actor=alice, project=estate["project"], year=2026, quarter=1)
    from wuye.insights.services import month_close

    month_close(period=dt.date(2026, 7, 1), actor_label="walk")  # the manager's home with its charts and tables
    return {"job": job, "account": account, "statement": statement, "batch": batch, "disclosure": disclosure,
            "template": MessageTemplate.objects.order_by("pk").first(),
            "talking_point": TalkingPoint.objects.order_by("pk").first()}


# Addresses that answer GET but are not pages to look at: downloads, fragments polled by a page, form targets
# that redirect, the owner's pages reached only in the middle of a payment, the admin.
NOT_PAGES = {
    "logout/", "estate/units/export.xlsx", "estate/imports/template.xlsx", "estate/imports/<int:pk>/progress/",
    "estate/imports/<int:pk>/errors.xlsx", "billing/units/<int:pk>/statement.pdf",
    "billing/units/<int:pk>/statement.xlsx", "billing/payments/<int:pk>/receipt.pdf",
    "billing/approvals/",  # redirects to the one approvals page
    "collection/notices/poster/", "collection/outbox/<int:pk>/referral.pdf", "casework/photos/<int:pk>/",
    "legal/cases/<int:pk>/documents/<str:kind>.<str:fmt>", "legal/packs/<int:pk>/<str:fmt>/",
    "legal/proofs/file/<int:pk>/", "insights/export/<str:table>.xlsx", "insights/report/<str:month>.pdf",
    "p/wechat/oauth/", "p/logout/", "p/<str:token>/orders/<str:out_trade_no>/",
    "p/<str:token>/orders/<str:out_trade_no>/status/", "p/<str:token>/receipts/<int:payment_id>.pdf",
    "banking/statements/<int:pk>/state/", "banking/statements/<int:pk>/errors.xlsx",
    "banking/batches/<int:pk>/debit.<str:fmt>", "i18n/setlang/",
}


def pages_by_role(w) -> dict[str, list[tuple]]:
    """{user: [(name, path) or (name, path, expected status)]}"""
    u, d = w["unit"].pk, w["dispute"]
    return {
        "bob": [("worklist", "/casework/"), ("case", f"/casework/units/{u}/"),
                ("contact", f"/casework/units/{u}/contact/"), ("visit", f"/casework/units/{u}/visit/"),
                ("doorstep", f"/portal-admin/doorstep/{u}/"), ("disputes", "/casework/disputes/"),
                ("dispute", f"/casework/disputes/{d.pk}/"), ("work-orders", "/casework/work-orders/"),
                ("talking-points", "/casework/talking-points/"), ("tasks", "/collection/tasks/"),
                ("units", "/estate/units/"), ("unit", f"/estate/units/{u}/"), ("home", "/"),
                ("dunning-unit", f"/collection/units/{u}/"),
                ("forbidden", "/casework/desk/approvals/", 403), ("not-found", "/estate/units/987654321/", 404)],
        "cai": [("units", "/estate/units/"), ("statement", f"/billing/units/{u}/"),
                ("receipt", f"/billing/payments/{w['payment'].pk}/receipt/"), ("runs", "/billing/runs/"),
                ("takings", "/billing/takings/"), ("owner-statement", f"/billing/owners/{w['party'].pk}/"),
                ("bank", "/banking/"), ("bank-statement", f"/banking/statements/{w['statement'].pk}/"),
                ("bank-review", "/banking/review/"), ("bank-accounts", "/banking/accounts/"),
                ("bank-account", f"/banking/accounts/{w['account'].pk}/"),
                ("mandates", "/banking/mandates/"), ("batches", "/banking/batches/"),
                ("batch", f"/banking/batches/{w['batch'].pk}/"),
                ("online", "/portal-admin/"), ("field-payments", "/portal-admin/field-payments/"),
                ("checks", "/casework/checks/")],
        "alice": [("dashboard", "/insights/"), ("home", "/"), ("approvals", "/casework/desk/approvals/"),
                  ("escalations", "/casework/desk/escalations/"), ("team", "/casework/desk/team/"),
                  ("territories", "/casework/desk/territories/"), ("debrief", "/casework/desk/debrief/"),
                  ("collection", "/collection/"),
                  ("policies", "/collection/policies/"), ("policy", f"/collection/policies/{w['policy'].pk}/"),
                  ("template", f"/collection/templates/{w['template'].pk}/"),
                  ("outbox", "/collection/outbox/"), ("action", f"/collection/outbox/{w['action'].pk}/"),
                  ("calendar", "/collection/calendar/"), ("notices", "/collection/notices/"),
                  ("audit", "/audit/"), ("territory-list", "/territories/"), ("projects", "/estate/projects/"),
                  ("imports", "/estate/imports/"), ("import", f"/estate/imports/{w['job'].pk}/"),
                  ("parties", "/estate/parties/"), ("party", f"/estate/parties/{w['party'].pk}/"),
                  ("prepay-offers", f"/billing/projects/{w['unit'].project_id}/prepay-offers/"),
                  ("billing-policy", f"/billing/projects/{w['unit'].project_id}/policy/"),
                  ("talking-point", f"/casework/talking-points/{w['talking_point'].pk}/"),
                  ("insights-units", "/insights/units/"), ("insights-steps", "/insights/steps/"),
                  ("insights-closed", "/insights/?period=2026-07"),
                  ("insights-units-closed", "/insights/units/?period=2026-07"),
                  ("insights-credit", "/insights/credit/"), ("insights-risk", "/insights/risk/"),
                  ("disclosure", "/insights/disclosure/"),
                  ("disclosure-poster", f"/insights/disclosure/{w['disclosure'].pk}/poster/"),
                  ("worklist-of-bob", f"/casework/?collector={_bob_id()}")],
        "carol": [("cases", "/legal/"), ("case", f"/legal/cases/{w['case'].pk}/"), ("proofs", "/legal/proofs/"),
                  ("numbers", "/legal/numbers/"), ("templates", "/legal/templates/"),
                  ("court-fee", "/legal/court-fee/")],
        "dave": [("home", "/"), ("disputes", "/casework/disputes/"), ("doorstep", f"/portal-admin/doorstep/{u}/"),
                 ("unit", f"/estate/units/{u}/")],
        "gong": [("work-orders", "/casework/work-orders/")],
    }


def owner_pages(w) -> list[tuple[str, str, int]]:
    """The pages an owner (or anyone with the address) opens without a staff login: (name, path, status)."""
    d = w["disclosure"]
    token_path = re.sub(r"^https?://[^/]+", "", w["owner_url"])
    return [("bill", token_path, 200), ("login", "/p/login/", 200), ("returned", "/p/return/NO-SUCH-ORDER/", 200),
            ("bad-link", "/p/not-a-real-token/", 404),
            ("gongshi", f"/gongshi/{d.project.code}/{d.year}-Q{d.quarter}/", 200)]


def _bob_id() -> int:
    from wuye.accounts.models import User

    return User.objects.get(username="bob").pk


# Raw keys and English of the code's that must never reach a page: a dotted key (dunning.task_done), a job's
# name (job:demo), Django's English messages, Python's values.
WORDS = re.compile(r"\b[a-z]+(?:_[a-z]+)*\.[a-z]+_[a-z_]+\b|\bjob:\w+|\bNo \w+ matches\b|\b(?:Forbidden|Not Found|"
                   r"Server Error|seed|task|None|True|False|Page not found|This field is required)\b")


def _check(page, width: int, where: str, failures: list[str], path: str = "") -> None:
    sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if sizes[0] > sizes[1]:
        failures.append(f"{where}: 横向滚动 scrollWidth {sizes[0]} > clientWidth {sizes[1]}")
    if width < 600 and _whole_on_phone(path):
        sideways = page.evaluate(SIDEWAYS_JS)
        if sideways:
            failures.append(f"{where}: 手机上有列看不到: {sideways[:6]}")
    if width < 600:
        small = page.evaluate(SMALL_TARGETS_JS, MIN_TARGET)
        if small:
            failures.append(f"{where}: 点击区域小于 {MIN_TARGET}px: {small[:8]}")
    broken = page.evaluate(BROKEN_JS)
    if broken:
        failures.append(f"{where}: {broken[:6]}")
    words = sorted(set(WORDS.findall(page.evaluate("document.body.innerText"))))
    if words:
        failures.append(f"{where}: 页面上有代码里的词: {words[:8]}")


def test_the_walk_leaves_out_no_staff_page(walk_estate):
    """Every address that answers GET with a page is walked by some role, or named in NOT_PAGES with its reason."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def routes(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from routes(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), p.callback

    walked = [path for pages in pages_by_role(walk_estate).values() for _, path, *_ in pages]
    walked += [path for _, path, _ in owner_pages(walk_estate)] + ["/p/login/code/", "/p/login/units/"]  # _owner_login
    missing = []
    for route, view in routes(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/")) or route in NOT_PAGES or route == "login/" or _post_only(view):
            continue
        pattern = re.compile("^/" + re.sub(r"<[^>]+>", "[^/]+", re.escape(route)) + r"(\?.*)?$")
        if not any(pattern.match(path) for path in walked):
            missing.append(route)
    assert missing == [], f"pages not in the walk: {missing}"


def _post_only(view) -> bool:
    """require_POST wraps the view in a closure holding ['POST']."""
    fn = view
    while fn is not None:
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                if cell.cell_contents == ["POST"]:
                    return True
            except ValueError:
                pass
        fn = getattr(fn, "__wrapped__", None)
    return False


def _only() -> tuple[str, ...]:
    """WUYE_WALK_ONLY=insights,gongshi walks only the pages whose path holds one of these words (a part of the
    walk, e.g. after a change to one app); unset, the whole walk."""
    return tuple(w for w in os.environ.get("WUYE_WALK_ONLY", "").split(",") if w)


def _path_selected(path: str) -> bool:
    return not _only() or any(word in path for word in _only())


@pytest.mark.parametrize("width,height", [(375, 812), (1280, 800)])
def test_every_page_fits_the_screen_and_every_target_is_big_enough(browser, live_server, walk_estate,
                                                                   width, height):
    shots = artefacts_dir()
    failures: list[str] = []
    visited = 0
    for user, pages in pages_by_role(walk_estate).items():
        pages = [p for p in pages if _path_selected(p[1]) and _selected(user, p[0])]
        if not pages:
            continue
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
            for name, path, *status in pages:
                if not _selected(user, name):
                    continue
                response = page.goto(live_server.url + path)
                expected = status[0] if status else 200
                assert response is not None and response.status == expected, \
                    f"{user} {path}: {response and response.status}"
                page.wait_for_load_state("load")
                _check(page, width, f"{user} {path}", failures, path)
                page.screenshot(path=str(shots / f"walk-{user}-{name}-{width}.png"), full_page=True)
                visited += 1
        finally:
            context.close()
    if not _selected("owner", ""):
        assert failures == [], "\n".join(failures)
        return
    # the owner's pages: the bill from a pay link, the login by phone (number, code, the owner's units), the
    # return from a provider, a link that is not valid, the public 公示 of a quarter
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                  is_mobile=width < 600, has_touch=width < 600)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        for name, path, status in owner_pages(walk_estate):
            if not _path_selected(path):
                continue
            response = page.goto(live_server.url + path)
            assert response.status == status, path
            _check(page, width, f"owner {name}", failures)
            page.screenshot(path=str(shots / f"walk-owner-{name}-{width}.png"), full_page=True)
            visited += 1
        for name, testid in ([] if _only() else _owner_login(page, live_server, walk_estate)):
            page.get_by_test_id(testid).wait_for()
            _check(page, width, f"owner {name}", failures)
            page.screenshot(path=str(shots / f"walk-owner-{name}-{width}.png"), full_page=True)
            visited += 1
    finally:
        context.close()
    assert failures == [], "\n".join(failures)
    assert visited >= (80 if not _only() and not os.environ.get("WUYE_WALK_PAGES") else 1)


def _owner_login(page, live_server, w):
    """Log in as the owner of two units by phone: yields each page of the way (the code, the units)."""
    import json

    from wuye.estate.choices import OccupantRole
    from wuye.estate.models import Party
    from wuye.estate.services import occupancy_start

    party = w["unit"].occupancies.first().party
    phone = party.contacts.filter(kind="mobile").first().value
    second = w["units"][-1]
    if not Party.objects.filter(pk=party.pk, occupancies__unit=second).exists():
        occupancy_start(actor=w["finance"], unit=second, party=party, role=OccupantRole.OWNER,
                        start=dt.date(2024, 1, 1))
    page.goto(f"{live_server.url}/p/login/")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_test_id("send-code").click()
    yield "login-code", "login-code"
    from django.conf import settings

    outbox = Path(settings.WUYE_OUTBOX_DIR) / "sms.jsonl"
    code = re.search(r"\d{6}", json.loads(outbox.read_text().splitlines()[-1])["body"]).group()
    page.get_by_label("验证码").fill(code)
    page.get_by_test_id("verify-code").click()
    yield "login-units", "login-units"



# A bank's own export, as finance uploads it on the account page to choose its columns: nine columns, a long
# counterparty account and memo (the walk opens the page by GET, so the sample's preview never showed in it)
BANK_SAMPLE = ("交易日期,交易流水号,摘要,借方发生额,贷方发生额,余额,对方户名,对方账号,附言\r\n"
               "2026-07-20,E2E0000000000001,跨行转账收入,,1253.00,88210.45,业主001,6222020200112233445566,"
               "测试花园1幢1单元101室2026年1月至7月物业服务费\r\n"
               "2026-07-21,E2E0000000000002,转账,,99.00,88309.45,业主004,6222000000000004,转账\r\n"
               "2026-07-21,E2E0000000000003,手续费,35.00,,88274.45,工商银行,,手续费\r\n").encode("gbk")


def test_the_bank_samples_preview_is_whole_on_a_phone(browser, live_server, make_user, estate):
    """The sample preview of the account page was a nine-column table scrolling inside its own box at 375 px;
    on a phone each row is a card naming each value by its column (the walk's whole-on-phone check, after the
    upload)."""
    from wuye.accounts.choices import Role
    from wuye.banking.services import bank_account_save

    fiona = make_user("fiona", Role.FINANCE)
    account = bank_account_save(actor=fiona, project=estate["project"], name="测试花园收款户", bank="工商银行",
                                account_no="1202020109000012345", layout="icbc_csv")
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    failures: list[str] = []
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("fiona")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state("load")
        path = f"/banking/accounts/{account.pk}/"
        page.goto(live_server.url + path)
        page.get_by_label("样例对账单").set_input_files(
            files=[{"name": "工行明细.csv", "mimeType": "text/csv", "buffer": BANK_SAMPLE}])
        page.get_by_role("button", name="用样例选择列").click()
        page.get_by_test_id("sample-preview").wait_for()
        _check(page, 375, f"fiona {path} 样例", failures, path)
        page.screenshot(path=str(artefacts_dir() / "bank-account-sample-375.png"), full_page=True)
        assert failures == [], "\n".join(failures)
        cards = page.get_by_test_id("sample-cards")
        assert cards.is_visible()
        second = cards.locator("li").nth(1).inner_text()
        assert "贷方发生额：1253.00" in second and "对方账号：6222020200112233445566" in second
        assert "第 1 行 · 表头" in cards.locator("li").first.inner_text()
    finally:
        context.close()
