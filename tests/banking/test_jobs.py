"""Statement imports are background jobs: the upload stores the file and queues it; the job parses, matches and
posts, recording its state; a failure leaves nothing but the import row and its error report."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from wuye.banking import services
from wuye.banking.models import StatementImport, StatementLine
from wuye.billing.models import Payment

from .conftest import DAY, icbc_csv

ROWS = [[DAY, "J1", "", "100.00", "张某", "", "1-101物业费"],
        [DAY, "J2", "", "99.00", "业主004", "6222000000000004", "转账"],
        [DAY, "J3", "", "7.00", "某公司", "", "往来款"]]


def _work(queue) -> int:
    ran = 0
    while (task := queue.dequeue()) is not None:
        queue.execute(task)
        ran += 1
    return ran


def test_it_queues_the_upload_and_the_page_follows_the_job(client, fiona, owed, icbc_account, queue):
    client.force_login(fiona)
    response = client.post("/banking/", {"account": icbc_account.pk, "mode": "apply",
                                         "file": SimpleUploadedFile("工行.csv", icbc_csv(ROWS), "text/csv")})
    statement = StatementImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/banking/statements/{statement.pk}/"
    assert statement.status == StatementImport.Status.QUEUED and queue.pending_count() == 1
    assert StatementLine.objects.count() == 0 and Payment.objects.count() == 0  # nothing done in the request
    assert statement.file.name.startswith("bank/") and statement.file.read() == icbc_csv(ROWS)
    page = client.get(f"/banking/statements/{statement.pk}/").content.decode()
    assert "排队中" in page and f'hx-get="/banking/statements/{statement.pk}/state/"' in page
    assert 'hx-trigger="every 1s"' in page

    assert _work(queue) == 1
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED and statement.finished_at and statement.started_at
    assert statement.rows_total == 3
    assert (statement.counts["rows"], statement.counts["posted"], statement.counts["review"],
            statement.counts["unmatched"]) == (3, 1, 1, 1)
    payment = Payment.objects.get()
    assert payment.created_by == fiona and payment.amount_fen == 10_000  # the uploader's payment
    state = client.get(f"/banking/statements/{statement.pk}/state/", HTTP_HX_REQUEST="true")
    assert state["HX-Refresh"] == "true"  # done: the page reloads to show the lines
    page = client.get(f"/banking/statements/{statement.pk}/").content.decode()
    assert "hx-trigger" not in page and 'data-testid="statement-lines"' in page and "去核对 2 笔" in page


def test_the_state_box_keeps_polling_while_the_job_runs(client, fiona, owed, icbc_account, queue):
    statement = services.statement_submit(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv(ROWS))
    StatementImport.objects.filter(pk=statement.pk).update(status="running", rows_total=3)
    client.force_login(fiona)
    state = client.get(f"/banking/statements/{statement.pk}/state/", HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in state and "共 3 笔交易" in state.content.decode()
    assert 'hx-trigger="every 1s"' in state.content.decode()


def gbk_with_bad_amount_on_row_7() -> bytes:
    rows = [[DAY, f"B{i}", "", "10.00", "张某", "", "1-101"] for i in range(5)]
    rows.insert(5, [DAY, "B9", "", "12.3.4", "李某", "", "1-102"])  # header is row 1, so this is row 7
    return icbc_csv(rows)


def test_a_bad_row_fails_the_job_writes_nothing_and_keeps_the_report(client, fiona, owed, icbc_account, queue):
    client.force_login(fiona)
    client.post("/banking/", {"account": icbc_account.pk,
                              "file": SimpleUploadedFile("坏.csv", gbk_with_bad_amount_on_row_7(), "text/csv")})
    _work(queue)
    statement = StatementImport.objects.get()
    assert statement.status == StatementImport.Status.FAILED and statement.finished_at
    assert [(e["row"], e["column"]) for e in statement.errors] == [(7, "贷方发生额")]
    assert "第 7 行“贷方发生额”" in statement.errors[0]["message"]
    assert StatementLine.objects.count() == 0 and Payment.objects.count() == 0
    page = client.get(f"/banking/statements/{statement.pk}/").content.decode()
    assert "第 7 行“贷方发生额”" in page and "下载错误报告" in page
    report = client.get(f"/banking/statements/{statement.pk}/errors.xlsx")
    assert report.status_code == 200 and report["Content-Type"].startswith("application/vnd.openxmlformats")


def test_a_failure_while_posting_rolls_everything_back(fiona, owed, icbc_account, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError({"unit": "房屋不属于该项目。"})

    monkeypatch.setattr(services, "payments_record_bulk", refuse)
    statement = services.statement_submit(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv(ROWS))
    assert statement.status == StatementImport.Status.FAILED
    assert "入账失败，整个文件未导入：房屋不属于该项目。" in statement.errors[0]["message"]
    assert StatementLine.objects.count() == 0 and Payment.objects.count() == 0


def test_an_unexpected_error_is_recorded_not_left_running(fiona, owed, icbc_account, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "payments_record_bulk", crash)
    statement = services._statement_create(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv(ROWS),
                                           actor_label="", apply=True)
    with pytest.raises(RuntimeError):
        services.statement_run(statement.pk)
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.FAILED and "内部错误（RuntimeError）" in statement.errors[0]["message"]
    assert StatementLine.objects.count() == 0 and Payment.objects.count() == 0


def test_a_job_run_twice_works_once_and_a_reupload_posts_nothing_twice(fiona, owed, icbc_account):
    statement = services.statement_submit(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv(ROWS))
    assert statement.status == StatementImport.Status.APPLIED
    assert services.statement_run(statement.pk) is None  # a second delivery of the task claims nothing
    again = services.statement_submit(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv(ROWS))
    assert again.status == StatementImport.Status.APPLIED and again.counts["duplicate"] == 3
    assert again.counts["posted"] == 0 and Payment.objects.count() == 1 and StatementLine.objects.count() == 3


def test_a_previewed_statement_is_applied_by_the_person_who_confirms_it(client, fiona, alice, owed, icbc_account,
                                                                        queue):
    statement = services.statement_submit(actor=fiona, account=icbc_account, filename="s.csv", raw=icbc_csv(ROWS),
                                          apply=False)
    _work(queue)
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.PREVIEW and statement.counts["matched"] == 1
    assert Payment.objects.count() == 0
    client.force_login(alice)
    client.post(f"/banking/statements/{statement.pk}/", {"action": "apply"})
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.QUEUED and Payment.objects.count() == 0
    _work(queue)
    statement.refresh_from_db()
    assert statement.status == StatementImport.Status.APPLIED and statement.applied_by == alice
    assert statement.created_by == fiona and Payment.objects.get().created_by == alice
    client.post(f"/banking/statements/{statement.pk}/", {"action": "apply"})  # not a preview any more
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(("post", "message"), [
    ({"file": None}, "请选择对账单文件"),
    ({"account": "999999"}, "请选择收款账户"),
    ({"filename": "old.xls"}, "旧版 .xls 请另存为 .xlsx"),
    ({"raw": b""}, "文件是空的"),
])
def test_bad_uploads_are_refused_in_the_request(client, fiona, owed, icbc_account, post, message):
    client.force_login(fiona)
    data = {"account": post.get("account", icbc_account.pk)}
    if "file" not in post:
        data["file"] = SimpleUploadedFile(post.get("filename", "s.csv"), post.get("raw", icbc_csv(ROWS)))
    page = client.post("/banking/", data, follow=True).content.decode()
    assert message in page
    assert StatementImport.objects.count() == 0 and StatementLine.objects.count() == 0


def test_an_account_of_another_project_is_refused(client, make_user, owed, icbc_account):
    """A finance user who works only in another project cannot import into this project's account."""
    from wuye.accounts.choices import Role
    from wuye.estate.models import Project

    felix = make_user("felix", Role.FINANCE)
    felix.projects.add(Project.objects.create(code="ZZ", name="别的项目"))
    client.force_login(felix)
    page = client.post("/banking/", {"account": icbc_account.pk, "file": SimpleUploadedFile("s.csv", icbc_csv(ROWS))},
                       follow=True).content.decode()
    assert "请选择收款账户" in page and StatementImport.objects.count() == 0
