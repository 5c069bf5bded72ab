"""The manager's numbers: targets per project and month, and month-end snapshots of the collection figures.

A closed month's figures are frozen (``MonthFigure`` rows of kind ``close``); money that arrives later dated
inside the month, a payment reversed afterwards, a waiver or a void of that month's lines show as rows of kind
``adjust`` written by a later recheck — the closing rows never change. The current month is computed from the
ledger and kept as rows of kind ``live`` (replaced on each refresh). Definitions: docs/glossary.md and
``insights.metrics``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# Every figure a snapshot row carries (integer fen or a count of units). Order = column order in exports.
MEASURES = (
    "billed_fen", "collected_fen", "relieved_fen", "units_billed", "units_settled",
    "old_start_fen", "old_collected_fen", "old_relieved_fen", "current_open_fen", "old_open_fen",
    "age_30_fen", "age_90_fen", "age_180_fen", "age_365_fen", "age_2y_fen", "age_3y_fen", "age_over_3y_fen",
    "prepaid_fen", "waived_fen", "written_off_fen", "discount_fen",
)
AGE_MEASURES = ("age_30_fen", "age_90_fen", "age_180_fen", "age_365_fen", "age_2y_fen", "age_3y_fen",
                "age_over_3y_fen")


class Target(models.Model):
    """收费目标 — a project's target 收费率 (and 清欠率) for one month, set by a manager."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE,
                                related_name="collection_targets")
    period = models.DateField("月份", help_text="该月 1 日。")
    collection_rate = models.DecimalField("目标收费率（当期，%）", max_digits=5, decimal_places=2)
    clearance_rate = models.DecimalField("目标清欠率（%）", max_digits=5, decimal_places=2, null=True, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="设定人", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField("设定时间", auto_now=True)

    class Meta:
        verbose_name = "收费目标"
        verbose_name_plural = "收费目标"
        ordering = ["project", "-period"]
        constraints = [
            models.UniqueConstraint(fields=["project", "period"], name="target_one_per_project_month"),
            models.CheckConstraint(condition=Q(collection_rate__gte=0, collection_rate__lte=100),
                                   name="target_collection_rate_range"),
            models.CheckConstraint(condition=Q(clearance_rate__isnull=True)
                                   | Q(clearance_rate__gte=0, clearance_rate__lte=100),
                                   name="target_clearance_rate_range"),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.period:%Y-%m} {self.collection_rate}%"


class MonthClose(models.Model):
    """月结 — one month's closing: when the snapshot was written and how often it has been rechecked."""

    period = models.DateField("月份", unique=True, help_text="该月 1 日。")
    closed_at = models.DateTimeField("月结时间")
    seconds = models.FloatField("耗时（秒）", default=0)
    rechecked_at = models.DateTimeField("最近复核", null=True, blank=True)
    revisions = models.PositiveIntegerField("调整次数", default=0)
    actor_label = models.CharField("执行来源", max_length=60, blank=True)

    class Meta:
        verbose_name = "月结"
        verbose_name_plural = "月结"
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} 月结"


class FigureKind(models.TextChoices):
    CLOSE = "close", "月结快照"
    ADJUST = "adjust", "月结后调整"
    LIVE = "live", "当月实时"


class MonthFigures(models.Model):
    """The figures of a month, the same columns in the per-building rows (``MonthFigure``) and in their
    roll-ups (``MonthRollup``); what each means is in docs/glossary.md."""

    billed_fen = models.BigIntegerField("当期应收", default=0)
    collected_fen = models.BigIntegerField("当期实收", default=0)
    relieved_fen = models.BigIntegerField("当期减免", default=0)
    units_billed = models.IntegerField("应收户数", default=0)
    units_settled = models.IntegerField("结清户数", default=0)
    old_start_fen = models.BigIntegerField("月初陈欠", default=0)
    old_collected_fen = models.BigIntegerField("清欠实收", default=0)
    old_relieved_fen = models.BigIntegerField("陈欠减免", default=0)
    current_open_fen = models.BigIntegerField("月末当期欠费", default=0)
    old_open_fen = models.BigIntegerField("月末陈欠", default=0)
    age_30_fen = models.BigIntegerField("逾期 1–30 天", default=0)
    age_90_fen = models.BigIntegerField("逾期 31–90 天", default=0)
    age_180_fen = models.BigIntegerField("逾期 91–180 天", default=0)
    age_365_fen = models.BigIntegerField("逾期 181–365 天", default=0)
    age_2y_fen = models.BigIntegerField("逾期 1–2 年", default=0)
    age_3y_fen = models.BigIntegerField("逾期 2–3 年", default=0)
    age_over_3y_fen = models.BigIntegerField("逾期 3 年以上", default=0)
    prepaid_fen = models.BigIntegerField("月末预存余额", default=0)
    waived_fen = models.BigIntegerField("本月减免", default=0)
    written_off_fen = models.BigIntegerField("本月核销", default=0)
    discount_fen = models.BigIntegerField("本月预缴优惠", default=0)

    class Meta:
        abstract = True


