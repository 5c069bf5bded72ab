"""Receipts and statements as real PDFs (checked with poppler's pdftotext) and real Excel files."""

import datetime as dt
import io
import shutil
import subprocess

import openpyxl
import pytest

from tests.conftest import skip_or_fail
from wuye.billing.services import bill_generate, payment_record


def pdf_text(raw: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_BROWSER")
    path = tmp_path / "doc.pdf"
    path.write_bytes(raw)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def paid(alice, billed_estate):
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    unit = billed_estate["units"][0]
    payment = payment_record(actor=alice, unit=unit, amount_fen=40_000, method="cash", payer_name="业主001")
    return unit, payment


def test_the_receipt_pdf_carries_the_amount_in_capitals(client, alice, paid, tmp_path, settings):
    settings.COMPANY_NAME = "翠湖物业服务有限公司"
    client.force_login(alice)
    unit, payment = paid
    response = client.get(f"/billing/payments/{payment.pk}/receipt.pdf")
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content, tmp_path)
    for expected in ("收款收据", "翠湖物业服务有限公司", payment.receipt_no, "¥400.00", "人民币肆佰元整",
                     "2026-03～05", "盖章处"):  # one line per run of periods (issue 17), not per month
        assert expected in text, expected


def test_the_statement_pdf_shows_lines_and_the_late_fee_calculation(client, alice, paid, tmp_path):
    client.force_login(alice)
    unit, _ = paid
    response = client.get(f"/billing/units/{unit.pk}/statement.pdf", {"as_of": "2026-05-31"})
    text = pdf_text(response.content, tmp_path)
    assert "物业服务费对账单" in text and "测试花园 1-101" in text
    assert "¥137.00" in text  # May still open after ¥400 paid oldest first
    assert "违约金计算" in text and "0.5‰" in text and "法院通常支持" in text


def test_the_statement_excel_has_exact_amounts(client, alice, paid):
    client.force_login(alice)
    unit, _ = paid
    response = client.get(f"/billing/units/{unit.pk}/statement.xlsx", {"as_of": "2026-05-31"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(wb["对账单"].iter_rows(min_row=4, max_row=6, values_only=True))
    assert [r[2] for r in rows] == ["物业服务费"] * 3
    assert [round(r[7] * 100) for r in rows] == [0, 0, 13_700]
    assert wb["收款记录"].cell(2, 3).value == 400


def test_documents_of_units_outside_the_territory_are_404(client, bob_territory, paid, billed_estate):
    client.force_login(bob_territory)
    outside = billed_estate["units"][-1]
    assert client.get(f"/billing/units/{outside.pk}/statement.pdf").status_code == 404
    assert client.get(f"/billing/units/{outside.pk}/statement.xlsx").status_code == 404


@pytest.mark.parametrize("size", ["a4", "80mm"])
def test_a_payer_name_with_markup_characters_is_printed_as_written(alice, billed_estate, tmp_path, size):
    """reportlab reads a paragraph as markup: a "<" in the payer's name stopped the receipt (ValueError) and
    "&lt;" printed as "<". Names and references are printed as they are stored."""
    from wuye.billing.documents import receipt_pdf

    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 3, 1))
    payment = payment_record(actor=alice, unit=billed_estate["units"][0], amount_fen=10_000, method="transfer",
                             payer_name="王<b>五 &lt;代付&gt;", reference="R<1>&2")
    text = " ".join(pdf_text(receipt_pdf(payment, size=size), tmp_path).split())
    assert "王<b>五 &lt;代付&gt;" in text and "R<1>&2" in text
