"""wuye.common.tabular.read_table: what it reads from a real .xlsx, and the bounds it keeps."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import openpyxl
import pytest

from wuye.common.tabular import (
    ImportRejected,
    Limits,
    Merge,
    Table,
    column_letter,
    header_problems,
    read_table,
)

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

LIMITS = Limits(max_bytes=50 << 20, max_rows=1000, max_columns=50, max_cells=20_000, max_row_chars=2000,
                max_unpacked_bytes=20 << 20, max_ratio=200)


def _xlsx(build) -> bytes:
    wb = openpyxl.Workbook()
    build(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_values_read_as_the_user_sees_them():
    def build(wb):
        ws = wb.active
        ws.append(["文本", 15, 89.56, True, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 8, 30), None, " 空格 "])
        ws["A2"] = "=1+1"  # a formula without a cached value reads as empty, never as the formula
        ws["B2"] = "二\x00行".replace("\x00", "")

    table = read_table("a.xlsx", _xlsx(build), limits=LIMITS)
    assert table[0] == ["文本", "15", "89.56", "True", "2024-01-31", "2024-01-31 08:30:00", "", "空格"]
    assert table[1] == ["", "二行"]


def test_shared_strings_rich_text_and_the_1904_date_system():
    """A workbook as Excel writes it: shared strings (one with two formatted runs and a phonetic guide) and
    dates counted from 1904."""
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c><c r="C2" s="1"><v>1</v></c></row>'
             '</sheetData></worksheet>')
    strings = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               '<si><t>共享</t></si><si><r><t>张</t></r><r><rPr><b/></rPr><t>三</t></r>'
               '<rPh sb="0" eb="1"><t>zhang</t></rPh></si></sst>')
    styles = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="2">'
              '<xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>')
    workbook = ('<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                '<workbookPr date1904="1"/><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="/xl/worksheets/s.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'sharedStrings" Target="sharedStrings.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'styles" Target="styles.xml"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/worksheets/s.xml", sheet)
        z.writestr("xl/sharedStrings.xml", strings)
        z.writestr("xl/styles.xml", styles)
    table = read_table("excel.xlsx", out.getvalue(), limits=LIMITS)
    assert table == [[], ["共享", "张三", "1904-01-02"]]


def test_merges_are_reported_and_only_one_column_merges_are_filled():
    def build(wb):
        ws = wb.active
        ws.append(["标题"])
        ws.append(["楼栋", "房号", "姓名", "电话"])
        for i in range(3):
            ws.append(["1", f"10{i}", f"业主{i}", f"139{i}"])
        ws.merge_cells("A1:D1")
        ws.merge_cells("A3:A5")
        ws.merge_cells("C4:D4")

    table = read_table("m.xlsx", _xlsx(build), limits=LIMITS)
    assert [r[0] for r in table[2:]] == ["1", "1", "1"]
    assert table[3][2:] == ["业主1"]  # across columns: the value stays in its first column, and is reported
    assert {m.ref for m in table.merges} == {"A1:D1", "A3:A5", "C4:D4"}
    assert header_problems(table, 1, lambda n: True) == []
    assert [e.column for e in header_problems(table, 0, lambda n: True)] == ["A1:D1"]


def test_column_letters_and_merge_refs():
    assert [column_letter(i) for i in (0, 25, 26, 701, 16383)] == ["A", "Z", "AA", "ZZ", "XFD"]
    assert Merge(1, 2, 1, 3).ref == "B1:C1" and Merge(4, 1, 4, 1).ref == "A4"


def test_a_duplicate_header_is_named_by_its_columns():
    table = Table([["项目名称", "房号", "项目 名称", "备注", "备注"]])
    problems = header_problems(table, 0, lambda n: n != "备注")
    assert [(p.column, p.value) for p in problems] == [("项目名称", "A 列、C 列")]


def test_a_far_cell_is_refused_at_once():
    raw = _xlsx(lambda wb: wb.active.__setitem__("XFD1048576", "x"))
    assert len(raw) < 10_000
    started = time.perf_counter()
    with pytest.raises(ImportRejected, match="第 1,048,576 行 XFD 列有内容"):
        read_table("far.xlsx", raw)
    assert time.perf_counter() - started < 2


def test_empty_formatted_cells_far_away_cost_nothing():
    """Excel writes styled empty cells (and rows) far to the right and below; they hold no value."""
    def build(wb):
        ws = wb.active
        ws.append(["a", "b"])
        from openpyxl.styles import Font

        ws["XFD1"].font = Font(bold=True)
        ws["A1048576"].font = Font(bold=True)

    assert read_table("styled.xlsx", _xlsx(build), limits=LIMITS) == [["a", "b"]]


@pytest.mark.parametrize("bound, build, message", [
    ("rows", lambda ws: [ws.append([i]) for i in range(1001)], "第 1,001 行有内容，超出导入范围（最多 1,000 行）"),
    ("columns", lambda ws: ws.append(list(range(51))), "第 1 行 AY 列有内容，超出导入范围（最多 50 列）"),
    ("cells", lambda ws: [ws.append(list(range(50))) for _ in range(500)], "单元格数已超过上限（20,000 格）"),
    ("row chars", lambda ws: ws.append(["长" * 1500, "长" * 600]), "第 1 行内容过长（超过 2,000 个字符）"),
])
def test_each_bound_refuses_an_xlsx_with_its_message(bound, build, message):
    raw = _xlsx(lambda wb: build(wb.active))
    with pytest.raises(ImportRejected) as exc:
        read_table("b.xlsx", raw, limits=LIMITS)
    assert message in str(exc.value), bound


@pytest.mark.parametrize("raw, message", [
    ("\n".join(["1"] * 1001).encode(), "文件行数超过上限（最多 1,000 行）"),
    (",".join(["x"] * 51).encode(), "第 1 行有 51 列，超过上限（50 列）"),
    ("\n".join([",".join(["x"] * 50)] * 401).encode(), "单元格数已超过上限"),
    (("长" * 2001).encode(), "第 1 行内容过长"),
])
def test_each_bound_refuses_a_csv_with_its_message(raw, message):
    with pytest.raises(ImportRejected, match=message):
        read_table("b.csv", raw, limits=LIMITS)


def test_trailing_empty_fields_are_not_columns():
    assert read_table("t.csv", b"a,b" + b"," * 500 + b"\n", limits=LIMITS) == [["a", "b"]]


def test_csv_encodings_and_control_characters():
    text = "名称,备注\n喆䶮,a\x07b\n"
    for raw in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gb18030")):
        assert read_table("e.csv", raw, limits=LIMITS) == [["名称", "备注"], ["喆䶮", "ab"]]


def test_the_zip_directory_is_checked_before_anything_is_inflated():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b" " * (21 << 20), compress_type=zipfile.ZIP_STORED)
    with pytest.raises(ImportRejected, match="解压后共 21 MB，超过上限（20 MB）"):
        read_table("big.xlsx", out.getvalue(), limits=LIMITS)
    with pytest.raises(ImportRejected, match="压缩比异常（超过 200 倍"):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
            z.writestr("xl/worksheets/sheet1.xml", b" " * (10 << 20))
        read_table("bomb.xlsx", out.getvalue(), limits=LIMITS)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(2100):
            z.writestr(f"x{i}", "")
    with pytest.raises(ImportRejected, match="压缩包中的文件过多"):
        read_table("many.xlsx", out.getvalue(), limits=LIMITS)
    with pytest.raises(ImportRejected, match="压缩包里没有工作簿"):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("word/document.xml", "<w/>")
        read_table("docx.xlsx", out.getvalue(), limits=LIMITS)


def test_the_upload_size_bound():
    with pytest.raises(ImportRejected, match="文件过大"):
        read_table("a.csv", b"x" * 100, limits=Limits(**{**LIMITS.__dict__, "max_bytes": 99}))
