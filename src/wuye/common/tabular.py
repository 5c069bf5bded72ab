"""Tables in and out: bounded reading of uploaded CSV/.xlsx files, and formula-safe cells for every
spreadsheet and CSV the system writes.

Reading (``read_table``) serves every import (estate master data, bank statements, direct-debit result
files). An upload is untrusted: a 5 KB .xlsx can claim a cell at XFD1048576, a zip member can inflate to
gigabytes, a CSV can hold one endless quoted field. So nothing is trusted that the file says about itself
(the sheet's ``dimension``, the zip's sizes beyond what zipfile enforces) and every dimension is bounded
before it costs memory or time: the upload's size, the zip directory (entries, declared uncompressed size,
compression ratio — checked before any member is inflated), rows, columns, stored cells, characters per
row. The .xlsx is read with openpyxl's own cell parser (``WorkSheetParser.parse_cell``, which handles shared
strings, inline strings, booleans and date styles) driven by a streaming loop that keeps only the current
cell in memory, so memory follows the cells kept, not the XML. Beyond a bound the file is refused with an
``ImportRejected`` whose Chinese message names the bound and where it was hit. The bounds are settings
(``WUYE_IMPORT_MAX_*``, see README).

Merged cells are reported, not silently resolved: a merge that touches a header row, or spans several
columns in a data row, makes a value's column ambiguous, and the import says so (``header_problems``,
``wide_merges_in_row``). A merge inside one column (楼栋编码 merged down over its units) is filled from its
top-left cell, as people mean it.

Writing (``safe_cell``/``safe_row``/``csv_writer``): a text value that starts with = + - @, a tab or a
carriage return is written with a leading apostrophe, so Excel, WPS and LibreOffice show it as text and never
evaluate it (CSV/formula injection, e.g. a name ``=HYPERLINK(...)`` imported from a file). The apostrophe is
part of the value, so it survives CSV, copy and paste and re-export; numbers stay numbers (a negative number
is numeric, and a text that is just a number such as "-300.00" is left as it is). Characters that XML cannot
hold (control characters) are dropped. Every writer in ``src/`` goes through these helpers; a test finds
every function that creates a workbook or a CSV writer and checks its output with hostile data.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import posixpath
import re
import struct
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError, iterparse

# --- errors ---------------------------------------------------------------------------------------------


class ImportRejected(Exception):
    """The upload itself cannot be accepted (wrong type, empty, too large, beyond a bound, ambiguous header).
    ``row``/``column`` name where, when there is a where (0/"" for the file as a whole)."""

    def __init__(self, message: str, *, row: int = 0, column: str = "", errors: list[RowError] | None = None):
        super().__init__(message)
        self.row = row
        self.column = column
        self.errors = errors or []

    def as_errors(self) -> list[dict]:
        """The refusal as error-report rows (``RowError.as_dict``)."""
        if self.errors:
            return [e.as_dict() for e in self.errors]
        return [RowError(self.row, self.column, "", str(self)).as_dict()]


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


def job_failure_message(exc: BaseException) -> str:
    """A readable Chinese sentence for an exception that escaped an import job (the traceback goes to the log)."""
    from django.db import DataError, IntegrityError, OperationalError

    if isinstance(exc, DataError):
        reason = "某个值超出了数据库字段允许的长度或范围"
    elif isinstance(exc, IntegrityError):
        reason = "与已有数据冲突（重复或引用不存在的记录）"
    elif isinstance(exc, OperationalError):
        reason = "数据库暂时不可用或繁忙"
    elif isinstance(exc, (OverflowError, ArithmeticError)):
        reason = "某个数值或日期超出范围"
    elif isinstance(exc, MemoryError):
        reason = "文件过大，服务器内存不足"
    else:
        reason = "处理时出现内部错误"
    return (f"{reason}（{type(exc).__name__}），整个文件未导入，数据没有任何改变。"
            f"请检查文件后重新上传；如仍失败请联系管理员。")


# --- bounds -----------------------------------------------------------------------------------------------

MAX_ZIP_ENTRIES = 2_000          # an .xlsx has a dozen members; a zip directory of millions costs memory
MAX_CENTRAL_DIRECTORY = 4 << 20  # bytes of zip directory read before the first member is opened
MAX_MERGES = 10_000
MAX_STYLES = 100_000             # Excel itself stops at 64,000 cell formats
MAX_ELEMENTS_PER_CELL = 2_000    # XML elements inside one <c> or <si> (rich-text runs)
RATIO_CHECK_FROM = 1 << 20       # compression ratio is checked for members inflating beyond 1 MB


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_columns: int
    max_cells: int
    max_row_chars: int
    max_unpacked_bytes: int
    max_ratio: int

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        return cls(
            max_bytes=settings.WUYE_IMPORT_MAX_BYTES,
            max_rows=settings.WUYE_IMPORT_MAX_ROWS,
            max_columns=settings.WUYE_IMPORT_MAX_COLUMNS,
            max_cells=settings.WUYE_IMPORT_MAX_CELLS,
            max_row_chars=settings.WUYE_IMPORT_MAX_ROW_CHARS,
            max_unpacked_bytes=settings.WUYE_IMPORT_MAX_UNPACKED_BYTES,
            max_ratio=settings.WUYE_IMPORT_MAX_COMPRESSION_RATIO,
        )


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB" if n >= (1 << 20) else f"{n:,} 字节"


# --- tables ------------------------------------------------------------------------------------------------

def column_letter(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(frozen=True)
class Merge:
    """A merged range, 1-based and inclusive as Excel shows it."""

    min_row: int
    min_col: int
    max_row: int
    max_col: int

    @property
    def ref(self) -> str:
        first = f"{column_letter(self.min_col - 1)}{self.min_row}"
        last = f"{column_letter(self.max_col - 1)}{self.max_row}"
        return first if first == last else f"{first}:{last}"

    @property
    def wide(self) -> bool:
        return self.max_col > self.min_col

    def covers_row(self, row: int) -> bool:
        return self.min_row <= row <= self.max_row


class Table(list):
    """The rows of text cells of a file (a list of lists of str) plus its merged ranges (.xlsx only)."""

    def __init__(self, rows=(), merges: list[Merge] | None = None):
        super().__init__(rows)
        self.merges: list[Merge] = merges or []


def normalise_header(text: str) -> str:
    """How a header is compared: full-width folded (NFKC), no spaces, no required-marks (* ＊ (必填))."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"\s+", "", text)
    return text.replace("*", "").replace("(必填)", "")