class MonthFigure(MonthFigures):
    """月度指标行 — one month's figures for a project × building × collector (× fee item; the row without a
    fee item is all items together, the only one that counts households and prepaid balances)."""

    period = models.DateField("月份")
    kind = models.CharField("类型", max_length=10, choices=FigureKind.choices)
    revision = models.PositiveIntegerField("调整序号", default=0)
    recorded_at = models.DateTimeField("记录时间")
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+")
    building = models.ForeignKey("estate.Building", verbose_name="楼栋", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="收费员", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", db_index=False)
    fee_item = models.ForeignKey("billing.FeeItem", verbose_name="收费项目", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        verbose_name = "月度指标"
        verbose_name_plural = "月度指标"
        indexes = [
            models.Index(fields=["period", "kind", "project"], name="monthfigure_by_period"),
            models.Index(fields=["project", "period"], name="monthfigure_by_project"),
            # when the month's provisional snapshot was taken (``selectors.provisional_at``, on every visit of
            # the manager's home): one index entry, not a sort of the month's 34,000 rows at 1M units
            models.Index(fields=["kind", "period", "-recorded_at"], name="monthfigure_recorded"),
        ]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.get_kind_display()} {self.project_id}/{self.building_id}"


class MonthRollup(MonthFigures):
    """月度指标汇总 — ``MonthFigure`` rows with their buildings folded: one month's figures per project ×
    collector × fee item (fee item empty: all items), for each kind and revision the figures have, written with
    them. The manager's home page and the trend read these (hundreds of rows a month, not tens of thousands)."""

    period = models.DateField("月份")
    kind = models.CharField("类型", max_length=10, choices=FigureKind.choices)
    revision = models.PositiveIntegerField("调整序号", default=0)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="收费员", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", db_index=False)
    fee_item = models.ForeignKey("billing.FeeItem", verbose_name="收费项目", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        verbose_name = "月度指标汇总"
        verbose_name_plural = "月度指标汇总"
        indexes = [models.Index(fields=["period", "kind", "project"], name="monthrollup_by_period")]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.get_kind_display()} {self.project_id}"


class ExpenseCategory(models.TextChoices):
    STAFF = "staff", "人员费用"
    CLEANING = "cleaning", "保洁"
    SECURITY = "security", "秩序维护"
    GREENING = "greening", "绿化养护"
    REPAIR = "repair", "共用部位维修养护"
    ELEVATOR = "elevator", "电梯维保"
    UTILITIES = "utilities", "公共水电"
    ADMIN = "admin", "办公及管理"
    OTHER = "other", "其他"


class Expense(models.Model):
    """支出 — one expense of a project for the income and expense disclosure (收支公示), entered by finance."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT,
                                related_name="expenses")
    category = models.CharField("类别", max_length=12, choices=ExpenseCategory.choices)
    amount_fen = models.BigIntegerField("金额（分）")
    spent_on = models.DateField("支出日期")
    voucher_no = models.CharField("凭证号", max_length=40)
    note = models.CharField("摘要", max_length=200, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="录入人", on_delete=models.PROTECT,
                                   related_name="+")
    entered_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        verbose_name = "支出"
        verbose_name_plural = "支出"
        ordering = ["project", "-spent_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="expense_amount_positive"),
            models.UniqueConstraint(fields=["project", "voucher_no"], name="expense_voucher_unique"),
        ]
        indexes = [models.Index(fields=["project", "spent_on"], name="expense_by_project_day")]

    def __str__(self) -> str:
        return f"{self.project} {self.spent_on} {self.get_category_display()} {self.voucher_no}"


class Disclosure(models.Model):
    """收支公示 — a project's quarter as published: aggregates only, frozen when a manager publishes them,
    shown on a public page and an A4 poster until ``expires_on``."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT,
                                related_name="disclosures")
    year = models.PositiveSmallIntegerField("年度")
    quarter = models.PositiveSmallIntegerField("季度")
    figures = models.JSONField("公示数据")
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="发布人", on_delete=models.PROTECT,
                                     related_name="+")
    published_at = models.DateTimeField("发布时间", auto_now_add=True)
    expires_on = models.DateField("公示截止日")

    class Meta:
        verbose_name = "收支公示"
        verbose_name_plural = "收支公示"
        ordering = ["-year", "-quarter", "project"]
        constraints = [
            models.UniqueConstraint(fields=["project", "year", "quarter"], name="disclosure_one_per_quarter"),
            models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="disclosure_quarter_range"),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.year} 年第 {self.quarter} 季度收支公示"


