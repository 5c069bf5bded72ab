import datetime as dt
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action
from wuye.dunning.notices import ems_list_xlsx, notices_pdf

D = dt.date


@pytest.fixture
def letters(arrears_estate):
    dunning_run(as_of=D(2026, 4, 20))  # over three months: the registered letter stage
    dispatch(now=dt.datetime(2026, 4, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    return list(Action.objects.filter(channel="registered").select_related("unit__project", "step__template")
                .order_by("unit__code"))


def test_a_notice_names_the_unit_amounts_and_late_fee(letters, tmp_path):
    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    first = letters[0]
    pdf = notices_pdf([first], as_of=D(2026, 4, 20))
    path = tmp_path / "n.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "缴费催告函" in text and first.unit.code in text
    assert "¥179.00" in text and "2026-01" in text  # the oldest open line, itemised
    assert "¥716.00" in text  # January–April principal open
    assert "违约金计算" in text and "法院通常支持" in text
    assert "人民币" in text and "签收回执" in text and first.out_id in text
    # the reference a bank transfer's memo should carry, which the statement import matches on
    from wuye.banking.parsing import payment_reference, references_in

    assert payment_reference(first.unit) in text and references_in(text) == [first.unit_id]


def test_a_building_batch_has_one_page_per_notice_and_an_ems_list(letters):
    import re

    pdf = notices_pdf(letters[:12], as_of=D(2026, 4, 20))
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page[^s]", pdf)) == 12
    wb = load_workbook(ems_list_xlsx(letters[:12], as_of=D(2026, 4, 20)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "项目", "房号", "收件人", "邮寄地址")
    assert len(rows) == 13 and rows[1][2] == letters[0].unit.code and rows[1][5] == 716.0


def test_the_print_page_gives_one_pdf_per_building(client, alice, letters):
    client.force_login(alice)
    page = client.get("/collection/notices/?date=2026-04-20")
    assert page.status_code == 200
    building = letters[0].unit.building
    pdf = client.get(f"/collection/notices/?date=2026-04-20&building={building.pk}&format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    xlsx = client.get(f"/collection/notices/?date=2026-04-20&building={building.pk}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def _text(pdf: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_a_referral_gives_the_firm_a_case_summary_that_is_not_a_lawyers_letter(arrears_estate, alice, client,
                                                                               tmp_path):
    from .conftest import dispatch_on, sign_written

    dunning_run(as_of=D(2026, 1, 16))
    dispatch(now=dt.datetime(2026, 1, 16, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    dunning_run(as_of=D(2026, 4, 16))  # three months: the registered letter, signed for two days later
    dispatch_on(D(2026, 4, 16))
    for unit in arrears_estate["units"]:
        sign_written(alice, unit, D(2026, 4, 18))
    dunning_run(as_of=D(2026, 7, 20))  # six months: the referral stage
    referral = Action.objects.filter(channel="referral").select_related("unit").order_by("unit__code").first()
    client.force_login(alice)
    resp = client.get(f"/collection/outbox/{referral.pk}/referral.pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    text = _text(resp.content, tmp_path)
    assert "转介材料" in text and "草稿" in text and referral.unit.code in text
    assert "不是律师函" in text and "律师事务所" in text
    assert "2026-01" in text and "违约金计算" in text and "法院通常支持" in text
    assert "逾期短信" in text  # the demand already sent is listed as evidence
    # a non-referral action has no such document
    sms = Action.objects.filter(channel="sms").first()
    assert client.get(f"/collection/outbox/{sms.pk}/referral.pdf").status_code == 404


def test_the_notice_board_poster_names_no_one(arrears_estate, alice, client, tmp_path):
    client.force_login(alice)
    project = arrears_estate["units"][0].project
    resp = client.get(f"/collection/notices/poster/?project={project.pk}")
    assert resp.status_code == 200
    text = _text(resp.content, tmp_path)
    assert "缴费温馨提示" in text and project.name in text
    for unit in arrears_estate["units"]:
        assert unit.code not in text


def test_a_printed_notice_carries_the_qr_code_of_the_units_pay_link(letters, tmp_path):
    import re

    from wuye.portal.links import token_hash
    from wuye.portal.models import PayLink

    first = letters[0]
    pdf = notices_pdf([first], as_of=D(2026, 4, 20))
    text = _text(pdf, tmp_path)
    assert "扫描右侧二维码在线缴费" in text
    token = re.search(r"/p/([\w-]{16})/", text).group(1)
    assert PayLink.objects.get(token_hash=token_hash(token)).unit_id == first.unit_id
    # the same day's reprint gives the same link (no second link row for the unit)
    notices_pdf([first], as_of=D(2026, 4, 20))
    assert PayLink.objects.filter(unit_id=first.unit_id).count() == 1


def test_the_printed_qr_code_scans_to_the_pay_link(letters, tmp_path):
    """Render the notice page to an image (poppler) and decode it with ZXing: the code on paper is the URL."""
    import re

    import zxingcpp
    from PIL import Image

    if not shutil.which("pdftoppm"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftoppm (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    first = letters[0]
    pdf = notices_pdf([first], as_of=D(2026, 4, 20))
    url = re.search(r"https?://\S+/p/[\w-]{16}/", _text(pdf, tmp_path)).group(0)
    (tmp_path / "n.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", str(tmp_path / "n.pdf"), str(tmp_path / "n")],
                   check=True)
    found = [b.text for b in zxingcpp.read_barcodes(Image.open(tmp_path / "n.png"))
             if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert found == [url]


def test_a_batch_of_notices_reads_the_database_a_fixed_number_of_times(letters, django_assert_max_num_queries):
    """Statements, liable parties, settings and pay links are read for the whole batch, not per page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert len(letters) >= 12
    with CaptureQueriesContext(connection) as two:
        notices_pdf(letters[:2], as_of=D(2026, 4, 20))
    with django_assert_max_num_queries(len(two.captured_queries)):
        notices_pdf(letters[:12], as_of=D(2026, 4, 20))