def duplicate_headers(names: list[str], wanted) -> list[tuple[str, list[int]]]:
    """Normalised header names that the import uses (``wanted(name)`` is true) and that appear in more than
    one column → [(name, [0-based columns])]."""
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name and wanted(name):
            seen.setdefault(name, []).append(i)
    return [(name, cols) for name, cols in seen.items() if len(cols) > 1]


def header_problems(table: Table, row_index: int, wanted) -> list[RowError]:
    """Why the header in ``table[row_index]`` cannot be trusted, as errors naming where: merged cells touching
    it (by range) and duplicated or ambiguous names of columns the import uses (by column). Empty when sound."""
    row_no = row_index + 1
    header = table[row_index] if row_index < len(table) else []
    problems = []
    for m in table.merges:
        if m.covers_row(row_no):
            top = table[m.min_row - 1]
            value = top[m.min_col - 1] if m.min_col <= len(top) else ""
            problems.append(RowError(
                row_no, m.ref, value, f"表头（第 {row_no} 行）有合并单元格 {m.ref}" + (f"（“{value}”）" if value else "")
                + "，无法确定每一列的列名；请取消合并，每列只写一个列名。"))
    names = [normalise_header(c) for c in header]
    for name, cols in duplicate_headers(names, wanted):
        letters = "、".join(f"{column_letter(c)} 列" for c in cols)
        problems.append(RowError(
            row_no, name, letters, f"表头（第 {row_no} 行）列名“{name}”出现在 {letters}（忽略空格和全角/半角后相同），"
            "无法确定使用哪一列；请删除或改名多余的列。"))
    return problems


