import datetime as dt
import io

import pytest

from wuye.banking.models import LineStatus, MatchRule, StatementImport, StatementLine
from wuye.banking.parsing import payment_reference
from wuye.banking.services import statement_import
from wuye.billing.ledger import check_ledger
from wuye.billing.models import Payment

from .conftest import DAY, icbc_csv, open_fen


def _import(account, actor, raw, name="statement.csv"):
    return statement_import(actor=actor, account=account, filename=name, raw=raw)


def test_each_rule_matches_and_posts_through_billing(fiona, owed, icbc_account):
    units = owed["by_code"]
    rows = [
        [DAY, "T001", "", "500.00", "张某", "6222000000000001", "1-101 物业费"],  # unit code
        [DAY, "T002", "", "300.00", "李某", "6222000000000002", f"缴费编号{payment_reference(units['1-102'])}"],
        [DAY, "T003", "", f"{open_fen(units['1-201']) / 100:.2f}", "业主003", "6222000000000003", "物业费"],
        [DAY, "T004", "", "99.00", "业主004", "6222000000000004", "转账"],  # name, wrong amount → review
        [DAY, "T005", "", "200.00", "王某", "6222000000000005", "1-301 和 1-302 两户"],  # two codes → review
        [DAY, "T006", "", "12.34", "某某公司", "6222000000000006", "往来款"],  # nothing → unmatched
        [DAY, "T007", "35.00", "", "工商银行", "", "手续费"],  # a debit → ignored
    ]
    statement = _import(icbc_account, fiona, icbc_csv(rows))
    assert statement.status == StatementImport.Status.APPLIED, statement.errors
    assert statement.counts["skipped"] == 1  # the 合计 row, not an error
    lines = {line.serial: line for line in StatementLine.objects.all()}
    assert (lines["T001"].status, lines["T001"].rule, lines["T001"].unit) == (LineStatus.MATCHED, MatchRule.UNIT_CODE,
                                                                              units["1-101"])
    assert (lines["T002"].rule, lines["T002"].unit) == (MatchRule.REFERENCE, units["1-102"])
    assert (lines["T003"].rule, lines["T003"].unit) == (MatchRule.NAME_AMOUNT, units["1-201"])
    assert lines["T004"].status == LineStatus.REVIEW and lines["T004"].suggestions[0]["code"] == "1-202"
    assert lines["T004"].suggestions[0]["rule"] == MatchRule.NAME_ONLY
    assert lines["T005"].status == LineStatus.REVIEW
    assert sorted(s["code"] for s in lines["T005"].suggestions) == ["1-301", "1-302"]
    assert lines["T006"].status == LineStatus.UNMATCHED and lines["T007"].status == LineStatus.IGNORED
    assert all(0 < lines[s].confidence <= 100 for s in ("T001", "T002", "T003", "T004"))
    payment = lines["T001"].payment
    assert (payment.method, payment.amount_fen, payment.unit) == ("transfer", 50_000, units["1-101"])
    assert payment.reference == f"BK{icbc_account.pk}-S:T001" and payment.created_by == fiona
    assert payment.allocations.exists() and payment.receipt_no
    assert Payment.objects.count() == 3
    assert open_fen(units["1-201"]) == 0
    assert check_ledger(project_id=owed["project"].pk).mismatches == 0


def test_the_same_file_twice_posts_nothing_twice(fiona, owed, icbc_account):
    raw = icbc_csv([[DAY, "T001", "", "500.00", "张某", "6222000000000001", "1-101 物业费"],
                    [DAY, "T002", "", "12.34", "某某公司", "6222000000000006", "往来款"]])
    _import(icbc_account, fiona, raw)
    again = _import(icbc_account, fiona, raw)
    assert again.status == StatementImport.Status.APPLIED
    assert again.counts["duplicate"] == again.counts["rows"] == 2 and again.counts["matched"] == 0
    assert Payment.objects.count() == 1 and StatementLine.objects.count() == 2


