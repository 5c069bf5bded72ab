"""Printable documents of billing: receipts and statements as A4 PDF (reportlab, embedded CJK font), and
statements as Excel. The font ships with the package, so output is the same on any machine."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from wuye.billing.models import Payment
from wuye.billing.selectors import Statement
from wuye.common.formatting import format_yuan, rmb_upper

FONT_FILE = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttc"
FONT = "WQYMicroHei"


@cache
def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))
    return FONT


def _styles():
    from reportlab.lib.styles import ParagraphStyle

    font = _register_font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24, alignment=1, spaceAfter=4),
        "sub": ParagraphStyle("sub", fontName=font, fontSize=10.5, leading=14, alignment=1, spaceAfter=10),
        "body": ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13),
        "small": ParagraphStyle("small", fontName=font, fontSize=8, leading=10.5),
    }


def _table(rows, widths, *, header=True, align_right=()):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), _register_font()),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#555555")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")))
    for col in align_right:
        style.append(("ALIGN", (col, 0), (col, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    return table


def _seal_and_footer(canvas, doc) -> None:
    """A dashed circle where the company seal goes, and the page number."""
    from reportlab.lib.units import mm

    canvas.saveState()
    canvas.setDash(2, 2)
    canvas.setStrokeColorRGB(0.6, 0.6, 0.6)
    canvas.circle(doc.pagesize[0] - 45 * mm, 45 * mm, 19 * mm)
    canvas.setFont(FONT, 8)
    canvas.setFillColorRGB(0.6, 0.6, 0.6)
    canvas.drawCentredString(doc.pagesize[0] - 45 * mm, 44 * mm, "（盖章处）")
    canvas.drawCentredString(doc.pagesize[0] / 2, 10 * mm, f"第 {doc.page} 页")
    canvas.restoreState()


def _build(story) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=20 * mm, title="物业收缴", author=settings.COMPANY_NAME)
    doc.build(story, onFirstPage=_seal_and_footer, onLaterPages=_seal_and_footer)
    return out.getvalue()


def fees_charged(payment: Payment) -> list:
    """The 违约金 lines this payment charged when it settled overdue principal (receipts list them)."""
    return list(payment.late_fees_charged.order_by("period_start", "id"))


def receipt_pdf(payment: Payment) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    s = _styles()
    when = timezone.localtime(payment.paid_at)
    allocations = list(payment.allocations.select_related("bill", "bill__fee_item").order_by("bill__period_start"))
    applied = sum(a.amount_fen for a in allocations)
    head = [
        ["收据号", payment.receipt_no or "—", "日期", f"{when:%Y年%m月%d日}"],
        ["房屋", f"{payment.project.name} {payment.unit.code}", "付款人", payment.payer_name or "—"],
        ["金额", format_yuan(payment.amount_fen), "方式", payment.get_method_display()],
        ["大写", rmb_upper(payment.amount_fen), "凭证号", payment.reference or "—"],
    ]
    lines = [["账期", "收费项目", "冲抵金额"]]
    lines += [[f"{a.bill.period_start:%Y-%m}", a.bill.fee_item.name, format_yuan(a.amount_fen)] for a in allocations]
    if payment.amount_fen > applied:
        lines.append(["", "转入预存", format_yuan(payment.amount_fen - applied)])
    fees = fees_charged(payment)
    fee_rows = [["账期", "本次结清逾期本金时计收的违约金", "违约金"]]
    fee_rows += [[f"{b.period_start:%Y-%m}", Paragraph(b.rule + ("（已随冲正作废）" if b.is_void else ""), s["body"]),
                  format_yuan(b.amount_fen)] for b in fees]
    story = [
        Paragraph("收 款 收 据", s["title"]),
        Paragraph(settings.COMPANY_NAME, s["sub"]),
        _table(head, [22 * mm, 70 * mm, 22 * mm, 60 * mm], header=False),
        Spacer(1, 6 * mm),
        _table(lines, [40 * mm, 84 * mm, 50 * mm], align_right=(2,)),
        *([Spacer(1, 4 * mm), _table(fee_rows, [24 * mm, 120 * mm, 30 * mm], align_right=(2,))] if fees else []),
        Spacer(1, 12 * mm),
        Paragraph(f"收款人：{payment.created_by or payment.actor_label}　　　　交款人签字：＿＿＿＿＿＿", s["body"]),
    ]
    return _build(story)


def statement_for_party(statement: Statement, party_id: int | None) -> Statement:
    """The part of a unit's statement that is one party's: their lines only (after a sale the seller's periods
    and the buyer's are two accounts, and neither sees the other's). The prepaid balance and the payments are
    the unit's, so they stay only when every line is that party's."""
    if party_id is None:
        return statement
    lines = [x for x in statement.lines if x.bill.party_id == party_id]
    whole = len(lines) == len(statement.lines)
    return Statement(statement.unit_id, statement.as_of, lines, statement.payments if whole else [],
                     statement.prepaid_fen if whole else 0)


def statement_pdf(unit, statement: Statement, *, party_id: int | None = None) -> bytes:
    """对账单 of one debtor of a unit (``party_id``; default: the party liable on the statement date). Its lines
    are the party's, with a 合计 row; the summary's 已到期应缴 and its parts come from the one function every
    demand uses (``billing.figures``), so the statement and the notices agree to the fen."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from wuye.billing.figures import demand_figures
    from wuye.estate.models import Party
    from wuye.estate.selectors import liable_party_ids

    s = _styles()
    parties = {x.bill.party_id for x in statement.lines}
    if party_id is None:
        party_id = (next(iter(parties)) if len(parties) == 1
                    else liable_party_ids([unit.pk], statement.as_of).get(unit.pk))
    statement = statement_for_party(statement, party_id)
    party = Party.objects.filter(pk=party_id).first() if party_id else None
    fig = demand_figures(unit.pk, party_id, statement.as_of)
    owner = party.name if party else (getattr(unit, "owner_name", None)
                                      or (unit.project.developer.name if unit.project.developer else ""))
    upcoming = sum(x.open_fen for x in statement.principal_lines if x.bill.due_date >= statement.as_of)
    block = statement.late_fee_block
    fees = fig.clause or bool(block.charged)
    summary = [
        ["房屋", f"{unit.project.name} {unit.code}（{unit.area} m²）", "截至", f"{statement.as_of:%Y年%m月%d日}"],
        ["缴费责任人", owner or "—", "预存余额", format_yuan(statement.prepaid_fen)],
        ["已到期应缴", format_yuan(fig.total_fen), "大写", fig.total_upper],
        ["其中欠费本金", format_yuan(fig.principal_fen), "已计收未缴违约金" if fees else "",
         format_yuan(fig.late_fee_charged_fen) if fees else ""],
        ["未到期", format_yuan(upcoming), "未缴合计", format_yuan(statement.open_fen)],
    ]
    if fig.clause:
        summary.append(["未计收违约金", format_yuan(fig.late_fee_accruing_fen), "法院通常支持",
                        format_yuan(fig.court_fen)])
    rows = [["账期", "项目", "截止日", "应收", "已缴", "减免", "未缴"] + (["违约金"] if fees else [])]
    shown = [x for x in statement.principal_lines if not x.bill.is_void]  # 违约金 lines: in the block below
    for line in shown:
        fee = line.late_fee.amount_fen if line.late_fee else 0
        rows.append([f"{line.bill.period_start:%Y-%m}", line.bill.fee_item.name, f"{line.bill.due_date:%Y-%m-%d}",
                     format_yuan(line.bill.amount_fen), format_yuan(line.paid_fen), format_yuan(line.adjusted_fen),
                     format_yuan(line.open_fen)] + ([format_yuan(fee)] if fees else []))
    rows.append(["合计", "", "", format_yuan(sum(x.bill.amount_fen for x in shown)),
                 format_yuan(sum(x.paid_fen for x in shown)), format_yuan(sum(x.adjusted_fen for x in shown)),
                 format_yuan(sum(x.open_fen for x in shown))]
                + ([format_yuan(sum(x.late_fee.amount_fen for x in shown if x.late_fee))] if fees else []))
    notes = [f"{line.bill.period_start:%Y-%m} {line.bill.fee_item.name}：{line.late_fee.explanation}"
             for line in block.details]
    notes += [f"{line.bill.period_start:%Y-%m} 已计收 {format_yuan(line.bill.amount_fen)}（{line.bill.due_date:%Y-%m-%d}，"
              f"未缴 {format_yuan(line.open_fen)}）：{line.bill.rule}" for line in block.charged if not line.bill.is_void]
    fee_block = [["违约金", "按合同计至对账日", "已计收（未缴）", "尚未计收", "法院通常支持"],
                 ["合计", format_yuan(block.accrued_fen),
                  f"{format_yuan(block.charged_fen)}（{format_yuan(block.charged_open_fen)}）",
                  format_yuan(block.uncharged_fen), format_yuan(block.court_fen)]]
    widths = [17, 24, 22, 23, 23, 19, 23] + ([23] if fees else [])
    story = [
        Paragraph("物业服务费对账单", s["title"]),
        Paragraph(settings.COMPANY_NAME, s["sub"]),
        _table(summary, [34 * mm, 58 * mm, 30 * mm, 52 * mm], header=False),
        Spacer(1, 5 * mm),
        _table(rows, [w * mm for w in widths], align_right=tuple(range(3, len(widths)))),
        Spacer(1, 4 * mm),
    ]
    if fees and block:
        story += [_table(fee_block, [20 * mm, 40 * mm, 42 * mm, 34 * mm, 38 * mm], align_right=(1, 2, 3, 4)),
                  Spacer(1, 2 * mm), Paragraph("违约金计算（逐期）：", s["body"])]
        story += [Paragraph(n, s["small"]) for n in notes]
    story += [Spacer(1, 6 * mm), Paragraph(
        "如对本对账单有疑问，请在收到后七日内与物业服务中心联系。付款时请注明房号。", s["body"])]
    return _build(story)


