"""The legal role in a real browser: log in (lands on the case list), open a case from a referral, attach an EMS
receipt to the registered letter, build the evidence pack, download the PDF and the ZIP; ``pdftotext`` finds
the 证据目录 and every exhibit. At 375 px (phone) and 1280 px, with no horizontal scroll."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile

import pytest

from tests.e2e.conftest import artefacts_dir
from tests.legal.conftest import png_bytes, referral_for, registered_of, send_letters

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def legal_estate(arrears_estate, tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    return send_letters(arrears_estate)


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.parametrize("width", [375, 1280])
def test_legal_opens_a_case_attaches_an_ems_receipt_and_builds_the_pack(browser, live_server, carol, legal_estate,
                                                                       tmp_path, width):
    from wuye.legal.models import EvidencePack, LegalCase

    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    shots = artefacts_dir()
    unit = legal_estate["units"][0]
    task = referral_for(unit)
    letter = registered_of(unit)
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("carol")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/legal/$"))  # the legal role's first page is its case list
        referrals = page.get_by_test_id("referrals")
        assert task.title in referrals.inner_text()
        _no_horizontal_scroll(page)
        page.screenshot(path=str(shots / f"legal-cases-{width}.png"), full_page=True)
        referrals.get_by_role("button", name="立案").click()
        page.wait_for_url(re.compile(r"/legal/cases/\d+/$"))
        case = LegalCase.objects.get()
        assert case.number in page.locator("h1").inner_text()
        assert "已由转介立案" in page.content()
        assert "节假日待核" in page.get_by_test_id("case-lines").inner_text()
        _no_horizontal_scroll(page)

        demand = page.get_by_test_id(f"demand-{letter.pk}")
        demand.get_by_text("上传送达凭证").click()
        form = page.get_by_test_id(f"proof-form-{letter.pk}")
        form.get_by_label("凭证类型").select_option("ems")
        form.get_by_label("邮件单号").fill("EA123456789CN")
        form.get_by_label("签收人", exact=True).fill("业主001")
        form.get_by_label("签收人身份").select_option("本人")
        form.get_by_label("签收日期").fill("2026-04-25")
        form.locator("input[type=file]").set_input_files(
            files=[{"name": "ems-receipt.png", "mimeType": "image/png", "buffer": png_bytes()}])
        form.get_by_role("button", name="上传").click()
        page.get_by_text("该催缴已记为送达").wait_for()
        assert "已送达" in page.get_by_test_id(f"demand-{letter.pk}").inner_text()
        letter.refresh_from_db()
        assert letter.status == "delivered"

        page.get_by_test_id("build-pack").click()
        page.get_by_text("证据包已生成").wait_for()
        page.screenshot(path=str(shots / f"legal-case-{width}.png"), full_page=True)
        _no_horizontal_scroll(page)
        pack = EvidencePack.objects.get()
        with page.expect_download() as dl:
            page.get_by_test_id("pack-zip").first.click()
        zpath = tmp_path / "pack.zip"
        dl.value.save_as(zpath)
        pdf = page.request.get(live_server.url + page.get_by_test_id("pack-pdf").first.get_attribute("href"))
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
        pdf_bytes = pdf.body()
    finally:
        context.close()
    data = zpath.read_bytes()
    assert data == pack.zip.read()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    ppath = tmp_path / "pack.pdf"
    ppath.write_bytes(pdf_bytes)
    text = subprocess.run(["pdftotext", "-layout", str(ppath), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.split("\f")
    assert "证据目录" in pages[0]
    for ex in manifest["exhibits"]:
        first, last = ex["pages"]
        assert f"证据 {ex['no']}" in pages[first - 1], ex
        assert ex["title"][:5] in pages[0] and f"{first}–{last}" in pages[0]
    assert "EA123456789CN" in text
    assert any(f["path"].startswith("proofs/") for f in manifest["files"])
    assert failed == []


@pytest.mark.parametrize("width", [375, 1280])
def test_the_sidebar_counts_the_owners_waiting_deadline_reminders(browser, live_server, carol, legal_estate, width):
    """Decision 187: the 法务案件 entry carries the number of the user's unread 期限提醒 (on a phone, the menu button
    shows a dot and the open menu the number); 「知道了」 clears it."""
    import datetime as dt

    from django.utils import timezone

    from wuye.legal import services

    case = services.case_open_from_referral(actor=carol, task=referral_for(legal_estate["units"][0]))
    today = timezone.localdate()
    for n in (1, 2):
        services.deadline_add(actor=carol, case=case, kind="hearing", due_on=today + dt.timedelta(days=n),
                              note=f"第 {n} 次开庭")
    assert services.deadlines_notify(today=today) == 2
    shots = artefacts_dir()
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("carol")
        page.get_by_label("密码").fill("pw-12345678")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/legal/$"))
        page.goto(f"{live_server.url}/legal/numbers/")
        badge = page.get_by_test_id("legal-notice-badge")
        if width < 768:
            assert page.get_by_test_id("menu-notice-dot").is_visible()
            page.screenshot(path=str(shots / f"legal-badge-menu-{width}.png"))
            page.get_by_role("button", name="菜单").click()
            badge.wait_for(state="visible")
            for _ in range(50):  # slid in completely (wait_for_function evaluates a string: the CSP refuses it)
                if page.evaluate("(() => { const n = document.querySelector('#sidenav');"
                                 " return n.classList.contains('show') && !n.classList.contains('showing')"
                                 " && n.getBoundingClientRect().left >= 0; })()"):
                    break
                page.wait_for_timeout(100)
        assert badge.is_visible() and badge.inner_text().strip().startswith("2")
        link = page.locator("#sidenav a", has_text="法务案件")
        box, inner = link.bounding_box(), badge.bounding_box()
        assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 1  # inside its entry, on one line
        assert inner["height"] < 30
        _no_horizontal_scroll(page)
        page.screenshot(path=str(shots / f"legal-badge-{width}.png"))
        page.goto(f"{live_server.url}/legal/")
        page.get_by_test_id("deadline-notices").get_by_role("button").first.click()
        page.wait_for_url(re.compile(r"/legal/$"))
        assert page.get_by_test_id("legal-notice-badge").count() == 0
        assert page.get_by_test_id("menu-notice-dot").count() == 0
    finally:
        context.close()
