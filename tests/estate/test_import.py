import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from wuye.accounts.models import AuditEvent
from wuye.estate import importer
from wuye.estate.models import (
    Building,
    ContactPoint,
    ImportJob,
    Occupancy,
    Party,
    Project,
    Unit,
    UnitStateChange,
)

HEADERS = ["项目编码", "项目名称", "项目类型", "楼栋编码", "楼栋名称", "单元", "楼层", "房号", "物业类型", "建筑面积",
           "入住状态", "业主姓名", "证件号码", "手机号码", "通讯地址", "租户姓名", "租户电话"]


def _row(i: int, **over) -> list[str]:
    building = str(1 + i // 100)
    floor = 1 + (i % 100) // 4
    number = f"{floor}{(i % 4) + 1:02d}"
    values = {
        "项目编码": "IMP", "项目名称": "导入花园", "项目类型": "住宅小区", "楼栋编码": building,
        "楼栋名称": f"{building}幢", "单元": "1", "楼层": str(floor), "房号": number, "物业类型": "高层",
        "建筑面积": "89.56", "入住状态": "出租" if i % 10 == 0 else "自住", "业主姓名": f"业主{i}", "证件号码": "",
        "手机号码": f"139{i:08d}", "通讯地址": "", "租户姓名": f"租户{i}" if i % 10 == 0 else "",
        "租户电话": f"137{i:08d}" if i % 10 == 0 else "",
    }
    values.update(over)
    return [values[h] for h in HEADERS]


def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Project, Building, Unit, Party, Occupancy, ContactPoint,
                                                     UnitStateChange)}


def _submit(user, name: str, raw: bytes) -> ImportJob:
    return importer.import_submit(actor=user, upload=SimpleUploadedFile(name, raw))


