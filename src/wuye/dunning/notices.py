"""Printed collection documents: 缴费通知单 and 催缴通知书 (1st/2nd/3rd), registered-letter notices — one A4
page per unit, batched into one PDF per building — and the EMS mailing list (Excel) for the unreachable.

Each page: title, addressee (the debtor), the demand text of the action (our own wording, editable per
template, rendered on the print day), the debtor's matured unpaid lines by fee item and period, the late fee
to date with how it was computed and the figure a court is likely to uphold (only where the contract has a
late-fee clause), 应缴合计 in Chinese capitals, how to pay with the payment QR code, the company's seal place,
and a detachable receipt stub (签收回执: who signed, relation, date) — the stub is the evidence that the
demand reached the owner. Every figure comes from ``billing.figures.demand_figures_many`` (decision 36); an
account settled by the print day gets no page (its demand is withdrawn with the reason).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from xml.sax.saxutils import escape

from wuye.banking.parsing import payment_reference
from wuye.billing.documents import FONT, _register_font, _styles, _table
from wuye.billing.figures import Figures, demand_figures_many
from wuye.billing.services import policy_for
from wuye.common.formatting import fen_to_yuan, format_yuan
from wuye.dunning import wording
from wuye.dunning.dispatch import pay_links, render
from wuye.dunning.models import Action, CollectionSettings
from wuye.estate.models import Party
from wuye.estate.selectors import designated_signers, liable_party_ids


def _para(text: str, style):
    """A paragraph of plain text. Names, addresses and a template's words are escaped — reportlab reads its
    text as markup, so a "<" in a company's name stopped a whole building's batch — and line breaks kept."""
    from reportlab.platypus import Paragraph

    return Paragraph(escape(text).replace("\n", "<br/>"), style)


class Settled(Exception):
    """The debtor has nothing matured unpaid on the document's date: no demand is made."""


def demand_keys(actions: list[Action], as_of: dt.date) -> dict[int, tuple[int, int | None]]:
    """action → its debtor account (unit, party): the action's party, else (rows written before accounts were
    per debtor) the party liable on ``as_of``."""
    missing = sorted({a.unit_id for a in actions if a.party_id is None})
    liable = liable_party_ids(missing, as_of) if missing else {}
    return {a.pk: (a.unit_id, a.party_id or liable.get(a.unit_id)) for a in actions}


def figures_for(actions: list[Action], as_of: dt.date) -> dict[int, Figures]:
    """action → the figures its document demands on ``as_of`` (``billing.figures``), restricted to the periods
    the action names (those the engine chose for a referral or a 时效保全 demand, else those matured when it was
    sent; none yet: every matured one)."""
    keys = demand_keys(actions, as_of)
    found = demand_figures_many(keys.values(), as_of)
    return {a.pk: found[keys[a.pk]].only(a.periods) for a in actions}


def demand_text(action: Action, fig: Figures, as_of: dt.date, settings_row: CollectionSettings | None,
                deadline: dt.date | None) -> str:
    """The demand's own words on the page, rendered on the day it is printed with that day's figures — the
    same renderer and placeholders as the dispatcher's, so the text and the table below it agree."""
    template = action.step.template if action.step.template_id else None
    if template is None:
        return action.step.name
    unit = action.unit
    context = {"company": (settings_row.company_name if settings_row and settings_row.company_name
                           else unit.project.name),
               "unit": f"{unit.project.name}{unit.code}", "deadline": wording.cn_date(deadline),
               "phone": settings_row.service_phone if settings_row else "", "today": wording.cn_date(as_of),
               "pay_link": ""}
    context.update(wording.figure_context(fig))
    return wording.finish(render(template.body, context).strip(), fig)


