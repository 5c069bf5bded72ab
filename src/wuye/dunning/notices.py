"""Printed collection documents: 缴费通知单 and 催缴通知书 (1st/2nd/3rd), registered-letter notices — one A4
page per unit, batched into one PDF per building — and the EMS mailing list (Excel) for the unreachable.

Each page: title, addressee, the demand text of the action (our own wording, editable per template), the
open lines by fee item and period, the late fee to date with how it was computed and the figure a court is
likely to uphold, the total in Chinese capitals, how to pay with a space for the payment QR code, the
company's seal place, and a detachable receipt stub (签收回执: who signed, relation, date) — the stub is
the evidence that the demand reached the owner.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

from wuye.banking.parsing import payment_reference
from wuye.billing.documents import FONT, _register_font, _styles, _table
from wuye.billing.selectors import statement_for_unit, statements_for_units
from wuye.common.formatting import format_yuan, rmb_upper
from wuye.dunning.dispatch import pay_links
from wuye.dunning.models import Action, CollectionSettings
from wuye.estate.selectors import liable_parties_of, liable_party


def _arrears(statement) -> tuple[list, list[str], int]:
    """The open principal lines of a statement (charged late-fee lines left out), the explanation of each
    accrued late fee, and the open principal in fen."""
    lines = [line for line in statement.lines if line.open_fen > 0 and line.bill.late_fee_of_id is None]
    notes = [f"{line.bill.period_start:%Y-%m} {line.bill.fee_item.name}：{line.late_fee.explanation}"
             for line in lines if line.late_fee and line.late_fee.amount_fen]
    return lines, notes, sum(line.open_fen for line in lines)


def _page(action: Action, as_of: dt.date, styles, settings_row: CollectionSettings | None, statement,
          party, link: str = "") -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    unit = action.unit
    company = (settings_row.company_name if settings_row and settings_row.company_name else unit.project.name)
    title = (action.step.template.subject if action.step.template_id and action.step.template.subject
             else action.step.name)
    story = [Paragraph(title, styles["title"]),
             Paragraph(f"{unit.project.name} {unit.code} · 通知日期 {as_of:%Y年%m月%d日}", styles["sub"]),
             Paragraph(f"致：{party.name if party else '业主'}（{unit.project.name}{unit.code}）", styles["body"]),
             Spacer(1, 3 * mm),
             Paragraph((action.content or action.step.name).replace("\n", "<br/>"), styles["body"]),
             Spacer(1, 4 * mm)]
    rows = [["账期", "收费项目", "应收", "已缴/减免", "未缴", "违约金（至今）"]]
    open_lines, notes, principal = _arrears(statement)
    for line in open_lines:
        rows.append([f"{line.bill.period_start:%Y-%m}", line.bill.fee_item.name, format_yuan(line.bill.amount_fen),
                     format_yuan(line.paid_fen + line.adjusted_fen), format_yuan(line.open_fen),
                     format_yuan(line.late_fee.amount_fen if line.late_fee else 0)])
    late = statement.late_fee_fen
    rows.append(["合计", "", "", "", format_yuan(principal), format_yuan(late)])
    story.append(_table(rows, [22 * mm, 34 * mm, 26 * mm, 26 * mm, 26 * mm, 30 * mm], align_right=(2, 3, 4, 5)))
    story.append(Spacer(1, 2 * mm))
    total = principal + late
    story.append(Paragraph(f"应缴合计：{format_yuan(total)}（人民币{rmb_upper(total)}），其中违约金 {format_yuan(late)}；"
                           f"法院通常支持的违约金约 {format_yuan(statement.court_late_fee_fen)}。", styles["body"]))
    if action.deadline:
        story.append(Paragraph(f"请于 {action.deadline:%Y年%m月%d日} 前缴纳。", styles["body"]))
    for note in notes[:6]:
        story.append(Paragraph("违约金计算：" + note, styles["small"]))
    phone = settings_row.service_phone if settings_row else ""
    story += [Spacer(1, 3 * mm),
              Paragraph(f"缴费方式：物业服务中心现场缴费（现金、刷卡）、银行转账（附言请填写缴费编号 "
                        f"{payment_reference(unit)} 或房号 {unit.code}）"
                        + ("、微信或支付宝扫描右侧二维码在线缴费" if link else "") + "。"
                        + (f"咨询电话 {phone}。" if phone else ""), styles["body"]),
              _qr_box(link),
              Paragraph(f"{company}（盖章）", styles["body"]),
              Spacer(1, 8 * mm),
              Paragraph("- - - - - - - - - - - - - - - 沿此线剪下，签收后交回物业服务中心 - - - - - - - - - - - - - - -",
                        styles["small"]),
              Paragraph(f"签收回执　{title}　{unit.project.name}{unit.code}　编号 {action.out_id}", styles["body"]),
              Paragraph("签收人：____________　与业主关系：本人 / 家庭成员 / 受托人 / 其他 ______　签收日期：______年____月____日",
                        styles["body"]),
              PageBreak()]
    return story


def _qr_box(link: str):
    """The QR code of the unit's pay link at the right margin, with the link written under it; without a
    link (none configured, or the day's link was revoked) a framed blank square."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Flowable

    from wuye.portal.qr import qr_draw

    class Box(Flowable):
        def wrap(self, *args):
            return (0, 32 * mm)

        def draw(self):
            c = self.canv
            if not link:
                c.setDash(2, 2)
                c.rect(140 * mm, 4 * mm, 26 * mm, 26 * mm)
                c.setFont(FONT, 7)
                c.drawCentredString(153 * mm, 16 * mm, "缴费二维码")
                return
            qr_draw(c, link, 139 * mm, 3 * mm, 28 * mm)
            c.setFont(FONT, 6)
            c.drawCentredString(153 * mm, 0.5 * mm, link)

    return Box()


def notices_pdf(actions: Iterable[Action], *, as_of: dt.date) -> bytes:
    """One page per action (a notice or registered-letter step), in the order given."""
    _register_font()
    styles = _styles()
    settings_rows: dict[int, CollectionSettings | None] = {}
    story: list = []
    actions = list(actions)
    unit_ids = list({a.unit_id: None for a in actions})
    links = pay_links(unit_ids, as_of, "job:notices")
    statements = statements_for_units({a.unit_id: a.unit for a in actions}.values(), as_of=as_of, payments=False)
    parties = liable_parties_of(unit_ids, as_of)
    settings_rows.update((row.project_id, row) for row in CollectionSettings.objects.filter(
        project_id__in={a.project_id for a in actions}))
    for action in actions:
        story += _page(action, as_of, styles, settings_rows.get(action.project_id), statements[action.unit_id],
                       parties.get(action.unit_id), links.get(action.unit_id, ""))
    if not story:
        return b""
    buf, doc = _doc("催缴通知")
    doc.build(story[:-1])  # no blank page after the last notice
    return buf.getvalue()


def ems_list_xlsx(actions: Iterable[Action], *, as_of: dt.date) -> io.BytesIO:
    """The mailing list for registered letters / EMS: addressee, address, unit, amount, tracking no. column."""
    from openpyxl import Workbook

    from wuye.common.tabular import safe_row

    wb = Workbook()
    ws = wb.active
    ws.title = "EMS寄送清单"
    ws.append(["序号", "项目", "房号", "收件人", "邮寄地址", "欠费金额（元）", "文书", "外部流水号", "邮件单号", "寄出日期"])
    actions = list(actions)
    parties = liable_parties_of(list({a.unit_id for a in actions}), as_of)
    for n, a in enumerate(actions, start=1):
        party = parties.get(a.unit_id)
        ws.append(safe_row([n, a.unit.project.name, a.unit.code, party.name if party else "", a.address,
                            round(a.overdue_fen / 100, 2), a.step.name, a.out_id, "", ""]))
    for col, width in zip("ABCDEFGHIJ", (6, 16, 12, 14, 40, 14, 18, 34, 16, 12), strict=True):
        ws.column_dimensions[col].width = width
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def _doc(title: str):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=14 * mm, title=title, author="wuye")
    return buf, doc


