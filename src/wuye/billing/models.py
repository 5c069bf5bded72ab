"""The billing ledger: fee standards, bill lines, payments, allocations and adjustments.

Money is integer fen (``BigIntegerField``). The ledger is append-only: a payment reversal is a new payment
with the opposite amount that points at the one it reverses; a void or waiver is an ``Adjustment`` that
points at the bill line. Two cached columns make the hot reads fast and are rebuilt and checked by
``wuye check_ledger``: ``Bill.settled_fen`` (allocated + adjusted) and ``Bill.is_void``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from wuye.billing.choices import AdjustmentKind, ApprovalStatus, DueRule, FeeKind, PaymentMethod, Pricing
from wuye.estate.choices import PropertyType


class BillingPolicy(models.Model):
    """收费政策 — a project's billing cycle, due-date rule and late-fee terms."""

    project = models.OneToOneField("estate.Project", verbose_name="项目", on_delete=models.CASCADE,
                                   related_name="billing_policy")
    cycle_months = models.PositiveSmallIntegerField(
        "账期（月）", default=1, choices=[(1, "按月"), (3, "按季"), (6, "按半年"), (12, "按年")])
    anchor_month = models.PositiveSmallIntegerField(
        "起始月份", default=1, help_text="账期从哪个月开始，如按半年、1 月起 → 1 月和 7 月出账。")
    due_rule = models.CharField("缴费期限规则", max_length=20, choices=DueRule.choices,
                                default=DueRule.DAY_OF_CYCLE)
    due_day = models.PositiveSmallIntegerField("每期缴费截止日", default=15)
    due_days_after_delivery = models.PositiveSmallIntegerField("送达后天数", default=7)
    late_fee_per_mille = models.DecimalField("违约金日费率（‰）", max_digits=6, decimal_places=3,
                                             default=Decimal("0"), help_text="合同无违约金条款时填 0。")
    late_fee_grace_days = models.PositiveSmallIntegerField("宽限天数", default=0)
    late_fee_cap_percent = models.DecimalField("违约金上限（占本金 %）", max_digits=6, decimal_places=2,
                                               null=True, blank=True)
    late_fee_not_above_principal = models.BooleanField("违约金不超过本金", default=True)
    late_fee_charge_at_settlement = models.BooleanField(
        "结清本金时自动计收违约金", default=False,
        help_text="开启后，一笔收款结清某期逾期本金时，按上面的违约金条款同时计收该期违约金（一次，可冲正、可减免）；"
                  "关闭时只由经理手工计收。合同没有违约金条款时不要开启。")
    court_lpr_percent = models.DecimalField("一年期 LPR（年 %）", max_digits=5, decimal_places=2,
                                            default=Decimal("3.00"))
    court_margin_percent = models.DecimalField("法院支持上浮（%）", max_digits=5, decimal_places=2,
                                               default=Decimal("30.00"),
                                               help_text="违约金超过实际损失 30% 通常会被调减。")

    class Meta:
        verbose_name = "收费政策"
        verbose_name_plural = "收费政策"

    def __str__(self) -> str:
        return f"{self.project} 收费政策"


