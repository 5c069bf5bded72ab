"""Estate master data: who owes for what.

Project → Building → Unit; Party (person or company) linked to units through Occupancy (owner or tenant,
with effective dates); ContactPoint per party; UnitStateChange keeps the occupancy-state history.
Every table carries ``project`` (directly or via its unit) so a later shard-by-project stays possible.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from wuye.estate.choices import (
    DEAD_VALIDITIES,
    ContactKind,
    ContactSource,
    ContactValidity,
    OccupancyState,
    OccupantRole,
    PartyKind,
    ProjectKind,
    PropertyType,
)


class Project(models.Model):
    """项目 — a residential estate (小区) or an office building (写字楼) that the company manages."""

    code = models.CharField("项目编码", max_length=30, unique=True)
    name = models.CharField("项目名称", max_length=100)
    kind = models.CharField("项目类型", max_length=20, choices=ProjectKind.choices, default=ProjectKind.RESIDENTIAL)
    city = models.CharField("城市", max_length=50, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    developer = models.ForeignKey(
        "Party",
        verbose_name="开发商",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="developed_projects",
        help_text="未售或未交付的房屋由开发商承担物业费。",
    )
    timezone = models.CharField("时区", max_length=40, default="Asia/Shanghai")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "项目"
        verbose_name_plural = "项目"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    """楼栋."""

    project = models.ForeignKey(Project, verbose_name="项目", on_delete=models.PROTECT, related_name="buildings")
    code = models.CharField("楼栋编码", max_length=30)
    name = models.CharField("楼栋名称", max_length=50)
    floors = models.SmallIntegerField("地上层数", null=True, blank=True)

    class Meta:
        verbose_name = "楼栋"
        verbose_name_plural = "楼栋"
        ordering = ["project", "code"]
        constraints = [models.UniqueConstraint(fields=["project", "code"], name="building_code_unique")]

    def __str__(self) -> str:
        return f"{self.project.name} {self.name}"


class Unit(models.Model):
    """房屋 (房号) — the thing fees are charged on; identified by ``code`` within its project."""

    project = models.ForeignKey(Project, verbose_name="项目", on_delete=models.PROTECT, related_name="units")
    building = models.ForeignKey(Building, verbose_name="楼栋", on_delete=models.PROTECT, related_name="units")
    entrance = models.CharField("单元", max_length=20, blank=True)
    floor = models.SmallIntegerField("楼层", null=True, blank=True)
    number = models.CharField("房号", max_length=30)
    code = models.CharField("房屋编码", max_length=60, help_text="项目内唯一，如 3-2-1502。")
    property_type = models.CharField("物业类型", max_length=20, choices=PropertyType.choices)
    area = models.DecimalField("建筑面积(m²)", max_digits=10, decimal_places=2)
    state = models.CharField(
        "入住状态", max_length=20, choices=OccupancyState.choices, default=OccupancyState.VACANT,
        help_text="当前状态；历史见状态变更记录。",
    )
    delivered_on = models.DateField("交付日期", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "房屋"
        verbose_name_plural = "房屋"
        ordering = ["project", "code"]
        constraints = [
            models.UniqueConstraint(fields=["project", "code"], name="unit_code_unique"),
            models.CheckConstraint(condition=Q(area__gt=0), name="unit_area_positive"),
        ]
        indexes = [models.Index(fields=["building", "floor"], name="unit_by_building_floor")]

    def __str__(self) -> str:
        return f"{self.project.name} {self.code}"


class UnitStateChange(models.Model):
    """入住状态变更 — history of a unit's occupancy state (空置, 装修中, 自住, 出租)."""

    unit = models.ForeignKey(Unit, verbose_name="房屋", on_delete=models.CASCADE, related_name="state_changes")
    state = models.CharField("状态", max_length=20, choices=OccupancyState.choices)
    since = models.DateField("起始日期")
    recorded_at = models.DateTimeField("记录时间", auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="记录人", null=True, blank=True, on_delete=models.PROTECT
    )
    source = models.CharField("来源", max_length=60, blank=True)

    class Meta:
        verbose_name = "入住状态变更"
        verbose_name_plural = "入住状态变更"
        ordering = ["unit", "-since", "-id"]

    def __str__(self) -> str:
        return f"{self.since:%Y-%m-%d} {self.get_state_display()}"


