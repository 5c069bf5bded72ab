"""The collector's casework: contact attempts, promises to pay, disputes with work orders, finance checks of
"paid already" claims, and the library of talking points.

Promises and disputes are backed by the collection engine's holds (``dunning.Hold``): the engine reads the
hold, this app keeps the human side (who heard what, on which call, what was agreed).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from wuye.casework.choices import (
    CheckStatus,
    ContactChannel,
    DisputeReason,
    DisputeStatus,
    Outcome,
    Relationship,
    WorkOrderStatus,
)
from wuye.dunning.choices import AccountClass
from wuye.dunning.guardrails import SPOKEN, GuardedModel, guarded_queryset


class ImmutableError(RuntimeError):
    pass


class ContactAttempt(models.Model):
    """联系记录 — one call, visit, WeChat exchange or desk conversation about an account and what came of it.

    Append-only evidence: a row is never changed; a correction is a new row whose ``corrects`` names the row
    it replaces (the newest row of a chain is the one in force).
    """

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="contact_attempts")
    party = models.ForeignKey("estate.Party", verbose_name="联系对象", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    contact_point = models.ForeignKey("estate.ContactPoint", verbose_name="所拨号码", null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="+")
    channel = models.CharField("方式", max_length=10, choices=ContactChannel.choices)
    outcome = models.CharField("结果", max_length=16, choices=Outcome.choices)
    reason = models.CharField("原因", max_length=20, choices=DisputeReason.choices, blank=True)
    note = models.CharField("备注", max_length=500, blank=True)
    person_met = models.CharField("见到的人", max_length=50, blank=True, help_text="上门时见到的人（姓名或称呼）。")
    relationship = models.CharField("与业主关系", max_length=10, choices=Relationship.choices, blank=True)
    follow_up_on = models.DateField("下次跟进日期", null=True, blank=True)
    task = models.ForeignKey("dunning.Task", verbose_name="对应任务", null=True, blank=True,
                             on_delete=models.PROTECT, related_name="contact_attempts")
    corrects = models.OneToOneField("self", verbose_name="更正的记录", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="corrected_by")
    on = models.DateField("业务日期")
    made_at = models.DateTimeField("记录时间", default=timezone.now)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField("记录来源", max_length=60, blank=True)

    class Meta:
        verbose_name = "联系记录"
        verbose_name_plural = "联系记录"
        ordering = ["-made_at", "-id"]
        indexes = [
            models.Index(fields=["unit", "made_at"], name="contact_by_unit"),
            models.Index(fields=["made_by", "on"], name="contact_by_collector_day"),
        ]

    def __str__(self) -> str:
        return f"{self.on} {self.get_channel_display()} {self.get_outcome_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("联系记录不可修改；请新增一条更正记录。")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("联系记录不可删除；请新增一条更正记录。")


class VisitPhoto(models.Model):
    """上门照片 — a photo taken at a visit (a notice posted or slipped under the door, the door itself): evidence,
    stored with its SHA-256, type, size, the time and the collector. Append-only like the contact it belongs to."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="visit_photos")
    contact = models.ForeignKey(ContactAttempt, verbose_name="上门记录", on_delete=models.PROTECT,
                                related_name="photos")
    file = models.FileField("照片", upload_to="casework/visits/%Y/%m/", max_length=300)
    original_name = models.CharField("原文件名", max_length=200)
    content_type = models.CharField("文件类型", max_length=40)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField("文件摘要", max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="上传人", on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField("上传时间", default=timezone.now)

    class Meta:
        verbose_name = "上门照片"
        verbose_name_plural = "上门照片"
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["unit", "uploaded_at"], name="visit_photo_by_unit")]

    def __str__(self) -> str:
        return f"{self.unit} {self.uploaded_at:%Y-%m-%d} 上门照片"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("上门照片不可修改。")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("上门照片不可删除。")