@pytest.mark.django_db
def test_it_imports_a_gbk_csv_with_owners_tenants_and_contacts(alice):
    job = _submit(alice, "units.csv", _csv([_row(i) for i in range(40)], "gbk"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors
    assert job.summary["units_created"] == 40
    unit = Unit.objects.get(code="1-1-101")
    assert unit.property_type == "high_rise" and str(unit.area) == "89.56" and unit.state == "rented"
    owner = Occupancy.objects.get(unit=unit, role="owner", end__isnull=True).party
    assert owner.name == "业主0"
    assert ContactPoint.objects.get(party=owner).value == "13900000000"
    assert Occupancy.objects.get(unit=unit, role="tenant").party.name == "租户0"
    assert UnitStateChange.objects.filter(unit=unit).count() == 1
    assert AuditEvent.objects.filter(verb="import.apply", actor=alice).exists()


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing(alice):
    raw = _csv([_row(i) for i in range(60)])
    first = _submit(alice, "units.csv", raw)
    before = _counts()
    second = _submit(alice, "units.csv", raw)
    assert second.status == ImportJob.Status.SUCCEEDED
    assert _counts() == before
    assert not any(v for k, v in second.summary.items() if k != "rows")
    assert any(f"#{first.pk}" in w for w in second.warnings)


@pytest.mark.django_db
def test_a_changed_owner_ends_the_old_ownership_and_keeps_history(alice):
    _submit(alice, "a.csv", _csv([_row(i) for i in range(4)]))
    job = _submit(alice, "b.csv", _csv([_row(0, 业主姓名="新业主", 手机号码="13600000000"), *[_row(i) for i in range(1, 4)]]))
    assert job.summary["owners_changed"] == 1 and job.summary["units_created"] == 0
    rows = list(Occupancy.objects.filter(unit__code="1-1-101", role="owner").order_by("start", "id"))
    assert [r.party.name for r in rows] == ["业主0", "新业主"]
    assert rows[0].end is not None and rows[1].end is None


@pytest.mark.django_db
def test_an_empty_owner_means_the_developer_owes(alice):
    job = _submit(alice, "u.csv", _csv([_row(0, 业主姓名="", 手机号码="")]))
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors
    project = Project.objects.get(code="IMP")
    assert project.developer is not None and project.developer.is_developer
    import datetime as dt

    from wuye.estate.selectors import liable_party

    assert liable_party(Unit.objects.get(), dt.date(2026, 1, 1)) == project.developer
    assert not Occupancy.objects.filter(role="owner").exists()  # unsold: no owner row, as in the seed


@pytest.mark.django_db
def test_a_blank_owner_cell_never_ends_a_recorded_ownership(alice):
    _submit(alice, "a.csv", _csv([_row(0)]))
    job = _submit(alice, "b.csv", _csv([_row(0, 业主姓名="", 手机号码="")]))
    assert job.status == ImportJob.Status.SUCCEEDED and job.summary["owners_changed"] == 0
    assert Occupancy.objects.get(role="owner", end__isnull=True).party.name == "业主0"


@pytest.mark.django_db
def test_one_bad_row_among_ten_thousand_changes_nothing_and_is_named(alice, client):
    _submit(alice, "seed.csv", _csv([_row(i) for i in range(5)]))
    before = _counts()
    rows = [_row(i) for i in range(10_000)]
    rows[6_789] = _row(6_789, 建筑面积="八十九")
    job = _submit(alice, "big.csv", _csv(rows, "gbk"))
    assert job.status == ImportJob.Status.FAILED
    assert _counts() == before
    assert job.errors == [{"row": 6_791, "column": "建筑面积", "value": "八十九", "message": "建筑面积应为数字，如 89.56"}]
    client.force_login(alice)
    response = client.get(f"/estate/imports/{job.pk}/errors.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert list(sheet.iter_rows(min_row=2, values_only=True)) == [(6_791, "建筑面积", "八十九", "建筑面积应为数字，如 89.56")]
    page = client.get(f"/estate/imports/{job.pk}/").content.decode()
    assert "6791" in page and "整个文件未导入" in page


@pytest.mark.django_db
def test_every_problem_is_reported_with_row_and_column(alice):
    rows = [
        _row(0, 楼层="三"),
        _row(1, 物业类型="城堡"),
        _row(2, 手机号码="12345"),
        _row(3, 证件号码="110105194912310021"),
        _row(4, 房号=""),
        _row(5, 楼栋编码="1", 房号="201", 楼层="2"),
        _row(6, 楼栋编码="1", 房号="201", 楼层="2"),
    ]
    job = _submit(alice, "bad.csv", _csv(rows))
    found = {(e["row"], e["column"]) for e in job.errors}
    assert {(2, "楼层"), (3, "物业类型"), (4, "手机号码"), (5, "证件号码"), (6, "房号"), (8, "房号")} <= found
    assert Unit.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_required_column_is_reported(alice):
    raw = "项目编码,项目名称,楼栋编码,房号\nA,甲,1,101\n".encode()
    job = _submit(alice, "cols.csv", raw)
    assert job.status == ImportJob.Status.FAILED
    assert {e["column"] for e in job.errors} == {"楼层", "物业类型", "建筑面积"}


@pytest.mark.django_db
def test_xlsx_with_a_title_row_and_merged_building_cells_imports(alice):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["导入花园房屋清单"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append([h + "*" if h in ("项目编码", "房号") else h for h in HEADERS])
    for i in range(6):
        ws.append(_row(i))
    # 楼栋编码 (column D) merged down over the six data rows, as staff often do
    ws.merge_cells("D3:D8")
    for r in range(4, 9):
        assert ws.cell(r, 4).value is None
    ws.cell(3, 7).value = 1  # floor typed as a number
    buf = io.BytesIO()
    wb.save(buf)
    job = _submit(alice, "房屋.xlsx", buf.getvalue())
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors
    assert Unit.objects.filter(building__code="1").count() == 6


@pytest.mark.django_db
def test_the_template_round_trips(alice, client):
    client.force_login(alice)
    response = client.get("/estate/imports/template.xlsx")
    raw = b"".join(response.streaming_content)
    job = _submit(alice, "template.xlsx", raw)
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors
    assert Unit.objects.get().code == "3-2-1502"


@pytest.mark.django_db
def test_unsupported_files_are_refused_with_a_message(alice, client):
    client.force_login(alice)
    response = client.post("/estate/imports/", {"file": SimpleUploadedFile("old.xls", b"\xd0\xcf\x11\xe0")},
                           follow=True)
    assert "另存为 .xlsx" in response.content.decode()
    assert ImportJob.objects.count() == 0
    broken = _submit(alice, "broken.xlsx", b"not a zip")
    assert broken.status == ImportJob.Status.FAILED and "无法打开" in broken.errors[0]["message"]


@pytest.mark.django_db
def test_collectors_cannot_import(bob, client):
    client.force_login(bob)
    assert client.get("/estate/imports/").status_code == 403


def test_resident_id_check_digit():
    assert importer.resident_id_valid("11010519491231002X")
    assert not importer.resident_id_valid("110105194912310021")
