"""The tables of the manager's pages, built once and used by the page, the Excel export and the API alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from wuye.accounts.models import User
from wuye.billing.models import FeeItem
from wuye.estate.models import Building, Project
from wuye.insights import selectors as sel
from wuye.insights.metrics import AGE_LABELS

# What each figure means (shown as tooltips; the same words as docs/glossary.md).
DEFINITIONS = {
    "collection_rate": "收费率（当期）= 当期实收 ÷ 当期应收：本月账期的账单，到月末（或今天）已核销的金额，"
                       "含预存抵扣；不含违约金。",
    "household_rate": "户收费率 = 本月账期全部结清（缴清或经批准减免）的户数 ÷ 本月有账单的户数。",
    "clearance_rate": "清欠率 = 本月收回的陈欠 ÷ 月初陈欠（本月之前账期、到上月末仍未结清的金额）。",
    "current_open_fen": "当期欠费：本月账期的账单到月末仍未结清的金额。",
    "old_open_fen": "陈欠：本月之前账期的账单到月末仍未结清的金额。",
    "prepaid_fen": "预存余额：已收款中尚未核销到账单的金额（月末）。",
    "relief": "减免 / 核销 / 预缴优惠：本月经理批准的调整金额（任何账期）。",
    "ageing": "账龄：到月末已过缴费截止日、仍未结清的金额，按逾期天数分段；3 年以上的账期多已超过诉讼时效"
              "（每期 3 年，送达催缴、部分付款、承诺等可中断），以法务的时效计算为准。",
}


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)  # drill-down per row
    total: int | None = None  # when the page shows only the first rows: how many the export has

    @property
    def pairs(self) -> list[tuple[list, str | None]]:
        return list(zip(self.rows, self.links, strict=True))

    @property
    def body_html(self) -> str:
        """The rows as HTML (escaped by format_html): the template engine is slow for hundreds of cells."""
        if not self.rows:
            return format_html('<tr><td colspan="{}" class="text-secondary">暂无数据</td></tr>', len(self.headers))
        return mark_safe("".join(  # noqa: S308 — every piece comes from format_html
            "<tr>" + "".join(_cell(i, cell, link) for i, cell in enumerate(row)) + "</tr>"
            for row, link in self.pairs))


def _cell(i: int, cell, link: str | None) -> str:
    if i == 0 and link:
        return format_html('<td class="text-nowrap"><a class="tap" href="{}">{}</a></td>', link, cell)
    return format_html('<td class="text-nowrap{}">{}</td>', " num" if i else "", "—" if cell is None else cell)


def _drill(month: sel.Month, **params) -> str:
    """A figure's drill-down: a month with a stored snapshot (closed, or the provisional one of the month in
    progress) lists the units it was made of (``period``)."""
    return drill_url(period=f"{month.period:%Y-%m}" if month.source in ("close", "live") else None, **params)


def month_drill(month: sel.Month) -> str:
    """The list of every unit behind the month's figures."""
    return _drill(month)


def drill_url(**params) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return reverse("insights:units") + (f"?{query}" if query else "")


def _rates(f: sel.Figures) -> list:
    return [f.collection_rate, f.household_rate, f.clearance_rate]


MONEY_HEADERS = ["当期应收（元）", "当期实收（元）", "收费率（%）", "户收费率（%）", "清欠率（%）", "月初陈欠（元）",
                 "清欠实收（元）", "当期欠费（元）", "陈欠（元）"]


def _money(f: sel.Figures) -> list:
    v = f.values
    return [yuan(v["billed_fen"]), yuan(v["collected_fen"]), *_rates(f), yuan(v["old_start_fen"]),
            yuan(v["old_collected_fen"]), yuan(v["current_open_fen"]), yuan(v["old_open_fen"])]


def projects(month: sel.Month, goals: dict, limit: int | None = None) -> Table:
    """Every project (``limit``: the page shows those billing most; the export has them all)."""
    groups = sorted(sel.rollup(month, "project"), key=lambda f: f.key)
    total = len(groups)
    if limit and total > limit:
        groups = sorted(sorted(groups, key=lambda f: (-f.values["billed_fen"], f.key))[:limit], key=lambda f: f.key)
    names = dict(Project.objects.filter(pk__in=[f.key[0] for f in groups]).values_list("pk", "name"))
    t = Table("projects", "各项目收费率与目标",
              ["项目", *MONEY_HEADERS, "目标收费率（%）", "差距（百分点）", "预存余额（元）", "本月减免（元）",
               "本月核销（元）", "月结后调整（元）"])
    for f in groups:
        goal = goals.get(f.key[0])
        target = goal.collection_rate if goal else None
        gap = (f.collection_rate - target) if (target is not None and f.collection_rate is not None) else None
        t.rows.append([names.get(f.key[0], f.key[0]), *_money(f), target, gap, yuan(f.values["prepaid_fen"]),
                       yuan(f.values["waived_fen"]), yuan(f.values["written_off_fen"]),
                       yuan(f.adjust["collected_fen"]) if f.adjusted else None])
        t.links.append(_drill(month, project=f.key[0]))
    t.total = total if len(groups) < total else None
    return t


def buildings(month: sel.Month, limit: int | None = 10) -> Table:
    if limit:
        groups = sel.top_by_arrears(month, "building", limit)
    else:
        groups = sorted(sel.rollup(month, "building"), key=lambda f: (-f.arrears_fen, f.key))
    names = {b.pk: f"{b.project.name} {b.name}" for b in
             Building.objects.filter(pk__in=[f.key[1] for f in groups]).select_related("project")}
    t = Table("buildings", "欠费最多的楼栋", ["楼栋", "欠费合计（元）", *MONEY_HEADERS])
    for f in groups:
        t.rows.append([names.get(f.key[1], f.key[1]), yuan(f.arrears_fen), *_money(f)])
        t.links.append(_drill(month, project=f.key[0], building=f.key[1]))
    return t


