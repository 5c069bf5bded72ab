"""The tables of the manager's pages, built once and used by the page, the Excel export and the API alike."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from wuye.billing.models import FeeItem
from wuye.common.memo import memoized
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
    "no_bill": "本月无账单：按季、半年或按年计费的项目只在账期的第一个月出账，其他月份没有当期应收，收费率和户收费率"
               "不适用（不是 0%，也不是漏算）；清欠率照常计算。",
    "arrears": "欠费合计 = 当期欠费 + 陈欠：月末仍未结清的本金（不含违约金）。",
    "target_gap": "差距 = 实际 − 目标，单位百分点；负数表示未达标。",
    "adjustment": "月结后调整：月结之后才入账、但日期在该月的收款、冲正、减免等，作为单独的调整行计入，月结快照本身不改。",
}

# The column headers that name a defined figure get its definition as a tooltip (``Table.header_cells``).
HEADER_TIPS = {
    "收费率（%）": "collection_rate", "户收费率（%）": "household_rate", "清欠率（%）": "clearance_rate",
    "月初陈欠（元）": "clearance_rate", "清欠实收（元）": "clearance_rate", "当期欠费（元）": "current_open_fen",
    "陈欠（元）": "old_open_fen", "预存余额（元）": "prepaid_fen", "本月减免（元）": "relief", "本月核销（元）": "relief",
    "目标收费率（%）": "target_gap", "差距（百分点）": "target_gap", "目标清欠率（%）": "target_gap",
    "清欠差距（百分点）": "target_gap", "月结后调整（元）": "adjustment", "金额（元）": "ageing", "逾期": "ageing",
    "欠费合计（元）": "arrears",
}

NO_BILL = "本月无账单"
CYCLE_WORDS = {3: "按季", 6: "半年", 12: "按年"}


def no_bill_label(cycles) -> str:
    """"本月无账单（按季/半年计费）" for the billing cycles longer than a month among ``cycles``; the bare words
    when every one bills monthly (then a month without a bill means the billing run has not been made)."""
    words = cycle_words(cycles)
    return f"{NO_BILL}（{words}）" if words else NO_BILL


def cycle_words(cycles) -> str:
    """"按季/半年计费", "按半年计费" … for the cycles longer than a month; "" when there are none."""
    joined = "/".join(CYCLE_WORDS[c] for c in sorted(set(cycles)) if c in CYCLE_WORDS)
    if not joined:
        return ""
    return f"{joined if joined.startswith('按') else '按' + joined}计费"


def project_cycles(ids) -> dict[int, int]:
    """{project: billing cycle in months} (a project without a policy bills monthly, as ``policy_for`` makes it)."""
    from wuye.billing.models import BillingPolicy

    # every project's, read once per request (the home page asks three times, for different projects)
    every = memoized("billing_cycles", lambda: dict(BillingPolicy.objects.values_list("project_id", "cycle_months")))
    if ids is None:
        return dict(every)
    wanted = set(ids)
    return {p: c for p, c in every.items() if p in wanted}


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
    notes: list[str] = field(default_factory=list)  # said under the table (and in the export)

    @property
    def header_cells(self) -> list[tuple[str, str]]:
        """(header, its definition or "") — the definition is the header's tooltip."""
        return [(h, DEFINITIONS.get(HEADER_TIPS.get(h, ""), "")) for h in self.headers]

    @property
    def pairs(self) -> list[tuple[list, str | None]]:
        return list(zip(self.rows, self.links, strict=True))

    @property
    def body_html(self) -> str:
        """The rows as HTML, every value escaped: the template engine is slow for hundreds of cells, and so
        was ``format_html`` per cell (a third of the manager's home page in Python, 2,000 cells)."""
        if not self.rows:
            return format_html('<tr><td colspan="{}" class="text-secondary">暂无数据</td></tr>', len(self.headers))
        return mark_safe("".join(  # noqa: S308 — every value is escaped by _escape
            "<tr>" + "".join(_cell(i, cell, link) for i, cell in enumerate(row)) + "</tr>"
            for row, link in self.pairs))


def _escape(value) -> str:
    """``conditional_escape`` without its lazy-string wrappers: what is already HTML (``__html__``) as it is,
    anything else escaped as text — the same output."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def _cell(i: int, cell, link: str | None) -> str:
    if i == 0 and link:
        return f'<td class="text-nowrap"><a class="tap" href="{_escape(link)}">{_escape(cell)}</a></td>'
    return f'<td class="text-nowrap{" num" if i else ""}">{_escape("—" if cell is None else cell)}</td>'


def _drill(month: sel.Month, **params) -> str:
    """A figure's drill-down: a month with a stored snapshot (closed, or the provisional one of the month in
    progress) lists the units it was made of (``period``)."""
    return drill_url(period=f"{month.period:%Y-%m}" if month.source in ("close", "live") else None, **params)


def month_drill(month: sel.Month) -> str:
    """The list of every unit behind the month's figures."""
    return _drill(month)


