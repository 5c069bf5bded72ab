import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError

from wuye.banking.models import DebitLine
from wuye.banking.services import debit_batch_create, debit_result_import, mandate_create
from wuye.billing.models import Payment
from wuye.dunning.models import Hold

from .conftest import open_fen


@pytest.fixture
def batch(fiona, owed):
    units = owed["by_code"]
    for code, name in (("1-101", "业主001"), ("1-102", "业主002")):
        mandate_create(actor=fiona, unit=units[code], payer_name=name, bank="农业银行",
                       account_no="6228480000000000" + code[-3:], signed_on=dt.date(2026, 1, 5))
    mandate_create(actor=fiona, unit=units["1-201"], payer_name="业主003", bank="农业银行",
                   account_no="6228480000000000201", signed_on=dt.date(2026, 1, 5), limit_fen=10_000)
    return debit_batch_create(actor=fiona, project=owed["project"], as_of=dt.date(2026, 7, 20))


def _result(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["代扣参考号", "扣款账号", "金额", "处理结果", "返回码", "失败原因", "处理日期"])
    w.writerows(rows)
    return out.getvalue().encode("gbk")


def test_batch_has_one_line_per_mandate_with_the_open_amount_and_holds_the_ladder(batch, owed):
    units = owed["by_code"]
    lines = {line.unit.code: line for line in batch.lines.all()}
    assert lines["1-101"].amount_fen == open_fen(units["1-101"]) and lines["1-201"].amount_fen == 10_000
    assert all(line.hold and line.hold.released_on is None and "代扣" in line.hold.reason for line in lines.values())
    with pytest.raises(ValidationError):  # the same mandates are pending: no second batch
        debit_batch_create(actor=batch.created_by, project=owed["project"], as_of=dt.date(2026, 7, 21))


def test_export_carries_our_reference(client, fiona, batch):
    client.force_login(fiona)
    text = client.get(f"/banking/batches/{batch.pk}/debit.csv").content.decode("gb18030")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["序号", "代扣参考号"] and len(rows) == 4
    assert {r[1] for r in rows[1:]} == {line.reference for line in batch.lines.all()}
    xlsx = client.get(f"/banking/batches/{batch.pk}/debit.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_results_post_successes_once_and_failures_go_back_on_the_ladder(client, fiona, batch, owed):
    units = owed["by_code"]
    ok, bad, limited = (batch.lines.get(unit=units[c]) for c in ("1-101", "1-102", "1-201"))
    raw = _result([[ok.reference, "x", f"{ok.amount_fen / 100:.2f}", "成功", "0000", "", "2026-07-21"],
                   [bad.reference, "x", "", "失败", "E51", "余额不足", "2026-07-21"],
                   [limited.reference, "x", "100.00", "成功", "0000", "", "2026-07-21"]])
    client.force_login(fiona)
    client.post(f"/banking/batches/{batch.pk}/", {"file": _upload(raw)})
    ok.refresh_from_db(), bad.refresh_from_db()
    assert ok.status == DebitLine.Status.SUCCEEDED and ok.payment.method == "direct_debit"
    assert ok.payment.reference == ok.reference and open_fen(units["1-101"]) == 0
    assert bad.status == DebitLine.Status.FAILED and (bad.result_code, bad.result_text) == ("E51", "余额不足")
    assert bad.payment is None
    hold = Hold.objects.get(pk=bad.hold_id)
    assert hold.released_on is not None and "余额不足" in hold.release_note  # the ladder resumes
    assert not Hold.objects.filter(unit=units["1-102"], released_on__isnull=True).exists()
    assert Payment.objects.count() == 2
    client.post(f"/banking/batches/{batch.pk}/", {"file": _upload(raw)})  # the same result file again
    assert Payment.objects.count() == 2
    batch.refresh_from_db()
    assert batch.status == "done"


def test_a_bad_result_file_changes_nothing(fiona, batch):
    line = batch.lines.first()
    with pytest.raises(ValidationError) as exc:
        debit_result_import(actor=fiona, batch=batch, filename="r.csv", raw=_result([
            [line.reference, "", "1.005", "成功", "", "", ""], ["WYDK9999999999", "", "", "成功", "", "", ""]]))
    assert any("第 2 行“金额”" in m for m in exc.value.messages)
    assert any("第 3 行“代扣参考号”" in m for m in exc.value.messages)
    assert Payment.objects.count() == 0
    line.refresh_from_db()
    assert line.status == DebitLine.Status.PENDING


def test_mandate_rules(fiona, owed):
    unit = owed["by_code"]["2-101"]
    mandate_create(actor=fiona, unit=unit, payer_name="甲", bank="中国银行", account_no="6216 6100 0000 1234",
                   signed_on=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError):
        mandate_create(actor=fiona, unit=unit, payer_name="乙", bank="中国银行", account_no="6216610000005678",
                       signed_on=dt.date(2026, 1, 1))


def test_collectors_may_not_sign_mandates(bob, owed):
    with pytest.raises(ValidationError):
        mandate_create(actor=bob, unit=owed["by_code"]["1-101"], payer_name="甲", bank="中国银行",
                       account_no="6216610000001234", signed_on=dt.date(2026, 1, 1))


def _upload(raw: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("回盘.csv", raw, "text/csv")