class FeeItem(models.Model):
    """收费项目 — e.g. 物业服务费 priced per m² per month."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT,
                                related_name="fee_items")
    code = models.CharField("编码", max_length=30)
    name = models.CharField("名称", max_length=50)
    kind = models.CharField("类别", max_length=20, choices=FeeKind.choices, default=FeeKind.OTHER)
    pricing = models.CharField("计费方式", max_length=20, choices=Pricing.choices)
    active = models.BooleanField("启用", default=True)
    sort = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "收费项目"
        verbose_name_plural = "收费项目"
        ordering = ["project", "sort", "code"]
        constraints = [models.UniqueConstraint(fields=["project", "code"], name="feeitem_code_unique")]

    def __str__(self) -> str:
        return self.name


class Rate(models.Model):
    """收费标准 — the price of a fee item for a property type from a date; a separate price for vacant units."""

    fee_item = models.ForeignKey(FeeItem, verbose_name="收费项目", on_delete=models.CASCADE, related_name="rates")
    property_type = models.CharField("物业类型", max_length=20, choices=PropertyType.choices, blank=True,
                                     help_text="留空表示所有类型。")
    price = models.DecimalField("单价（元）", max_digits=12, decimal_places=4,
                                help_text="按面积：元/m²/月；按户：元/月。")
    vacant_price = models.DecimalField("空置单价（元）", max_digits=12, decimal_places=4, null=True, blank=True,
                                       help_text="空置/未入住房屋的单价；留空按正常单价。")
    effective_from = models.DateField("生效日期")

    class Meta:
        verbose_name = "收费标准"
        verbose_name_plural = "收费标准"
        ordering = ["fee_item", "property_type", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["fee_item", "property_type", "effective_from"], name="rate_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="rate_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.fee_item} {self.get_property_type_display() or '全部'} ¥{self.price} 自 {self.effective_from}"


class BillRun(models.Model):
    """出账批次 — one posting of bills for a project and period; reversible as a whole."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    period = models.DateField("账期起始", help_text="账期首月的 1 日。")
    created_at = models.DateTimeField("出账时间", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="出账人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField("出账来源", max_length=60, blank=True)
    bills_created = models.IntegerField("账单行数", default=0)
    amount_fen = models.BigIntegerField("金额（分）", default=0)
    reversed_at = models.DateTimeField("撤销时间", null=True, blank=True)
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="撤销人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    reversal_reason = models.CharField("撤销原因", max_length=300, blank=True)

    class Meta:
        verbose_name = "出账批次"
        verbose_name_plural = "出账批次"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.project} {self.period:%Y-%m} 出账 #{self.pk}"


class Bill(models.Model):
    """应收账单行 — one unit × fee item × period, with its amount, due date and the rule that made it."""

    # (project, period_start) below serves lookups by project; no separate index.
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, db_index=False)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="bills")
    party = models.ForeignKey("estate.Party", verbose_name="缴费责任人", on_delete=models.PROTECT,
                              related_name="bills")
    fee_item = models.ForeignKey(FeeItem, verbose_name="收费项目", on_delete=models.PROTECT)
    run = models.ForeignKey(BillRun, verbose_name="出账批次", null=True, blank=True, on_delete=models.PROTECT,
                            related_name="bills")
    period_start = models.DateField("账期起")
    period_end = models.DateField("账期止")
    amount_fen = models.BigIntegerField("应收（分）")
    due_date = models.DateField("缴费截止日")
    rule = models.CharField("计费依据", max_length=200)
    reissue_of = models.ForeignKey("self", verbose_name="更正自", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="reissues", db_index=False)
    late_fee_of = models.ForeignKey("self", verbose_name="违约金所属账单", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="late_fee_lines", db_index=False,
                                    help_text="违约金行指向产生它的账单；同一账单可分次计收。")
    charged_with = models.ForeignKey("Payment", verbose_name="结清时计收自收款", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="late_fees_charged", db_index=False,
                                     help_text="结清本金时自动计收的违约金行指向那笔收款；收款冲正时随之作废。")
    disputed_since = models.DateField("争议起始", null=True, blank=True,
                                      help_text="争议期间不计违约金。")
    # Cached, rebuilt by check_ledger: allocations + approved adjustments; void flag.
    settled_fen = models.BigIntegerField("已结清（分）", default=0)
    is_void = models.BooleanField("已作废", default=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "应收账单"
        verbose_name_plural = "应收账单"
        ordering = ["unit", "due_date", "period_start", "fee_item__sort", "id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "fee_item", "period_start"],
                                    condition=Q(is_void=False, late_fee_of__isnull=True),
                                    name="bill_one_live_line_per_period"),
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="bill_amount_not_negative"),
            models.CheckConstraint(condition=Q(settled_fen__gte=0) & Q(settled_fen__lte=F("amount_fen")),
                                   name="bill_settled_within_amount"),
        ]
        indexes = [
            # The account summary and allocation read only lines still open.
            models.Index(fields=["unit", "due_date"], condition=Q(is_void=False, settled_fen__lt=F("amount_fen")),
                         name="bill_open_by_unit"),
            models.Index(fields=["project", "period_start"], name="bill_by_project_period"),
            models.Index(fields=["late_fee_of"], condition=Q(late_fee_of__isnull=False), name="bill_late_fee_of"),
            models.Index(fields=["charged_with"], condition=Q(charged_with__isnull=False),
                         name="bill_late_fee_charged_with"),
            # The daily run's disputed accounts: a few lines among millions.
            models.Index(fields=["unit"], condition=Q(disputed_since__isnull=False, is_void=False),
                         name="bill_disputed_by_unit"),
            # check_ledger's check of the cached mark against the intervals: every marked line, void ones too
            models.Index(fields=["id"], condition=Q(disputed_since__isnull=False), name="bill_disputed"),
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.fee_item} {self.period_start:%Y-%m}"

    @property
    def open_fen(self) -> int:
        return 0 if self.is_void else self.amount_fen - self.settled_fen