def drill_url(**params) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return _units_url() + (f"?{query}" if query else "")


def _units_url() -> str:
    """The drill-down's address, reversed once per script prefix (hundreds of links a page)."""
    key = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    if key not in _UNITS_URL:
        _UNITS_URL[key] = reverse("insights:units")
    return _UNITS_URL[key]


_UNITS_URL: dict[tuple, str] = {}


def _rates(f: sel.Figures, no_bill: str = NO_BILL) -> list:
    """The three rates; a group that billed nothing this month says so instead of an empty rate."""
    if not f.values["billed_fen"]:
        return [no_bill, no_bill, f.clearance_rate]
    return [f.collection_rate, f.household_rate, f.clearance_rate]


def rate_value(cell):
    """A rate cell as a number for a chart (None for "本月无账单" and the like)."""
    return float(cell) if isinstance(cell, (int, float, Decimal)) else None


MONEY_HEADERS = ["当期应收（元）", "当期实收（元）", "收费率（%）", "户收费率（%）", "清欠率（%）", "月初陈欠（元）",
                 "清欠实收（元）", "当期欠费（元）", "陈欠（元）"]


def _money(f: sel.Figures, no_bill: str = NO_BILL) -> list:
    v = f.values
    return [yuan(v["billed_fen"]), yuan(v["collected_fen"]), *_rates(f, no_bill), yuan(v["old_start_fen"]),
            yuan(v["old_collected_fen"]), yuan(v["current_open_fen"]), yuan(v["old_open_fen"])]


def projects(month: sel.Month, goals: dict, limit: int | None = None) -> Table:
    """Every project (``limit``: the page shows those billing most; the export has them all), with the targets
    of 收费率 and 清欠率 the manager set for the month and the gap to each; a project that bills every 3 or 6
    months says 本月无账单 in the months between its bills."""
    groups = sorted(sel.rollup(month, "project"), key=lambda f: f.key)
    total = len(groups)
    if limit and total > limit:
        groups = sorted(sorted(groups, key=lambda f: (-f.values["billed_fen"], f.key))[:limit], key=lambda f: f.key)
    names = dict(Project.objects.filter(pk__in=[f.key[0] for f in groups]).values_list("pk", "name"))
    cycles = project_cycles([f.key[0] for f in groups])
    t = Table("projects", "各项目收费率与目标",
              ["项目", *MONEY_HEADERS, "目标收费率（%）", "差距（百分点）", "目标清欠率（%）", "清欠差距（百分点）",
               "预存余额（元）", "本月减免（元）", "本月核销（元）", "月结后调整（元）"])
    quiet = []
    for f in groups:
        goal = goals.get(f.key[0])
        target = goal.collection_rate if goal else None
        gap = (f.collection_rate - target) if (target is not None and f.collection_rate is not None) else None
        clear_target = goal.clearance_rate if goal else None
        clear_gap = (f.clearance_rate - clear_target) if (clear_target is not None and f.clearance_rate is not None) \
            else None
        cycle = cycles.get(f.key[0], 1)
        no_bill = no_bill_label([cycle])
        if not f.values["billed_fen"]:
            quiet.append(f"{names.get(f.key[0], f.key[0])}（{cycle_words([cycle]) or '按月计费，本月尚未出账'}）")
        t.rows.append([names.get(f.key[0], f.key[0]), *_money(f, no_bill), target, gap, clear_target, clear_gap,
                       yuan(f.values["prepaid_fen"]), yuan(f.values["waived_fen"]),
                       yuan(f.values["written_off_fen"]), yuan(f.adjust["collected_fen"]) if f.adjusted else None])
        t.links.append(_drill(month, project=f.key[0]))
    if quiet:
        t.notes.append(f"{NO_BILL}：{'、'.join(quiet)} — 按季、半年或按年计费的项目只在账期首月出账，其他月份没有"
                       "当期应收，收费率不适用（不是 0%）；清欠照常计算。")
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
    users = {pk: u.display_name or u.username for pk, u in sel.people(month, [f.key[0] for f in groups if f.key[0]])
             .items()}
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
    """The months of the trend; a month with a snapshot links to its list of units, a month without a bill
    (every project in view bills every 3 or 6 months) says so instead of an empty rate."""
    t = Table("trend", "近 24 个月走势", ["月份", "收费率（%）", "户收费率（%）", "清欠率（%）", "欠费合计（元）"])
    quiet = []
    for p in points:
        no_bill = p.get("no_bill")
        if no_bill:
            quiet.append(p["label"])
        t.rows.append([p["label"], no_bill or p["collection_rate"], no_bill or p["household_rate"],
                       p["clearance_rate"], yuan(p["arrears_fen"])])
        t.links.append(drill_url(period=p["label"]) if p.get("stored") else None)
    if quiet:
        t.notes.append(f"{'、'.join(quiet)}：{next(p['no_bill'] for p in points if p.get('no_bill'))}，"
                       "这些月份没有当期应收，收费率和户收费率不适用（走势图上标为“无账单”，不是 0%）。")
    return t


