"""The estate import under bad input (issue 14): merged and duplicated headers, merged data cells, texts
longer than their database column, dates and numbers out of range, and failures while writing."""

from __future__ import annotations

import csv
import io
import logging

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError

from wuye.estate import importer
from wuye.estate.models import ContactPoint, ImportJob, Party, Project, Unit

HEAD = ["项目编码", "项目名称", "城市", "楼栋编码", "楼栋名称", "单元", "楼层", "房号", "物业类型", "建筑面积", "交付日期",
        "业主姓名", "通讯地址"]


def _row(i: int = 0, **over) -> list[str]:
    values = {"项目编码": "SAFE", "项目名称": "安全花园", "城市": "杭州", "楼栋编码": "1", "楼栋名称": "1幢", "单元": "1",
              "楼层": "1", "房号": f"10{i + 1}", "物业类型": "高层", "建筑面积": "90.00", "交付日期": "2020-06-30",
              "业主姓名": f"业主{i}", "通讯地址": ""}
    values.update(over)
    return [values[h] for h in HEAD]


def _csv(rows: list[list[str]], head: list[str] = HEAD) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(head)
    w.writerows(rows)
    return out.getvalue().encode()


def _xlsx(rows: list[list], merges: tuple[str, ...] = ()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for ref in merges:
        ws.merge_cells(ref)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _submit(user, name: str, raw: bytes) -> ImportJob:
    return importer.import_submit(actor=user, upload=SimpleUploadedFile(name, raw))


def _messages(job: ImportJob) -> str:
    return " | ".join(f"{e['row']} {e['column']} {e['message']}" for e in job.errors)


@pytest.mark.django_db
def test_a_header_merged_over_two_columns_is_refused_and_renames_nothing(alice):
    """The report: 项目名称 merged over two columns with 备注 under the second renamed the project to 备注."""
    assert _submit(alice, "first.csv", _csv([_row(0)])).status == ImportJob.Status.SUCCEEDED
    head = HEAD[:2] + [None] + HEAD[2:]
    data = [r[:2] + ["备注"] + r[2:] for r in (_row(0), _row(1))]
    job = _submit(alice, "merged.xlsx", _xlsx([head, *data], merges=("B1:C1",)))
    assert job.status == ImportJob.Status.FAILED
    assert "合并单元格 B1:C1" in _messages(job) and job.errors[0]["row"] == 1
    assert Project.objects.get(code="SAFE").name == "安全花园" and Unit.objects.count() == 1


@pytest.mark.django_db
def test_a_column_named_twice_is_refused_naming_both_columns(alice):
    head = [*HEAD, "项目　名称"]  # an ideographic space: the same name once spaces are ignored
    job = _submit(alice, "dup.csv", _csv([_row(0) + ["别的名称"]], head))
    assert job.status == ImportJob.Status.FAILED
    assert "“项目名称”出现在 B 列、N 列" in _messages(job)
    assert Project.objects.count() == 0
    # columns the import does not use may repeat: they are only ignored
    job = _submit(alice, "extra.csv", _csv([_row(0) + ["a", "b"]], [*HEAD, "备注", "备注"]))
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors


@pytest.mark.django_db
def test_a_data_cell_merged_across_columns_is_an_error_naming_row_and_columns(alice):
    job = _submit(alice, "m.xlsx", _xlsx([HEAD, _row(0), _row(1)], merges=("L3:M3",)))
    assert job.status == ImportJob.Status.FAILED
    error = job.errors[0]
    assert error["row"] == 3 and error["column"] == "业主姓名、通讯地址" and "L3:M3" in error["message"]
    assert Unit.objects.count() == 0


@pytest.mark.django_db
def test_texts_longer_than_their_column_are_row_errors_before_anything_is_written(alice):
    """PostgreSQL refused these while writing and the job stayed 写入中; SQLite stored them."""
    rows = [_row(0, 城市="杭" * 51), _row(1, 楼栋名称="幢" * 51), _row(2, 单元="单" * 21),
            _row(3, 通讯地址="址" * 301)]
    job = _submit(alice, "long.csv", _csv(rows))
    assert job.status == ImportJob.Status.FAILED
    got = {(e["row"], e["column"]): e["message"] for e in job.errors}
    assert got[(2, "城市")] == "长度不能超过 50 个字符（现有 51 个）"
    assert got[(3, "楼栋名称")].startswith("长度不能超过 50 个字符")
    assert got[(4, "单元")].startswith("长度不能超过 20 个字符")
    assert got[(5, "通讯地址")].startswith("长度不能超过 300 个字符")
    assert Project.objects.count() == 0 and ContactPoint.objects.count() == 0


@pytest.mark.django_db
def test_a_project_name_of_full_length_gives_a_developer_name_that_fits(alice):
    name = "名" * 100
    job = _submit(alice, "dev.csv", _csv([_row(0, 项目名称=name, 业主姓名="")]))
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors
    developer = Party.objects.get(is_developer=True)
    assert len(developer.name) <= Party._meta.get_field("name").max_length and developer.name.endswith("开发商")


@pytest.mark.django_db
def test_dates_outside_1900_to_2100_are_row_errors(alice):
    job = _submit(alice, "dates.csv", _csv([_row(0, 交付日期="9999-01-01"), _row(1, 交付日期="1899-12-31"),
                                            _row(2, 交付日期="2100-12-31")]))
    assert job.status == ImportJob.Status.FAILED
    assert [e["row"] for e in job.errors] == [2, 3]
    assert all(e["message"] == "日期超出范围（应在 1900-01-01 至 2100-12-31 之间）" for e in job.errors)


@pytest.mark.django_db
@pytest.mark.parametrize("area, message", [
    ("1e12", "建筑面积超出范围（应小于 100,000,000 平方米）"),
    ("100000000", "建筑面积超出范围（应小于 100,000,000 平方米）"),
    ("Infinity", "建筑面积应为数字，如 89.56"),
])
def test_an_area_out_of_range_gets_the_message_that_says_why(alice, area, message):
    job = _submit(alice, "area.csv", _csv([_row(0, 建筑面积=area)]))
    assert [(e["column"], e["message"]) for e in job.errors] == [("建筑面积", message)]


@pytest.mark.django_db
def test_a_failure_while_writing_fails_the_job_readably_and_writes_nothing(alice, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise DataError("value too long for type character varying(50)")

    monkeypatch.setattr(ContactPoint.objects, "bulk_create", refuse)
    with caplog.at_level(logging.ERROR, logger="wuye.estate.importer"):
        job = _submit(alice, "ok.csv", _csv([_row(0, 通讯地址="杭州市西湖区")]))
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    message = job.errors[0]["message"]
    assert "超出了数据库字段允许的长度或范围（DataError）" in message and "数据没有任何改变" in message
    assert Project.objects.count() == 0 and Unit.objects.count() == 0 and Party.objects.count() == 0
    assert any(r.exc_info for r in caplog.records), "the traceback goes to the log"


@pytest.mark.django_db
def test_a_failure_while_reading_fails_the_job(alice, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(importer, "read_table", boom)
    job = _submit(alice, "ok.csv", _csv([_row(0)]))
    assert job.status == ImportJob.Status.FAILED and "内部错误（RuntimeError）" in job.errors[0]["message"]


@pytest.mark.django_db
def test_a_bound_from_the_settings_refuses_a_file_with_a_message(alice, settings):
    settings.WUYE_IMPORT_MAX_ROWS = 3
    job = _submit(alice, "rows.csv", _csv([_row(i) for i in range(3)]))
    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"].startswith("文件行数超过上限（最多 3 行）")


@pytest.mark.django_db
@pytest.mark.parametrize("area, message", [("1e12", "建筑面积超出范围（应小于 100,000,000 平方米）"),
                                           ("0", "建筑面积应大于 0"), ("1.005", "建筑面积最多两位小数")])
def test_the_unit_form_gives_the_same_area_messages(area, message):
    from wuye.estate.admin import UnitAdminForm

    form = UnitAdminForm(data={"area": area})
    assert form.errors["area"] == [message]


@pytest.mark.django_db
def test_the_admin_refuses_a_huge_area_with_that_message(admin_user, client, estate):
    unit = estate["units"][0]
    client.force_login(admin_user)
    page = client.get(f"/admin/estate/unit/{unit.pk}/change/")
    assert page.status_code == 200
    data = {"project": unit.project_id, "building": unit.building_id, "entrance": "", "floor": unit.floor,
            "number": unit.number, "code": unit.code, "property_type": unit.property_type, "area": "1e12",
            "state": unit.state, "delivered_on": ""}
    for prefix in ("occupancies", "state_changes"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(f"/admin/estate/unit/{unit.pk}/change/", data)
    assert response.status_code == 200 and "建筑面积超出范围（应小于 100,000,000 平方米）" in response.content.decode()
    unit.refresh_from_db()
    assert unit.area < 1000
