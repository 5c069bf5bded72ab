"""Finance imports a GBK bank statement in the browser: the job is queued, the page follows it until it is done,
the review queue takes the uncertain credit, and the unit's statement shows the payment."""

import re

import pytest

from tests.e2e.conftest import artefacts_dir
from tests.e2e.test_collector_territory import _login
from wuye.accounts.choices import Role
from wuye.banking.models import LineStatus, StatementImport, StatementLine
from wuye.billing.models import Payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "交易日期,交易流水号,摘要,借方发生额,贷方发生额,余额,对方户名,对方账号,附言"


def gbk_statement() -> bytes:
    rows = [HEADER,
            "2026-07-20,E2E001,转账,,100.00,,张某,6222000000000001,1-101物业费",
            "2026-07-20,E2E002,转账,,99.00,,业主004,6222000000000004,转账",
            "2026-07-21,E2E003,转账,,12.34,,某某公司,6222000000000006,往来款",
            "2026-07-21,E2E004,手续费,35.00,,,工商银行,,手续费",
            "合计,,,35.00,211.34,,,,"]
    return ("\r\n".join(rows) + "\r\n").encode("gbk")


@pytest.fixture
def queue():
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def test_finance_imports_a_statement_follows_the_job_and_confirms_a_match(
        page, live_server, make_user, arrears_estate, queue, tmp_path):
    from wuye.banking.services import bank_account_save

    shots = artefacts_dir()
    fiona = make_user("fiona", Role.FINANCE)
    account = bank_account_save(actor=fiona, project=arrears_estate["project"], name="测试花园收款户",
                                bank="工商银行", account_no="1202020109000012345", layout="icbc_csv")
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on("request", lambda r: failed.append(r.url) if not r.url.startswith(live_server.url) else None)

    _login(page, live_server, "fiona")
    page.goto(f"{live_server.url}/banking/")
    page.get_by_label("收款账户").select_option(str(account.pk))
    page.get_by_label("对账单文件（.csv UTF-8/GBK 或 .xlsx）").set_input_files(
        files=[{"name": "工行对账单202607.csv", "mimeType": "text/csv", "buffer": gbk_statement()}])
    page.get_by_role("button", name="上传并自动入账").click()
    page.wait_for_url(re.compile(r"/banking/statements/\d+/$"))
    assert page.get_by_test_id("statement-status").inner_text() == "排队中"
    page.get_by_test_id("statement-working").wait_for()
    page.screenshot(path=str(shots / "bank-statement-queued.png"), full_page=True)
    assert Payment.objects.count() == 0

    queue.execute(queue.dequeue())  # the worker picks the job up; the page notices by itself
    page.get_by_test_id("statement-lines").wait_for()  # polled, then reloaded
    assert page.get_by_test_id("statement-status").inner_text() == "已导入"
    assert page.get_by_test_id("count-rows").inner_text() == "4"
    assert page.get_by_test_id("count-matched").inner_text() == "1（¥100.00）"
    assert page.get_by_test_id("count-review").inner_text() == "1"
    assert page.get_by_test_id("count-unmatched").inner_text() == "1"
    page.screenshot(path=str(shots / "bank-statement-done.png"), full_page=True)

    page.get_by_test_id("to-review").click()
    page.wait_for_url(re.compile(r"/banking/review/"))
    line = page.get_by_test_id("review-line").filter(has_text="业主004")
    assert line.get_by_label(re.compile(r"^1-202")).is_checked()  # the suggested unit comes first
    page.screenshot(path=str(shots / "bank-review-queue.png"), full_page=True)
    line.get_by_placeholder("说明（可选）").fill("电话核实：少缴 1 元")
    line.get_by_role("button", name="确认入账").click()
    page.get_by_text("已确认：¥99.00 入账到 1-202。").wait_for()
    assert page.get_by_test_id("review-line").count() == 1  # only the unmatched credit is left

    unit = arrears_estate["project"].units.get(code="1-202")
    page.goto(f"{live_server.url}/billing/units/{unit.pk}/")
    payments = page.locator(".card", has_text="收款记录")
    assert "¥99.00" in payments.inner_text() and "银行转账" in payments.inner_text()
    page.screenshot(path=str(shots / "bank-unit-statement.png"), full_page=True)
    assert failed == []

    confirmed = StatementLine.objects.get(serial="E2E002")
    assert confirmed.status == LineStatus.CONFIRMED and confirmed.decided_by == fiona
    assert confirmed.payment.unit == unit and confirmed.payment.created_by == fiona
    assert StatementImport.objects.get().created_by == fiona and Payment.objects.count() == 2
