"""The debit file we hand to the bank (代扣文件), as CSV (GBK, as bank upload tools expect) or .xlsx, and a
result-file template. One row per debit line; 代扣参考号 is our line's reference and comes back in the
bank's result file (回盘)."""

from __future__ import annotations

import io

from wuye.banking.models import DebitBatch
from wuye.banking.services import RESULT_COLUMNS
from wuye.common.formatting import fen_to_yuan
from wuye.common.tabular import csv_writer, safe_row

DEBIT_HEADER = ["序号", "代扣参考号", "扣款账号", "扣款户名", "扣款银行", "金额", "币种", "用途"]
RESULT_HEADER = [RESULT_COLUMNS[k] for k in ("reference", "account_no", "amount", "result", "code", "text", "date")]


def _rows(batch: DebitBatch):
    for n, line in enumerate(batch.lines.select_related("mandate", "unit").order_by("id"), start=1):
        yield [n, line.reference, line.mandate.account_no, line.mandate.payer_name, line.mandate.bank,
               f"{fen_to_yuan(line.amount_fen)}", "CNY", f"物业费 {line.unit.code}"]


def debit_csv(batch: DebitBatch) -> bytes:
    out = io.StringIO()
    w = csv_writer(out)
    w.writerow(DEBIT_HEADER)
    for row in _rows(batch):
        w.writerow(row)
    return out.getvalue().encode("gb18030")


def debit_xlsx(batch: DebitBatch) -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "代扣明细"
    ws.append(safe_row(DEBIT_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in _rows(batch):
        ws.append(safe_row(row))
    for letter, width in zip("ABCDEFGH", (6, 18, 24, 12, 16, 12, 6, 20), strict=True):
        ws.column_dimensions[letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