class UnitFigure(models.Model):
    """月结房屋明细 — what a month's ageing figures are made of: per unit × fee item × ageing bucket, the open
    overdue principal at the month's end (kind ``close``; a recheck adds ``adjust`` rows of the difference, like
    ``MonthFigure``), so a closed month's drill-down lists the amounts its figures were made of. Rows are copied
    from the ledger in the transaction that reads it, so the database checks no foreign key per row (half a
    million rows a month at 1M units: the deferred checks took longer at commit than the copy; decision 94)."""

    period = models.DateField("月份")
    kind = models.CharField("类型", max_length=10, choices=FigureKind.choices)
    revision = models.PositiveIntegerField("调整序号", default=0)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+",
                                db_constraint=False)
    building = models.ForeignKey("estate.Building", verbose_name="楼栋", on_delete=models.CASCADE,
                                 related_name="+", db_index=False, db_constraint=False)
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="收费员", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False)
    fee_item = models.ForeignKey("billing.FeeItem", verbose_name="收费项目", on_delete=models.CASCADE,
                                 related_name="+", db_index=False, db_constraint=False)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="+",
                             db_index=False, db_constraint=False)
    bucket = models.CharField("账龄段", max_length=16)
    open_fen = models.BigIntegerField("逾期未缴")
    lines = models.IntegerField("账单行数")
    oldest_due = models.DateField("最早截止日", null=True, blank=True)

    class Meta:
        verbose_name = "月结房屋明细"
        verbose_name_plural = "月结房屋明细"
        indexes = [models.Index(fields=["period", "project", "building"], name="unitfigure_by_period")]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.unit_id} {self.bucket}"


class UnitTotal(models.Model):
    """下钻房屋合计 — what a month's drill-down lists, ready to page through: per unit, all fee items together,
    the open overdue principal at the month's end in all (``bucket`` empty) and per ageing bucket. For a closed
    month it is the ``UnitFigure`` rows with their adjustments summed (a recheck rewrites the rows of the units it
    changed); for the month in progress, the provisional snapshot's. Derived, like ``MonthFigure``'s roll-ups:
    the record of what changed when stays in ``UnitFigure``. Read in index order, one page at a time."""

    period = models.DateField("月份")
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+",
                                db_index=False, db_constraint=False)
    building = models.ForeignKey("estate.Building", verbose_name="楼栋", on_delete=models.CASCADE,
                                 related_name="+", db_index=False, db_constraint=False)
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="收费员", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="+",
                             db_index=False, db_constraint=False)
    bucket = models.CharField("账龄段", max_length=16, blank=True, help_text="空：全部账龄段。")
    open_fen = models.BigIntegerField("逾期未缴")
    lines = models.IntegerField("账单行数")
    oldest_due = models.DateField("最早截止日", null=True, blank=True)

    class Meta:
        verbose_name = "下钻房屋合计"
        verbose_name_plural = "下钻房屋合计"
        indexes = [
            # the whole scope, in all or in one ageing bucket (the ageing chart's links)
            models.Index(fields=["period", "bucket", "-open_fen", "unit"], name="unittotal_by_amount"),
            # a building's, a project's or a collector's units, in all
            models.Index(fields=["period", "building", "-open_fen", "unit"], condition=Q(bucket=""),
                         name="unittotal_by_building"),
            models.Index(fields=["period", "project", "-open_fen", "unit"], condition=Q(bucket=""),
                         name="unittotal_by_project"),
            models.Index(fields=["period", "collector", "-open_fen", "unit"],
                         condition=Q(bucket="", collector__isnull=False), name="unittotal_by_collector"),
            # an incremental provisional snapshot rewrites the rows of the buildings it recomputed (decision 177)
            models.Index(fields=["period", "building"], name="unittotal_by_period_building"),
        ]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.unit_id} {self.bucket or '合计'}"