def collectors(month: sel.Month) -> Table:
    groups = sorted(sel.rollup(month, "collector"),
                    key=lambda f: (-(f.collection_rate or Decimal(-1)), -f.values["old_collected_fen"]))
    users = {u.pk: u.display_name or u.username for u in
             User.objects.filter(pk__in=[f.key[0] for f in groups if f.key[0]])}
    t = Table("collectors", "收费员排行", ["收费员", "名次", *MONEY_HEADERS])
    rank = 0
    for f in groups:
        if f.key[0] is None:
            continue
        rank += 1
        t.rows.append([users.get(f.key[0], f.key[0]), rank, *_money(f)])
        t.links.append(_drill(month, collector=f.key[0]))
    unassigned = next((f for f in groups if f.key[0] is None), None)
    if unassigned is not None:
        t.rows.append(["未分配责任区", "—", *_money(unassigned)])
        t.links.append(None)
    return t


def fee_items(month: sel.Month, limit: int | None = None) -> Table:
    """Every project's fee items (``limit``: the page shows those billing most; the export has them all)."""
    groups = sorted(sel.rollup(month, "fee_item"), key=lambda f: f.key)
    total = len(groups)
    if limit and total > limit:
        groups = sorted(sorted(groups, key=lambda f: (-f.values["billed_fen"], f.key))[:limit], key=lambda f: f.key)
    names = {i.pk: f"{i.project.name} {i.name}" for i in
             FeeItem.objects.filter(pk__in=[f.key[1] for f in groups]).select_related("project")}
    t = Table("fee_items", "按收费项目", ["收费项目", *MONEY_HEADERS])
    for f in groups:
        t.rows.append([names.get(f.key[1], f.key[1]), *_money(f)])
        t.links.append(_drill(month, project=f.key[0], fee_item=f.key[1]))
    t.total = total if len(groups) < total else None
    return t


def ageing(month: sel.Month) -> Table:
    company = sel.total(month)
    t = Table("ageing", "欠费账龄", ["逾期", "金额（元）", "占比（%）"])
    whole = sum(company.values[k] for k in AGE_LABELS)
    for key, label in AGE_LABELS.items():
        t.rows.append([label, yuan(company.values[key]), sel.percent(company.values[key], whole)])
        t.links.append(_drill(month, bucket=key))
    return t


def trend(points: list[dict]) -> Table:
    t = Table("trend", "近 24 个月走势", ["月份", "收费率（%）", "户收费率（%）", "清欠率（%）", "欠费合计（元）"])
    for p in points:
        t.rows.append([p["label"], p["collection_rate"], p["household_rate"], p["clearance_rate"],
                       yuan(p["arrears_fen"])])
        t.links.append(None)
    return t


UNIT_HEADERS = ["项目", "楼栋", "房屋", "逾期账单行数", "最早截止日", "逾期未缴（元）"]


def units(qs) -> Table:
    t = Table("units", "欠费房屋", UNIT_HEADERS)
    for r in qs:
        t.rows.append([r["unit__project__name"], r["unit__building__name"], r["unit__code"], r["lines"],
                       r["oldest_due"], yuan(r["open_fen"])])
        t.links.append(reverse("billing:unit-statement", args=[r["unit_id"]]))
    return t


def period_label(period: dt.date) -> str:
    return f"{period.year} 年 {period.month} 月"


CHANNEL_LABELS = {"sms": "短信", "wechat": "微信", "email": "邮件", "notice": "书面通知", "registered": "挂号信/EMS",
                  "call": "电话", "visit": "上门", "referral": "律师函转介", "escalate": "升级至经理"}
STEP_HEADERS = ["步骤", "渠道", "执行次数", "7 天内缴费（%）", "14 天内缴费（%）", "30 天内缴费（%）",
                "30 天内回款（元）", "成本（元）", "每百元回款成本（元）", "可比户数", "对照组 30 天缴费（%）",
                "差异（百分点）"]


def steps(effects) -> Table:
    t = Table("steps", "催缴步骤效果", STEP_HEADERS)
    for e in effects:
        t.rows.append([e.step, CHANNEL_LABELS.get(e.channel, e.channel), e.actions, e.rate(7), e.rate(14), e.rate(30),
                       yuan(e.recovered_fen), yuan(e.cost_fen), e.cost_per_100_recovered, e.covered, e.control_rate,
                       e.lift])
        t.links.append(None)
    return t


INCENTIVE_HEADERS = ["收费员", "当期应收（元）", "当期实收（元）", "收费率（%）", "清欠实收（元）", "清欠率（%）",
                     "到期承诺", "已兑现", "失约", "承诺兑现率（%）", "联系次数", "业主投诉/争议"]


def incentives(rows) -> Table:
    t = Table("incentives", "收费员绩效（奖励参考）", INCENTIVE_HEADERS)
    for c in rows:
        v = c.figures.values
        t.rows.append([c.name, yuan(v["billed_fen"]), yuan(v["collected_fen"]), c.figures.collection_rate,
                       yuan(v["old_collected_fen"]), c.figures.clearance_rate, c.promises, c.kept, c.broken,
                       c.kept_rate, c.contacts, c.complaints])
        t.links.append(drill_url(collector=c.collector_id))
    return t
