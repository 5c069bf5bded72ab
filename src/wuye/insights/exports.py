"""Excel exports of the manager's tables (write-only openpyxl; every row through ``safe_row``)."""

from __future__ import annotations

import io

from wuye.common.tabular import safe_row


def table_xlsx(table, *, subtitle: str = "") -> io.BytesIO:
    """One sheet: a title line, the headers, the rows (numbers stay numbers, text is formula-safe), then the
    table's notes (why a rate is empty: 本月无账单 …). A list of tables: one sheet each."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    names: set[str] = set()
    for t in table if isinstance(table, list) else [table]:
        name = t.title[:31]
        while name in names:
            name = f"{name[:28]}-{len(names)}"
        names.add(name)
        ws = wb.create_sheet(name)
        ws.append(safe_row([t.title, subtitle]))
        ws.append(safe_row(t.headers))
        for row in t.rows:
            ws.append(safe_row(row))
        for note in getattr(t, "notes", []):
            ws.append(safe_row([note]))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out
