"""Printable documents of billing: receipts and statements as A4 PDF (reportlab, embedded CJK font), and
statements as Excel. The font ships with the package, so output is the same on any machine."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from wuye.billing.models import Payment
from wuye.billing.selectors import Statement
from wuye.common.formatting import format_yuan, rmb_upper


def _text(value: str, style):
    """A paragraph of plain text: names, rules and references escaped (reportlab reads a paragraph as
    markup, so a "<" in a payer's name stopped the receipt), line breaks kept."""
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(value)).replace("\n", "<br/>"), style)

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


def _month_index(day) -> int:
    return day.year * 12 + day.month - 1


def period_text(first, last) -> str:
    """2025-01 … 2025-06 → 「2025-01～06」; across a year 「2025-11～2026-02」; one month 「2025-03」."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first:%Y-%m}"
    if first.year == last.year:
        return f"{first:%Y-%m}～{last:%m}"
    return f"{first:%Y-%m}～{last:%Y-%m}"


@dataclass
class ReceiptLine:
    """A run of consecutive periods of one fee item that a payment paid, summed (收据上的一行)."""

    item: str
    first: object
    last: object
    amount_fen: int
    months: int

    @property
    def periods(self) -> str:
        return period_text(self.first, self.last)


def receipt_lines(allocations) -> list[ReceiptLine]:
    """The payment's allocations as period ranges per fee item: six monthly lines of 物业服务费 paid together
    read 「2025-01～06 物业服务费」, not six rows (nor only the first month). A gap starts a new line."""
    by_item: dict[str, list] = {}
    for a in sorted(allocations, key=lambda a: (a.bill.fee_item.name, a.bill.period_start)):
        by_item.setdefault(a.bill.fee_item.name, []).append(a)
    out: list[ReceiptLine] = []
    for item, allocs in by_item.items():
        for a in allocs:
            start, end = a.bill.period_start, a.bill.period_end or a.bill.period_start
            last = out[-1] if out and out[-1].item == item else None
            if last is not None and _month_index(start) <= _month_index(last.last) + 1:
                if _month_index(end) > _month_index(last.last):  # the next period (or another line of it)
                    last.months += _month_index(end) - _month_index(last.last)
                    last.last = end
                last.amount_fen += a.amount_fen
            else:
                out.append(ReceiptLine(item=item, first=start, last=end, amount_fen=a.amount_fen,
                                       months=_month_index(end) - _month_index(start) + 1))
    return sorted(out, key=lambda r: (r.first, r.item))


def fees_charged(payment: Payment) -> list:
    """The 违约金 lines this payment charged when it settled overdue principal (receipts list them)."""
    return list(payment.late_fees_charged.order_by("period_start", "id"))


def receipt_pdf(payment: Payment, *, size: str = "a4") -> bytes:
    """The receipt as an A4 page, or (``size="80mm"``) as a strip for an 80 mm thermal printer."""
    if size == "80mm":
        return receipt_pdf_80mm(payment)
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

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
    if payment.tendered_fen is not None:
        head.append(["收到现金", format_yuan(payment.tendered_fen), "找零", format_yuan(payment.change_fen)])
    lines = [["账期", "收费项目", "冲抵金额"]]
    lines += [[r.periods, r.item, format_yuan(r.amount_fen)] for r in receipt_lines(allocations)]
    if payment.amount_fen > applied:
        lines.append(["", "转入预存", format_yuan(payment.amount_fen - applied)])
    fees = fees_charged(payment)
    fee_rows = [["账期", "本次结清逾期本金时计收的违约金", "违约金"]]
    fee_rows += [[f"{b.period_start:%Y-%m}", _text(b.rule + ("（已随冲正作废）" if b.is_void else ""), s["body"]),
                  format_yuan(b.amount_fen)] for b in fees]
    story = [
        _text("收 款 收 据", s["title"]),
        _text(settings.COMPANY_NAME, s["sub"]),
        _table(head, [22 * mm, 70 * mm, 22 * mm, 60 * mm], header=False),
        Spacer(1, 6 * mm),
        _table(lines, [40 * mm, 84 * mm, 50 * mm], align_right=(2,)),
        *([Spacer(1, 4 * mm), _table(fee_rows, [24 * mm, 120 * mm, 30 * mm], align_right=(2,))] if fees else []),
        Spacer(1, 12 * mm),
        _text(f"收款人：{_cashier(payment)}　　　　交款人签字：＿＿＿＿＿＿", s["body"]),
    ]
    return _build(story)


def _cashier(payment: Payment) -> str:
    from wuye.common.labels import actor_label

    return str(payment.created_by) if payment.created_by else actor_label(payment.actor_label)


def receipt_pdf_80mm(payment: Payment) -> bytes:
    """An 80 mm thermal receipt (72 mm printable): one column, large total, period ranges, change for cash.
    The page is as long as its content (thermal paper is a roll)."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font()
    base = ParagraphStyle("t", fontName=font, fontSize=8.5, leading=11)
    center = ParagraphStyle("c", parent=base, alignment=1)
    big = ParagraphStyle("b", parent=base, fontSize=13, leading=17, alignment=1)
    when = timezone.localtime(payment.paid_at)
    allocations = list(payment.allocations.select_related("bill", "bill__fee_item"))
    lines = receipt_lines(allocations)
    applied = sum(a.amount_fen for a in allocations)
    rows = [[r.periods, r.item, format_yuan(r.amount_fen)] for r in lines]
    if payment.amount_fen > applied:
        rows.append(["", "转入预存", format_yuan(payment.amount_fen - applied)])
    for fee in fees_charged(payment):
        rows.append([f"{fee.period_start:%Y-%m}", "违约金" + ("（已作废）" if fee.is_void else ""),
                     format_yuan(fee.amount_fen)])
    table = Table(rows or [["", "—", ""]], colWidths=[26 * mm, 21 * mm, 19 * mm])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                               ("ALIGN", (2, 0), (2, -1), "RIGHT"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("LINEBELOW", (0, -1), (-1, -1), 0.5, (0, 0, 0))]))
    rule = _text("-" * 40, center)
    story = [
        _text("收 款 收 据", big), _text(settings.COMPANY_NAME, center), rule,
        _text(f"收据号：{payment.receipt_no or '—'}", base),
        _text(f"时间：{when:%Y-%m-%d %H:%M}", base),
        _text(f"房屋：{payment.project.name} {payment.unit.code}", base),
        _text(f"付款人：{payment.payer_name or '—'}", base), rule, table, Spacer(1, 2 * mm),
        _text(f"合计 {format_yuan(payment.amount_fen)}", big),
        _text(f"大写：{rmb_upper(payment.amount_fen)}", base),
        _text(f"方式：{payment.get_method_display()}" + (f"　凭证号 {payment.reference}" if payment.reference else ""),
                  base),
    ]
    if payment.tendered_fen is not None:
        story.append(_text(f"收到现金：{format_yuan(payment.tendered_fen)}　找零：{format_yuan(payment.change_fen)}",
                               base))
    story += [rule, _text(f"收款人：{_cashier(payment)}", base), Spacer(1, 6 * mm),
              _text("交款人签字：＿＿＿＿＿＿", base), Spacer(1, 3 * mm),
              _text("请妥善保管本收据。", center)]
    height = (95 + 5 * len(rows) + (5 if payment.tendered_fen is not None else 0)) * mm
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=(80 * mm, height), leftMargin=4 * mm, rightMargin=4 * mm,
                            topMargin=4 * mm, bottomMargin=4 * mm, title="收据", author=settings.COMPANY_NAME)
    doc.build(story)
    return out.getvalue()


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
    from reportlab.platypus import Spacer

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
        _text("物业服务费对账单", s["title"]),
        _text(settings.COMPANY_NAME, s["sub"]),
        _table(summary, [34 * mm, 58 * mm, 30 * mm, 52 * mm], header=False),
        Spacer(1, 5 * mm),
        _table(rows, [w * mm for w in widths], align_right=tuple(range(3, len(widths)))),
        Spacer(1, 4 * mm),
    ]
    if fees and block:
        story += [_table(fee_block, [20 * mm, 40 * mm, 42 * mm, 34 * mm, 38 * mm], align_right=(1, 2, 3, 4)),
                  Spacer(1, 2 * mm), _text("违约金计算（逐期）：", s["body"])]
        story += [_text(n, s["small"]) for n in notes]
    story += [Spacer(1, 6 * mm), _text(
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
