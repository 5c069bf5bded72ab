"""The legal module's data: cases (法务案件) with their frozen statement, events, deadlines and costs; delivery
proofs uploaded on actions and tasks; evidence packs; the hash chain over the action log; the editable wording
of the legal documents; and the daily summary of limitation clocks per project.

A case is for one debtor (the party liable for the periods, ``Bill.party``), in one project. Its lines are the
periods it claims, frozen on the day it was opened (amount, principal open, late fee per contract, the figure a
court is likely to uphold, the limitation clock then). What happened since is appended as ``CaseEvent`` rows;
the stage on the case is the stage of the latest stage-moving event.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from wuye.legal.choices import (
    CostKind,
    DeadlineKind,
    DocumentKind,
    Event,
    Mediator,
    Outcome,
    ProofKind,
    Stage,
)


class LegalCase(models.Model):
    """法务案件 — the legal file of one debtor's arrears in one project, from review to closing."""

    number = models.CharField("案件编号", max_length=20, unique=True)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT,
                                related_name="legal_cases")
    party = models.ForeignKey("estate.Party", verbose_name="债务人", on_delete=models.PROTECT,
                              related_name="legal_cases")
    stage = models.CharField("阶段", max_length=16, choices=Stage.choices, default=Stage.REVIEW)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="承办人", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="legal_cases")
    source_task = models.ForeignKey("dunning.Task", verbose_name="来源转介任务", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="legal_cases")
    opened_on = models.DateField("立案日期")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="立案人", on_delete=models.PROTECT,
                                  related_name="+")
    # the statement frozen on the opening date (fen)
    principal_fen = models.BigIntegerField("欠费本金（分）", default=0)
    late_fee_fen = models.BigIntegerField("违约金（按合同，分）", default=0)
    court_late_fee_fen = models.BigIntegerField("违约金（法院通常支持，分）", default=0)
    barred_fen = models.BigIntegerField("其中已过时效本金（分）", default=0)
    barred_court_fen = models.BigIntegerField("其中已过时效账期的违约金（法院通常支持，分）", default=0,
                                              help_text="从债务随主债务：已过时效账期的违约金不主张。")
    note = models.CharField("备注", max_length=500, blank=True)
    closed_on = models.DateField("结案日期", null=True, blank=True)
    outcome = models.CharField("结案方式", max_length=12, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "法务案件"
        verbose_name_plural = "法务案件"
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "party"], condition=Q(closed_on__isnull=True),
                                    name="legal_one_open_case_per_debtor"),
        ]
        indexes = [models.Index(fields=["project", "stage"], name="legal_case_by_stage")]

    def __str__(self) -> str:
        return f"{self.number} {self.party}"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    @property
    def claim_fen(self) -> int:
        """What a filing may claim: principal not time-barred plus the court-likely late fee of those periods (a
        late fee follows its principal: none on a time-barred period, decision 185)."""
        return self.principal_fen - self.barred_fen + self.court_late_fee_fen - self.barred_court_fen


class CaseLine(models.Model):
    """案件账期 — one bill line the case claims, as it stood on the opening date."""

    case = models.ForeignKey(LegalCase, verbose_name="案件", on_delete=models.CASCADE, related_name="lines")
    bill = models.ForeignKey("billing.Bill", verbose_name="账单", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField("账期起")
    period_end = models.DateField("账期止")
    fee_item = models.CharField("收费项目", max_length=50)
    due_date = models.DateField("缴费截止日")
    amount_fen = models.BigIntegerField("应收（分）")
    open_fen = models.BigIntegerField("立案时未缴（分）")
    late_fee_fen = models.BigIntegerField("违约金（按合同，分）", default=0)
    court_fen = models.BigIntegerField("违约金（法院通常支持，分）", default=0)
    late_fee_explanation = models.CharField("违约金计算", max_length=500, blank=True)
    expiry = models.DateField("诉讼时效届满日")
    holiday_unchecked = models.BooleanField("节假日待核", default=False)
    barred = models.BooleanField("立案时已过时效", default=False)

    class Meta:
        verbose_name = "案件账期"
        verbose_name_plural = "案件账期"
        ordering = ["case", "period_start", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "bill"], name="legal_case_line_once")]
        indexes = [models.Index(fields=["bill"], name="legal_line_by_bill")]

    def __str__(self) -> str:
        return f"{self.case.number} {self.period_start:%Y-%m} {self.fee_item}"


