"""Checks shared by the export and corpus tests: no cell of a spreadsheet or CSV the system wrote can be
evaluated as a formula."""

from __future__ import annotations

import csv
import io
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[¥￥]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?")


def cells(content: bytes, kind: str):
    """(where, value, is_formula) of every non-empty cell of an .xlsx (every sheet) or a CSV (UTF-8 or GBK)."""
    if kind == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(content))  # not data_only: a formula comes back as one
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        yield f"{ws.title}!{cell.coordinate}", cell.value, cell.data_type == "f"
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("gb18030")
        for r, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            for c, value in enumerate(row, start=1):
                if value:
                    yield f"R{r}C{c}", value, False


def live_formulas(content: bytes, kind: str) -> list[str]:
    """Cells a spreadsheet program would evaluate: formula cells, and text starting with = + - @ tab or CR
    that is not just a number."""
    bad = []
    for where, value, formula in cells(content, kind):
        if formula:
            bad.append(f"{where}: formula {value!r}")
        elif isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
            bad.append(f"{where}: {value!r}")
    return bad


def texts(content: bytes, kind: str) -> list[str]:
    return [str(value) for _where, value, _formula in cells(content, kind)]