def figure_rows(fig: Figures, *, due: bool = True) -> tuple[list[list[str]], list[float]]:
    """The itemised table of a demand: one row per line, the 合计 row summing every money column; the 违约金
    columns only where the contract has a late-fee clause. Returns the rows and the column widths (mm)."""
    head = ["账期", "收费项目"] + (["缴费截止日"] if due else []) + ["应收", "已缴/减免", "未缴本金"]
    widths = [18, 26] + ([22] if due else []) + [22, 22, 22]
    if fig.clause:
        head += ["已计收未缴\n违约金", "未计收违约金\n（计至今日）"]
        widths += [22, 22]
    rows = [head]
    for x in fig.lines:
        row = [x.period_start.strftime("%Y-%m"), x.fee_item] + ([x.due_date.strftime("%Y-%m-%d")] if due else [])
        row += [format_yuan(x.amount_fen), format_yuan(x.settled_fen), format_yuan(x.principal_fen)]
        if fig.clause:
            row += [format_yuan(x.late_fee_charged_fen), format_yuan(x.late_fee_accruing_fen)]
        rows.append(row)
    total = ["合计", ""] + ([""] if due else []) + [format_yuan(sum(x.amount_fen for x in fig.lines)),
                                                    format_yuan(sum(x.settled_fen for x in fig.lines)),
                                                    format_yuan(fig.principal_fen)]
    if fig.clause:
        total += [format_yuan(fig.late_fee_charged_fen), format_yuan(fig.late_fee_accruing_fen)]
    rows.append(total)
    return rows, widths


def total_sentence(fig: Figures, as_of: dt.date, label: str = "应缴合计") -> str:
    """应缴合计 in figures and in capitals (``rmb_upper`` already says 人民币), with the 违约金 beside it where the
    contract has a clause — never a word of 违约金 where it has none."""
    text = f"{label}：{format_yuan(fig.total_fen)}（{fig.total_upper}）"
    if not fig.clause:
        return text + "。"
    text += f"，其中欠费本金 {format_yuan(fig.principal_fen)}"
    if fig.late_fee_charged_fen:
        text += f"、已计收未缴的违约金 {format_yuan(fig.late_fee_charged_fen)}"
    text += "。"
    if fig.late_fee_accruing_fen:
        text += (f"另按合同约定（每日 {fig.rate_text}）计至 {as_of:%Y年%m月%d日} 尚未计收的违约金 "
                 f"{format_yuan(fig.late_fee_accruing_fen)}，不含在应缴合计中。")
    if fig.court_fen:
        text += f"以上各期违约金，法院通常支持的约为 {format_yuan(fig.court_fen)}（按一年期贷款市场报价利率上浮计算）。"
    return text


def _notes(fig: Figures) -> list[str]:
    if not fig.clause:
        return []
    return [f"{x.period_start:%Y-%m} {x.fee_item}：{x.explanation}" for x in fig.lines
            if x.explanation and (x.late_fee_accruing_fen or x.late_fee_charged_fen)]


def addressee(party, signer: tuple[str, str] | None) -> str:
    """Whom a written demand is addressed to: the debtor, and for a tenant that named one, its designated
    signer 指定负责人 (seed 004: notices are handed to that person)."""
    name = party.name if party else "业主"
    return f"{name}　指定负责人：{signer[0]}" if signer else name