class Promise(models.Model):
    """承诺缴费 — an owner's promise to pay an amount by a date, made on a contact.

    Backed by a PROMISE hold: the engine reminds the day before, marks the hold broken the day after the date
    when unpaid (and fires the broken-promise step); a payment covering the amount marks it kept.
    """

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="promises")
    contact = models.ForeignKey(ContactAttempt, verbose_name="承诺时的联系", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="promises")
    party = models.ForeignKey("estate.Party", verbose_name="承诺人", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+",
                              help_text="承诺时的缴费责任人；失约计入其记录。")
    hold = models.OneToOneField("dunning.Hold", verbose_name="暂停催缴", on_delete=models.PROTECT,
                                related_name="promise")
    promised_on = models.DateField("承诺缴费日")
    amount_fen = models.BigIntegerField("承诺金额（分）")
    made_on = models.DateField("承诺日期")
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    broken_settled_on = models.DateField("失约处理日期", null=True, blank=True,
                                         help_text="收费员工作台处理失约（分类改回暂未明确）的日期。")

    class Meta:
        verbose_name = "承诺缴费"
        verbose_name_plural = "承诺缴费"
        ordering = ["-promised_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="promise_amount_positive")]

    def __str__(self) -> str:
        return f"{self.unit} 承诺 {self.promised_on} 缴费"

    @property
    def state(self) -> str:
        """kept / broken / withdrawn / open — read from the hold the engine maintains."""
        hold = self.hold
        if hold.outcome:
            return hold.outcome
        return "withdrawn" if hold.released_on else "open"

    @property
    def state_label(self) -> str:
        return {"kept": "已兑现", "broken": "失约", "withdrawn": "已撤销", "open": "待兑现"}[self.state]


class Dispute(models.Model):
    """争议 — a refusal with a reason; holds the ladder (never the pre-due reminders) until resolved or until
    its hold date passes. House-quality complaints under the developer's warranty are labelled so."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="disputes")
    contact = models.ForeignKey(ContactAttempt, verbose_name="提出时的联系", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="disputes")
    reason = models.CharField("原因", max_length=20, choices=DisputeReason.choices)
    description = models.CharField("情况说明", max_length=500)
    developer_warranty = models.BooleanField("属开发商保修", default=False,
                                             help_text="房屋质量问题在开发商保修期内，由开发商负责维修。")
    status = models.CharField("状态", max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    hold = models.OneToOneField("dunning.Hold", verbose_name="暂停催缴", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="dispute")
    hold_until = models.DateField("暂停至", help_text="到期仍未解决时恢复催缴。")
    source = models.CharField("来源", max_length=10, default="staff",
                              choices=[("staff", "员工登记"), ("portal", "业主在线提出")])
    bill_ids = models.JSONField("涉及账单", default=list, blank=True)
    opened_on = models.DateField("提出日期")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    resolved_on = models.DateField("解决日期", null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="处理人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolution_note = models.CharField("处理结果", max_length=500, blank=True)

    class Meta:
        verbose_name = "争议"
        verbose_name_plural = "争议"
        ordering = ["-opened_on", "-id"]
        indexes = [models.Index(fields=["project", "status"], name="dispute_by_status")]

    def __str__(self) -> str:
        return f"{self.unit} {self.get_reason_display()}"


class WorkOrder(models.Model):
    """工程工单 — a fix that is the company's to make, sent to engineering from a dispute."""

    dispute = models.ForeignKey(Dispute, verbose_name="争议", on_delete=models.PROTECT, related_name="work_orders")
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="+")
    title = models.CharField("事项", max_length=200)
    detail = models.CharField("说明", max_length=500, blank=True)
    due_on = models.DateField("要求完成日期")
    status = models.CharField("状态", max_length=12, choices=WorkOrderStatus.choices, default=WorkOrderStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="派单人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("派单时间", auto_now_add=True)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="关闭人", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_note = models.CharField("完成说明", max_length=500, blank=True)

    class Meta:
        verbose_name = "工程工单"
        verbose_name_plural = "工程工单"
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return self.title


class PaymentCheck(models.Model):
    """缴费核对 — an owner says they already paid; finance looks for the money."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="+")
    contact = models.OneToOneField(ContactAttempt, verbose_name="联系记录", on_delete=models.PROTECT,
                                   related_name="payment_check")
    status = models.CharField("状态", max_length=10, choices=CheckStatus.choices, default=CheckStatus.OPEN)
    created_at = models.DateTimeField("提出时间", auto_now_add=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="核对人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField("核对时间", null=True, blank=True)
    resolution_note = models.CharField("核对结果", max_length=300, blank=True)

    class Meta:
        verbose_name = "缴费核对"
        verbose_name_plural = "缴费核对"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.unit} 缴费核对"


class TalkingPoint(GuardedModel, models.Model):
    """话术 — a short point staff may use, for an account class and/or a refusal reason (both blank: general).
    Managers edit the library; the worklist and the contact form suggest the matching points. Title and body
    are checked by the guardrails on every save and bulk write, as spoken words (``guardrails.SPOKEN``);
    a point that fails may still be switched off unchanged."""

    GUARDED_FIELDS = ("title", "body")

    code = models.SlugField("编码", max_length=40, unique=True)
    account_class = models.CharField("适用分类", max_length=12, choices=AccountClass.choices, blank=True)
    reason = models.CharField("适用原因", max_length=20, choices=DisputeReason.choices, blank=True)
    title = models.CharField("要点", max_length=60)
    body = models.TextField("话术")
    sort = models.PositiveSmallIntegerField("排序", default=100)
    active = models.BooleanField("启用", default=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="修改人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    objects = guarded_queryset(models.QuerySet).as_manager()

    class Meta:
        verbose_name = "话术"
        verbose_name_plural = "话术"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        self.guard(kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def guard_channel(self) -> str | None:
        return SPOKEN

    def clean(self):
        super().clean()
        self.guard()