def test_an_overlapping_statement_posts_only_the_new_lines(fiona, owed, icbc_account):
    first = [DAY, "T001", "", "500.00", "张某", "6222000000000001", "1-101 物业费"]
    _import(icbc_account, fiona, icbc_csv([first]))
    later = _import(icbc_account, fiona, icbc_csv([first, ["2026-07-21", "T009", "", "88.00", "赵某",
                                                           "6222000000000009", "1-102物业费"]]))
    assert later.counts["duplicate"] == 1 and later.counts["matched"] == 1
    assert Payment.objects.count() == 2


def test_lines_without_serial_are_told_apart_by_their_occurrence(fiona, owed, icbc_account):
    same = [DAY, "", "", "100.00", "张某", "6222000000000001", "1-101 物业费"]
    statement = _import(icbc_account, fiona, icbc_csv([same, same]))
    assert statement.counts["matched"] == 2 and Payment.objects.count() == 2
    again = _import(icbc_account, fiona, icbc_csv([same, same, same]))
    assert again.counts["duplicate"] == 2 and again.counts["matched"] == 1


@pytest.mark.parametrize(("row", "needle"), [
    (["2026-02-30", "T1", "", "10.00", "张某", "", "1-101"], "第 2 行“交易日期”"),
    (["2026-07-20", "T1", "", "10.005", "张某", "", "1-101"], "第 2 行“贷方发生额”：金额最多两位小数"),
    (["2026-07-20", "T1", "", "十元", "张某", "", "1-101"], "第 2 行“贷方发生额”：不是有效的金额"),
    (["", "T1", "", "10.00", "张某", "", "1-101"], "第 2 行“交易日期”：日期为空"),
])
def test_a_bad_row_is_named_and_nothing_is_imported(client, fiona, owed, icbc_account, row, needle):
    good = [DAY, "T0", "", "500.00", "张某", "", "1-101"]
    statement = _import(icbc_account, fiona, icbc_csv([row, good]))
    assert statement.status == StatementImport.Status.FAILED
    assert any(needle in e["message"] for e in statement.errors), statement.errors
    assert StatementLine.objects.count() == 0 and Payment.objects.count() == 0
    client.force_login(fiona)
    report = client.get(f"/banking/statements/{statement.pk}/errors.xlsx")
    assert report.status_code == 200 and report["Content-Type"].startswith("application/vnd.openxmlformats")


def test_a_missing_column_is_named(fiona, owed, icbc_account):
    raw = "交易日期,摘要,借方发生额,对方户名,对方账号,附言,交易流水号,余额\n2026-07-20,x,,a,b,c,d,\n".encode("gbk")
    statement = _import(icbc_account, fiona, raw)
    assert statement.status == StatementImport.Status.FAILED
    assert any("第 1 行（表头）缺少“贷方发生额”列" in e["message"] for e in statement.errors)


def test_utf8_with_bom_reads_the_same(fiona, owed, icbc_account):
    raw = b"\xef\xbb\xbf" + icbc_csv([[DAY, "U1", "", "10.00", "张某", "", "1-101"]], encoding="utf-8")
    statement = _import(icbc_account, fiona, raw)
    assert statement.status == StatementImport.Status.APPLIED and statement.counts["matched"] == 1


def test_ccb_style_xlsx_with_title_rows_merged_header_and_subtotals(fiona, owed):
    import openpyxl

    from wuye.banking.services import bank_account_save

    account = bank_account_save(actor=fiona, project=owed["project"], name="建行户", bank="建设银行",
                                account_no="33050161000000000001", layout="ccb_xlsx")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["中国建设银行账户交易明细"])
    ws.merge_cells("A1:G1")
    ws.append(["账号：33050161000000000001", None, None, "币种：人民币"])
    ws.merge_cells("A2:C2")
    ws.append([])
    ws.append(["交易时间", "收入金额", "支出金额", "账户余额", "对方户名", "对方账号", "摘要"])
    ws.append(["20260720 09:15:00", 180.5, None, 1000, "张某", "6222000000000001", "3-202物业费"])
    ws.append([dt.datetime(2026, 7, 21, 10, 0), "2,000.00", None, 3000, "李某", "6222000000000002", "１－１０２"])
    ws.append(["20260721 11:00:00", None, 20, 2980, "建设银行", "", "短信费"])
    ws.append(["本页小计", 2180.5, 20])
    ws.append(["合计", 2180.5, 20])
    out = io.BytesIO()
    wb.save(out)
    statement = _import(account, fiona, out.getvalue(), name="ccb.xlsx")
    assert statement.status == StatementImport.Status.APPLIED, statement.errors
    assert statement.counts["skipped"] == 2 and statement.counts["matched"] == 2 and statement.counts["ignored"] == 1
    assert Payment.objects.get(unit=owed["by_code"]["3-202"]).amount_fen == 18_050
    assert StatementLine.objects.filter(fingerprint__startswith="H:").count() == 3
    again = _import(account, fiona, out.getvalue(), name="ccb.xlsx")
    assert again.counts["duplicate"] == 3 and Payment.objects.count() == 2