def adjustments(month: sel.Month) -> Table:
    """月结后调整: the month as closed, each later change as its own line, and the figures now (they add up)."""
    from django.utils import timezone

    t = Table("adjustments", "月结后调整", ["", "记录时间", "当期实收（元）", "结清户数", "清欠实收（元）",
                                            "欠费合计（元）", "预存余额（元）"])
    lines = sel.adjustment_lines(month)
    for line in lines:
        at = line["recorded_at"]
        t.rows.append(["月结快照" if line["revision"] is None else f"调整 {line['revision']}",
                       timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else None,
                       yuan(line["collected"]), line["settled"], yuan(line["cleared"]), yuan(line["arrears"]),
                       yuan(line["prepaid"])])
        t.links.append(None)
    if lines:
        t.rows.append(["现数（已含调整）", None, *(yuan(sum(x[k] for x in lines)) if k != "settled"
                                               else sum(x[k] for x in lines)
                                               for k in ("collected", "settled", "cleared", "arrears", "prepaid"))])
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


def incentives(rows, month: sel.Month | None = None) -> Table:
    """The collectors' month; each row opens the units of the collector's territory as of that month's end
    (its snapshot) when ``month`` has one."""
    t = Table("incentives", "收费员绩效（奖励参考）", INCENTIVE_HEADERS)
    for c in rows:
        v = c.figures.values
        t.rows.append([c.name, yuan(v["billed_fen"]), yuan(v["collected_fen"]), c.figures.collection_rate,
                       yuan(v["old_collected_fen"]), c.figures.clearance_rate, c.promises, c.kept, c.broken,
                       c.kept_rate, c.contacts, c.complaints])
        t.links.append(_drill(month, collector=c.collector_id) if month is not None
                       else drill_url(collector=c.collector_id))
    return t


def credit(rows) -> Table:
    """业主信用等级分布 (counts only): [(grade, meaning, owners, share %)]."""
    t = Table("credit", "业主信用等级分布", ["等级", "含义", "业主数", "占比（%）"])
    for row in rows:
        t.rows.append(list(row))
        t.links.append(None)
    return t


def risk(ctx: dict) -> list[Table]:
    """The early-warning page's tables (validation, calibration, coefficients, bands, the riskiest accounts)."""
    m = ctx.get("m") or {}
    flagged = Table("risk_flagged", "标为高风险时的效果（验证月）", ["方法", "标记户数", "准确率", "召回率"])
    for label, f in ((f"模型：风险 ≥ {ctx.get('high')}", m.get("flagged") or {}),
                     (f"规则：逾期 ≥ {ctx.get('baseline_days')} 天", m.get("baseline_flagged") or {})):
        flagged.rows.append([label, f.get("flagged"), f.get("precision"), f.get("recall")])
    calibration = Table("risk_calibration", "校准（验证月，按预测风险分组）", ["组", "平均预测风险（%）", "实际发生（%）", "户数"],
                        [list(r) for r in ctx.get("calibration", [])])
    coefficients = Table("risk_coefficients", "模型学到的（标准化后的系数）", ["特征", "系数"],
                         [list(r) for r in ctx.get("coefficients", [])])
    bands = Table("risk_bands", "当前各风险段户数", ["风险段", "户数"], [list(r) for r in ctx.get("bands", [])])
    top = Table("risk", "风险最高的户及主要原因", ["项目", "楼栋", "房屋", "风险（%）", "主要原因"])
    for unit, p, why in ctx.get("top", []):
        top.rows.append([unit.project.name, unit.building.name, unit.code, p, why or None])
        top.links.append(reverse("billing:unit-statement", args=[unit.pk]))
    for t in (flagged, calibration, coefficients, bands):
        t.links = [None] * len(t.rows)
    return [top, bands, flagged, calibration, coefficients]


def expenses(qs) -> Table:
    """The quarter's expense ledger of a project, as finance entered it."""
    t = Table("expenses", "支出台账", ["支出日期", "类别", "金额（元）", "凭证号", "摘要"])
    for e in qs:
        t.rows.append([e.spent_on, e.get_category_display(), yuan(e.amount_fen), e.voucher_no, e.note or None])
        t.links.append(None)
    return t