class Party(models.Model):
    """业户 — a person or a company that owns or rents units (also the developer)."""

    kind = models.CharField("类型", max_length=10, choices=PartyKind.choices, default=PartyKind.PERSON)
    name = models.CharField("姓名/名称", max_length=100, db_index=True)
    id_number = models.CharField("证件号码", max_length=40, blank=True, help_text="身份证号或统一社会信用代码。")
    natural_key = models.CharField(
        "识别键", max_length=200, unique=True,
        help_text="导入去重用：证件号，或姓名+首个手机号，或开发商项目编码。",
    )
    is_developer = models.BooleanField("开发商", default=False)
    lives_elsewhere = models.BooleanField("常住异地", default=False)
    is_investor = models.BooleanField("投资客(空置房)", default=False)
    is_retired = models.BooleanField("退休", default=False)
    is_business_owner = models.BooleanField("个体/企业主", default=False)
    preferred_channel = models.CharField("偏好渠道", max_length=20, blank=True)
    preferred_time = models.CharField("偏好联系时间", max_length=50, blank=True)
    designated_signer = models.ForeignKey(
        "self", verbose_name="指定负责人", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="signs_for", help_text="写字楼租户签收账单和催缴通知书的人。",
    )
    note = models.CharField("备注", max_length=500, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "业户"
        verbose_name_plural = "业户"
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Occupancy(models.Model):
    """产权/租住关系 — a party owns (业主) or rents (租户) a unit from ``start`` until ``end``.

    Rows are never deleted; an ownership transfer ends one row and starts another.
    """

    unit = models.ForeignKey(Unit, verbose_name="房屋", on_delete=models.PROTECT, related_name="occupancies")
    party = models.ForeignKey(Party, verbose_name="业户", on_delete=models.PROTECT, related_name="occupancies")
    role = models.CharField("关系", max_length=10, choices=OccupantRole.choices)
    start = models.DateField("起始日期")
    end = models.DateField("结束日期", null=True, blank=True)
    pays_fees = models.BooleanField("约定由其缴费", default=False, help_text="租户约定代缴时勾选；业主仍是责任人。")
    recorded_at = models.DateTimeField("记录时间", auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="记录人", null=True, blank=True, on_delete=models.PROTECT
    )
    source = models.CharField("来源", max_length=60, blank=True)

    class Meta:
        verbose_name = "产权/租住关系"
        verbose_name_plural = "产权/租住关系"
        ordering = ["unit", "role", "-start", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                                   name="occupancy_end_after_start"),
        ]
        indexes = [
            models.Index(fields=["unit", "role"], condition=Q(end__isnull=True), name="occupancy_current"),
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.get_role_display()} {self.party}"


class ContactPoint(models.Model):
    """联系方式 — a phone, e-mail, WeChat openid or mailing address of a party, with its validity."""

    party = models.ForeignKey(Party, verbose_name="业户", on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField("类型", max_length=10, choices=ContactKind.choices)
    value = models.CharField("内容", max_length=300)
    label = models.CharField("说明", max_length=50, blank=True, help_text="如：本人、配偶、单位前台。")
    source = models.CharField("来源", max_length=20, choices=ContactSource.choices, default=ContactSource.IMPORT)
    validity = models.CharField(
        "有效性", max_length=10, choices=ContactValidity.choices, default=ContactValidity.UNKNOWN
    )
    last_verified = models.DateField("最后核实日期", null=True, blank=True)
    is_primary = models.BooleanField("首选", default=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "联系方式"
        verbose_name_plural = "联系方式"
        ordering = ["party", "-is_primary", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["party", "kind", "value"], name="contact_unique_per_party"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="contact_by_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"

    @property
    def reachable(self) -> bool:
        return self.validity not in DEAD_VALIDITIES


class ImportJob(models.Model):
    """批量导入 — one uploaded spreadsheet of projects/buildings/units/owners/contacts.

    All-or-nothing: either every row is applied or nothing is, and ``errors`` names each bad row and column.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        VALIDATING = "validating", "校验中"
        APPLYING = "applying", "写入中"
        FAILED = "failed", "未导入（有错误）"
        SUCCEEDED = "succeeded", "已导入"

    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="上传人", on_delete=models.PROTECT)
    filename = models.CharField("文件名", max_length=200)
    file = models.FileField("文件", upload_to="imports/%Y/%m/", max_length=300)
    sha256 = models.CharField("文件摘要", max_length=64, db_index=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PENDING)
    total_rows = models.IntegerField("数据行数", default=0)
    processed_rows = models.IntegerField("已处理行数", default=0)
    errors = models.JSONField("错误", default=list, blank=True)
    warnings = models.JSONField("提示", default=list, blank=True)
    summary = models.JSONField("结果", default=dict, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    # the worker's claim: set when a worker takes the job (a conditional UPDATE from 排队中); every later write of
    # that run is conditional on it, so a run whose claim went stale (its worker died, estate.importer.
    # imports_recover_stale) writes nothing if it wakes up after all
    started_at = models.DateTimeField("开始处理时间", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("处理次数", default=0)
    # when the job was last put on the queue (None: at its upload, ``created_at``), and how many times the
    # recoverer put it there again because no worker had claimed it (its queue message lost: a worker machine
    # gone, Redis flushed) — estate.importer.imports_recover_stale, decision 171
    queued_at = models.DateTimeField("排队时间", null=True, blank=True)
    requeued = models.PositiveSmallIntegerField("重新排队次数", default=0)

    class Meta:
        verbose_name = "批量导入"
        verbose_name_plural = "批量导入"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"导入 #{self.pk} {self.filename}"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status in (self.Status.FAILED, self.Status.SUCCEEDED) else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.SUCCEEDED)
