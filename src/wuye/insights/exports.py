"""Excel exports of the manager's tables (write-only openpyxl; every row through ``safe_row``)."""

from __future__ import annotations

import io

from wuye.common.tabular import safe_row


def table_xlsx(table, *, subtitle: str = "") -> io.BytesIO:
    """One sheet: a title line, the headers, the rows (numbers stay numbers, text is formula-safe)."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(table.title[:31])
    ws.append(safe_row([table.title, subtitle]))
    ws.append(safe_row(table.headers))
    for row in table.rows:
        ws.append(safe_row(row))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out