def merge_errors(table: Table, row_index: int, header: list[str]) -> list[RowError]:
    """Errors for merged ranges spanning several columns over data row ``table[row_index]``: the value could
    belong to any of those columns. ``header`` names the columns."""
    row_no = row_index + 1
    out = []
    for m in wide_merges_in_row(table, row_index):
        cols = range(m.min_col - 1, min(m.max_col, m.min_col + 5))
        names = "、".join(header[c] if c < len(header) and header[c] else f"{column_letter(c)} 列" for c in cols)
        top = table[m.min_row - 1]
        value = top[m.min_col - 1] if m.min_col <= len(top) else ""
        out.append(RowError(row_no, names, value, f"第 {row_no} 行是合并单元格 {m.ref}（跨“{names}”"
                            + ("等" if m.max_col - m.min_col >= 6 else "") + "），无法确定内容属于哪一列；"
                            "请取消合并后分别填写。"))
    return out


def wide_merges_in_row(table: Table, row_index: int) -> list[Merge]:
    """Merged ranges spanning several columns that cover ``table[row_index]`` (a data row)."""
    row_no = row_index + 1
    return [m for m in table.merges if m.wide and m.covers_row(row_no)]


# --- reading ----------------------------------------------------------------------------------------------

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what XML 1.0 cannot hold (openpyxl refuses it)


def _clean(text: str) -> str:
    return _ILLEGAL.sub("", text).strip()


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel stores every number as a float: 15.0 is "15", 89.56 stays "89.56".
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return _clean(str(value))


def file_too_large(size: int, limits: Limits | None = None) -> ImportRejected:
    """The refusal of a file of ``size`` bytes past ``WUYE_IMPORT_MAX_BYTES``, naming both."""
    limits = limits or Limits.from_settings()
    return ImportRejected(f"文件过大（{_mb(size)}，上限 {_mb(limits.max_bytes)}）。")


def read_upload(upload, *, limits: Limits | None = None) -> bytes:
    """The bytes of an uploaded table file, never more than ``WUYE_IMPORT_MAX_BYTES`` of them: the size the
    upload declares is checked first and at most one byte past the bound is read, so a file of gigabytes
    (spooled to disk by Django) is refused without being loaded into memory. ``ImportRejected`` when empty or
    too large."""
    limits = limits or Limits.from_settings()
    size = getattr(upload, "size", None)
    if size is not None and size > limits.max_bytes:
        raise file_too_large(size, limits)
    raw = upload.read(limits.max_bytes + 1)
    if len(raw) > limits.max_bytes:
        raise file_too_large(len(raw), limits)
    if not raw:
        raise ImportRejected("文件是空的。")
    return raw


def read_table(filename: str, raw: bytes, *, limits: Limits | None = None) -> Table:
    """Rows of text cells of an .xlsx (first sheet) or .csv/.txt upload, within ``limits`` (the settings by
    default). Raises ImportRejected with a Chinese message when the file is unusable or beyond a bound."""
    limits = limits or Limits.from_settings()
    if not raw:
        raise ImportRejected("文件是空的。")
    if len(raw) > limits.max_bytes:
        raise file_too_large(len(raw), limits)
    name = filename.lower()
    if name.endswith((".csv", ".txt")):
        return _read_csv(raw, limits)
    if name.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(raw, limits)
    if name.endswith(".xls"):
        raise ImportRejected("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后再上传。")
    raise ImportRejected("只支持 .xlsx 和 .csv 文件。")


def _too_many_rows(limits: Limits) -> ImportRejected:
    return ImportRejected(f"文件行数超过上限（最多 {limits.max_rows:,} 行）；请删除多余的行或拆分成几个文件。")


def _too_many_cells(limits: Limits, row: int) -> ImportRejected:
    return ImportRejected(f"到第 {row:,} 行时表格的单元格数已超过上限（{limits.max_cells:,} 格）；"
                          "请删除多余的行列或拆分成几个文件。")


def _row_too_long(limits: Limits, row: int) -> ImportRejected:
    return ImportRejected(f"第 {row:,} 行内容过长（超过 {limits.max_row_chars:,} 个字符）；请检查该行。", row=row)


