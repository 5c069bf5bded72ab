"""Bank accounts, imported statements and their lines, direct-debit mandates and batches.

Money is integer fen. A statement line is unique per (bank account, fingerprint): the bank's transaction
serial when the file has one, else a hash of date, amount, counterparty account, memo and the line's
occurrence index in its file. That constraint is what makes a re-import post nothing twice; the payment a
line posts carries a deterministic reference derived from the same fingerprint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from wuye.common.formatting import format_yuan, mask_text


def mask_account_no(value: str) -> str:
    """6222 0212 3456 7890 → ****7890 (only the last four digits are shown)."""
    digits = (value or "").replace(" ", "")
    return f"****{digits[-4:]}" if len(digits) > 4 else mask_text(digits, keep=0)


class LinePurpose(models.TextChoices):
    CREDIT = "credit", "收入"
    DEBIT = "debit", "支出"


class LineStatus(models.TextChoices):
    MATCHED = "matched", "已自动匹配入账"
    CONFIRMED = "confirmed", "已人工确认入账"
    REVIEW = "review", "待核对（有候选）"
    UNMATCHED = "unmatched", "未匹配"
    NOT_OURS = "not_ours", "非物业费收入"
    IGNORED = "ignored", "支出（不匹配）"


OPEN_STATUSES = (LineStatus.REVIEW, LineStatus.UNMATCHED)
POSTED_STATUSES = (LineStatus.MATCHED, LineStatus.CONFIRMED)


class MatchRule(models.TextChoices):
    UNIT_CODE = "unit_code", "附言含房屋编码"
    REFERENCE = "reference", "附言含缴费编号"
    NAME_AMOUNT = "name_amount", "户名与欠费金额一致"
    NAME_ONLY = "name_only", "户名一致（金额不符）"
    MANUAL = "manual", "人工指定"


class BankAccount(models.Model):
    """收款账户 — one of a project's bank accounts, with the column mapping of its statement exports."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT,
                                related_name="bank_accounts")
    name = models.CharField("账户名称", max_length=100, help_text="如：翠湖园物业费收款户。")
    bank = models.CharField("开户行", max_length=100)
    account_no = models.CharField("账号", max_length=40)
    layout = models.CharField("对账单格式", max_length=20, help_text="从预置格式选择后可逐项修改。")
    mapping = models.JSONField("列映射", default=dict)
    active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "收款账户"
        verbose_name_plural = "收款账户"
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "account_no"], name="bankaccount_no_unique")]

    def __str__(self) -> str:
        return f"{self.name}（{self.masked_no}）"

    @property
    def masked_no(self) -> str:
        return mask_account_no(self.account_no)