def _page(action: Action, as_of: dt.date, styles, settings_row: CollectionSettings | None, fig: Figures,
          party, deadline: dt.date | None, link: str = "", signer: tuple[str, str] | None = None) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Spacer

    unit = action.unit
    company = (settings_row.company_name if settings_row and settings_row.company_name else unit.project.name)
    title = wording.finish(action.step.template.subject if action.step.template_id and action.step.template.subject
                           else action.step.name, fig)
    text = demand_text(action, fig, as_of, settings_row, deadline)
    story = [_para(title, styles["title"]),
             _para(f"{unit.project.name} {unit.code} · 通知日期 {as_of:%Y年%m月%d日}", styles["sub"]),
             _para(f"致：{addressee(party, signer)}（{unit.project.name}{unit.code}）", styles["body"]),
             Spacer(1, 3 * mm),
             _para(text, styles["body"]),
             Spacer(1, 4 * mm)]
    rows, widths = figure_rows(fig)
    story.append(_table(rows, [w * mm for w in widths], align_right=tuple(range(3, len(widths)))))
    story.append(Spacer(1, 2 * mm))
    story.append(_para(total_sentence(fig, as_of), styles["body"]))
    if deadline:
        story.append(_para(f"请于 {deadline:%Y年%m月%d日} 前缴纳。", styles["body"]))
    for note in _notes(fig)[:6]:
        story.append(_para("违约金计算：" + note, styles["small"]))
    phone = settings_row.service_phone if settings_row else ""
    story += [Spacer(1, 3 * mm),
              _para(f"缴费方式：物业服务中心现场缴费（现金、刷卡）、银行转账（附言请填写缴费编号 "
                        f"{payment_reference(unit)} 或房号 {unit.code}）"
                        + ("、微信或支付宝扫描右侧二维码在线缴费" if link else "") + "。"
                        + (f"咨询电话 {phone}。" if phone else ""), styles["body"]),
              _qr_box(link),
              _para(f"{company}（盖章）", styles["body"]),
              Spacer(1, 8 * mm),
              _para("- - - - - - - - - - - - - - - 沿此线剪下，签收后交回物业服务中心 - - - - - - - - - - - - - - -",
                        styles["small"]),
              _para(f"签收回执　{title}　{unit.project.name}{unit.code}　编号 {action.out_id}", styles["body"]),
              _para("签收人：____________　与业主关系：本人 / 同住成年家属 / 受托人 / 单位指定人员　签收日期：______年____月____日"
                        if signer is None else
                        f"签收人：____________（应由指定负责人 {signer[0]} 签收；由单位前台或其他指定人员代收请注明身份 ______）"
                        "　签收日期：______年____月____日", styles["body"]),
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


def print_refusal(actions: list[Action]) -> None:
    """The law's limits once more at print time: a step without a template (its bare name would be the text) or
    whose name or template fails the guardrail prints nothing of the run — a ``ValidationError`` naming the step."""
    from django.core.exceptions import ValidationError

    from wuye.dunning.guardrails import check_text

    problems: list[str] = []
    for step in {a.step_id: a.step for a in actions}.values():
        template = step.template if step.template_id else None
        if template is None:
            problems.append(f"步骤「{step.name}」没有设置模板")
            continue
        found = check_text(step.name, channel=step.channel) + check_text(template.subject or "", channel=step.channel) \
            + check_text(template.body, channel=step.channel)
        if found:
            problems.append(f"步骤「{step.name}」（模板「{template.name}」）：" + "；".join(found))
    if problems:
        raise ValidationError({"step": "未打印：" + "；".join(problems)[:400] + "。请经理修改催缴策略或模板后再打印。"})


def notices_pdf(actions: Iterable[Action], *, as_of: dt.date, actor=None) -> bytes:
    """One page per action (a notice or registered-letter step), in the order given, with the figures of
    ``as_of`` — the day it is printed. An action whose debtor has nothing matured unpaid that day gets no page:
    it is withdrawn with the reason (``services.demands_withdraw_settled``). ``b""`` when no page is left."""
    from wuye.dunning import calendar as workcal
    from wuye.dunning.services import demands_withdraw_settled

    actions = list(actions)
    print_refusal(actions)  # before anything is written or withdrawn
    _register_font()
    styles = _styles()
    story: list = []
    figures = figures_for(actions, as_of)
    settled = [a for a in actions if not figures[a.pk].demandable]
    if settled:
        demands_withdraw_settled(actions=settled, actor=actor)
    actions = [a for a in actions if figures[a.pk].demandable]
    if not actions:
        return b""
    unit_ids = list({a.unit_id: None for a in actions})
    links = pay_links(unit_ids, as_of, "job:notices")
    keys = demand_keys(actions, as_of)
    parties = Party.objects.in_bulk({p for _, p in keys.values() if p is not None})
    signers = designated_signers(parties)
    settings_rows = {row.project_id: row for row in CollectionSettings.objects.filter(
        project_id__in={a.project_id for a in actions})}
    cal, deadlines = workcal.Calendar(), {}
    for action in actions:
        row = settings_rows.get(action.project_id)
        deadline = action.deadline
        if deadline is None:  # printed before the dispatcher gave it one: the same rule, from the print day
            days = row.deadline_days if row else CollectionSettings._meta.get_field("deadline_days").default
            if days not in deadlines:
                try:
                    deadlines[days] = cal.deadline(as_of, days)
                except workcal.UncoveredDate:
                    deadlines[days] = None
            deadline = deadlines[days]
        story += _page(action, as_of, styles, row, figures[action.pk], parties.get(keys[action.pk][1]), deadline,
                       links.get(action.unit_id, ""), signers.get(keys[action.pk][1]))
    buf, doc = _doc("催缴通知")
    doc.build(story[:-1])  # no blank page after the last notice
    return buf.getvalue()


def ems_list_xlsx(actions: Iterable[Action], *, as_of: dt.date) -> io.BytesIO:
    """The mailing list for registered letters / EMS: addressee (the debtor), address, unit, 应缴合计 of the day
    (the figure the letter prints), tracking no. column. Accounts settled by then are left out."""
    from openpyxl import Workbook

    from wuye.common.tabular import safe_row

    wb = Workbook()
    ws = wb.active
    ws.title = "EMS寄送清单"
    ws.append(["序号", "项目", "房号", "收件人", "邮寄地址", "欠费金额（元）", "文书", "外部流水号", "邮件单号", "寄出日期"])
    actions = list(actions)
    figures = figures_for(actions, as_of)
    actions = [a for a in actions if figures[a.pk].demandable]
    keys = demand_keys(actions, as_of)
    parties = Party.objects.in_bulk({p for _, p in keys.values() if p is not None})
    signers = designated_signers(parties)
    for n, a in enumerate(actions, start=1):
        party = parties.get(keys[a.pk][1])
        signer = signers.get(keys[a.pk][1])
        ws.append(safe_row([n, a.unit.project.name, a.unit.code,
                            (f"{party.name} {signer[0]} 收" if signer else party.name) if party else "", a.address,
                            fen_to_yuan(figures[a.pk].total_fen), a.step.name, a.out_id, "", ""]))
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


def referral_draft_pdf(action: Action, *, as_of: dt.date, actor=None) -> bytes:
    """欠费案件转介材料（草稿）for the law firm, from a lawyer-letter referral step.

    It is the company's summary of the case — who owes what for which periods (the periods the referral names,
    matured and unpaid: ``billing.figures``), the late fee with its calculation beside the figure a court is
    likely to uphold, every demand already made with its delivery status, holds and disputes — for the firm to
    review. It is never a lawyer's letter: it carries no lawyer's or firm's name and says so; a letter in a
    firm's name is the firm's own document. A debtor with nothing matured unpaid on ``as_of`` gets no draft:
    the referral is withdrawn with the reason and ``Settled`` is raised."""
    from django.db.models import Q
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    from wuye.dunning.choices import ActionStatus
    from wuye.dunning.models import Hold
    from wuye.dunning.services import demands_withdraw_settled

    fig = figures_for([action], as_of)[action.pk]
    if not fig.demandable:
        demands_withdraw_settled(actions=[action], actor=actor, detail="整理转介材料时已缴清：所转介账期已无到期未缴的费用，不再转介")
        raise Settled(action.pk)
    _register_font()
    styles = _styles()
    unit = action.unit
    project = unit.project
    settings_row = CollectionSettings.objects.filter(project_id=project.pk).first()
    company = settings_row.company_name if settings_row and settings_row.company_name else project.name
    party_id = demand_keys([action], as_of)[action.pk][1]
    party = Party.objects.filter(pk=party_id).first() if party_id else None
    story = [_para("欠费案件转介材料（草稿）", styles["title"]),
             _para(f"{company} · 整理日期 {as_of:%Y年%m月%d日} · 编号 {action.out_id}", styles["sub"]),
             _para("致：____________律师事务所（由委托方填写）", styles["body"]),
             _para(f"委托方：{company}　　项目：{project.name}　　房屋：{unit.code}"
                       + (f"（建筑面积 {unit.area} 平方米）" if getattr(unit, "area", None) else ""), styles["body"]),
             _para(f"欠费人：{party.name if party else '（未登记业主，待核实）'}", styles["body"]),
             Spacer(1, 3 * mm), _para("一、欠费明细（已到期未缴）", styles["body"])]
    rows, widths = figure_rows(fig)
    story.append(_table(rows, [w * mm for w in widths], align_right=tuple(range(3, len(widths)))))
    story += [Spacer(1, 2 * mm), _para(total_sentence(fig, as_of, "欠费合计"), styles["body"])]
    if not fig.clause:
        story.append(_para("物业服务合同未约定违约金，不主张违约金。", styles["small"]))
    for note in _notes(fig)[:8]:
        story.append(_para("违约金计算：" + note, styles["small"]))
    story += [Spacer(1, 3 * mm), _para("二、已进行的催缴（时效中断的依据）", styles["body"])]
    demands = Action.objects.filter(unit=unit, status__in=[ActionStatus.SENT, ActionStatus.DELIVERED])
    if party_id:
        demands = demands.filter(Q(party_id=party_id) | Q(party__isnull=True))
    rows = [["日期", "方式", "内容", "状态", "送达时间"]]
    for a in demands.select_related("step").order_by("sent_at", "pk"):
        rows.append([f"{a.sent_at:%Y-%m-%d}" if a.sent_at else "", a.get_channel_display(), a.step.name[:16],
                     a.get_status_display(), f"{a.delivered_at:%Y-%m-%d}" if a.delivered_at else "—"])
    if len(rows) == 1:
        rows.append(["—", "", "尚无已发出的催缴记录", "", ""])
    story.append(_table(rows, [24 * mm, 30 * mm, 56 * mm, 24 * mm, 28 * mm]))
    holds = Hold.objects.filter(unit=unit)
    if party_id:
        holds = holds.filter(Q(party_id=party_id) | Q(party__isnull=True))
    holds = list(holds.order_by("starts_on"))
    if holds:
        story += [Spacer(1, 3 * mm), _para("三、争议、承诺与暂停", styles["body"])]
        for h in holds:
            story.append(_para(
                f"{h.starts_on:%Y-%m-%d} {h.get_kind_display()}：{h.reason}"
                + (f"（至 {h.until:%Y-%m-%d}）" if h.until else "")
                + (f"；{h.released_on:%Y-%m-%d} 解除：{h.release_note}" if h.released_on else "；尚未解除"),
                styles["small"]))
    story += [Spacer(1, 6 * mm),
              _para("说明：本材料由物业服务企业整理，供律师事务所审查是否接受委托及如何处理，不是律师函。"
                        "以律师事务所名义发出的任何文书，须由该所律师审核后自行出具。附件（合同、账单、送达凭证）"
                        "以原件或系统导出为准。", styles["small"]),
              Spacer(1, 6 * mm), _para(f"{company}（盖章）　　经办人：__________　　日期：______年____月____日",
                                           styles["body"])]
    buf, doc = _doc("欠费案件转介材料（草稿）")
    doc.build(story)
    return buf.getvalue()


def poster_pdf(project, *, as_of: dt.date, period_label: str, deadline: dt.date | None) -> bytes:
    """The notice-board poster (缴费温馨提示): a general reminder to everyone in the estate — when and how to
    pay, whom to ask. By design it names no one and lists no unit: publishing debtors is not allowed."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    _register_font()
    styles = _styles()
    settings_row = CollectionSettings.objects.filter(project_id=project.pk).first()
    company = settings_row.company_name if settings_row and settings_row.company_name else project.name
    phone = settings_row.service_phone if settings_row else ""
    clause = policy_for(project).late_fee_per_mille > 0  # no word of 违约金 without a clause (民法典 585)
    big = styles["title"].clone("poster", fontSize=26, leading=34)
    text = styles["body"].clone("poster-body", fontSize=14, leading=22)
    story = [Spacer(1, 18 * mm), _para("缴费温馨提示", big), Spacer(1, 10 * mm),
             _para("尊敬的各位业主、住户：", text), Spacer(1, 3 * mm),
             _para(f"{project.name}{period_label}的物业服务费等费用已经出账。"
                       + (f"请在 {deadline:%Y年%m月%d日} 前缴纳，" if deadline else "请按时缴纳，")
                       + ("按时缴费可以避免产生违约金。" if clause else "")
                       + "已经缴纳的业主，感谢您对我们工作的支持。", text),
             Spacer(1, 4 * mm),
             _para("缴费方式：物业服务中心现场缴费（现金、刷卡）；银行转账（请在附言中注明房号）；"
                       "通过短信或微信中的缴费链接在线缴费。", text),
             Spacer(1, 4 * mm),
             _para("对账单或服务有疑问、暂时有困难需要分期的，欢迎到物业服务中心或来电沟通，我们会认真处理。"
                       + (f"服务电话：{phone}。" if phone else ""), text),
             Spacer(1, 16 * mm), _para(f"{company}", text), _para(f"{as_of:%Y年%m月%d日}", text)]
    buf, doc = _doc("缴费温馨提示")
    doc.build(story)
    return buf.getvalue()