class ReceiptCounter(models.Model):
    """收据号计数器 — one row per project and year; taken with SELECT … FOR UPDATE."""

    project = models.ForeignKey("estate.Project", on_delete=models.CASCADE)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "收据号"
        verbose_name_plural = "收据号"
        constraints = [models.UniqueConstraint(fields=["project", "year"], name="receipt_counter_unique")]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.year}: {self.last}"


class Payment(models.Model):
    """收款 — money received for a unit. A reversal is another Payment with the negative amount."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="payments")
    payer_name = models.CharField("付款人", max_length=100, blank=True)
    amount_fen = models.BigIntegerField("金额（分）")
    method = models.CharField("方式", max_length=20, choices=PaymentMethod.choices)
    paid_at = models.DateTimeField("收款时间")
    reference = models.CharField("流水号/凭证号", max_length=100, blank=True)
    receipt_no = models.CharField("收据号", max_length=40, blank=True)
    note = models.CharField("备注", max_length=300, blank=True)
    reverses = models.OneToOneField("self", verbose_name="冲正自", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="录入人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField("录入来源", max_length=60, blank=True)
    tendered_fen = models.BigIntegerField("收到现金（分）", null=True, blank=True,
                                          help_text="现金收款时顾客递来的金额；找零 = 收到现金 − 金额")

    class Meta:
        verbose_name = "收款"
        verbose_name_plural = "收款"
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="payment_not_zero"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0) | Q(reverses__isnull=False),
                                   name="payment_negative_only_as_reversal"),
            models.UniqueConstraint(fields=["method", "reference"], condition=~Q(reference="") & Q(amount_fen__gt=0),
                                    name="payment_reference_unique"),
        ]
        indexes = [models.Index(fields=["unit", "paid_at"], name="payment_by_unit"),
                   # the day's takings and a cashier's open shift read the payments entered in a time range
                   # (a sequential scan of every payment ever taken without it)
                   models.Index(fields=["created_at"], name="payment_by_created_at")]

    def __str__(self) -> str:
        return f"{self.receipt_no or '#' + str(self.pk)} {self.unit.code}"

    @property
    def change_fen(self) -> int | None:
        """找零 — cash given back (only for cash payments where the amount handed over was entered)."""
        return None if self.tendered_fen is None else self.tendered_fen - self.amount_fen


class Allocation(models.Model):
    """核销 — part of a payment applied to a bill line. Negative rows undo a reversed payment's allocations."""

    payment = models.ForeignKey(Payment, verbose_name="收款", on_delete=models.PROTECT, related_name="allocations")
    bill = models.ForeignKey(Bill, verbose_name="账单", on_delete=models.PROTECT, related_name="allocations")
    amount_fen = models.BigIntegerField("金额（分）")
    applied_on = models.DateField("核销日期")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "核销"
        verbose_name_plural = "核销"
        constraints = [models.CheckConstraint(condition=~Q(amount_fen=0), name="allocation_not_zero")]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.bill_id}: {self.amount_fen}"