class StatementImport(models.Model):
    """对账单导入 — one uploaded statement file, worked by a background job: queued, running, then applied
    (all lines at once), previewed (when the uploader asked for a preview first) or failed (nothing written but
    this row and its error report)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "处理中"
        PREVIEW = "preview", "待确认"
        APPLIED = "applied", "已导入"
        FAILED = "failed", "有错误，未导入"
        DISCARDED = "discarded", "已放弃"

    UNFINISHED = (Status.QUEUED, Status.RUNNING)

    bank_account = models.ForeignKey(BankAccount, verbose_name="收款账户", on_delete=models.PROTECT,
                                     related_name="imports")
    filename = models.CharField("文件名", max_length=200)
    file = models.FileField("文件", upload_to="bank/%Y/%m/", max_length=300)
    sha256 = models.CharField("文件摘要", max_length=64, db_index=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    apply_requested = models.BooleanField("处理后直接入账", default=True,
                                          help_text="否：只预览，由财务确认后再入账。")
    rows_total = models.IntegerField("交易行数", default=0, help_text="文件解析后即填写，供进度显示。")
    started_at = models.DateTimeField("开始处理", null=True, blank=True,
                                      help_text="最近一次被后台任务认领的时间；处理中超过设定分钟数视为中断。")
    attempts = models.PositiveSmallIntegerField("处理次数", default=0,
                                                help_text="后台任务认领的次数；中断后自动重新排队，超过上限记为失败。")
    finished_at = models.DateTimeField("处理完成", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="上传人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField("来源", max_length=60, blank=True)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="确认人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField("导入时间", null=True, blank=True)
    counts = models.JSONField("统计", default=dict, blank=True,
                              help_text="rows, credits, matched, review, unmatched, ignored, duplicate, skipped")
    posted_fen = models.BigIntegerField("自动入账金额（分）", default=0)
    errors = models.JSONField("错误", default=list, blank=True)
    skipped = models.JSONField("跳过的非交易行", default=list, blank=True)
    seconds = models.DecimalField("耗时（秒）", max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = "对账单导入"
        verbose_name_plural = "对账单导入"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"对账单 #{self.pk} {self.filename}"

    @property
    def finished(self) -> bool:
        return self.status not in self.UNFINISHED


class StatementLine(models.Model):
    """银行流水 — one transaction of a statement. Credits are matched to units; debits are kept as ignored."""

    bank_account = models.ForeignKey(BankAccount, verbose_name="收款账户", on_delete=models.PROTECT,
                                     related_name="lines")
    statement = models.ForeignKey(StatementImport, verbose_name="导入批次", on_delete=models.PROTECT,
                                  related_name="lines")
    row_no = models.PositiveIntegerField("文件行号")
    fingerprint = models.CharField("流水指纹", max_length=120,
                                   help_text="银行流水号；没有时为日期、金额、对方账号、附言和序次的摘要。")
    serial = models.CharField("交易流水号", max_length=100, blank=True)
    txn_date = models.DateField("交易日期")
    txn_time = models.TimeField("交易时间", null=True, blank=True)
    purpose = models.CharField("收支", max_length=6, choices=LinePurpose.choices)
    amount_fen = models.BigIntegerField("金额（分）", help_text="收入为正，支出为负。")
    balance_fen = models.BigIntegerField("余额（分）", null=True, blank=True)
    payer_name = models.CharField("对方户名", max_length=200, blank=True)
    payer_account = models.CharField("对方账号", max_length=60, blank=True)
    memo = models.CharField("摘要/附言", max_length=500, blank=True)
    status = models.CharField("状态", max_length=10, choices=LineStatus.choices)
    rule = models.CharField("匹配规则", max_length=12, choices=MatchRule.choices, blank=True)
    confidence = models.PositiveSmallIntegerField("置信度（%）", default=0)
    suggestions = models.JSONField("候选房屋", default=list, blank=True,
                                   help_text="[{unit_id, code, rule, confidence, why}]，按置信度排序。")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    payment = models.OneToOneField("billing.Payment", verbose_name="收款", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="statement_line")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="处理人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField("处理时间", null=True, blank=True)
    decision_note = models.CharField("处理说明", max_length=300, blank=True)

    class Meta:
        verbose_name = "银行流水"
        verbose_name_plural = "银行流水"
        ordering = ["bank_account", "txn_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bank_account", "fingerprint"], name="statementline_once"),
            models.CheckConstraint(condition=~Q(amount_fen=0), name="statementline_not_zero"),
        ]
        indexes = [models.Index(fields=["bank_account", "status"], name="statementline_by_status")]

    def __str__(self) -> str:
        return f"{self.txn_date} {self.payer_name} {format_yuan(self.amount_fen)}"

    @property
    def masked_payer_account(self) -> str:
        return mask_account_no(self.payer_account)


class Mandate(models.Model):
    """代扣协议 — the payer's authority for us to debit their bank account for a unit's fees."""

    class Status(models.TextChoices):
        ACTIVE = "active", "有效"
        REVOKED = "revoked", "已终止"

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="mandates")
    payer_name = models.CharField("扣款户名", max_length=100)
    bank = models.CharField("扣款银行", max_length=100)
    account_no = models.CharField("扣款账号", max_length=40)
    signed_on = models.DateField("签约日期")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    limit_fen = models.BigIntegerField("单次限额（分）", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    revoked_on = models.DateField("终止日期", null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="终止人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    revoke_reason = models.CharField("终止原因", max_length=300, blank=True)

    class Meta:
        verbose_name = "代扣协议"
        verbose_name_plural = "代扣协议"
        ordering = ["project", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["unit"], condition=Q(status="active"), name="mandate_one_active"),
            models.CheckConstraint(condition=Q(limit_fen__isnull=True) | Q(limit_fen__gt=0),
                                   name="mandate_limit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.unit} 代扣 {self.masked_no}"

    @property
    def masked_no(self) -> str:
        return mask_account_no(self.account_no)


class DebitBatch(models.Model):
    """代扣批次 — one debit file for a project and date: one line per active mandate with money open."""

    class Status(models.TextChoices):
        SENT = "sent", "待银行回盘"
        DONE = "done", "已回盘"

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    as_of = models.DateField("扣款日期")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.SENT)
    line_count = models.IntegerField("笔数", default=0)
    amount_fen = models.BigIntegerField("金额（分）", default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="创建人", on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    result_filename = models.CharField("回盘文件", max_length=200, blank=True)
    result_at = models.DateTimeField("回盘时间", null=True, blank=True)
    result_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="回盘导入人", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "代扣批次"
        verbose_name_plural = "代扣批次"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"代扣批次 #{self.pk} {self.as_of}"


class DebitLine(models.Model):
    """代扣明细 — one debit request; ``reference`` goes to the bank and comes back in its result file."""

    class Status(models.TextChoices):
        PENDING = "pending", "待回盘"
        SUCCEEDED = "succeeded", "扣款成功"
        FAILED = "failed", "扣款失败"

    batch = models.ForeignKey(DebitBatch, verbose_name="代扣批次", on_delete=models.PROTECT, related_name="lines")
    mandate = models.ForeignKey(Mandate, verbose_name="代扣协议", on_delete=models.PROTECT, related_name="lines")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    result_code = models.CharField("银行返回码", max_length=20, blank=True)
    result_text = models.CharField("银行返回说明", max_length=200, blank=True)
    result_on = models.DateField("处理日期", null=True, blank=True)
    payment = models.OneToOneField("billing.Payment", verbose_name="收款", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="debit_line")
    hold = models.ForeignKey("dunning.Hold", verbose_name="代扣期间暂停催缴", null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "代扣明细"
        verbose_name_plural = "代扣明细"
        ordering = ["batch", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="debitline_positive"),
            models.UniqueConstraint(fields=["batch", "mandate"], name="debitline_once_per_batch"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return debit_reference(self.pk)


DEBIT_REF_PREFIX = "WYDK"


def debit_reference(line_id: int) -> str:
    return f"{DEBIT_REF_PREFIX}{line_id:010d}"


def debit_line_id(reference: str) -> int | None:
    ref = (reference or "").strip().upper()
    if ref.startswith(DEBIT_REF_PREFIX) and ref[len(DEBIT_REF_PREFIX):].isascii() and ref[len(DEBIT_REF_PREFIX):].isdigit():
        return int(ref[len(DEBIT_REF_PREFIX):])
    return None
