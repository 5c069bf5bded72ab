"""The bank-statement REST endpoints through DRF's real client: upload (202 + status URL), state, lines."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from wuye.banking.models import StatementImport, StatementLine
from wuye.billing.models import Payment

from .conftest import icbc_csv
from .test_jobs import ROWS, gbk_with_bad_amount_on_row_7


@pytest.fixture
def api(fiona):
    client = APIClient()
    client.force_authenticate(fiona)
    return client


def _upload(api, account_id, raw=None, name="工行.csv", **extra):
    import io

    data = {"bank_account": account_id, **extra}
    if raw is not None:
        f = io.BytesIO(raw)
        f.name = name
        data["file"] = f
    return api.post("/api/v1/bank-statements/", data, format="multipart")


def test_it_accepts_a_statement_and_reports_the_job(api, owed, icbc_account):
    response = _upload(api, icbc_account.pk, icbc_csv(ROWS))
    assert response.status_code == 202, response.content
    body = response.json()
    statement = StatementImport.objects.get()
    assert body["id"] == statement.pk and body["status_url"] == f"/api/v1/bank-statements/{statement.pk}/"
    assert response["Location"] == body["status_url"]
    state = api.get(body["status_url"]).json()
    assert state["status"] == "applied" and state["finished"] is True and state["errors"] == []
    assert state["counts"] == {"lines": 3, "matched": 1, "posted": 1, "posted_fen": 10_000, "to_review": 2,
                               "review": 1, "unmatched": 1, "ignored": 0, "duplicates": 0, "skipped": 1}
    review = api.get(f"{state['lines_url']}?status=review").json()
    assert review["count"] == 1
    line = review["results"][0]
    assert line["row_no"] == 3 and line["amount_fen"] == 9_900 and line["payer_account"] == "****0004"
    assert line["suggestions"][0]["code"] == "1-202" and line["status"] == "review"
    assert api.get(f"{state['lines_url']}?status=open").json()["count"] == 2
    posted = api.get(f"{state['lines_url']}?status=matched").json()["results"]
    assert posted[0]["unit_code"] == "1-101" and posted[0]["receipt_no"]
    assert "6222000000000004" not in str(api.get(state["lines_url"]).json())  # accounts masked


def test_the_same_file_again_posts_nothing(api, owed, icbc_account):
    _upload(api, icbc_account.pk, icbc_csv(ROWS))
    again = _upload(api, icbc_account.pk, icbc_csv(ROWS)).json()
    assert again["counts"]["duplicates"] == 3 and again["counts"]["posted"] == 0
    assert Payment.objects.count() == 1


def test_a_queued_statement_reports_queued_until_a_worker_runs_it(api, owed, icbc_account, queue):
    body = _upload(api, icbc_account.pk, icbc_csv(ROWS)).json()
    assert body["status"] == "queued" and body["finished"] is False and body["counts"]["lines"] == 0
    queue.execute(queue.dequeue())
    assert api.get(body["status_url"]).json()["status"] == "applied"


def test_a_gbk_csv_with_a_bad_amount_on_row_7_names_row_and_field(api, owed, icbc_account):
    body = _upload(api, icbc_account.pk, gbk_with_bad_amount_on_row_7()).json()
    state = api.get(body["status_url"]).json()
    assert state["status"] == "failed" and state["status_label"] == "有错误，未导入"
    assert [(e["row"], e["column"], e["value"]) for e in state["errors"]] == [(7, "贷方发生额", "12.3.4")]
    assert state["errors"][0]["message"].startswith("第 7 行“贷方发生额”")
    assert state["error_report_url"] == f"/banking/statements/{body['id']}/errors.xlsx"
    assert StatementLine.objects.count() == 0 and Payment.objects.count() == 0


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"raw": None}, "file", "请上传对账单文件（.csv 或 .xlsx）。"),
    ({"account": "absent"}, "bank_account", "收款账户不存在、已停用或不属于您可管理的项目。"),
    ({"account": "x"}, "bank_account", "收款账户编号应为整数。"),
    ({"raw": b""}, "file", "文件是空的。"),
    ({"name": "statement.pdf"}, "file", "只支持 .csv 和 .xlsx 文件。"),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(api, owed, icbc_account, kwargs, field,
                                                                       message):
    account = {"absent": 999_999, "x": "x"}.get(kwargs.get("account"), icbc_account.pk)
    raw = kwargs["raw"] if "raw" in kwargs else icbc_csv(ROWS)
    response = _upload(api, account, raw, name=kwargs.get("name", "s.csv"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"][field] == [message], error
    assert StatementImport.objects.count() == 0 and StatementLine.objects.count() == 0


def test_an_account_of_another_project_is_refused(owed, icbc_account, make_user):
    from wuye.accounts.choices import Role
    from wuye.estate.models import Project

    felix = make_user("felix", Role.FINANCE)
    felix.projects.add(Project.objects.create(code="ZZ", name="别的项目"))
    api = APIClient()
    api.force_authenticate(felix)
    response = _upload(api, icbc_account.pk, icbc_csv(ROWS))
    assert response.status_code == 400 and "bank_account" in response.json()["error"]["fields"]
    assert StatementImport.objects.count() == 0
    mine = APIClient()
    mine.force_authenticate(make_user("fay", "finance"))
    statement = _upload(mine, icbc_account.pk, icbc_csv(ROWS)).json()  # company-wide finance may
    assert api.get(statement["status_url"]).status_code == 404  # …felix may not even look
    assert api.get(statement["lines_url"]).status_code == 404


def test_collectors_are_refused(owed, icbc_account, bob_territory):
    api = APIClient()
    api.force_authenticate(bob_territory)
    response = _upload(api, icbc_account.pk, icbc_csv(ROWS))
    assert response.status_code == 403 and "财务" in response.json()["error"]["message"]
    assert StatementImport.objects.count() == 0


def test_an_unknown_line_status_is_named(api, owed, icbc_account):
    body = _upload(api, icbc_account.pk, icbc_csv(ROWS)).json()
    response = api.get(f"{body['lines_url']}?status=reviw")
    assert response.status_code == 400 and "未知的状态“reviw”" in str(response.json())


def test_the_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/bank-statements/" in schema["paths"]
    assert "multipart/form-data" in schema["paths"]["/api/v1/bank-statements/"]["post"]["requestBody"]["content"]
    assert "202" in schema["paths"]["/api/v1/bank-statements/"]["post"]["responses"]
    assert "/api/v1/bank-statements/{id}/" in schema["paths"]
    assert "/api/v1/bank-statements/{id}/lines/" in schema["paths"]
    assert {"BankStatement", "BankStatementLine", "Statement"} <= set(schema["components"]["schemas"])  # no clash
