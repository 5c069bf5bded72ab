"""Drafts of legal documents in our own wording, editable as templates (``DocumentTemplate``), as PDF and as DOCX
(python-docx) so a lawyer can edit them:

- 律师函草稿 — material for the law firm to review and issue in its own name. The system never sends it and
  never issues anything as a law firm (律师法 13): the draft says so at the top, and a letter counts only once
  the firm has issued it (``Event.LETTER_ISSUED`` with the firm, lawyer, licence number and its PDF);
- 支付令申请书 and 民事起诉状 drafts — the periods claimed leave out those already time-barred (named in a
  note), the late fee is the figure a court is likely to uphold, and none is claimed without a contract clause.
Amounts are the ones open on the day the draft is made (a payment since the case opened lowers them).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q

from wuye.billing.services import policy_for
from wuye.common.formatting import format_yuan, rmb_upper
from wuye.dunning.choices import ActionStatus, Channel
from wuye.dunning.models import Action, CollectionSettings
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind
from wuye.estate.models import ContactPoint
from wuye.legal.choices import DocumentKind, Event
from wuye.legal.clocks import limitation_clocks
from wuye.legal.statement import debt_of

DRAFT_NOTE = "草稿：供律师事务所审核后以其名义出具；本系统不发送律师函，不以律师或律所名义发出任何文书。"

DEFAULTS: dict[str, tuple[str, str]] = {
    DocumentKind.LAWYER_LETTER: ("律师函（草稿）", (
        "致：{debtor}\n"
        "{law_firm}受{creditor}委托，就您所有的{units}欠缴物业服务费一事，函告如下：\n"
        "根据物业服务合同的约定，您应按期缴纳物业服务费。截至{today}，您欠缴{periods}的物业服务费共计"
        "{principal}（{principal_upper}）。{creditor}已于{demands}向您发出书面催缴，您至今未缴纳。\n"
        "请您在收到本函之日起十日内将上述费用缴至{creditor}，或与物业服务中心联系协商缴费方式。"
        "逾期仍未缴纳的，委托人将依法通过申请支付令或提起诉讼等方式主张权利，由此产生的诉讼费用依法由您承担。\n"
        "{barred_note}\n"
        "特此函告。")),
    DocumentKind.PAYMENT_ORDER: ("支付令申请书（草稿）", (
        "申请人：{creditor}，住所地{creditor_address}。\n"
        "被申请人：{debtor}，身份证号码{debtor_id}，住址{debtor_address}。\n"
        "请求事项：\n"
        "一、请求人民法院向被申请人发出支付令，督促被申请人向申请人支付{periods}物业服务费{principal}；\n"
        "二、违约金{late_fee}；\n"
        "以上合计{total}（{total_upper}）。\n"
        "事实与理由：\n"
        "申请人为{units}提供物业服务，被申请人为该房屋的业主，应按物业服务合同约定按期缴纳物业服务费。"
        "被申请人欠缴上述费用，申请人已于{demands}书面催告，被申请人至今未付。申请人与被申请人之间没有其他债务纠纷，"
        "上述金钱债务已到期且数额确定，支付令能够送达被申请人。根据《中华人民共和国民事诉讼法》第二百二十五条的规定，"
        "特申请贵院发出支付令。\n"
        "{barred_note}\n"
        "此致\n{court}\n"
        "申请人：{creditor}\n{today}")),
    DocumentKind.COMPLAINT: ("民事起诉状（草稿）", (
        "原告：{creditor}，住所地{creditor_address}。\n"
        "被告：{debtor}，身份证号码{debtor_id}，住址{debtor_address}。\n"
        "诉讼请求：\n"
        "一、判令被告支付{periods}物业服务费{principal}；\n"
        "二、判令被告支付违约金{late_fee}；\n"
        "三、本案诉讼费用由被告承担。\n"
        "以上金额合计{total}（{total_upper}）。\n"
        "事实与理由：\n"
        "原告为{units}提供物业服务，被告为该房屋的业主。原告依约提供了物业服务，被告未按约定缴纳物业服务费。"
        "原告已于{demands}向被告书面催告，并给予合理期限，被告仍未缴纳。根据《中华人民共和国民法典》第九百四十四条"
        "等规定，被告应支付欠缴的物业服务费及违约金。为维护原告的合法权益，特向贵院提起诉讼。\n"
        "{barred_note}\n"
        "此致\n{court}\n"
        "具状人：{creditor}\n{today}")),
}

# wording a draft may not carry (the threats the law forbids, and imitations of a court's own papers)
FORBIDDEN = [
    (r"停水|断水|停电|断电|停气|停暖|拉闸", "不得以停水、停电、停气、停暖相威胁"),
    (r"门禁|停梯|停用电梯|禁止停车|限制出入|限制.{0,8}(进出|出入|通行)|锁门|换锁", "不得以限制门禁、电梯、车辆出入相威胁"),
    (r"公示|曝光|张榜|黑名单|告知邻居|业主群", "不得公开欠费人信息"),
    (r"征信", "物业费欠费不纳入个人征信，不得以此相威胁"),
    (r"传票|判决书|裁定书|执行通知书|人民法院(公告|通知)", "不得仿制法院文书"),
]
_FORBIDDEN = [(re.compile(p), why) for p, why in FORBIDDEN]
_FIELD = re.compile(r"{(\w+)}")


# the shared checker's categories a lawyer-letter draft may use: the firm issues it in its own name (律师法 13)
FIRM_WORDING = frozenset({"impersonation", "lawyer"})


def check_wording(text: str, kind: str | None = None) -> list[str]:
    """What a draft's wording may not say: the patterns above, on the text as the shared checker reads it (full-width
    forms, zero-width and other invisible characters, spacing and traditional characters folded:
    ``dunning.guardrails.normalise``), and every category of the shared checker (threats to utilities, services
    or access, public naming, 征信, criminal consequences …; a lawyer-letter draft may use a firm's wording);
    unknown placeholders too."""
    from wuye.dunning.guardrails import find_violations, messages, normalise

    flat = normalise(text or "")
    shared = [v for v in find_violations(text or "", channel="referral")
              if not (kind == DocumentKind.LAWYER_LETTER and v.category in FIRM_WORDING)]
    seen = "".join(v.normalised for v in shared)
    problems = [f"“{m.group(0)}”：{why}" for pattern, why in _FORBIDDEN
                if (m := pattern.search(flat)) and m.group(0) not in seen]
    problems += messages(shared)
    unknown = sorted({name for name in _FIELD.findall(text or "") if name not in PLACEHOLDERS})
    if unknown:
        problems.append("未知的占位符：" + "、".join("{" + u + "}" for u in unknown))
    return problems


PLACEHOLDERS = ("creditor", "creditor_address", "debtor", "debtor_id", "debtor_address", "units", "periods",
                "principal", "principal_upper", "late_fee", "total", "total_upper", "demands", "court", "today",
                "barred_note", "law_firm")


@dataclass
class Draft:
    kind: str
    title: str
    paragraphs: list[str]
    rows: list[list[str]]  # the periods claimed: header first
    total_fen: int
    barred: list[str]
    version: int
    project_version: bool = False  # the project's own template (decision 201), not the company-wide one


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _span(periods: list[dt.date]) -> str:
    """2024-01…2024-12 → 2024年1月至2024年12月 (runs of consecutive months joined, runs separated by 、)."""
    months = sorted({p.replace(day=1) for p in periods})
    runs: list[list[dt.date]] = []
    for m in months:
        if runs and (runs[-1][-1].year * 12 + runs[-1][-1].month + 1) == m.year * 12 + m.month:
            runs[-1].append(m)
        else:
            runs.append([m])
    return "、".join(f"{r[0].year}年{r[0].month}月" + (f"至{r[-1].year}年{r[-1].month}月" if len(r) > 1 else "")
                    for r in runs)


def template_row_for(kind: str, project_id: int | None = None):
    """The template row a draft of ``kind`` uses: the project's own version when it has one, else the
    company-wide one (None: neither, the shipped default applies). One query."""
    from wuye.legal.models import DocumentTemplate

    rows = DocumentTemplate.objects.filter(kind=kind)
    if project_id is None:
        return rows.filter(project__isnull=True).first()
    return (rows.filter(Q(project__isnull=True) | Q(project_id=project_id))
            .order_by(F("project_id").asc(nulls_last=True)).select_related("updated_by").first())


def template_for(kind: str, project_id: int | None = None):
    """(title, body, version) of the wording a draft of ``kind`` for a case of ``project_id`` uses."""
    tpl = template_row_for(kind, project_id)
    if tpl is not None:
        return tpl.title, tpl.body, tpl.version
    title, body = DEFAULTS[kind]
    return title, body, 0


def draft(case, kind: str, *, as_of: dt.date) -> Draft:
    """The figures and text of a document for ``case`` on ``as_of``."""
    if kind not in DocumentKind.values:
        raise ValueError(kind)
    lines = list(case.lines.select_related("unit", "unit__project"))
    bill_ids = [x.bill_id for x in lines]
    debt = debt_of(party_id=case.party_id, project_id=case.project_id, as_of=as_of, bill_ids=bill_ids)
    clocks = {lc.bill_id: lc.clock for lc in limitation_clocks(as_of=as_of, bill_ids=bill_ids)}
    keep_barred = kind == DocumentKind.LAWYER_LETTER  # a demand may still mention them; a court filing may not
    claimed, barred = [], []
    for x in debt.lines:
        if x.open_fen <= 0:
            continue
        clock = clocks.get(x.bill.pk)
        if clock is not None and clock.barred(as_of):
            barred.append(x)
            if not keep_barred:
                continue
        claimed.append(x)
    clause = policy_for(case.project).late_fee_per_mille > 0
    principal = sum(x.open_fen for x in claimed)
    late = sum(x.court_fen for x in claimed if x not in barred) if clause else 0
    total = principal + late
    project = case.project
    row = CollectionSettings.objects.filter(project_id=project.pk).first()
    creditor = (row.company_name if row and row.company_name else "") or settings.COMPANY_NAME
    units = sorted({x.unit for x in lines}, key=lambda u: u.code)
    address = (ContactPoint.objects.filter(party_id=case.party_id, kind=ContactKind.ADDRESS)
               .exclude(validity__in=list(DEAD_VALIDITIES)).values_list("value", flat=True).first())
    court = (case.events.exclude(court="").order_by("-on", "-pk").values_list("court", flat=True).first()
             or "＿＿＿＿人民法院")
    firm = (case.events.exclude(law_firm="").order_by("-on", "-pk").values_list("law_firm", flat=True).first()
            or "＿＿＿＿律师事务所")
    context = {
        "creditor": creditor, "creditor_address": project.address or f"{project.city}{project.name}",
        "debtor": case.party.name, "debtor_id": case.party.id_number or "＿＿＿＿＿＿",
        "debtor_address": address or (f"{project.city}{project.address or project.name}{units[0].code}"
                                      if units else "＿＿＿＿"),
        "units": "、".join(f"{u.project.name}{u.code}（建筑面积 {u.area} 平方米）" for u in units),
        "periods": _span([x.bill.period_start for x in claimed]) or "（无）",
        "principal": format_yuan(principal), "principal_upper": rmb_upper(principal),
        "late_fee": format_yuan(late) if clause else "（合同未约定违约金，不主张）",
        "total": format_yuan(total), "total_upper": rmb_upper(total),
        "demands": _demands(lines, as_of, case.party_id, [(x.bill.unit_id, x.bill.period_start) for x in claimed]),
        "court": court, "today": _cn(as_of), "law_firm": firm,
        "barred_note": (f"另：{_span([x.bill.period_start for x in barred])}的费用已超过诉讼时效，"
                        + ("本函仅作催告，不据此起诉。" if keep_barred else "本次不予主张。")) if barred else "",
    }
    tpl = template_row_for(kind, project.pk)  # the project's own wording wins (decision 201)
    title, body, version = (tpl.title, tpl.body, tpl.version) if tpl is not None else (*DEFAULTS[kind], 0)
    text = _FIELD.sub(lambda m: str(context.get(m.group(1), m.group(0))), body)
    paragraphs = [p for p in (s.strip() for s in text.split("\n")) if p]
    rows = [["账期", "收费项目", "房屋", "缴费截止日", "欠费本金", "违约金（法院通常支持）", "诉讼时效"]]
    for x in claimed:
        clock = clocks.get(x.bill.pk)
        rows.append([f"{x.bill.period_start:%Y-%m}", x.bill.fee_item.name, x.bill.unit.code,
                     f"{x.bill.due_date:%Y-%m-%d}", format_yuan(x.open_fen),
                     format_yuan(x.court_fen) if clause and x not in barred else "—",
                     ("已过时效" if x in barred else f"至 {clock.expiry:%Y-%m-%d}") if clock else ""])
    rows.append(["合计", "", "", "", format_yuan(principal), format_yuan(late), ""])
    return Draft(kind, title, paragraphs, rows, total, [f"{x.bill.period_start:%Y-%m}" for x in barred], version,
                 tpl is not None and tpl.project_id is not None)


def _demands(lines, as_of: dt.date, party_id: int, claimed=None) -> str:
    """The written demands that reached the debtor, briefly (date and channel): those addressed to this debtor
    (or, written before the outbox recorded one, to whoever owed), never a buyer's or seller's, and naming at least
    one period the document claims (``claimed``: (unit, period start) pairs; all the case's lines by default)."""
    from django.db.models import Q

    from wuye.legal.signers import unaccepted_deliveries

    units = sorted({x.unit_id for x in lines})
    unaccepted = list(unaccepted_deliveries(unit_ids=units))  # signed by someone who does not count (decision 160)
    wanted = {(u, p.isoformat()) for u, p in claimed} if claimed is not None else {
        (x.unit_id, x.period_start.isoformat()) for x in lines}
    rows = [(at, ch) for unit_id, periods, at, ch in Action.objects.filter(
                unit_id__in=units, status=ActionStatus.DELIVERED,
                channel__in=[Channel.SMS, Channel.WECHAT, Channel.EMAIL, Channel.NOTICE, Channel.REGISTERED],
                delivered_at__date__lte=as_of)
            .filter(Q(party_id=party_id) | Q(party__isnull=True)).exclude(pk__in=unaccepted)
            .order_by("delivered_at").values_list("unit_id", "periods", "delivered_at", "channel")
            if any((unit_id, p) in wanted for p in periods or [])]
    if not rows:
        return "＿＿＿＿（书面催告日期）"
    from django.utils import timezone

    parts = [f"{_cn(timezone.localtime(at).date())}以{Channel(ch).label}" for at, ch in rows[-5:]]
    return "、".join(parts)


# --- output ------------------------------------------------------------------------------------------------

def draft_pdf(d: Draft) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate, Spacer

    from wuye.billing.documents import _styles, _table, _text

    s = _styles()
    story = [_text(d.title, s["title"])]  # names and addresses are text, never markup
    if d.kind == DocumentKind.LAWYER_LETTER:
        story.append(_text(DRAFT_NOTE, s["small"]))
    story.append(Spacer(1, 4 * mm))
    for p in d.paragraphs:
        story += [_text(p, s["body"]), Spacer(1, 1.5 * mm)]
    story += [Spacer(1, 3 * mm), _text("附：欠费明细", s["body"]),
              _table(d.rows, [18 * mm, 26 * mm, 22 * mm, 24 * mm, 24 * mm, 32 * mm, 28 * mm], align_right=(4, 5))]
    out = io.BytesIO()

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(s["small"].fontName, 8)
        which = "项目模板" if d.project_version else "模板"
        canvas.drawCentredString(doc.pagesize[0] / 2, 10 * mm, f"{d.title} · {which} v{d.version} · 第 {doc.page} 页")
        canvas.restoreState()

    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=d.title, author="wuye")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def draft_docx(d: Draft) -> bytes:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.add_heading(d.title, level=1)
    if d.kind == DocumentKind.LAWYER_LETTER:
        doc.add_paragraph(DRAFT_NOTE)
    for p in d.paragraphs:
        doc.add_paragraph(p)
    doc.add_paragraph("附：欠费明细")
    table = doc.add_table(rows=0, cols=len(d.rows[0]))
    table.style = "Table Grid"
    for r in d.rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, r, strict=True):
            cell.text = value
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def letter_issued(case) -> bool:
    return case.events.filter(event=Event.LETTER_ISSUED).exists()