class Adjustment(models.Model):
    """调整 — a void, waiver or write-off against a bill line; reduces what is owed once approved."""

    bill = models.ForeignKey(Bill, verbose_name="账单", on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField("类型", max_length=20, choices=AdjustmentKind.choices)
    amount_fen = models.BigIntegerField("金额（分）")
    reason = models.CharField("原因", max_length=300)
    reissue_amount_fen = models.BigIntegerField("重开金额（分）", null=True, blank=True,
                                                help_text="作废后按正确金额重开一行；留空只作废。")
    reissued_bill = models.OneToOneField(Bill, verbose_name="重开账单", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    status = models.CharField("审批状态", max_length=10, choices=ApprovalStatus.choices,
                              default=ApprovalStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申请人", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField("申请时间", auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审批人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    decision_note = models.CharField("审批意见", max_length=300, blank=True)
    prepay_period = models.ForeignKey("PrepayPeriod", verbose_name="预缴优惠期", null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="adjustments",
                                      help_text="预缴优惠：按登记时约定的该期优惠金额减收。")

    class Meta:
        verbose_name = "账单调整"
        verbose_name_plural = "账单调整"
        ordering = ["-requested_at"]
        constraints = [
            # A void or run reversal may close nothing (a line already fully waived); other kinds reduce > 0.
            models.CheckConstraint(
                condition=Q(amount_fen__gt=0) | Q(amount_fen=0, kind__in=[AdjustmentKind.VOID,
                                                                          AdjustmentKind.RUN_REVERSAL]),
                name="adjustment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.bill}"


class BillDispute(models.Model):
    """争议期间 — the days a bill line was (or is) disputed: no 违约金 accrues on them (domain: none on disputed
    amounts). One row per line and dispute, kept after the dispute is resolved so a later statement still leaves
    those days out. ``ends_on`` is the resolution day (the fee runs again from it), empty while open.
    ``dispute_ref`` is casework's dispute id (billing sits above casework: a plain number, not a key); empty for
    demo history and for lines marked before disputes named their lines. ``Bill.disputed_since`` caches the
    earliest start among a line's open intervals (decision 194)."""

    bill = models.ForeignKey(Bill, verbose_name="账单", on_delete=models.PROTECT, related_name="dispute_intervals")
    dispute_ref = models.PositiveBigIntegerField("争议编号", null=True, blank=True)
    starts_on = models.DateField("争议起始")
    ends_on = models.DateField("争议结束", null=True, blank=True, help_text="争议解决之日，自该日起恢复计算违约金。")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "账单争议期间"
        verbose_name_plural = "账单争议期间"
        ordering = ["bill", "starts_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                                   name="bill_dispute_ends_after_start"),
            models.UniqueConstraint(fields=["bill", "dispute_ref"], condition=Q(ends_on__isnull=True),
                                    name="bill_dispute_one_open_per_dispute"),
        ]
        indexes = [
            models.Index(fields=["dispute_ref"], condition=Q(dispute_ref__isnull=False), name="bill_dispute_by_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.starts_on}–{self.ends_on or ''}"


class InstallmentPlan(models.Model):
    """分期 — an agreement to pay a unit's open amount in instalments; needs a manager's approval.

    Its standing (good / broken / completed) is derived from payments by ``billing.installments``;
    ``status`` records the decisions and the transitions a daily job has seen.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "待审批"
        ACTIVE = "active", "执行中"
        BROKEN = "broken", "已违约"
        COMPLETED = "completed", "已履行"
        REJECTED = "rejected", "已驳回"

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="installment_plans")
    total_fen = models.BigIntegerField("分期总额（分）")
    grace_days = models.PositiveSmallIntegerField("每期宽限天数", default=7)
    reason = models.CharField("原因", max_length=300)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申请人", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField("申请时间", auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审批人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    decision_note = models.CharField("审批意见", max_length=300, blank=True)
    status_changed_on = models.DateField("状态变更日", null=True, blank=True)

    class Meta:
        verbose_name = "分期计划"
        verbose_name_plural = "分期计划"
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total_fen__gt=0), name="installment_total_positive"),
            models.UniqueConstraint(fields=["unit"], condition=Q(status__in=["pending", "active"]),
                                    name="installment_one_open_plan_per_unit"),
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} 分期 {self.items.count()} 期"


class InstallmentItem(models.Model):
    """分期明细 — one instalment: how much is due by when."""

    plan = models.ForeignKey(InstallmentPlan, verbose_name="分期计划", on_delete=models.CASCADE,
                             related_name="items")
    seq = models.PositiveSmallIntegerField("期次")
    due_date = models.DateField("到期日")
    amount_fen = models.BigIntegerField("金额（分）")

    class Meta:
        verbose_name = "分期明细"
        verbose_name_plural = "分期明细"
        ordering = ["plan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "seq"], name="installment_item_seq_unique"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="installment_item_positive"),
        ]

    def __str__(self) -> str:
        return f"第 {self.seq} 期 {self.due_date}"


class BillFeePause(models.Model):
    """分期履行期间 — the days a bill line was covered by an installment plan in good standing: no 违约金 accrues
    on them (decision 207). The lines are those the plan was asked for (open when it was requested and still open
    when approved); the interval starts on the approval day and ends on the day the plan is found broken or
    completed (the fee runs again from it), and a plan restored to good standing opens a new one for the lines
    still open. Written by ``billing.installments``; read beside the dispute intervals by every late-fee reader
    (``billing.disputes.intervals_for``). A line billed after the plan is not paused."""

    bill = models.ForeignKey(Bill, verbose_name="账单", on_delete=models.PROTECT, related_name="fee_pauses")
    plan = models.ForeignKey(InstallmentPlan, verbose_name="分期计划", on_delete=models.PROTECT,
                             related_name="fee_pauses")
    starts_on = models.DateField("起始日")
    ends_on = models.DateField("结束日", null=True, blank=True, help_text="分期违约或履行完毕之日，自该日起恢复计算违约金。")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "分期暂停违约金期间"
        verbose_name_plural = "分期暂停违约金期间"
        ordering = ["bill", "starts_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                                   name="bill_fee_pause_ends_after_start"),
            models.UniqueConstraint(fields=["bill", "plan"], condition=Q(ends_on__isnull=True),
                                    name="bill_fee_pause_one_open_per_plan"),
        ]

    def __str__(self) -> str:
        return f"{self.bill_id} 分期 {self.starts_on}–{self.ends_on or ''}"


class StatementDelivery(models.Model):
    """账单送达 — proof that a period's statement reached the unit: how, when, who signed.

    For projects whose due date runs from delivery (写字楼: N days after the statement is received), recording
    the delivery sets the due date of that period's lines.
    """

    class Method(models.TextChoices):
        HAND = "hand", "当面签收"
        REGISTERED = "registered", "挂号信"
        EMS = "ems", "EMS/快递"
        EMAIL = "email", "电子邮件"
        WECHAT = "wechat", "微信"

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="statement_deliveries")
    period_start = models.DateField("账期起")
    method = models.CharField("送达方式", max_length=12, choices=Method.choices)
    delivered_on = models.DateField("送达日期")
    signed_by = models.CharField("签收人", max_length=50, blank=True)
    signer_relation = models.CharField("签收人身份", max_length=20, blank=True,
                                       help_text="本人、家庭成员、授权人、指定负责人、前台等。")
    reference = models.CharField("单号/回执号", max_length=60, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "账单送达"
        verbose_name_plural = "账单送达"
        ordering = ["unit", "-period_start", "-delivered_on"]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.period_start:%Y-%m} {self.get_method_display()} {self.delivered_on}"


class PrepayOffer(models.Model):
    """预缴优惠方案 — pay N months of a fee item ahead at once and get X % off; set up by a manager.

    The manager who sets the offer up approves, once, every discount given under it (``PrepayAgreement``)."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT,
                                related_name="prepay_offers")
    name = models.CharField("名称", max_length=60)
    fee_item = models.ForeignKey(FeeItem, verbose_name="收费项目", on_delete=models.PROTECT)
    months = models.PositiveSmallIntegerField("预缴月数")
    discount_percent = models.DecimalField("优惠比例（%）", max_digits=5, decimal_places=2)
    valid_from = models.DateField("办理起始日")
    valid_to = models.DateField("办理截止日")
    active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="设定人（经理）", on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField("设定时间", auto_now_add=True)

    class Meta:
        verbose_name = "预缴优惠方案"
        verbose_name_plural = "预缴优惠方案"
        ordering = ["project", "-valid_from", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(months__gt=0), name="prepay_offer_months_positive"),
            models.CheckConstraint(condition=Q(discount_percent__gt=0) & Q(discount_percent__lt=100),
                                   name="prepay_offer_percent_range"),
            models.CheckConstraint(condition=Q(valid_to__gte=F("valid_from")), name="prepay_offer_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.fee_item} 预缴 {self.months} 个月 优惠 {self.discount_percent.normalize():f}%）"


class PrepayAgreement(models.Model):
    """预缴优惠登记 — a unit took an offer: the payment (to prepaid), the periods it covers and the discount of
    each, fixed when it was taken. Each period's discount becomes an approved ``Adjustment`` when that period's
    line is billed; the payment's money (prepaid) pays the rest."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="prepay_agreements")
    offer = models.ForeignKey(PrepayOffer, verbose_name="优惠方案", on_delete=models.PROTECT,
                              related_name="agreements")
    payment = models.OneToOneField(Payment, verbose_name="收款", on_delete=models.PROTECT,
                                   related_name="prepay_agreement")
    gross_fen = models.BigIntegerField("优惠前金额（分）")
    discount_fen = models.BigIntegerField("优惠金额（分）")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="经办人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)
    cancel_note = models.CharField("取消原因", max_length=300, blank=True)

    class Meta:
        verbose_name = "预缴优惠登记"
        verbose_name_plural = "预缴优惠登记"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(discount_fen__gt=0) & Q(discount_fen__lt=F("gross_fen")),
                                   name="prepay_agreement_discount_range"),
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.offer.name}"


class PrepayPeriod(models.Model):
    """预缴优惠期 — one billing period an agreement covers: its amount at the standard and its discount."""

    agreement = models.ForeignKey(PrepayAgreement, verbose_name="预缴优惠登记", on_delete=models.PROTECT,
                                  related_name="periods")
    period_start = models.DateField("账期起")
    gross_fen = models.BigIntegerField("标准金额（分）")
    discount_fen = models.BigIntegerField("优惠金额（分）")

    class Meta:
        verbose_name = "预缴优惠期"
        verbose_name_plural = "预缴优惠期"
        ordering = ["agreement", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "period_start"], name="prepay_period_unique"),
            models.CheckConstraint(condition=Q(discount_fen__gte=0), name="prepay_period_discount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} {self.period_start:%Y-%m}"


class CashierHandover(models.Model):
    """交班 — a cashier closes their shift: what the ledger says they took, by method, against the cash they
    counted and handed over. The figures are frozen when recorded; the payments themselves are not touched."""

    cashier = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="收款人", on_delete=models.PROTECT,
                                related_name="handovers")
    shift_start = models.DateTimeField("班次开始")
    shift_end = models.DateTimeField("班次结束")
    payments_count = models.PositiveIntegerField("笔数")
    total_fen = models.BigIntegerField("收款合计（分）")
    by_method = models.JSONField("按方式（分）", default=dict)
    cash_expected_fen = models.BigIntegerField("应交现金（分）")
    cash_counted_fen = models.BigIntegerField("实点现金（分）")
    handed_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="接班人", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    note = models.CharField("备注", max_length=300, blank=True)
    created_at = models.DateTimeField("交班时间", auto_now_add=True)

    class Meta:
        verbose_name = "收款交班"
        verbose_name_plural = "收款交班"
        ordering = ["-shift_end", "-id"]
        constraints = [models.CheckConstraint(condition=Q(shift_end__gte=F("shift_start")),
                                              name="handover_end_after_start")]

    def __str__(self) -> str:
        return f"{self.cashier} {self.shift_end:%Y-%m-%d %H:%M} 交班"

    @property
    def difference_fen(self) -> int:
        """长短款 — counted minus expected (negative: cash short)."""
        return self.cash_counted_fen - self.cash_expected_fen


class UnitBalance(models.Model):
    """预存余额 — a unit's prepaid balance (payments − allocations), kept current by the database itself.

    Triggers on ``billing_payment`` and ``billing_allocation`` (migration 0006; statement-level with transition
    tables on PostgreSQL, so a COPY or an INSERT … SELECT of a million rows moves it in one grouped upsert;
    row-level on SQLite) move ``prepaid_fen`` in the same transaction as every ledger write, whichever code
    writes it. A cache like ``Bill.settled_fen``: ``wuye check_ledger`` recomputes it from the entries and
    ``--rebuild`` repairs it (decision 67). No Python code writes it."""

    unit = models.OneToOneField("estate.Unit", verbose_name="房屋", on_delete=models.DO_NOTHING, primary_key=True,
                                related_name="balance", db_constraint=False)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.DO_NOTHING,
                                db_constraint=False, related_name="+")
    prepaid_fen = models.BigIntegerField("预存余额（分）", default=0)

    class Meta:
        verbose_name = "预存余额"
        verbose_name_plural = "预存余额"
        indexes = [models.Index(fields=["project"], condition=~Q(prepaid_fen=0), name="unitbalance_holding")]

    def __str__(self) -> str:
        return f"{self.unit_id}: {self.prepaid_fen}"
