"""Issue 17 item 6: the desk — payment form first, pay in full, cash and change, errors by the field, A4 and
80 mm receipts with period ranges, date inputs in ISO, the daily takings report and the cashier's handover."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import skip_or_fail
from wuye.accounts.choices import Role
from wuye.accounts.models import AuditEvent
from wuye.billing.documents import period_text, receipt_lines
from wuye.billing.models import CashierHandover, Payment
from wuye.billing.services import bill_generate, payment_record


@pytest.fixture
def fiona(make_user):
    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def three_overdue(alice, billed_estate):
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate["units"][0]


def _pdf_text(data: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_payment_form_comes_first_with_pay_in_full(client, fiona, three_overdue):
    client.force_login(fiona)
    html = client.get(f"/billing/units/{three_overdue.pk}/").content.decode()
    assert html.index('data-testid="desk-payment"') < html.index('data-testid="statement-lines"')
    assert html.index('data-testid="desk-payment"') < html.index('data-testid="open"')
    assert 'data-fill-fen="53700"' in html and "全额 ¥537.00" in html
    assert 'data-testid="back"' in html and "找零" in html



def test_finance_lands_on_the_search_and_goes_from_a_found_unit_straight_to_the_desk(client, fiona, three_overdue,
                                                                                       bob_territory):
    """The cashier's first page is the unit search; each unit found has its 收款 button (the payment form), not
    only a link to the unit's record two taps from the desk. Collectors take money at the door, not here."""
    r = client.post("/login/", {"username": "fiona", "password": "pw-12345678"})
    assert r.status_code == 302 and r.url == "/estate/units/"
    html = client.get("/estate/units/", {"q": three_overdue.code}).content.decode()
    assert f'href="/billing/units/{three_overdue.pk}/" data-testid="desk-{three_overdue.code}"' in html
    client.force_login(bob_territory)
    assert 'data-testid="desk-' not in client.get("/estate/units/").content.decode()

def test_cash_with_change_is_recorded_and_shown(client, fiona, three_overdue):
    client.force_login(fiona)
    r = client.post(f"/billing/units/{three_overdue.pk}/", {"amount": "537.00", "method": "cash",
                                                            "tendered": "600", "payer_name": "业主001"})
    payment = Payment.objects.get()
    assert payment.tendered_fen == 60_000 and payment.change_fen == 6_300
    assert r.url.endswith(f"?paid={payment.pk}")
    page = client.get(r.url).content.decode()
    assert "找零 ¥63.00" in page and 'data-testid="last-change">¥63.00' in page
    assert f"/billing/payments/{payment.pk}/receipt.pdf?size=80mm" in page
    receipt = client.get(f"/billing/payments/{payment.pk}/receipt/").content.decode()
    assert 'data-testid="receipt-change">¥63.00' in receipt
    assert f'href="/billing/units/{three_overdue.pk}/"' in receipt  # a way back


def test_errors_stand_next_to_their_field_and_nothing_is_posted(client, fiona, three_overdue):
    client.force_login(fiona)
    url = f"/billing/units/{three_overdue.pk}/"
    html = client.post(url, {"amount": "537", "method": "cash", "tendered": "500"}).content.decode()
    assert 'data-testid="error-tendered">收到现金少于收款金额' in html
    html = client.post(url, {"amount": "100", "method": "transfer"}).content.decode()  # the service's finding
    assert 'data-testid="error-reference">该收款方式需要填写流水号' in html
    html = client.post(url, {"amount": "100", "method": "pos", "tendered": "200"}).content.decode()
    assert 'data-testid="error-tendered">只有现金收款' in html
    assert Payment.objects.count() == 0