def statement_xlsx(unit, statement: Statement) -> io.BytesIO:
    import openpyxl
    from openpyxl.styles import Font

    from wuye.common.tabular import safe_row

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "对账单"
    ws.append(safe_row([f"{unit.project.name} {unit.code} 对账单", f"截至 {statement.as_of:%Y-%m-%d}"]))
    ws.append([])
    ws.append(["账期起", "账期止", "收费项目", "截止日", "应收(元)", "已缴(元)", "减免(元)", "未缴(元)", "违约金(元)",
               "法院通常支持(元)", "计费依据", "违约金计算", "状态"])
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for line in statement.lines:
        b = line.bill
        fee = line.late_fee
        ws.append(safe_row([b.period_start, b.period_end, b.fee_item.name, b.due_date, _yuan(b.amount_fen),
                            _yuan(line.paid_fen), _yuan(line.adjusted_fen), _yuan(line.open_fen),
                            _yuan(fee.amount_fen) if fee else None, _yuan(fee.court_fen) if fee else None, b.rule,
                            fee.explanation if fee else "", "已作废" if b.is_void else ""]))
    for row in ws.iter_rows(min_row=4, min_col=5, max_col=10):
        for cell in row:
            cell.number_format = "#,##0.00"
    for row in ws.iter_rows(min_row=4, max_col=4):
        for cell in row:
            if cell.column in (1, 2, 4):
                cell.number_format = "yyyy-mm-dd"
    ws.append([])
    ws.append(safe_row(["预存余额(元)", _yuan(statement.prepaid_fen), "", "未缴合计(元)", _yuan(statement.open_fen)]))
    pay = wb.create_sheet("收款记录")
    pay.append(["收款时间", "方式", "金额(元)", "收据号", "凭证号", "备注"])
    for p in statement.payments:
        pay.append(safe_row([timezone.localtime(p.paid_at).replace(tzinfo=None), p.get_method_display(),
                             _yuan(p.amount_fen), p.receipt_no, p.reference, p.note]))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def _yuan(fen: int):
    """Excel cell value in yuan: an exact Decimal, shown with two places."""
    from wuye.common.formatting import fen_to_yuan

    return fen_to_yuan(fen)
