"""证据包 — one click builds a single paginated PDF with a 证据目录 (numbered exhibits, what each proves, page
ranges) and a ZIP holding that PDF, the original files (delivery proofs, the firm's issued letter), the action
log as CSV, a ``manifest.json`` with the SHA-256 of every file and the sealed hash of every record the pack
relies on, and ``SHA256SUMS.txt`` to check the files with ordinary tools.

The pack is built from the database as it stands, after sealing what is new in the hash chain
(``chain.seal``). ``wuye evidence_verify --pack FILE.zip`` checks the files against the manifest and the records
against the chain and the database, naming any record edited since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.db.models import Prefetch, Q
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.models import Adjustment, Allocation, BillingPolicy, Payment, Rate
from wuye.casework.models import ContactAttempt, Dispute, Promise, WorkOrder
from wuye.common.formatting import format_yuan, mask_id_number
from wuye.common.tabular import csv_writer
from wuye.dunning.choices import ActionStatus, Channel
from wuye.dunning.models import Action, ActionEvent
from wuye.estate.models import Occupancy, Unit
from wuye.legal import chain
from wuye.legal.choices import Event
from wuye.legal.clocks import action_has_party, limitation_clocks
from wuye.legal.models import DeliveryProof, EvidencePack, LegalCase

SENT_STATES = (ActionStatus.SENT, ActionStatus.DELIVERED, ActionStatus.FAILED, ActionStatus.UNCERTAIN)
WRITTEN = (Channel.SMS, Channel.WECHAT, Channel.EMAIL, Channel.NOTICE, Channel.REGISTERED)
PDF_NAME = "证据包.pdf"
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Exhibit:
    title: str
    proves: str
    story: list = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    start: int = 0
    end: int = 0


def _local(at: dt.datetime | None) -> str:
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}" if at else "—"


def _doc_class():
    from reportlab.platypus import SimpleDocTemplate

    class PackDoc(SimpleDocTemplate):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.starts: dict[int, int] = {}

        def afterFlowable(self, flowable):  # noqa: N802 - reportlab's hook
            index = getattr(flowable, "_exhibit_index", None)
            if index is not None and index not in self.starts:
                self.starts[index] = self.page

    return PackDoc


class Builder:
    def __init__(self, case: LegalCase, as_of: dt.date):
        from wuye.billing.documents import _styles

        self.case, self.as_of = case, as_of
        self.s = _styles()
        self.lines = list(case.lines.select_related("unit").order_by("period_start", "unit_id", "pk"))
        self.unit_ids = sorted({x.unit_id for x in self.lines})
        self.units = list(Unit.objects.filter(pk__in=self.unit_ids).select_related("project", "building"))
        self.since = min((x.period_start for x in self.lines), default=case.opened_on)
        self.records: dict[str, set[int]] = {k: set() for k in chain.RECORDS}
        self.ledger: dict[str, set[int]] = {k: set() for k in chain.LEDGER}  # ledger rows listed or relied on
        self.recs: dict[int, Reconciled] = {}

    # -- helpers
    def p(self, text: str, style: str = "body"):
        from wuye.billing.documents import _text

        return _text(text, self.s[style])  # escaped: a "<" in a name is text

    def table(self, rows, widths, right=()):
        from reportlab.lib.units import mm

        from wuye.billing.documents import _table

        def cell(value, width_mm):
            if hasattr(value, "wrap"):
                return value
            text = str(value)
            # short one-line text is drawn as is; wrapping a Paragraph is most of a pack's build time
            if "\n" not in text and len(text) * 8.5 < width_mm * mm - 8:
                return text
            return self.p(text, "small")

        cells = [[cell(c, widths[i]) for i, c in enumerate(r)] for r in rows]
        table = _table(cells, [w * mm for w in widths], align_right=right)
        table.setStyle([("FONTSIZE", (0, 0), (-1, -1), 8)])
        return table

    def picture(self, data: bytes, recorded_sha256: str, name: str) -> list:
        """A stored evidence picture drawn into the pack, or — when the stored file is missing, damaged or not a
        picture — a note saying so beside its recorded hash. The file itself goes into the ZIP either way (the
        manifest holds the hash of what is stored), so a damaged file never stops the pack from being built."""
        from reportlab.lib.units import mm
        from reportlab.platypus import Image

        size = _picture_size(data)
        if size is None:
            actual = hashlib.sha256(data).hexdigest()
            why = ("存储中找不到该文件或文件为空" if not data else
                   "文件已损坏或不是可识别的图片，其内容与上传时登记的摘要一致" if actual == recorded_sha256 else
                   f"文件已损坏或不是可识别的图片，现存文件的 SHA-256 {actual} 与上传时登记的不一致")
            return [self.p(f"【无法显示】文件 {name} 未能在本 PDF 中呈现：{why}（登记的 SHA-256 {recorded_sha256}）。"
                           "现存文件已按原样收入证据包 ZIP，可据清单核对。", "small")]
        w, h = size
        scale = min(170 * mm / w, 110 * mm / h, 1)
        return [Image(io.BytesIO(data), width=w * scale, height=h * scale)]

    # -- exhibits
    def exhibits(self) -> list[Exhibit]:
        return [self.fee_basis(), self.ownership(), self.statement(), self.clocks(), self.demands(),
                self.contacts(), self.promises(), self.disputes(), self.payments(), self.case_record()]

    def fee_basis(self) -> Exhibit:
        ex = Exhibit("收费依据：收费标准与合同约定", "物业服务费的收费标准、缴费期限与违约金条款")
        project = self.case.project
        policy = BillingPolicy.objects.filter(project=project).first()
        rows = [["收费项目", "物业类型", "单价（元）", "空置单价", "生效日期"]]
        for r in Rate.objects.filter(fee_item__project=project).select_related("fee_item").order_by(
                "fee_item__sort", "effective_from"):
            rows.append([r.fee_item.name, r.get_property_type_display() or "全部", f"{r.price.normalize():f}",
                         f"{r.vacant_price.normalize():f}" if r.vacant_price is not None else "—",
                         f"{r.effective_from:%Y-%m-%d}"])
        ex.story += [self.p(f"项目：{project.name}（{project.city}{project.address}）"), self.table(rows, [40, 30, 30, 30, 30])]
        if policy is not None:
            terms = [["账期", f"{policy.get_cycle_months_display()}（起始月 {policy.anchor_month} 月）"],
                     ["缴费期限", f"{policy.get_due_rule_display()}，每期 {policy.due_day} 日"],
                     ["违约金", f"日 {policy.late_fee_per_mille.normalize():f}‰，宽限 {policy.late_fee_grace_days} 天"
                               + (f"，上限本金的 {policy.late_fee_cap_percent}%" if policy.late_fee_cap_percent else "")
                               + ("，不超过本金" if policy.late_fee_not_above_principal else "")
                               if policy.late_fee_per_mille > 0 else "合同无违约金条款"],
                     ["法院通常支持", f"一年期 LPR {policy.court_lpr_percent}% 上浮 {policy.court_margin_percent}%"]]
            ex.story += [self.p("合同约定（按系统登记）："), self.table(terms, [40, 130])]
        return ex

    def ownership(self) -> Exhibit:
        ex = Exhibit("房屋与产权记录", "被申请人（被告）在所主张各期为房屋业主，是缴费责任人")
        rows = [["房屋", "面积（m²）", "类型", "关系", "业户", "证件号", "起始", "结束"]]
        for o in (Occupancy.objects.filter(unit_id__in=self.unit_ids).select_related("unit", "party")
                  .order_by("unit__code", "start", "pk")):
            # the debtor's identity number identifies the party sued; anyone else's (a tenant, a buyer, a seller)
            # is not the court file's business: masked (个人信息保护法 6, minimal; decision 188)
            idn = o.party.id_number if o.party_id == self.case.party_id else mask_id_number(o.party.id_number)
            rows.append([o.unit.code, str(o.unit.area), o.unit.get_property_type_display(), o.get_role_display(),
                         o.party.name, idn or "—", f"{o.start:%Y-%m-%d}",
                         f"{o.end:%Y-%m-%d}" if o.end else "至今"])
        ex.story.append(self.table(rows, [20, 18, 20, 14, 30, 34, 20, 20]))
        return ex

    def statement(self) -> Exhibit:
        case = self.case
        ex = Exhibit("欠费明细（立案日）", f"截至 {case.opened_on:%Y-%m-%d} 的欠费本金、违约金及计算过程")
        rows = [["账期", "房屋", "项目", "截止日", "应收", "未缴", "违约金（合同）", "法院通常支持", "时效届满"]]
        for x in self.lines:
            rows.append([f"{x.period_start:%Y-%m}", x.unit.code, x.fee_item, f"{x.due_date:%Y-%m-%d}",
                         format_yuan(x.amount_fen), format_yuan(x.open_fen), format_yuan(x.late_fee_fen),
                         format_yuan(x.court_fen), f"{x.expiry:%Y-%m-%d}" + ("（已过）" if x.barred else "")])
        rows.append(["合计", "", "", "", "", format_yuan(case.principal_fen), format_yuan(case.late_fee_fen),
                     format_yuan(case.court_late_fee_fen), ""])
        ex.story += [self.p(f"债务人：{case.party.name}　案件编号：{case.number}"),
                     self.table(rows, [15, 16, 20, 19, 18, 18, 20, 20, 24], right=(4, 5, 6, 7))]
        barred = [x for x in self.lines if x.barred]
        ex.story.append(self.p(
            f"可主张（立案日）：未过诉讼时效的本金 {format_yuan(case.principal_fen - case.barred_fen)}，加其违约金（法院通常支持）"
            f"{format_yuan(case.court_late_fee_fen - case.barred_court_fen)}，合计 {format_yuan(case.claim_fen)}"
            + (f"；已过诉讼时效的 {'、'.join(f'{x.period_start:%Y-%m}' for x in barred)} 本金及其违约金不主张" if barred else "")
            + "。", "small"))
        notes = [f"{x.period_start:%Y-%m} {x.unit.code}：{x.late_fee_explanation}" for x in self.lines
                 if x.late_fee_explanation]
        for n in notes[:60]:
            ex.story.append(self.p(n, "small"))
        ex.story += self.reconciliation()
        return ex

    def reconciliation(self) -> list:
        """Each line from the figure frozen at opening to what is open on the pack's day, from the ledger's own
        rows: money applied since the case was opened (allocations written after it, reversals negative) and
        voids or waivers approved since. The result is checked against the line's balance as the ledger keeps
        it (amount − settled); a line where the two differ is marked 「与账务不符」 rather than printed as owing."""
        recs = self.recs = reconcile(self.case, self.lines)
        rows = [["账期", "房屋", "立案时未缴", "立案后缴纳", "立案后减免/作废", "现未缴（按明细）", "账面未缴", "核对"]]
        for x in self.lines:
            r = recs[x.bill_id]
            rows.append([f"{x.period_start:%Y-%m}", x.unit.code, format_yuan(x.open_fen), format_yuan(r.paid_fen),
                         format_yuan(r.adjusted_fen) + ("（已作废）" if r.void else ""), format_yuan(r.expected_fen),
                         format_yuan(r.ledger_fen), "一致" if r.ok else "与账务不符"])
        total = [sum(getattr(recs[x.bill_id], f) for x in self.lines)
                 for f in ("paid_fen", "adjusted_fen", "expected_fen", "ledger_fen")]
        rows.append(["合计", "", format_yuan(sum(x.open_fen for x in self.lines)), *map(format_yuan, total),
                     "一致" if all(r.ok for r in recs.values()) else "与账务不符"])
        bad = [x for x in self.lines if not recs[x.bill_id].ok]
        story = [self.p(f"与账务核对（截至 {self.as_of:%Y-%m-%d}）：立案时未缴 − 立案后缴纳 − 立案后减免/作废 = 现未缴；"
                        "现未缴与账面余额逐期核对。缴纳明细见“缴费与部分缴费记录”。", "sub"),
                 self.table(rows, [14, 16, 22, 22, 26, 24, 22, 24], right=(2, 3, 4, 5, 6))]
        if bad:
            story.append(self.p("以下账期的明细与账面余额不一致，须先核实账务再主张："
                                + "、".join(f"{x.period_start:%Y-%m} {x.unit.code}" for x in bad), "small"))
        return story

    def clocks(self) -> Exhibit:
        ex = Exhibit("诉讼时效计算", "各期诉讼时效的起算、中断事由及届满日")
        clocks = {lc.bill_id: lc.clock for lc in limitation_clocks(
            as_of=self.as_of, bill_ids=[x.bill_id for x in self.lines], detail=True)}
        rows = [["账期", "房屋", "计算"]]
        for x in self.lines:
            c = clocks.get(x.bill_id)
            rows.append([f"{x.period_start:%Y-%m}", x.unit.code, c.explanation(limit=6) if c else "—"])
        ex.story.append(self.table(rows, [16, 18, 140]))
        return ex

    def demands(self) -> Exhibit:
        ex = Exhibit("书面催缴及送达记录", "已向债务人书面催告：内容、时间、渠道、地址、送达回执与凭证")
        qs = Action.objects.filter(unit_id__in=self.unit_ids, status__in=SENT_STATES, channel__in=WRITTEN,
                                   decided_on__gte=self.since - dt.timedelta(days=60))
        if action_has_party():
            qs = qs.filter(Q(party_id=self.case.party_id) | Q(party__isnull=True))
        actions = list(qs.select_related("unit").order_by("sent_at", "pk"))
        events: dict[int, list] = {}
        for e in ActionEvent.objects.filter(action_id__in=[a.pk for a in actions]).order_by("at", "pk"):
            events.setdefault(e.action_id, []).append(e)
            self.records["action_event"].add(e.pk)
        proofs: dict[int, list[DeliveryProof]] = {}
        for pr in DeliveryProof.objects.filter(action_id__in=[a.pk for a in actions]).order_by("pk"):
            proofs.setdefault(pr.action_id, []).append(pr)
            self.records["proof"].add(pr.pk)
        rows = [["编号", "时间", "渠道/地址", "内容（所催账期）", "送达"]]
        for a in actions:
            if a.status in chain.FINAL:
                self.records["action"].add(a.pk)
            history = "；".join(f"{_local(e.at)} {e.get_status_display()}{'（' + e.detail + '）' if e.detail else ''}"
                               for e in events.get(a.pk, []))
            periods = "、".join(p[:7] for p in a.periods or [])
            rows.append([f"#{a.pk}\n{a.out_id[:12]}", _local(a.sent_at),
                         f"{a.get_channel_display()}\n{a.address or '—'}\n{a.provider} {a.provider_message_id}",
                         f"{a.content or a.get_channel_display()}\n所催账期：{periods or '—'}\n摘要 {a.content_sha256[:16]}",
                         f"{a.get_status_display()} {_local(a.delivered_at) if a.delivered_at else ''}\n{history}"])
        if len(rows) == 1:
            rows.append(["—", "", "", "尚无已发出的书面催缴", ""])
        ex.story.append(self.table(rows, [18, 22, 34, 62, 38]))
        for a in actions:
            for pr in proofs.get(a.pk, []):
                data = _stored(pr.file)
                name = f"proofs/{pr.pk}-{pr.sha256[:12]}{_ext(pr.content_type)}"
                ex.files.append((name, data))
                ex.story.append(self.p(
                    f"送达凭证 #{pr.pk}（催缴 #{a.pk}）：{pr.get_kind_display()} {pr.tracking_no}　签收人 {pr.signed_by}"
                    f"（{pr.signer_relation}）{pr.signed_on or ''}　SHA-256 {pr.sha256}　文件 {name}", "small"))
                if pr.content_type.startswith("image/"):
                    ex.story += self.picture(data, pr.sha256, name)
        return ex

    def contacts(self) -> Exhibit:
        ex = Exhibit("电话与上门记录", "对债务人的电话、上门等联系及其结果")
        rows = [["日期", "方式", "结果", "说明", "记录人"]]
        for c in (ContactAttempt.objects.filter(unit_id__in=self.unit_ids, on__gte=self.since)
                  .select_related("made_by").order_by("on", "pk")):
            self.records["contact"].add(c.pk)
            met = f"见到 {c.person_met}（{c.get_relationship_display()}）；" if c.person_met or c.relationship else ""
            rows.append([f"{c.on:%Y-%m-%d}", c.get_channel_display(), c.get_outcome_display(),
                         met + (c.note or "") + (f"（更正 #{c.corrects_id}）" if c.corrects_id else ""),
                         str(c.made_by or c.actor_label)])
        if len(rows) == 1:
            rows.append(["—", "", "", "无", ""])
        ex.story.append(self.table(rows, [22, 16, 24, 90, 22]))
        self._visit_photos(ex)
        return ex

    def _visit_photos(self, ex: Exhibit) -> None:
        """Photos taken at visits (a notice posted or slipped under the door), each with its hash and file."""
        from wuye.casework.models import VisitPhoto

        for shot in (VisitPhoto.objects.filter(unit_id__in=self.unit_ids, contact__on__gte=self.since)
                     .select_related("contact", "uploaded_by").order_by("uploaded_at", "pk")):
            data = _stored(shot.file)
            name = f"visits/{shot.pk}-{shot.sha256[:12]}{_ext(shot.content_type)}"
            ex.files.append((name, data))
            ex.story.append(self.p(
                f"上门照片 #{shot.pk}（联系记录 #{shot.contact_id} {shot.contact.get_outcome_display()}）："
                f"{_local(shot.uploaded_at)} {shot.uploaded_by}　SHA-256 {shot.sha256}　文件 {name}", "small"))
            ex.story += self.picture(data, shot.sha256, name)

    def promises(self) -> Exhibit:
        ex = Exhibit("承诺缴费与失约", "债务人承诺缴费（同意履行）及是否兑现")
        rows = [["承诺日期", "承诺缴费日", "金额", "状态"]]
        for pr in (Promise.objects.filter(unit_id__in=self.unit_ids)
                   .filter(Q(party_id=self.case.party_id) | Q(party__isnull=True))
                   .select_related("hold").order_by("made_on", "pk")):
            self.records["promise"].add(pr.pk)
            rows.append([f"{pr.made_on:%Y-%m-%d}", f"{pr.promised_on:%Y-%m-%d}", format_yuan(pr.amount_fen),
                         pr.state_label])
        if len(rows) == 1:
            rows.append(["—", "", "", "无"])
        ex.story.append(self.table(rows, [40, 40, 40, 50]))
        return ex

    def disputes(self) -> Exhibit:
        ex = Exhibit("争议及处理", "债务人提出的异议及物业的处理（工单）")
        rows = [["提出日期", "原因", "说明", "状态", "处理结果"]]
        disputes = list(Dispute.objects.filter(unit_id__in=self.unit_ids).order_by("opened_on", "pk"))
        orders: dict[int, list[WorkOrder]] = {}
        for w in WorkOrder.objects.filter(dispute__in=disputes).order_by("pk"):
            orders.setdefault(w.dispute_id, []).append(w)
        for d in disputes:
            done = "；".join(f"工单“{w.title}”{w.get_status_display()} {w.closed_note}" for w in orders.get(d.pk, []))
            rows.append([f"{d.opened_on:%Y-%m-%d}", d.get_reason_display(), d.description, d.get_status_display(),
                         (d.resolution_note or "") + (f"；{done}" if done else "")])
        if len(rows) == 1:
            rows.append(["—", "", "无", "", ""])
        ex.story.append(self.table(rows, [22, 24, 60, 18, 50]))
        return ex

    def payments(self) -> Exhibit:
        ex = Exhibit("缴费与部分缴费记录", "债务人已缴纳的款项及其冲抵的账期（部分缴费中断该期时效）")
        start = dt.datetime.combine(self.since, dt.time.min, tzinfo=TZ)  # the first period's first day, Beijing time
        rows = [["时间", "金额", "方式", "收据号", "冲抵账期"]]
        # the debtor's payments: money applied to lines they owe (a buyer's or seller's own payments on the same
        # unit are theirs, not this debtor's, and stay out of the court file); each shows what it paid of theirs
        mine = Allocation.objects.filter(bill__party_id=self.case.party_id).select_related("bill")
        for pay in (Payment.objects.filter(unit_id__in=self.unit_ids, paid_at__gte=start,
                                           pk__in=mine.filter(bill__unit_id__in=self.unit_ids).values("payment_id"))
                    .prefetch_related(Prefetch("allocations", queryset=mine)).order_by("paid_at", "pk")):
            alloc = "、".join(f"{a.bill.period_start:%Y-%m} {format_yuan(a.amount_fen)}" for a in pay.allocations.all())
            self.ledger["payment"].add(pay.pk)
            self.ledger["allocation"].update(a.pk for a in pay.allocations.all())
            rows.append([_local(pay.paid_at), format_yuan(pay.amount_fen), pay.get_method_display(),
                         pay.receipt_no or ("冲正" if pay.amount_fen < 0 else ""), alloc or "转入预存"])
        if len(rows) == 1:
            rows.append(["—", "", "", "", "无缴费"])
        ex.story.append(self.table(rows, [28, 22, 22, 26, 76], right=(1,)))
        return ex

    def case_record(self) -> Exhibit:
        ex = Exhibit("案件进展与律师函", "律师函的出具与送达、调解、支付令与诉讼的进展")
        rows = [["日期", "事项", "说明"]]
        for e in self.case.events.order_by("on", "pk"):
            self.records["case_event"].add(e.pk)
            extra = " ".join(x for x in (e.law_firm, e.lawyer_name, e.lawyer_licence and f"执业证号 {e.lawyer_licence}",
                                         e.court, e.docket_no, e.get_mediator_display() if e.mediator else "") if x)
            rows.append([f"{e.on:%Y-%m-%d}", e.get_event_display(), f"{extra} {e.note}".strip()])
            if e.document:
                data = e.document.read()
                e.document.close()
                name = f"documents/{e.get_event_display()}-{e.pk}.pdf"
                ex.files.append((name, data))
                rows[-1][2] += f"（文书 {name}，SHA-256 {e.document_sha256[:16]}…）"
        ex.story.append(self.table(rows, [24, 40, 110]))
        if not self.case.events.filter(event=Event.LETTER_ISSUED).exists():
            ex.story.append(self.p("律师函尚未由律师事务所出具（系统只提供草稿）。", "small"))
        return ex

    # -- assembly
    def pdf(self, exhibits: list[Exhibit]) -> tuple[bytes, dict, int]:
        """One pass: the index's page ranges are form XObjects drawn on page 1 and defined once the last page
        is known (a PDF may use a form before it is defined)."""
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm
        from reportlab.platypus import PageBreak, Spacer

        case = self.case
        story = [self.p("证据目录", "title"),
                 self.p(f"案件 {case.number}　债务人 {case.party.name}　项目 {case.project.name}　"
                        f"截至 {self.as_of:%Y年%m月%d日}", "sub")]
        rows = [["序号", "证据名称", "证明目的", "页码"]]
        for i, ex in enumerate(exhibits, start=1):
            rows.append([f"证据 {i}", ex.title, ex.proves, _FormCell(f"span{i}")])
        story += [self.table(rows, [16, 50, 86, 22]), Spacer(1, 4 * mm),
                  self.p("本证据包由物业收缴系统根据业务记录生成；电子记录的摘要（SHA-256）及其在哈希链中的封存记录"
                         "见随附 manifest.json，可用 wuye evidence_verify 校验。", "small")]
        for i, ex in enumerate(exhibits, start=1):
            heading = self.p(f"证据 {i}　{ex.title}", "title")
            heading._exhibit_index = i  # its page is recorded while building (the index's page ranges)
            story += [PageBreak(), heading, self.p(f"证明目的：{ex.proves}", "sub"), *ex.story]
        out = io.BytesIO()
        doc = _doc_class()(out, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                           bottomMargin=16 * mm, title=f"{case.number} 证据包", author="wuye")
        doc._doSave = 0
        pages = [0]
        font = self.s["small"].fontName

        def footer(canvas, d):
            pages[0] = d.page
            canvas.saveState()
            canvas.setFont(font, 8)
            canvas.drawCentredString(d.pagesize[0] / 2, 8 * mm, f"{case.number} 证据包 · 第 {d.page} 页")
            canvas.restoreState()

        doc.build(story, onFirstPage=footer, onLaterPages=footer)
        total = pages[0]
        spans = {}
        for i in range(1, len(exhibits) + 1):
            start = doc.starts[i]
            spans[i] = (start, (doc.starts[i + 1] - 1) if i + 1 in doc.starts else total)
            doc.canv.beginForm(f"span{i}", 0, 0, 60 * mm, 12)
            doc.canv.setFont(font, 8)
            doc.canv.drawString(1, 3, f"{spans[i][0]}–{spans[i][1]}")
            doc.canv.endForm()
        doc.canv.save()
        return out.getvalue(), spans, total


@dataclass
class Reconciled:
    paid_fen: int = 0  # money applied since the case was opened (net of reversals)
    adjusted_fen: int = 0  # waivers and write-offs approved since
    void: bool = False
    expected_fen: int = 0  # the frozen figure less both
    ledger_fen: int = 0  # the line's balance as the ledger keeps it today

    @property
    def ok(self) -> bool:
        return self.expected_fen == self.ledger_fen


def reconcile(case: LegalCase, lines) -> dict[int, Reconciled]:
    """bill id → the line's figure frozen at opening carried to today through the ledger's rows written since
    the case was created (three grouped reads), beside the balance the ledger keeps on the line. The frozen
    figure was computed from every allocation and approved adjustment existing then, so those written after
    ``case.created_at`` are exactly what moved it."""
    from django.db.models import Sum

    from wuye.billing.models import Adjustment, Allocation, Bill

    ids = [x.bill_id for x in lines]
    paid = dict(Allocation.objects.filter(bill_id__in=ids, created_at__gt=case.created_at).values_list("bill_id")
                .annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))
    adjusted = dict(Adjustment.objects.filter(bill_id__in=ids, status="approved", decided_at__gt=case.created_at)
                    .values_list("bill_id").annotate(t=Sum("amount_fen")).values_list("bill_id", "t"))
    bills = {pk: (amount, settled, void) for pk, amount, settled, void in Bill.objects.filter(pk__in=ids)
             .values_list("pk", "amount_fen", "settled_fen", "is_void")}
    out = {}
    for x in lines:
        amount, settled, void = bills[x.bill_id]
        r = Reconciled(paid_fen=paid.get(x.bill_id) or 0, adjusted_fen=adjusted.get(x.bill_id) or 0, void=void)
        r.expected_fen = 0 if void else x.open_fen - r.paid_fen - r.adjusted_fen
        r.ledger_fen = 0 if void else amount - settled
        out[x.bill_id] = r
    return out


class _FormCell:
    """A table cell drawing a form defined later (the page range of an exhibit)."""

    def __new__(cls, name: str):
        from reportlab.platypus import Flowable

        class FormCell(Flowable):
            def wrap(self, avail_width, avail_height):
                return avail_width, 10

            def draw(self):
                self.canv.doForm(name)

        return FormCell()


def _stored(field) -> bytes:
    """The bytes of a stored file; empty when there is none or storage no longer has it (the pack says so)."""
    if not field:
        return b""
    try:
        with field.open("rb") as f:
            return f.read()
    except OSError:
        return b""


def _picture_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a picture that decodes completely (so drawing it cannot fail half-way through the
    PDF); None for an empty, truncated, oversized or unrecognisable file."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    from wuye.common.images import MAX_PIXELS

    if not data:
        return None
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                return None
            img.load()
            return img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return None


def _ext(content_type: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}.get(content_type, ".bin")


def _csv(rows: list[list]) -> bytes:
    buf = io.StringIO()
    csv_writer(buf).writerows(rows)  # names and addresses are typed by people: never a live formula
    return ("\ufeff" + buf.getvalue()).encode()


def build_pack(*, actor: User, case: LegalCase, as_of: dt.date | None = None) -> EvidencePack:
    """Seal what is new in the chain, then build and keep the case's evidence pack (PDF and ZIP)."""
    from wuye.legal.permissions import require_legal

    require_legal(actor)
    t0 = time.monotonic()
    as_of = as_of or timezone.localdate()
    sealed = chain.seal()
    b = Builder(case, as_of)
    # the statement and its reconciliation rest on the case's bills (amount, due date, debtor) and on every
    # allocation and decided adjustment on them — those before the case made the frozen figure, those since carry
    # it to the pack's day: all sealed with the rest (decision 185). Read before the exhibits: a row written while
    # they are drawn is then a later change, never a sealed row the pack did not print
    bill_ids = [x.bill_id for x in b.lines]
    b.ledger["bill"].update(bill_ids)
    for pk, payment_id in Allocation.objects.filter(bill_id__in=bill_ids).values_list("pk", "payment_id"):
        b.ledger["allocation"].add(pk)
        b.ledger["payment"].add(payment_id)
    b.ledger["adjustment"].update(Adjustment.objects.filter(bill_id__in=bill_ids, status__in=chain.DECIDED)
                                  .values_list("pk", flat=True))
    exhibits = b.exhibits()
    ledger = chain.ledger_hashes(b.ledger)
    pdf, spans2, total = b.pdf(exhibits)
    files: list[tuple[str, bytes]] = [(PDF_NAME, pdf)]
    for ex in exhibits:
        files += ex.files
    actions = list(Action.objects.filter(pk__in=b.records["action"]).order_by("sent_at", "pk").values_list(
        "pk", "channel", "status", "sent_at", "delivered_at", "address", "periods", "content_sha256", "content"))
    files.append(("data/催缴记录.csv", _csv([["id", "渠道", "状态", "发送时间", "送达时间", "地址", "账期", "内容摘要", "内容"]]
                                       + [[a[0], a[1], a[2], _local(a[3]), _local(a[4]), a[5], " ".join(a[6] or []),
                                           a[7], a[8]] for a in actions])))
    files.append(("data/欠费明细.csv", _csv([["账期", "房屋", "项目", "截止日", "应收(分)", "未缴(分)", "违约金(分)",
                                        "法院通常支持(分)", "时效届满", "立案后缴纳(分)", "立案后减免(分)", "现未缴(分)",
                                        "账面未缴(分)"]]
                                      + [[f"{x.period_start:%Y-%m}", x.unit.code, x.fee_item, x.due_date,
                                          x.amount_fen, x.open_fen, x.late_fee_fen, x.court_fen, x.expiry,
                                          b.recs[x.bill_id].paid_fen, b.recs[x.bill_id].adjusted_fen,
                                          b.recs[x.bill_id].expected_fen, b.recs[x.bill_id].ledger_fen]
                                         for x in b.lines])))
    records = []
    for kind, ids in b.records.items():
        links = chain.links_for(kind, ids)
        for row_id in sorted(ids):
            if row_id in links:
                seq, rh, lh = links[row_id]
                records.append({"kind": kind, "id": row_id, "seq": seq, "row_hash": rh, "link_hash": lh})
    head = chain.ChainHead.objects.filter(pk=1).values_list("seq", "link_hash").first() or (0, chain.GENESIS)
    manifest = {
        "case": case.number, "party": case.party.name, "project": case.project.name, "as_of": as_of.isoformat(),
        "built_at": timezone.now().isoformat(), "built_by": actor.username,
        "exhibits": [{"no": i, "title": ex.title, "proves": ex.proves, "pages": list(spans2[i])}
                     for i, ex in enumerate(exhibits, start=1)],
        "files": [{"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in files],
        "records": sorted(records, key=lambda r: r["seq"]),
        "ledger": ledger,
        "chain_head": {"seq": head[0], "link_hash": head[1]},
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in manifest["files"])
    sums += f"{hashlib.sha256(manifest_bytes).hexdigest()}  manifest.json\n"
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
        zf.writestr("manifest.json", manifest_bytes)
        zf.writestr("SHA256SUMS.txt", sums.encode())
    zdata = zbuf.getvalue()
    pack = EvidencePack(case=case, as_of=as_of, pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                        zip_sha256=hashlib.sha256(zdata).hexdigest(), pages=total, exhibits=len(exhibits),
                        chain_seq=head[0], ledger=ledger, built_by=actor, seconds=round(time.monotonic() - t0, 3))
    pack.pdf.save(f"{case.number}-{pack.pdf_sha256[:10]}.pdf", ContentFile(pdf), save=False)
    pack.zip.save(f"{case.number}-{pack.zip_sha256[:10]}.zip", ContentFile(zdata), save=False)
    pack.save()
    chain.seal(kinds=["pack"])  # the pack's record with the ledger hashes joins the chain at once
    audit_record(actor=actor, verb="legal.pack", obj=case, after={
        "pack": pack.pk, "pages": total, "exhibits": len(exhibits), "zip_sha256": pack.zip_sha256,
        "records": len(records), "sealed_now": sealed.total})
    return pack


# --- checking a pack ---------------------------------------------------------------------------------------

def verify_pack(data: bytes) -> list[str]:
    """Problems of a pack's ZIP: files that do not match the manifest, records edited, deleted or missing
    from the chain since the pack was built. Empty when the pack holds."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(zf.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return [f"不是有效的证据包：{exc}"]
    names = set(zf.namelist())
    for f in manifest.get("files", []):
        if f["path"] not in names:
            problems.append(f"文件 {f['path']} 不在包中")
            continue
        if hashlib.sha256(zf.read(f["path"])).hexdigest() != f["sha256"]:
            problems.append(f"文件 {f['path']} 的 SHA-256 与清单不符（文件被改动）")
    only: dict[str, set[int]] = {}
    expected: dict[tuple[str, int], tuple[int, str, str]] = {}
    for r in manifest.get("records", []):
        only.setdefault(r["kind"], set()).add(r["id"])
        expected[(r["kind"], r["id"])] = (r["seq"], r["row_hash"], r["link_hash"])
    for kind, ids in only.items():
        links = chain.links_for(kind, ids)
        for row_id in sorted(ids):
            got = links.get(row_id)
            if got is not None and got != expected[(kind, row_id)]:
                problems.append(f"{chain._label(kind, row_id)} 的封存记录与证据包清单不符")
    problems += [str(p) for p in chain.verify(only=only)]
    problems += [str(p) for p in chain.verify_ledger(manifest.get("ledger") or {}, where="本证据包")]
    return problems


def pack_file_changes(data: bytes) -> list[str]:
    """What was appended on the bills a pack's ZIP sealed since it was built (``chain.ledger_changes``)."""
    try:
        manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return []
    return chain.ledger_changes(manifest.get("ledger") or {}, where="本证据包")
