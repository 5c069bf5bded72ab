from wuye.banking.models import LineStatus, StatementImport, StatementLine
from wuye.billing.models import Payment

from .conftest import DAY, icbc_csv


def test_finance_uploads_previews_and_applies_a_statement(client, fiona, owed, icbc_account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(fiona)
    raw = icbc_csv([[DAY, "P1", "", "100.00", "张某", "", "1-101物业费"],
                    [DAY, "P2", "", "7.00", "某公司", "", "往来款"]])
    response = client.post("/banking/", {"account": icbc_account.pk, "mode": "preview",
                                         "file": SimpleUploadedFile("工行.csv", raw, "text/csv")})
    statement = StatementImport.objects.get()
    assert response.status_code == 302 and statement.status == StatementImport.Status.PREVIEW
    page = client.get(f"/banking/statements/{statement.pk}/").content.decode()
    assert "可自动匹配入账" in page and "确认导入并自动入账" in page
    assert Payment.objects.count() == 0  # a preview moves no money
    client.post(f"/banking/statements/{statement.pk}/", {"action": "apply"})
    assert Payment.objects.count() == 1
    assert "测试花园收款户" in client.get("/banking/").content.decode()


def test_review_queue_confirm_and_dismiss_through_the_page(client, fiona, owed, icbc_account):
    from wuye.banking.services import statement_import

    statement_import(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv([
        [DAY, "R1", "", "99.00", "业主004", "6222000000000004", "转账"],
        [DAY, "R2", "", "12.34", "某公司", "", "退回押金"]]))
    client.force_login(fiona)
    page = client.get("/banking/review/?q=1-20").content.decode()
    assert page.count('data-testid="review-line"') == 2 and "1-202" in page and "****0004" in page
    r1, r2 = StatementLine.objects.get(serial="R1"), StatementLine.objects.get(serial="R2")
    client.post(f"/banking/lines/{r1.pk}/confirm/", {"unit_id": r1.suggestions[0]["unit_id"], "note": "电话核实"})
    r1.refresh_from_db()
    assert r1.status == LineStatus.CONFIRMED and r1.payment.amount_fen == 9_900 and r1.decided_by == fiona
    assert r1.payment.unit.code == "1-202" and r1.payment.created_by == fiona
    client.post(f"/banking/lines/{r2.pk}/confirm/", {"unit_code": "1-101"})
    r2.refresh_from_db()
    assert r2.status == LineStatus.CONFIRMED and r2.rule == "manual"
    client.post(f"/banking/lines/{r2.pk}/dismiss/", {"reason": "退款"})  # already posted: refused
    r2.refresh_from_db()
    assert r2.status == LineStatus.CONFIRMED
    assert Payment.objects.count() == 2


def test_not_ours_needs_a_reason_and_is_recorded(client, fiona, owed, icbc_account):
    from wuye.accounts.models import AuditEvent
    from wuye.banking.services import statement_import

    statement_import(actor=fiona, account=icbc_account, filename="s.csv",
                     raw=icbc_csv([[DAY, "D1", "", "50.00", "某公司", "", "利息"]]))
    line = StatementLine.objects.get()
    client.force_login(fiona)
    client.post(f"/banking/lines/{line.pk}/dismiss/", {"reason": "  "})
    line.refresh_from_db()
    assert line.status == LineStatus.UNMATCHED
    client.post(f"/banking/lines/{line.pk}/dismiss/", {"reason": "存款利息"})
    line.refresh_from_db()
    assert line.status == LineStatus.NOT_OURS and line.decision_note == "存款利息"
    assert AuditEvent.objects.filter(verb="banking.line.dismiss", actor=fiona).exists()


def test_collectors_may_not_touch_bank_pages(client, bob_territory, owed, icbc_account):
    client.force_login(bob_territory)
    for url in ("/banking/", "/banking/review/", "/banking/accounts/", "/banking/mandates/", "/banking/batches/"):
        assert client.get(url).status_code == 403, url


def test_managers_may(client, alice, owed, icbc_account):
    client.force_login(alice)
    assert client.get("/banking/review/").status_code == 200
    assert client.get(f"/banking/accounts/{icbc_account.pk}/").status_code == 200


def test_mapping_is_editable_on_the_page(client, fiona, owed, icbc_account):
    client.force_login(fiona)
    page = client.get(f"/banking/accounts/{icbc_account.pk}/").content.decode()
    assert "****2345" in page and "120202010900" not in page  # the number is masked
    client.post(f"/banking/accounts/{icbc_account.pk}/", {
        "name": icbc_account.name, "bank": "工商银行", "layout": "icbc_csv", "active": "1", "m_header_row": "2",
        "m_date": "日期", "m_date_format": "auto", "m_credit": "收入", "m_debit": "支出", "m_payer_name": "户名",
        "m_payer_account": "", "m_serial": "", "m_balance": "", "m_amount": "", "m_memo": "附言，用途"})
    icbc_account.refresh_from_db()
    assert icbc_account.mapping["header_row"] == 2 and icbc_account.mapping["memo"] == ["附言", "用途"]
    assert icbc_account.account_no == "1202020109000012345"