class LiveSnapshot(models.Model):
    """本月临时快照状态 — where the provisional snapshot of the month in progress stands (decision 177): when it
    was taken, as of which day, by which version of the figures' code, and the territories it assigned collectors
    from. One row a month; every refresh locks it first, so two refreshes run one after the other."""

    period = models.DateField("月份", unique=True, help_text="该月 1 日。")
    as_of = models.DateField("数据截至", null=True, blank=True)
    taken_at = models.DateTimeField("快照时间", null=True, blank=True)
    version = models.CharField("指标版本", max_length=40, blank=True)
    territories = models.JSONField("片区指纹", default=dict, help_text="楼栋 → 其片区（楼层范围、收费员）。")
    full = models.BooleanField("上次为全量", default=False)
    buildings = models.IntegerField("上次重算楼栋数", default=0)
    written = models.IntegerField("上次写入指标行数", default=0)
    seconds = models.FloatField("上次耗时（秒）", default=0)

    class Meta:
        verbose_name = "本月临时快照状态"
        verbose_name_plural = "本月临时快照状态"

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} 临时快照 {self.taken_at}"


class LiveChange(models.Model):
    """临时快照待重算 — an input of the provisional snapshot written since it was taken: a unit's ledger or
    place (``unit_id``), a building (``building_id``: a unit moved out of it), a whole project, or everything.
    Written in the writer's transaction by ``insights.receivers`` from ``common.changes``; the refresh reads
    the rows, recomputes their buildings and deletes exactly the rows it read (decision 177)."""

    unit_id = models.BigIntegerField("房屋", null=True, blank=True)
    building_id = models.BigIntegerField("楼栋", null=True, blank=True)
    project_id = models.BigIntegerField("项目", null=True, blank=True)
    everything = models.BooleanField("全部", default=False)

    class Meta:
        verbose_name = "临时快照待重算"
        verbose_name_plural = "临时快照待重算"

    def __str__(self) -> str:
        return f"{self.unit_id or ''}/{self.building_id or ''}/{self.project_id or ''}"


class RiskModel(models.Model):
    """预警模型 — one training of the early-warning model: a logistic regression stored as numbers (feature
    names, standardisation, coefficients; no pickled object to load), with its time-split validation."""

    trained_at = models.DateTimeField("训练时间")
    as_of = models.DateField("数据截至", help_text="训练样本的结果期最晚到这一天（含）。")
    features = models.JSONField("特征")
    mean = models.JSONField("均值")
    scale = models.JSONField("标准差")
    coef = models.JSONField("系数")
    intercept = models.FloatField("截距")
    metrics = models.JSONField("验证指标", default=dict)
    seconds = models.FloatField("训练耗时（秒）", default=0)
    scored_on = models.DateField("评分日期", null=True, blank=True)
    scored = models.IntegerField("已评分户数", default=0)

    class Meta:
        verbose_name = "预警模型"
        verbose_name_plural = "预警模型"
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"预警模型 {self.trained_at:%Y-%m-%d}（数据截至 {self.as_of}）"


class RiskScore(models.Model):
    """预警分 — one unit's probability of being 90+ days overdue within three months, with its top reasons.
    Staff-only: never shown to the owner, never published, never a reason to refuse a service."""

    # No foreign-key constraints in the database (decision 97): the table is replaced whole by one writer from
    # rows it has just read, and checking 895k rows × 3 keys at commit cost 14 s of the refresh at 1M units.
    # Django still cascades deletes of a model, project or unit.
    model = models.ForeignKey(RiskModel, verbose_name="模型", on_delete=models.CASCADE, related_name="scores",
                              db_index=False, db_constraint=False)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+",
                                db_index=False, db_constraint=False)
    unit = models.OneToOneField("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE,
                                related_name="risk_score", db_constraint=False)
    as_of = models.DateField("特征日期")
    probability = models.FloatField("风险概率")
    reasons = models.JSONField("主要原因", default=list)

    class Meta:
        verbose_name = "预警分"
        verbose_name_plural = "预警分"
        indexes = [models.Index(fields=["project", "-probability"], name="riskscore_by_project")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.probability:.2f}"