def _decode_csv(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRejected("文件是 UTF-16（“Unicode 文本”）编码；请在 Excel 中另存为“CSV UTF-8”或 .xlsx。")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportRejected("文件以 UTF-8 标记开头，但内容不是有效的 UTF-8；请重新保存为 CSV UTF-8。") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ImportRejected("无法识别文件编码：CSV 文件请使用 UTF-8 或 GBK 编码保存。") from exc


def _read_csv(raw: bytes, limits: Limits) -> Table:
    if raw.startswith(b"PK\x03\x04"):
        raise ImportRejected("该文件实际是 Excel（.xlsx）文件，请把扩展名改为 .xlsx 后再上传。")
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRejected("该文件实际是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再上传。")
    text = _decode_csv(raw)
    if "\x00" in text:
        raise ImportRejected("文件中有空字符（\\0），不是文本 CSV 文件；请在 Excel 中另存为 CSV UTF-8 或 .xlsx。")
    rows = Table()
    cells = 0
    clean = _clean if _ILLEGAL.search(text) else str.strip
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            row_no = len(rows) + 1
            if row_no > limits.max_rows:
                raise _too_many_rows(limits)
            while row and not row[-1].strip():
                row.pop()  # trailing empty fields (",,,," from Excel) are not columns
            if len(row) > limits.max_columns:
                raise ImportRejected(f"第 {row_no:,} 行有 {len(row):,} 列，超过上限（{limits.max_columns} 列）。",
                                     row=row_no)
            if sum(len(c) for c in row) > limits.max_row_chars:
                raise _row_too_long(limits, row_no)
            cells += len(row)
            if cells > limits.max_cells:
                raise _too_many_cells(limits, row_no)
            rows.append([clean(c) for c in row])
    except csv.Error as exc:
        raise ImportRejected(f"CSV 第 {reader.line_num:,} 行附近无法解析：引号不配对或某一格内容过长。",
                             row=reader.line_num) from exc
    return rows


# .xlsx -----------------------------------------------------------------------------------------------------

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_ROW, _CELL, _MERGE, _SI, _T = f"{_MAIN}row", f"{_MAIN}c", f"{_MAIN}mergeCell", f"{_MAIN}si", f"{_MAIN}t"
_DAMAGED = "无法读取该 Excel 文件：文件已损坏或不是有效的 .xlsx 文件。"


def _central_directory_size(raw: bytes) -> int | None:
    """Bytes of the zip's central directory, from its end record (None when there is no end record)."""
    tail = raw[-(65535 + 22):]
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        return None
    _sig, _disk, _cd_disk, _n_disk, entries, cd_size, _cd_offset, _comment = struct.unpack(
        "<4s4H2LH", tail[pos:pos + 22])
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:  # ZIP64: the real figures are in the ZIP64 end record
        start = len(raw) - len(tail) + pos - 20
        if start < 0 or raw[start:start + 4] != b"PK\x06\x07":
            return None
        offset = struct.unpack("<Q", raw[start + 8:start + 16])[0]
        record = raw[offset:offset + 56]
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            return None
        entries, cd_size = struct.unpack("<2Q", record[32:48])
    if entries > MAX_ZIP_ENTRIES:
        return MAX_CENTRAL_DIRECTORY + 1
    return cd_size


def _open_zip(raw: bytes, limits: Limits) -> zipfile.ZipFile:
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRejected("该文件是旧版 .xls 或设置了打开密码的 Excel 文件；请取消密码并另存为 .xlsx 后再上传。")
    if not raw.startswith(b"PK"):
        raise ImportRejected("无法打开该 Excel 文件：它不是 .xlsx 格式（可能是其他文件改了扩展名）。"
                             "请在 Excel 中另存为 .xlsx 或 CSV 后再上传。")
    cd_size = _central_directory_size(raw)
    if cd_size is None:
        raise ImportRejected(_DAMAGED)
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise ImportRejected("该 Excel 文件的内部结构异常（压缩包中的文件过多），已拒绝。")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error, EOFError) as exc:
        raise ImportRejected(_DAMAGED) from exc
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise ImportRejected("该 Excel 文件已加密，请取消密码后另存为 .xlsx 再上传。")
        total += info.file_size
        if (info.file_size > RATIO_CHECK_FROM
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise ImportRejected(
                f"该 Excel 文件中的“{info.filename[:60]}”解压后 {_mb(info.file_size)}，压缩比异常"
                f"（超过 {limits.max_ratio} 倍，疑似“压缩炸弹”），已拒绝。")
    if total > limits.max_unpacked_bytes:
        raise ImportRejected(f"该 Excel 文件解压后共 {_mb(total)}，超过上限（{_mb(limits.max_unpacked_bytes)}）；"
                             "请删除多余的工作表、图片和空白行列，或拆分成几个文件。")
    if "xl/workbook.xml" not in zf.NameToInfo:
        raise ImportRejected("无法打开该 Excel 文件：压缩包里没有工作簿（可能是其他文件改了扩展名）。")
    return zf


def _bounded_iter(zf: zipfile.ZipFile, name: str):
    """iterparse (start and end events) over one zip member: zipfile never inflates more than the member's
    declared size, which ``_open_zip`` has bounded."""
    with zf.open(name) as fh:
        yield from iterparse(fh, events=("start", "end"))


def _detach(stack: list, el) -> None:
    if stack:
        try:
            stack[-1].remove(el)
        except ValueError:  # pragma: no cover - not a child (cannot happen with start/end events)
            pass


def _small_tree(zf: zipfile.ZipFile, name: str, wanted: set[str]) -> list:
    """(tag, attrib) of every element of a small part whose tag is wanted, the tree kept flat."""
    found, stack = [], []
    for event, el in _bounded_iter(zf, name):
        if event == "start":
            stack.append(el)
            continue
        stack.pop()
        if el.tag in wanted:
            found.append((el.tag, dict(el.attrib), stack[-1].tag if stack else ""))
        _detach(stack, el)
    return found


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, resolved target path) of an xl/ part."""
    base = posixpath.dirname(part)
    rels_name = posixpath.join(base, "_rels", posixpath.basename(part) + ".rels")
    if rels_name not in zf.NameToInfo:
        return {}
    out = {}
    for _tag, attrs, _parent in _small_tree(zf, rels_name, {_PKG_REL}):
        target = attrs.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
        out[attrs.get("Id", "")] = (attrs.get("Type", ""), path)
    return out


def _workbook_parts(zf: zipfile.ZipFile) -> tuple[str, str | None, str | None, bool]:
    """(first worksheet path, shared strings path, styles path, 1904 date system)."""
    items = _small_tree(zf, "xl/workbook.xml", {f"{_MAIN}sheet", f"{_MAIN}workbookPr"})
    rels = _rels(zf, "xl/workbook.xml")
    date1904 = any(tag.endswith("workbookPr") and attrs.get("date1904") in ("1", "true") for tag, attrs, _ in items)
    sheet = None
    for tag, attrs, _parent in items:
        if tag.endswith("}sheet"):
            kind, path = rels.get(attrs.get(f"{_REL_NS}id", ""), ("", ""))
            if kind.endswith("/worksheet") and path in zf.NameToInfo:
                sheet = path
                break
    if sheet is None:
        raise ImportRejected("该 Excel 文件中没有工作表。")
    shared = next((p for k, p in rels.values() if k.endswith("/sharedStrings") and p in zf.NameToInfo), None)
    styles = next((p for k, p in rels.values() if k.endswith("/styles") and p in zf.NameToInfo), None)
    return sheet, shared, styles, date1904


def _date_styles(zf: zipfile.ZipFile, styles: str | None) -> tuple[set[int], set[int]]:
    """Indexes of the cell formats that show dates / durations (as openpyxl's stylesheet computes them)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

    if styles is None:
        return set(), set()
    custom: dict[int, str] = {}
    xf_formats: list[int] = []
    stack: list = []
    for event, el in _bounded_iter(zf, styles):
        if event == "start":
            stack.append(el)
            continue
        stack.pop()
        if el.tag == f"{_MAIN}numFmt":
            try:
                custom[int(el.get("numFmtId", "-1"))] = el.get("formatCode", "")
            except ValueError:
                pass
        elif el.tag == f"{_MAIN}xf" and stack and stack[-1].tag == f"{_MAIN}cellXfs":
            try:
                xf_formats.append(int(el.get("numFmtId", "0")))
            except ValueError:
                xf_formats.append(0)
            if len(xf_formats) > MAX_STYLES:
                raise ImportRejected("该 Excel 文件的单元格格式数量异常（超过 100,000 种），已拒绝。")
        _detach(stack, el)
    dates, durations = set(), set()
    for index, fmt_id in enumerate(xf_formats):
        fmt = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id)
        if fmt and is_date_format(fmt):
            dates.add(index)
        if fmt and is_timedelta_format(fmt):
            durations.add(index)
    return dates, durations