def test_the_receipt_shows_the_period_range_on_a4_and_80mm(client, fiona, three_overdue, tmp_path):
    payment = payment_record(actor=fiona, unit=three_overdue, amount_fen=53_700, method="cash",
                             tendered_fen=60_000)
    client.force_login(fiona)
    html = client.get(f"/billing/payments/{payment.pk}/receipt/").content.decode()
    assert html.count('data-testid="receipt-line"') == 1 and "2026-03～05" in html
    a4 = client.get(f"/billing/payments/{payment.pk}/receipt.pdf").content
    thermal = client.get(f"/billing/payments/{payment.pk}/receipt.pdf?size=80mm").content
    assert a4[:4] == thermal[:4] == b"%PDF"
    if os.environ.get("WUYE_SCREENSHOTS"):  # for reviewers: the two receipts as printed
        Path(os.environ["WUYE_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        for name, data in (("receipt-a4.pdf", a4), ("receipt-80mm.pdf", thermal)):
            (Path(os.environ["WUYE_SCREENSHOTS"]) / name).write_bytes(data)
    def width(pdf: bytes) -> float:
        box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)", pdf)
        return float(box.group(3)) - float(box.group(1))

    assert abs(width(thermal) - 80 / 25.4 * 72) < 1  # 80 mm wide
    assert abs(width(a4) - 595.3) < 1
    for data in (a4, thermal):
        text = _pdf_text(data, tmp_path)
        assert "2026-03～05" in text and "找零" in text and "¥63.00" in text


def test_receipt_lines_make_ranges_and_break_at_gaps():
    class B:
        def __init__(self, item, start, end=None):
            self.fee_item = type("F", (), {"name": item})()
            self.period_start, self.period_end = start, end or start

    def alloc(bill, fen):
        return type("A", (), {"bill": bill, "amount_fen": fen})()

    months = [alloc(B("物业服务费", dt.date(2025, m, 1)), 100) for m in (1, 2, 3, 4, 5, 6, 9)]
    months += [alloc(B("物业服务费", dt.date(2025, 11, 1), dt.date(2026, 1, 31)), 300),
               alloc(B("电梯费", dt.date(2025, 1, 1)), 10)]
    lines = [(r.periods, r.item, r.amount_fen) for r in receipt_lines(months)]
    assert lines == [("2025-01～06", "物业服务费", 600), ("2025-01", "电梯费", 10), ("2025-09", "物业服务费", 100),
                     ("2025-11～2026-01", "物业服务费", 300)]
    assert period_text(dt.date(2025, 1, 1), dt.date(2025, 6, 30)) == "2025-01～06"


def test_date_inputs_render_their_default_in_iso(client, fiona, three_overdue):
    client.force_login(fiona)
    html = client.get(f"/billing/units/{three_overdue.pk}/").content.decode()
    due = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    assert f'type="date" name="first_due" value="{due}"' in html
    assert "/" not in html.split('name="first_due" value="')[1][:10]


def test_the_daily_takings_report_and_a_cashier_handover(client, fiona, alice, three_overdue, billed_estate):
    other = billed_estate["units"][1]
    payment_record(actor=fiona, unit=three_overdue, amount_fen=20_000, method="cash", tendered_fen=20_000)
    payment_record(actor=fiona, unit=other, amount_fen=15_000, method="transfer", reference="T-1")
    payment_record(actor=alice, unit=other, amount_fen=5_000, method="cash")
    client.force_login(fiona)
    html = client.get("/billing/takings/").content.decode()
    assert 'data-testid="takings-total">¥400.00' in html
    assert 'data-testid="cash-expected">¥200.00' in html  # fiona's own cash only
    assert "fiona" in html and "alice" in html
    # short by ¥10: a note is needed
    r = client.post("/billing/takings/", {"counted": "190", "handed_to": str(alice.pk)})
    assert 'data-testid="error-note">实点现金与应交现金相差 -¥10.00（短款）' in r.content.decode()
    assert not CashierHandover.objects.exists()
    client.post("/billing/takings/", {"counted": "190", "handed_to": str(alice.pk), "note": "找错零钱"})
    h = CashierHandover.objects.get()
    assert (h.payments_count, h.total_fen, h.cash_expected_fen, h.difference_fen) == (2, 35_000, 20_000, -1_000)
    assert h.by_method == {"cash": 20_000, "transfer": 15_000} and h.handed_to == alice
    assert AuditEvent.objects.filter(verb="billing.handover", actor=fiona).exists()
    html = client.get("/billing/takings/").content.decode()
    assert 'data-testid="cash-expected">¥0.00' in html and "找错零钱" in html  # a new shift begins
    # the export: 汇总, 明细, 交班
    import openpyxl

    r = client.get(f"/billing/takings/?date={timezone.localdate():%Y-%m-%d}&format=xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert wb.sheetnames == ["汇总", "明细", "交班"]
    assert wb["汇总"].max_row == 5 and wb["明细"].max_row == 4 and wb["交班"]["H2"].value == -10


def test_collectors_have_no_takings_page(client, bob_territory):
    client.force_login(bob_territory)
    r = client.get("/billing/takings/")
    assert r.status_code == 403 and "收款日报" in r.content.decode()


def test_the_takings_list_pages_and_the_export_has_every_payment(client, fiona, three_overdue, billed_estate,
                                                                   monkeypatch):
    """A company's day can hold thousands of payments: the page lists them a page at a time (it rendered up to
    2,000 rows, 0.4 s of Python at 1,300), the totals and the Excel cover every one."""
    from wuye.billing import views

    monkeypatch.setattr(views, "TAKINGS_PAGE", 2)
    for fen in (1_000, 2_000, 3_000):
        payment_record(actor=fiona, unit=three_overdue, amount_fen=fen, method="cash", tendered_fen=fen)
    client.force_login(fiona)
    first = client.get("/billing/takings/").content.decode()
    rows = first.split('data-testid="takings-payments"')[1].split("</table>")[0]
    assert rows.count("<tr>") - 1 == 2 and "¥10.00" in rows and "¥30.00" not in rows
    assert 'data-testid="takings-total">¥60.00' in first and "1 / 2" in first
    second = client.get("/billing/takings/?page=2").content.decode()
    rows = second.split('data-testid="takings-payments"')[1].split("</table>")[0]
    assert rows.count("<tr>") - 1 == 1 and "¥30.00" in rows
    import openpyxl

    r = client.get("/billing/takings/?format=xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert wb["明细"].max_row == 4  # a header and all three


def test_the_handover_offers_and_takes_only_finance_staff_of_the_cashiers_projects(client, make_user, three_overdue,
                                                                                   billed_estate):
    """Red team: a T1 cashier was offered T2's finance staff by name as 接班人 and could record handing the cash
    to one of them. Now: the people sharing a project with the cashier, and those working company-wide (no
    project assigned, or a superuser) — in the list, in the form's check and in the service."""
    from django.core.exceptions import ValidationError

    from wuye.billing.takings import handover_record
    from wuye.estate.models import Project

    t1 = billed_estate["project"]
    t2 = Project.objects.create(code="T2", name="别处大厦", city="上海")
    cashier = make_user("chuna1", Role.FINANCE, display_name="甲出纳")
    cashier.projects.add(t1)
    mate = make_user("chuna2", Role.FINANCE, display_name="乙出纳")
    mate.projects.add(t1, t2)
    stranger = make_user("chuna3", Role.FINANCE, display_name="丙出纳别处")
    stranger.projects.add(t2)
    boss = make_user("caiwu", Role.FINANCE, display_name="丁财务总部")  # company-wide: no project
    make_user("xiaozhang", Role.COLLECTOR, display_name="戊收费员")  # not finance: never offered
    payment_record(actor=cashier, unit=three_overdue, amount_fen=20_000, method="cash", tendered_fen=20_000)
    client.force_login(cashier)
    html = client.get("/billing/takings/").content.decode()
    assert "乙出纳" in html and "丁财务总部" in html
    assert "丙出纳别处" not in html and "戊收费员" not in html
    r = client.post("/billing/takings/", {"counted": "200", "handed_to": str(stranger.pk)})
    assert 'data-testid="error-handed_to"' in r.content.decode() and not CashierHandover.objects.exists()
    with pytest.raises(ValidationError) as exc:
        handover_record(actor=cashier, cash_counted_fen=20_000, handed_to=stranger)
    assert "同项目" in exc.value.message_dict["handed_to"][0] and not CashierHandover.objects.exists()
    client.post("/billing/takings/", {"counted": "200", "handed_to": str(mate.pk)})
    assert CashierHandover.objects.get().handed_to == mate
    # the company-wide finance lead hands to anyone of them
    payment_record(actor=boss, unit=three_overdue, amount_fen=1_000, method="cash")
    handover_record(actor=boss, cash_counted_fen=1_000, handed_to=stranger)
    assert CashierHandover.objects.filter(cashier=boss, handed_to=stranger).exists()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_a_takings_date_out_of_range_is_refused_with_a_message(client, fiona, day):
    """Red team: ``?date=9999-12-31`` was a 500 (the day after it does not exist), ``0001-01-01`` a 500 in the
    time-zone conversion. The date is bounded: the page says so and shows today."""
    client.force_login(fiona)
    r = client.get(f"/billing/takings/?date={day}")
    html = r.content.decode()
    assert r.status_code == 200 and 'data-testid="error-date">日期应在 <span class="text-nowrap">2000-01-01</span> 至' in html
    assert client.get(f"/billing/takings/?date={day}&format=xlsx").status_code == 200
    last = timezone.localdate() + dt.timedelta(days=366)
    assert client.get(f"/billing/takings/?date={last:%Y-%m-%d}").status_code == 200


def test_a_project_reads_only_its_own_cashiers_handovers(client, make_user, three_overdue, billed_estate):
    """Handovers carry no project: the takings page listed every shift of the company, so a T1 manager read T2's
    cashiers' names and sums. Now a project's staff see the handovers of cashiers who took money in their
    projects that day or who work there; company-wide staff see them all."""
    from wuye.billing.takings import handover_record
    from wuye.estate.models import Project

    t1 = billed_estate["project"]
    t2 = Project.objects.create(code="T2", name="别处大厦", city="上海")
    mine = make_user("chuna1", Role.FINANCE, display_name="甲出纳")
    mine.projects.add(t1)
    theirs = make_user("chuna3", Role.FINANCE, display_name="丙出纳别处")
    theirs.projects.add(t2)
    manager = make_user("jingli1", Role.MANAGER, display_name="T1经理")
    manager.projects.add(t1)
    payment_record(actor=mine, unit=three_overdue, amount_fen=20_000, method="cash", tendered_fen=20_000)
    handover_record(actor=mine, cash_counted_fen=20_000)
    # T2's cashier handed over their shift at T2 (written as the handover service writes it)
    CashierHandover.objects.create(cashier=theirs, shift_start=timezone.now(), shift_end=timezone.now(),
                                   payments_count=3, total_fen=77_700, by_method={"cash": 77_700},
                                   cash_expected_fen=77_700, cash_counted_fen=77_700)
    client.force_login(manager)
    html = client.get("/billing/takings/").content.decode()
    assert "甲出纳" in html and "丙出纳别处" not in html and "777.00" not in html
    boss = make_user("caiwu", Role.FINANCE, display_name="丁财务总部")  # company-wide
    client.force_login(boss)
    html = client.get("/billing/takings/").content.decode()
    assert "甲出纳" in html and "丙出纳别处" in html


def test_a_shift_without_payments_is_handed_over_too(client, fiona):
    """A cashier who took nothing still closes the shift (the next one starts from it): the service said
    "by_method 此字段不能为空". Counted cash with nothing expected is an overage that needs a note."""
    from django.core.exceptions import ValidationError

    from wuye.billing.takings import handover_record

    with pytest.raises(ValidationError) as exc:
        handover_record(actor=fiona, cash_counted_fen=500)
    assert "长款" in exc.value.message_dict["note"][0] and not CashierHandover.objects.exists()
    client.force_login(fiona)
    r = client.post("/billing/takings/", {"counted": "0"}, follow=True)
    assert r.status_code == 200 and "此字段不能为空" not in r.content.decode()
    handover = CashierHandover.objects.get()
    assert (handover.payments_count, handover.total_fen, handover.by_method, handover.cash_counted_fen) == (0, 0, {}, 0)