def test_a_unit_of_another_project_is_never_matched(fiona, owed, icbc_account):
    statement = _import(icbc_account, fiona, icbc_csv([[DAY, "X1", "", "10.00", "某人", "", "9-999 物业费"]]))
    assert statement.counts["unmatched"] == 1 and Payment.objects.count() == 0


def test_payments_tell_dunning_after_the_import_commits(fiona, owed, icbc_account,
                                                        django_capture_on_commit_callbacks):
    from wuye.billing.signals import arrears_reduced_many

    seen = []

    def receiver(sender, units, **kwargs):
        seen.append(dict(units))

    arrears_reduced_many.connect(receiver, dispatch_uid="test-banking")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _import(icbc_account, fiona, icbc_csv([[DAY, "N1", "", "10.00", "某人", "", "1-101"]]))
    finally:
        arrears_reduced_many.disconnect(dispatch_uid="test-banking")
    assert seen == [{owed["by_code"]["1-101"].pk: dt.date(2026, 7, 20)}]


def test_a_statement_that_clears_an_account_stops_its_ladder(fiona, owed, icbc_account,
                                                             django_capture_on_commit_callbacks):
    """Through the real receivers: the unit paid in full by transfer leaves arrears, its episode closes and
    its pending demands are cancelled."""
    from wuye.billing.selectors import account_summaries
    from wuye.dunning.engine import dunning_run
    from wuye.dunning.models import Action, Episode

    unit = owed["by_code"]["1-101"]
    dunning_run(as_of=dt.date(2026, 7, 18))
    assert Action.objects.filter(unit=unit, status="pending", episode__isnull=False).exists()
    owing = next(account_summaries(as_of=dt.date(2026, 7, 20), unit_ids=[unit.pk])).overdue_fen
    amount = f"{owing // 100}.{owing % 100:02d}"
    with django_capture_on_commit_callbacks(execute=True):
        _import(icbc_account, fiona, icbc_csv([[DAY, "P1", "", amount, "某人", "", "1-101 物业费"]]))
    assert not Action.objects.filter(unit=unit, status="pending", episode__isnull=False).exists()
    assert Episode.objects.get(unit=unit).closed_on == dt.date(2026, 7, 20)


def test_two_thousand_gbk_lines_reimported_post_nothing(fiona, owed, icbc_account):
    codes = sorted(owed["by_code"])
    rows = [[(dt.date(2026, 7, 1) + dt.timedelta(days=i % 28)).isoformat(), f"G{i:05d}", "" if i % 10 else "5.00",
             "" if not i % 10 else f"{10 + i % 50}.{i % 100:02d}", f"付款人{i}", f"6222{i:012d}",
             f"{codes[i % len(codes)]} 物业费" if i % 7 else "往来款"] for i in range(2000)]
    raw = icbc_csv(rows)
    first = _import(icbc_account, fiona, raw)
    assert first.status == StatementImport.Status.APPLIED
    posted = Payment.objects.count()
    assert posted == first.counts["matched"] > 1000
    again = _import(icbc_account, fiona, raw)
    assert again.counts["duplicate"] == 2000 and Payment.objects.count() == posted
    assert check_ledger(project_id=owed["project"].pk).mismatches == 0