def _shared_strings(zf: zipfile.ZipFile, path: str | None, limits: Limits) -> list[str]:
    from openpyxl.cell.text import Text

    if path is None:
        return []
    strings: list[str] = []
    stack: list = []
    inside = 0
    for event, el in _bounded_iter(zf, path):
        if event == "start":
            stack.append(el)
            if el.tag == _SI or inside:
                inside += 1
                if inside > MAX_ELEMENTS_PER_CELL:
                    raise ImportRejected("该 Excel 文件中某个文本的结构异常（格式片段过多），已拒绝。")
            continue
        stack.pop()
        if el.tag == _SI:
            strings.append(Text.from_tree(el).content.replace("x005F_", ""))
            inside = 0
            if len(strings) > limits.max_cells:
                raise ImportRejected(f"该 Excel 文件中的文本数量超过上限（{limits.max_cells:,} 个）；请拆分成几个文件。")
        if not inside:
            _detach(stack, el)
    return strings


def _read_xlsx(raw: bytes, limits: Limits) -> Table:
    zf = _open_zip(raw, limits)
    try:
        return _read_sheet(zf, limits)
    except ImportRejected:
        raise
    except (ParseError, zipfile.BadZipFile, EOFError, ValueError, KeyError, IndexError, TypeError,
            NotImplementedError, OSError, RuntimeError, OverflowError) as exc:
        # zlib.error is an Exception subclass raised as-is by zipfile on a damaged member
        raise ImportRejected(_DAMAGED) from exc
    except Exception as exc:
        if type(exc).__module__ == "zlib":
            raise ImportRejected(_DAMAGED) from exc
        raise