def referral_draft_pdf(action: Action, *, as_of: dt.date) -> bytes:
    """欠费案件转介材料（草稿）for the law firm, from a lawyer-letter referral step.

    It is the company's summary of the case — who owes what for which periods, the late fee with its
    calculation beside the figure a court is likely to uphold, every demand already made with its delivery
    status, holds and disputes — for the firm to review. It is never a lawyer's letter: it carries no lawyer's
    or firm's name and says so; a letter in a firm's name is the firm's own document."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from wuye.dunning.choices import ActionStatus
    from wuye.dunning.models import Hold

    _register_font()
    styles = _styles()
    unit = action.unit
    project = unit.project
    settings_row = CollectionSettings.objects.filter(project_id=project.pk).first()
    company = settings_row.company_name if settings_row and settings_row.company_name else project.name
    party = liable_party(unit, as_of)
    statement = statement_for_unit(unit, as_of=as_of)
    story = [Paragraph("欠费案件转介材料（草稿）", styles["title"]),
             Paragraph(f"{company} · 整理日期 {as_of:%Y年%m月%d日} · 编号 {action.out_id}", styles["sub"]),
             Paragraph("致：____________律师事务所（由委托方填写）", styles["body"]),
             Paragraph(f"委托方：{company}　　项目：{project.name}　　房屋：{unit.code}"
                       + (f"（建筑面积 {unit.area} 平方米）" if getattr(unit, "area", None) else ""), styles["body"]),
             Paragraph(f"欠费业主：{party.name if party else '（未登记业主，待核实）'}", styles["body"]),
             Spacer(1, 3 * mm), Paragraph("一、欠费明细", styles["body"])]
    rows = [["账期", "收费项目", "缴费截止日", "应收", "未缴", "违约金（至今）"]]
    open_lines, notes, principal = _arrears(statement)
    for line in open_lines:
        rows.append([f"{line.bill.period_start:%Y-%m}", line.bill.fee_item.name, f"{line.bill.due_date:%Y-%m-%d}",
                     format_yuan(line.bill.amount_fen), format_yuan(line.open_fen),
                     format_yuan(line.late_fee.amount_fen if line.late_fee else 0)])
    late = statement.late_fee_fen
    rows.append(["合计", "", "", "", format_yuan(principal), format_yuan(late)])
    story.append(_table(rows, [20 * mm, 32 * mm, 26 * mm, 26 * mm, 26 * mm, 32 * mm], align_right=(3, 4, 5)))
    story += [Spacer(1, 2 * mm),
              Paragraph(f"欠费本金 {format_yuan(principal)}（人民币{rmb_upper(principal)}）；按合同约定计算的违约金 "
                        f"{format_yuan(late)}，按一年期贷款市场报价利率上浮计算、法院通常支持的约 "
                        f"{format_yuan(statement.court_late_fee_fen)}。", styles["body"])]
    for note in notes[:8]:
        story.append(Paragraph("违约金计算：" + note, styles["small"]))
    story += [Spacer(1, 3 * mm), Paragraph("二、已进行的催缴（时效中断的依据）", styles["body"])]
    demands = (Action.objects.filter(unit=unit, status__in=[ActionStatus.SENT, ActionStatus.DELIVERED])
               .select_related("step").order_by("sent_at", "pk"))
    rows = [["日期", "方式", "内容", "状态", "送达时间"]]
    for a in demands:
        rows.append([f"{a.sent_at:%Y-%m-%d}" if a.sent_at else "", a.get_channel_display(), a.step.name[:16],
                     a.get_status_display(), f"{a.delivered_at:%Y-%m-%d}" if a.delivered_at else "—"])
    if len(rows) == 1:
        rows.append(["—", "", "尚无已发出的催缴记录", "", ""])
    story.append(_table(rows, [24 * mm, 30 * mm, 56 * mm, 24 * mm, 28 * mm]))
    holds = list(Hold.objects.filter(unit=unit).order_by("starts_on"))
    if holds:
        story += [Spacer(1, 3 * mm), Paragraph("三、争议、承诺与暂停", styles["body"])]
        for h in holds:
            story.append(Paragraph(
                f"{h.starts_on:%Y-%m-%d} {h.get_kind_display()}：{h.reason}"
                + (f"（至 {h.until:%Y-%m-%d}）" if h.until else "")
                + (f"；{h.released_on:%Y-%m-%d} 解除：{h.release_note}" if h.released_on else "；尚未解除"),
                styles["small"]))
    story += [Spacer(1, 6 * mm),
              Paragraph("说明：本材料由物业服务企业整理，供律师事务所审查是否接受委托及如何处理，不是律师函。"
                        "以律师事务所名义发出的任何文书，须由该所律师审核后自行出具。附件（合同、账单、送达凭证）"
                        "以原件或系统导出为准。", styles["small"]),
              Spacer(1, 6 * mm), Paragraph(f"{company}（盖章）　　经办人：__________　　日期：______年____月____日",
                                           styles["body"])]
    buf, doc = _doc("欠费案件转介材料（草稿）")
    doc.build(story)
    return buf.getvalue()


def poster_pdf(project, *, as_of: dt.date, period_label: str, deadline: dt.date | None) -> bytes:
    """The notice-board poster (缴费温馨提示): a general reminder to everyone in the estate — when and how to
    pay, whom to ask. By design it names no one and lists no unit: publishing debtors is not allowed."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    _register_font()
    styles = _styles()
    settings_row = CollectionSettings.objects.filter(project_id=project.pk).first()
    company = settings_row.company_name if settings_row and settings_row.company_name else project.name
    phone = settings_row.service_phone if settings_row else ""
    big = styles["title"].clone("poster", fontSize=26, leading=34)
    text = styles["body"].clone("poster-body", fontSize=14, leading=22)
    story = [Spacer(1, 18 * mm), Paragraph("缴费温馨提示", big), Spacer(1, 10 * mm),
             Paragraph("尊敬的各位业主、住户：", text), Spacer(1, 3 * mm),
             Paragraph(f"{project.name}{period_label}的物业服务费等费用已经出账。"
                       + (f"请在 {deadline:%Y年%m月%d日} 前缴纳，" if deadline else "请按时缴纳，")
                       + "按时缴费可以避免产生违约金。已经缴纳的业主，感谢您对我们工作的支持。", text),
             Spacer(1, 4 * mm),
             Paragraph("缴费方式：物业服务中心现场缴费（现金、刷卡）；银行转账（请在附言中注明房号）；"
                       "通过短信或微信中的缴费链接在线缴费。", text),
             Spacer(1, 4 * mm),
             Paragraph("对账单或服务有疑问、暂时有困难需要分期的，欢迎到物业服务中心或来电沟通，我们会认真处理。"
                       + (f"服务电话：{phone}。" if phone else ""), text),
             Spacer(1, 16 * mm), Paragraph(f"{company}", text), Paragraph(f"{as_of:%Y年%m月%d日}", text)]
    buf, doc = _doc("缴费温馨提示")
    doc.build(story)
    return buf.getvalue()