class CaseEvent(models.Model):
    """案件进展 — something that happened on a case, with its date (append-only)."""

    case = models.ForeignKey(LegalCase, verbose_name="案件", on_delete=models.CASCADE, related_name="events")
    event = models.CharField("事项", max_length=24, choices=Event.choices)
    stage = models.CharField("阶段", max_length=16, choices=Stage.choices)
    on = models.DateField("日期")
    note = models.CharField("说明", max_length=500, blank=True)
    law_firm = models.CharField("律师事务所", max_length=100, blank=True)
    lawyer_name = models.CharField("律师姓名", max_length=50, blank=True)
    lawyer_licence = models.CharField("律师执业证号", max_length=40, blank=True)
    court = models.CharField("法院", max_length=100, blank=True)
    docket_no = models.CharField("案号", max_length=60, blank=True)
    mediator = models.CharField("调解组织", max_length=20, choices=Mediator.choices, blank=True)
    amount_fen = models.BigIntegerField("判决/调解金额（分）", null=True, blank=True)
    due_on = models.DateField("履行期限届满日", null=True, blank=True,
                              help_text="判决或调解书确定的履行期间最后一日；申请执行期限自此计算。")
    outcome = models.CharField("结案方式", max_length=12, choices=Outcome.choices, blank=True)
    document = models.FileField("文书", upload_to="legal/documents/%Y/%m/", max_length=300, blank=True)
    document_sha256 = models.CharField("文书摘要", max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "案件进展"
        verbose_name_plural = "案件进展"
        ordering = ["case", "on", "id"]

    def __str__(self) -> str:
        return f"{self.on} {self.get_event_display()}"


class CaseDeadline(models.Model):
    """期限 — a date the case must not miss (答辩期, 开庭, 上诉期, 申请执行 …), reminded ahead."""

    case = models.ForeignKey(LegalCase, verbose_name="案件", on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField("类型", max_length=12, choices=DeadlineKind.choices)
    due_on = models.DateField("期限")
    remind_days = models.PositiveSmallIntegerField("提前提醒（天）", default=7)
    note = models.CharField("说明", max_length=300, blank=True)
    source = models.ForeignKey(CaseEvent, verbose_name="产生自", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="deadlines")
    done_on = models.DateField("已办日期", null=True, blank=True)
    done_note = models.CharField("办结说明", max_length=300, blank=True,
                                 help_text="由系统关闭时写明原因（如按旧规则计算的上诉期）。")
    done_by_label = models.CharField("办结来源", max_length=60, blank=True,
                                     help_text="user:用户名，或关闭它的任务（job:…）。")
    reminded_on = models.DateField("已提醒日期", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "案件期限"
        verbose_name_plural = "案件期限"
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["due_on"], condition=Q(done_on__isnull=True), name="legal_deadline_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_on}"


class CaseCost(models.Model):
    """案件费用 — a court fee, lawyer fee or other cost paid for a case."""

    case = models.ForeignKey(LegalCase, verbose_name="案件", on_delete=models.CASCADE, related_name="costs")
    kind = models.CharField("类型", max_length=20, choices=CostKind.choices)
    amount_fen = models.BigIntegerField("金额（分）")
    on = models.DateField("支付日期")
    note = models.CharField("说明", max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "案件费用"
        verbose_name_plural = "案件费用"
        ordering = ["case", "on", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="legal_cost_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_fen}"


class DeliveryProof(models.Model):
    """送达凭证 — an EMS/registered-mail 签收 scan or a signed 回执 photo for a demand (an action or its task).
    Stored with its SHA-256, type, size, time and uploader; a proof of delivery marks the action delivered."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="+")
    action = models.ForeignKey("dunning.Action", verbose_name="催缴动作", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="delivery_proofs")
    task = models.ForeignKey("dunning.Task", verbose_name="任务", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="delivery_proofs")
    kind = models.CharField("类型", max_length=16, choices=ProofKind.choices)
    tracking_no = models.CharField("邮件单号", max_length=40, blank=True)
    signed_by = models.CharField("签收人", max_length=50, blank=True)
    signer_relation = models.CharField("签收人身份", max_length=20, blank=True)
    signed_on = models.DateField("签收日期", null=True, blank=True)
    delivered = models.BooleanField("证明已送达", default=True)
    file = models.FileField("文件", upload_to="legal/proofs/%Y/%m/", max_length=300)
    original_name = models.CharField("原文件名", max_length=200)
    content_type = models.CharField("文件类型", max_length=40)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField("文件摘要", max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="上传人", on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "送达凭证"
        verbose_name_plural = "送达凭证"
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["unit", "uploaded_at"], name="legal_proof_by_unit")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.tracking_no or self.original_name}"


class EvidencePack(models.Model):
    """证据包 — one build of a case's evidence: a paginated PDF with the 证据目录 and a ZIP with every file and
    a SHA-256 manifest."""

    case = models.ForeignKey(LegalCase, verbose_name="案件", on_delete=models.CASCADE, related_name="packs")
    as_of = models.DateField("截至日期")
    pdf = models.FileField("PDF", upload_to="legal/packs/%Y/%m/", max_length=300)
    zip = models.FileField("ZIP", upload_to="legal/packs/%Y/%m/", max_length=300)
    pdf_sha256 = models.CharField("PDF 摘要", max_length=64)
    zip_sha256 = models.CharField("ZIP 摘要", max_length=64)
    pages = models.PositiveIntegerField("页数", default=0)
    exhibits = models.PositiveSmallIntegerField("证据数", default=0)
    chain_seq = models.BigIntegerField("封存序号", default=0, help_text="组包时哈希链的最后序号。")
    ledger = models.JSONField("所列账务记录的摘要", default=dict, blank=True,
                              help_text="证据包列出或依据的每张账单、每笔收款、每条核销和每项已审批调整的 SHA-256"
                                        "（bill/payment/allocation/adjustment → {id: 摘要}）；本记录组包后即封存入哈希链。")
    seconds = models.FloatField("耗时（秒）", default=0)
    built_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="组包人", on_delete=models.PROTECT,
                                 related_name="+")
    built_at = models.DateTimeField("组包时间", auto_now_add=True)

    class Meta:
        verbose_name = "证据包"
        verbose_name_plural = "证据包"
        ordering = ["-built_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case.number} 证据包 {self.built_at:%Y-%m-%d %H:%M}"


class ChainHead(models.Model):
    """The head of the hash chain (one row, locked while sealing so two sealers never fork the chain)."""

    seq = models.BigIntegerField("最后序号", default=0)
    link_hash = models.CharField("最后链接摘要", max_length=64, default="0" * 64)
    sealed_at = models.DateTimeField("最后封存时间", null=True, blank=True)

    class Meta:
        verbose_name = "哈希链头"
        verbose_name_plural = "哈希链头"

    def __str__(self) -> str:
        return f"#{self.seq}"


class ChainLink(models.Model):
    """封存记录 — one record of the action log in the hash chain: the record's canonical hash and the link
    hash, which covers the previous link's hash. Editing a sealed record, or a link, is detected by
    ``wuye evidence_verify``."""

    seq = models.BigIntegerField("序号", primary_key=True)
    kind = models.CharField("记录类型", max_length=16)
    row_id = models.BigIntegerField("记录 ID")
    row_hash = models.CharField("记录摘要", max_length=64)
    prev_hash = models.CharField("前一链接摘要", max_length=64)
    link_hash = models.CharField("链接摘要", max_length=64)
    sealed_at = models.DateTimeField("封存时间")

    class Meta:
        verbose_name = "封存记录"
        verbose_name_plural = "封存记录"
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["kind", "row_id"], name="legal_chain_row_once")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.row_id}"


class DocumentTemplate(models.Model):
    """文书模板 — our own wording of a legal document draft, editable by legal staff; every save is a version.

    A row without a project is the company-wide wording; a row with one is that project's own version, which a
    draft for one of its cases uses instead (decision 201)."""

    kind = models.CharField("文书", max_length=16, choices=DocumentKind.choices)
    project = models.ForeignKey("estate.Project", verbose_name="项目", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+",
                                help_text="留空表示公司通用模板；填写则只用于该项目的文书草稿。")
    title = models.CharField("标题", max_length=60)
    body = models.TextField("正文", help_text="占位符：{creditor} {debtor} {debtor_id} {debtor_address} {units} "
                                               "{periods} {principal} {principal_upper} {late_fee} {total} "
                                               "{total_upper} {demands} {court} {today} {barred_note}")
    version = models.PositiveIntegerField("版本", default=1)
    updated_at = models.DateTimeField("修改时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="修改人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "文书模板"
        verbose_name_plural = "文书模板"
        ordering = ["kind", "project_id"]
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=Q(project__isnull=True),
                                    name="legal_template_company_once"),
            models.UniqueConstraint(fields=["kind", "project"], condition=Q(project__isnull=False),
                                    name="legal_template_project_once"),
        ]

    def __str__(self) -> str:
        return f"{self.title}（v{self.version}）"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"title", "body", "kind"} & set(update_fields):
            self.wording_check()
        super().save(*args, **kwargs)

    def wording_check(self) -> None:
        """The wording rules of ``documents.check_wording`` on every save — the service, admin, a shell, a fixture
        (``loaddata``'s raw save, through ``template_raw_save``) — not only on the template page (decision 188)."""
        from django.core.exceptions import ValidationError

        from wuye.legal.documents import check_wording

        problems = check_wording(f"{self.title}\n{self.body}", self.kind)
        if problems:
            raise ValidationError({"body": "；".join(problems)})


def template_raw_save(sender, instance, raw=False, **kwargs) -> None:
    """``pre_save`` of DocumentTemplate: a raw save (``loaddata``) skips ``save()``, so it is checked here."""
    if raw:
        instance.wording_check()


class ClockSummary(models.Model):
    """时效概况 — per project, how many open periods run out within 30/60/90 days and how many already have
    (written by the daily job, read by the legal role's numbers page)."""

    project = models.OneToOneField("estate.Project", verbose_name="项目", on_delete=models.CASCADE,
                                   related_name="clock_summary")
    as_of = models.DateField("计算日期")
    lines = models.IntegerField("未缴账期行数", default=0)
    within_30 = models.IntegerField("30 天内届满", default=0)
    within_60 = models.IntegerField("60 天内届满", default=0)
    within_90 = models.IntegerField("90 天内届满", default=0)
    barred = models.IntegerField("已过时效", default=0)
    barred_fen = models.BigIntegerField("已过时效本金（分）", default=0)
    unchecked = models.IntegerField("节假日待核", default=0)
    computed_at = models.DateTimeField("计算时间", auto_now=True)
    seconds = models.FloatField("耗时（秒）", default=0)

    class Meta:
        verbose_name = "时效概况"
        verbose_name_plural = "时效概况"

    def __str__(self) -> str:
        return f"{self.project} {self.as_of}"


class DeadlineNotice(models.Model):
    """期限提醒 — a message to a case's 承办人 that one of its deadlines reached a reminder stage (its reminder
    window, then the day before it runs out). Written by a daily job, once per deadline and stage (the unique
    constraint holds when two runs overlap); shown to that person on the legal pages until read."""

    class Stage(models.TextChoices):
        WINDOW = "window", "进入提醒期"
        LAST_DAY = "last_day", "明日或今日届满"

    deadline = models.ForeignKey(CaseDeadline, verbose_name="期限", on_delete=models.CASCADE, related_name="notices")
    stage = models.CharField("提醒阶段", max_length=10, choices=Stage.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="接收人", on_delete=models.PROTECT,
                                  related_name="legal_deadline_notices")
    text = models.CharField("内容", max_length=300)
    created_at = models.DateTimeField("提醒时间", auto_now_add=True)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)

    class Meta:
        verbose_name = "期限提醒"
        verbose_name_plural = "期限提醒"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["deadline", "stage"], name="legal_deadline_notice_once")]
        indexes = [models.Index(fields=["recipient", "read_at"], name="legal_notice_by_recipient")]

    def __str__(self) -> str:
        return self.text
