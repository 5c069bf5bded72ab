"""The bank statement import under bad input (issue 14): numbers and dates out of range, texts longer than
their column, merged and duplicated headers, merged transaction rows, and failures while reading."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.core.exceptions import ValidationError

from wuye.banking import services
from wuye.banking.models import StatementImport, StatementLine
from wuye.banking.services import statement_import, statement_submit
from wuye.billing.models import Payment
from wuye.common.tabular import ImportRejected

from .conftest import DAY, ICBC_HEADER, icbc_csv

GOOD = [DAY, "T0", "", "500.00", "张某", "", "1-101"]


def _import(account, actor, raw, name="statement.csv"):
    return statement_import(actor=actor, account=account, filename=name, raw=raw)


def _messages(statement) -> str:
    return " | ".join(e["message"] for e in statement.errors)


def _nothing_written():
    return StatementLine.objects.count() == 0 and Payment.objects.count() == 0


def test_a_25_digit_amount_is_a_row_error_not_an_internal_error(fiona, owed, icbc_account):
    """The report: '内部错误（OverflowError）' failed the whole file."""
    statement = _import(icbc_account, fiona, icbc_csv([GOOD, [DAY, "T1", "", "1234567890123456789012345", "张某",
                                                               "", "1-101"]]))
    assert statement.status == StatementImport.Status.FAILED
    assert _messages(statement) == "第 3 行“贷方发生额”：金额超出范围（不能超过 ¥9,999,999,999.99）"
    assert _nothing_written()


def test_an_amount_just_within_the_bound_imports(fiona, owed, icbc_account):
    statement = _import(icbc_account, fiona, icbc_csv([[DAY, "T1", "", "9,999,999,999.99", "某公司", "", "利息"],
                                                       [DAY, "T2", "", "10000000000.00", "某公司", "", "利息"]]))
    assert [e["row"] for e in statement.errors] == [3]


def test_a_date_outside_1900_to_2100_is_a_row_error(fiona, owed, icbc_account):
    statement = _import(icbc_account, fiona, icbc_csv([GOOD, ["9999-01-01", "T1", "", "10.00", "张某", "", "1-101"]]))
    assert statement.status == StatementImport.Status.FAILED
    assert "第 3 行“交易日期”：日期超出范围（应在 1900-01-01 至 2100-12-31 之间）" in _messages(statement)
    assert _nothing_written()


def test_an_overlong_serial_or_payer_is_an_error_never_cut(fiona, owed, icbc_account):
    """Cutting a serial could make two transactions one (the second then counts as already imported)."""
    rows = [[DAY, "S" * 101, "", "10.00", "张某", "", "1-101"], [DAY, "T2", "", "10.00", "名" * 201, "", "1-101"]]
    statement = _import(icbc_account, fiona, icbc_csv(rows))
    assert statement.status == StatementImport.Status.FAILED
    assert {(e["row"], e["column"]) for e in statement.errors} == {(2, "交易流水号"), (3, "对方户名")}
    assert "长度不能超过 100 个字符（现有 101 个）" in _messages(statement)
    assert _nothing_written()


def test_a_mapped_column_named_twice_is_refused_naming_both(fiona, owed, icbc_account):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([*ICBC_HEADER, "贷方 发生额"])
    w.writerow([DAY, "T1", "转账", "", "10.00", "", "张某", "", "1-101", "99999.00"])
    statement = _import(icbc_account, fiona, out.getvalue().encode("gbk"))
    assert statement.status == StatementImport.Status.FAILED
    assert "“贷方发生额”出现在 E 列、J 列" in _messages(statement) and statement.errors[0]["row"] == 1
    assert _nothing_written()


def _ccb(fiona, owed):
    from wuye.banking.services import bank_account_save

    return bank_account_save(actor=fiona, project=owed["project"], name="建行户", bank="建设银行",
                             account_no="33050161000000000001", layout="ccb_xlsx")


def _xlsx(rows, merges) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for ref in merges:
        ws.merge_cells(ref)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


CCB_HEADER = ["交易时间", "收入金额", "支出金额", "账户余额", "对方户名", "对方账号", "摘要"]
TITLE = [["中国建设银行账户交易明细"], ["账号：33050161000000000001"], []]


def test_a_merged_header_cell_is_refused_naming_the_range(fiona, owed):
    account = _ccb(fiona, owed)
    rows = [*TITLE, CCB_HEADER, ["20260720 09:15:00", 180.5, None, 1000, "张某", "6222000000000001", "3-202物业费"]]
    statement = _import(account, fiona, _xlsx(rows, ["A1:G1", "E4:F4"]), name="ccb.xlsx")
    assert statement.status == StatementImport.Status.FAILED
    assert statement.errors[0]["row"] == 4 and "合并单元格 E4:F4（“对方户名”）" in _messages(statement)
    assert _nothing_written()


def test_a_merged_transaction_row_is_an_error_but_a_merged_total_row_is_skipped(fiona, owed):
    account = _ccb(fiona, owed)
    rows = [*TITLE, CCB_HEADER,
            ["20260720 09:15:00", 180.5, None, 1000, "张某", "6222000000000001", "3-202物业费"],
            ["20260721 10:00:00", 200, None, 1200, "李某", "6222000000000002", "1-102"],
            ["合计", 380.5, 0]]
    statement = _import(account, fiona, _xlsx(rows, ["A1:G1", "E6:F6", "A7:C7"]), name="ccb.xlsx")
    assert statement.status == StatementImport.Status.FAILED
    assert [(e["row"], e["column"]) for e in statement.errors] == [(6, "对方户名、对方账号")]
    assert _nothing_written()
    fixed = _import(account, fiona, _xlsx(rows, ["A1:G1", "A7:C7"]), name="ccb.xlsx")
    assert fixed.status == StatementImport.Status.APPLIED, fixed.errors
    assert fixed.counts["skipped"] == 1


def test_an_unexpected_error_while_reading_is_recorded_not_left_running(fiona, owed, icbc_account, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(services, "parse_statement", boom)
    statement = statement_submit(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv([GOOD]))
    assert statement.status == StatementImport.Status.FAILED and statement.finished_at is not None
    assert "内部错误（KeyError）" in _messages(statement) and "数据没有任何改变" in _messages(statement)


def test_a_result_file_with_a_duplicated_header_is_refused(fiona, owed):
    from wuye.banking.services import debit_batch_create, debit_result_import, mandate_create

    unit = owed["by_code"]["1-101"]
    mandate_create(actor=fiona, unit=unit, payer_name="业主001", bank="农业银行", account_no="6228480000000000101",
                   signed_on=dt.date(2026, 1, 5))
    batch = debit_batch_create(actor=fiona, project=owed["project"], as_of=dt.date(2026, 7, 20))
    line = batch.lines.get()
    raw = f"代扣参考号,处理结果,处理结果\n{line.reference},成功,失败\n".encode("gbk")
    with pytest.raises(ImportRejected, match="“处理结果”出现在 B 列、C 列"):
        debit_result_import(actor=fiona, batch=batch, filename="r.csv", raw=raw)
    assert Payment.objects.count() == 0


def test_an_absurd_header_row_in_a_mapping_is_refused_not_a_500(client, fiona, icbc_account):
    client.force_login(fiona)
    response = client.post(f"/banking/accounts/{icbc_account.pk}/", {
        "name": icbc_account.name, "bank": "工商银行", "layout": "icbc_csv", "active": "1",
        "m_header_row": "9" * 5000, "m_date": "交易日期", "m_credit": "贷方发生额"})
    assert response.status_code == 200
    assert "表头所在行必须是 1 到 100 之间的整数" in response.content.decode()
    with pytest.raises(ValidationError):
        services.bank_account_save(actor=fiona, project=icbc_account.project, account=icbc_account, name="x",
                                   bank="y", account_no="1", layout="icbc_csv",
                                   mapping={**icbc_account.mapping, "header_row": 101})


def test_an_absurd_account_number_on_upload_is_refused_not_a_500(client, fiona, icbc_account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(fiona)
    response = client.post("/banking/", {"account": "9" * 5000, "file": SimpleUploadedFile("s.csv", icbc_csv([GOOD]))},
                           follow=True)
    assert response.status_code == 200 and "请选择收款账户" in response.content.decode()