def _read_sheet(zf: zipfile.ZipFile, limits: Limits) -> Table:
    from openpyxl.utils.cell import range_boundaries
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900
    from openpyxl.worksheet._reader import WorkSheetParser

    sheet, shared_path, styles, date1904 = _workbook_parts(zf)
    dates, durations = _date_styles(zf, styles)
    shared = _shared_strings(zf, shared_path, limits)
    # openpyxl's parser for one cell's value (shared/inline strings, booleans, numbers, date styles); the loop
    # below streams the sheet itself so that only the cell being read is ever held as XML.
    cell_parser = WorkSheetParser(None, shared, data_only=True,
                                  epoch=CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900,
                                  date_formats=dates, timedelta_formats=durations)
    table = Table()
    stored = 0
    refs: list[str] = []
    stack: list = []
    row_no = 0
    row_cells: dict[int, str] = {}
    in_cell = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about out-of-range dates; they come back as "#VALUE!"
        for event, el in _bounded_iter(zf, sheet):
            tag = el.tag
            if event == "start":
                stack.append(el)
                if in_cell or tag == _CELL:
                    in_cell += 1
                    if in_cell > MAX_ELEMENTS_PER_CELL:
                        raise ImportRejected(f"第 {row_no:,} 行某个单元格的结构异常，已拒绝。", row=row_no)
                elif tag == _ROW:
                    r = el.get("r")
                    row_no = int(float(r)) if r else row_no + 1
                    if row_no < 1:
                        raise ImportRejected(_DAMAGED)
                    cell_parser.row_counter, cell_parser.col_counter = row_no, 0
                    row_cells = {}
                continue
            stack.pop()
            if tag == _CELL:
                in_cell = 0
                if len(el) or el.get("t") == "inlineStr":
                    if el.get("t") == "inlineStr":  # openpyxl's Text.from_tree is slow; the text is all we need
                        col = cell_parser.col_counter = _column_of(el, cell_parser.col_counter)
                        text = _clean(_inline_text(el))
                    else:
                        cell = cell_parser.parse_cell(el)
                        col, text = cell["column"], cell_text(cell["value"])
                    if text:
                        if col > limits.max_columns:
                            raise ImportRejected(
                                f"第 {row_no:,} 行 {column_letter(col - 1)} 列有内容，超出导入范围"
                                f"（最多 {limits.max_columns} 列）；请删除表格右侧多余的内容。", row=row_no)
                        row_cells[col] = text
                else:
                    cell_parser.col_counter = _column_of(el, cell_parser.col_counter)
            elif in_cell:
                continue  # a part of the cell being read: kept until the cell ends
            elif tag == _ROW:
                if row_cells:
                    if row_no > limits.max_rows:
                        raise ImportRejected(f"第 {row_no:,} 行有内容，超出导入范围（最多 {limits.max_rows:,} 行）；"
                                             "请删除表格下方多余的内容或拆分成几个文件。", row=row_no)
                    if row_no <= len(table):
                        raise ImportRejected(f"第 {row_no:,} 行在文件中出现了两次，文件可能已损坏。", row=row_no)
                    width = max(row_cells)
                    stored += width
                    if stored > limits.max_cells:
                        raise _too_many_cells(limits, row_no)
                    if sum(len(t) for t in row_cells.values()) > limits.max_row_chars:
                        raise _row_too_long(limits, row_no)
                    while len(table) < row_no - 1:
                        table.append([])
                    values = [""] * width
                    for col, text in row_cells.items():
                        values[col - 1] = text
                    table.append(values)
            elif tag == _MERGE:
                refs.append(el.get("ref", ""))
                if len(refs) > MAX_MERGES:
                    raise ImportRejected(f"合并单元格过多（超过 {MAX_MERGES:,} 处），请取消合并后再上传。")
            _detach(stack, el)
    while table and not any(table[-1]):
        table.pop()
    filled = 0
    for ref in refs:
        try:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        if None in (min_col, min_row, max_col, max_row) or min_row > len(table):
            continue  # whole-column/row ranges and ranges below the last row hold nothing
        merge = Merge(min_row, min_col, max_row, max_col)
        table.merges.append(merge)
        if not merge.wide:
            filled += _fill_down(table, merge, limits)
            if stored + filled > limits.max_cells:
                raise _too_many_cells(limits, merge.max_row)
    return table


