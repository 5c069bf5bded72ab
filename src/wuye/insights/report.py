"""月度收缴报告 — the monthly report for the owners' committee and head office, as an A4 PDF (reportlab with the
shipped CJK font, like receipts, notices and legal documents).

Read only from a closed month's snapshot (plus its adjustment lines, shown as such) and the closed months before
it: what the report says never changes when a late payment arrives. Aggregates only — projects, buildings,
ageing buckets and months; never an owner's name or a unit (domain.md: no public naming of debtors). Every
table with a 合计 row adds up: the top buildings are followed by 其他楼栋 so the lines sum to the total arrears.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from wuye.accounts.models import User
from wuye.estate.models import Building, Project
from wuye.insights import selectors as sel
from wuye.insights.metrics import AGE_LABELS
from wuye.insights.models import MonthClose

TOP_BUILDINGS = 10


def money(fen: int | None) -> str:
    """Yuan with thousands separators, no currency sign (the column header says 元)."""
    if fen is None:
        return "—"
    return f"{Decimal(fen) / 100:,.2f}"


def pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def rate(f: sel.Figures, value: Decimal | None) -> str:
    """A rate of a group that billed this month; a group without a bill (quarterly billing) says so."""
    return "本月无账单" if not f.values["billed_fen"] else pct(value)


@dataclass
class Report:
    """What the PDF prints, as numbers (tests compare the PDF's text with these)."""

    period: dt.date
    closing: MonthClose
    company: sel.Figures
    target: Decimal | None
    projects: list[tuple[str, sel.Figures, Decimal | None]] = field(default_factory=list)
    ageing: list[tuple[str, int]] = field(default_factory=list)
    buildings: list[tuple[str, int]] = field(default_factory=list)
    other_buildings_fen: int = 0
    trend: list[dict] = field(default_factory=list)

    @property
    def arrears_fen(self) -> int:
        return self.company.arrears_fen

    @property
    def overdue_fen(self) -> int:
        return sum(v for _, v in self.ageing)


def monthly_report(period: dt.date, *, user: User, today: dt.date | None = None) -> Report:
    """The figures of closed month ``period`` as the user may see them (ValueError when it is not closed)."""
    today = today or timezone.localdate()
    closing = MonthClose.objects.filter(period=period).first()
    if closing is None:
        raise ValueError(f"{period:%Y-%m} 尚未月结")
    month = sel.month_figures(period, user=user, today=today)
    ids = sel.project_ids(user)
    goals = sel.targets(period, ids)
    by_project = sorted(sel.rollup(month, "project"), key=lambda f: f.key)
    names = dict(Project.objects.filter(pk__in=[f.key[0] for f in by_project]).values_list("pk", "name"))
    company = sel.total(month)
    report = Report(period, closing, company, sel.company_target(month, by_project, goals))
    for f in by_project:
        goal = goals.get(f.key[0])
        report.projects.append((names.get(f.key[0], str(f.key[0])), f, goal.collection_rate if goal else None))
    report.ageing = [(label, company.values[key]) for key, label in AGE_LABELS.items()]
    top = sel.top_by_arrears(month, "building", TOP_BUILDINGS)
    labels = {b.pk: f"{b.project.name} {b.name}" for b in
              Building.objects.filter(pk__in=[f.key[1] for f in top]).select_related("project")}
    report.buildings = [(labels.get(f.key[1], str(f.key[1])), f.arrears_fen) for f in top]
    report.other_buildings_fen = company.arrears_fen - sum(v for _, v in report.buildings)
    months_back = (today.year * 12 + today.month) - (period.year * 12 + period.month) + 12
    points = sel.trend(user=user, today=today, months=months_back)
    report.trend = [p for p in points if p["period"] <= period][-12:]
    return report


def report_pdf(report: Report) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from wuye.billing.documents import _build, _styles, _table

    st = _styles()
    c = report.company
    v = c.values
    closed = report.closing.closed_at.astimezone(timezone.get_default_timezone())
    adjusted = f"；月结后调整 {report.closing.revisions} 次（已计入）" if report.closing.revisions else ""
    gap = (c.collection_rate - report.target) if (report.target is not None and c.collection_rate is not None) \
        else None
    story = [
        Paragraph(f"{settings.COMPANY_NAME} 物业费收缴月度报告", st["title"]),
        Paragraph(f"{report.period.year} 年 {report.period.month} 月 · 月结快照（{closed:%Y-%m-%d %H:%M} 月结{adjusted}）",
                  st["sub"]),
        Paragraph("本报告只含汇总数字，不含任何业主姓名或房号。金额单位：元。", st["small"]),
        Spacer(1, 3 * mm),
        Paragraph("一、本月收缴", st["body"]),
        _table([["指标", "数值"],
                ["当期应收", money(v["billed_fen"])], ["当期实收", money(v["collected_fen"])],
                *([["其中：月结后调整", money(c.adjust["collected_fen"])]] if c.adjusted else []),
                ["收费率（当期）", rate(c, c.collection_rate)], ["目标收费率", pct(report.target)],
                ["与目标差距（百分点）", "—" if gap is None else f"{gap}"],
                ["户收费率", rate(c, c.household_rate)], ["月初陈欠", money(v["old_start_fen"])],
                ["清欠实收", money(v["old_collected_fen"])], ["清欠率", pct(c.clearance_rate)],
                ["月末当期欠费", money(v["current_open_fen"])], ["月末陈欠", money(v["old_open_fen"])],
                ["月末欠费合计", money(c.arrears_fen)], ["月末预存余额", money(v["prepaid_fen"])],
                ["本月减免", money(v["waived_fen"])], ["本月核销", money(v["written_off_fen"])]],
               [70 * mm, 60 * mm], align_right=(1,)),
        Spacer(1, 4 * mm),
        Paragraph("二、各项目收费率与目标", st["body"]),
        _table([["项目", "当期应收", "当期实收", "收费率", "目标", "差距"]]
               + [[name, money(f.values["billed_fen"]), money(f.values["collected_fen"]), rate(f, f.collection_rate),
                   pct(goal), "—" if goal is None or f.collection_rate is None else f"{f.collection_rate - goal}"]
                  for name, f, goal in report.projects]
               + [["合计", money(v["billed_fen"]), money(v["collected_fen"]), rate(c, c.collection_rate),
                   pct(report.target), "—" if gap is None else f"{gap}"]],
               [50 * mm, 28 * mm, 28 * mm, 22 * mm, 22 * mm, 20 * mm], align_right=(1, 2, 3, 4, 5)),
        Spacer(1, 4 * mm),
        Paragraph("三、欠费账龄（月末已过缴费截止日的本金）", st["body"]),
        _table([["逾期", "金额", "占比"]]
               + [[label, money(fen), pct(sel.percent(fen, report.overdue_fen))] for label, fen in report.ageing]
               + [["合计", money(report.overdue_fen), "100.00%" if report.overdue_fen else "—"]],
               [50 * mm, 40 * mm, 30 * mm], align_right=(1, 2)),
        Spacer(1, 4 * mm),
        Paragraph(f"四、欠费最多的楼栋（前 {TOP_BUILDINGS} 栋；月末欠费合计）", st["body"]),
        _table([["楼栋", "欠费"]] + [[name, money(fen)] for name, fen in report.buildings]
               + [["其他楼栋", money(report.other_buildings_fen)], ["合计", money(report.arrears_fen)]],
               [90 * mm, 40 * mm], align_right=(1,)),
        Spacer(1, 4 * mm),
        Paragraph("五、近 12 个月走势（已月结月份）", st["body"]),
        _table([["月份", "收费率", "户收费率", "清欠率", "欠费合计"]]
               + [[p["label"], "本月无账单" if p.get("no_bill") else pct(p["collection_rate"]),
                   "本月无账单" if p.get("no_bill") else pct(p["household_rate"]), pct(p["clearance_rate"]),
                   money(p["arrears_fen"])] for p in report.trend],
               [28 * mm, 26 * mm, 26 * mm, 26 * mm, 36 * mm], align_right=(1, 2, 3, 4)),
        Spacer(1, 3 * mm),
        Paragraph("口径：收费率 = 当期实收 ÷ 当期应收；户收费率 = 本月账期全部结清的户数 ÷ 有账单的户数；清欠率 = 清欠实收 ÷ "
                  "月初陈欠；不含违约金。各数字取自月结快照，月结后入账的差额作为调整计入并在标题注明。", st["small"]),
    ]
    return _build(story)