def _inline_text(el) -> str:
    """The text of an inline-string cell: <is><t> and the <t> of each rich-text run (not phonetic guides),
    as openpyxl's Text.content reads it."""
    inline = el.find(f"{_MAIN}is")
    if inline is None:
        return ""
    return (inline.findtext(_T) or "") + "".join(r.findtext(_T) or "" for r in inline.iterfind(f"{_MAIN}r"))


def _column_of(el, previous: int) -> int:
    from openpyxl.utils.cell import coordinate_to_tuple

    ref = el.get("r")
    return coordinate_to_tuple(ref)[1] if ref else previous + 1


def _fill_down(table: Table, merge: Merge, limits: Limits) -> int:
    """A merge inside one column: every row of it gets the top-left value. Returns the cells written (counted
    against the cell bound, so many long merges cannot make the filling itself the cost)."""
    col = merge.min_col
    top = table[merge.min_row - 1]
    value = top[col - 1] if col <= len(top) else ""
    if col > limits.max_columns:
        return 0
    written = 0
    for r in range(merge.min_row + 1, min(merge.max_row, len(table)) + 1):
        row = table[r - 1]
        if len(row) < col:
            written += col - len(row)
            row.extend([""] * (col - len(row)))
        row[col - 1] = value
        written += 1
    return written


# --- writing ----------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[¥￥]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?")


def safe_cell(value):
    """A value as it may be written to a spreadsheet or CSV cell: text starting with = + - @ tab or CR gets a
    leading apostrophe (shown as text, never evaluated), unless it is just a number ("-300.00", "+86");
    characters XML cannot hold are dropped. Numbers, dates, None pass unchanged."""
    if not isinstance(value, str):
        return value
    value = _ILLEGAL.sub("", value)
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values) -> list:
    return [safe_cell(v) for v in values]


@dataclass
class SafeCsvWriter:
    """``csv.writer`` whose rows go through ``safe_cell``."""

    fh: object
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        self._writer = csv.writer(self.fh, **self.options)

    def writerow(self, row) -> None:
        self._writer.writerow(safe_row(row))

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh, **options) -> SafeCsvWriter:
    return SafeCsvWriter(fh, options)
