"""Staff users, their roles and territories, and the audit log every service writes to."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from wuye.accounts.choices import ROLES_SEE_PII, ROLES_TERRITORY_BOUND, Role


class User(AbstractUser):
    """员工 — a staff member who logs in. Owners do not log in here (the portal is separate)."""

    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.SERVICE)
    display_name = models.CharField("姓名", max_length=50, blank=True)
    mobile = models.CharField("手机号", max_length=20, blank=True)
    projects = models.ManyToManyField(
        "estate.Project",
        verbose_name="负责项目",
        blank=True,
        related_name="staff",
        help_text="留空表示公司级，可见全部项目。",
    )

    class Meta:
        verbose_name = "员工"
        verbose_name_plural = "员工"

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def sees_pii(self) -> bool:
        return self.is_superuser or self.role in ROLES_SEE_PII

    @property
    def territory_bound(self) -> bool:
        return not self.is_superuser and self.role in ROLES_TERRITORY_BOUND


class Territory(models.Model):
    """责任区 — a building (optionally a floor range) that a collector answers for.

    One responsible person per unit: the service refuses overlapping territories of two collectors.
    """

    user = models.ForeignKey(User, verbose_name="收费员", on_delete=models.CASCADE, related_name="territories")
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE)
    building = models.ForeignKey("estate.Building", verbose_name="楼栋", on_delete=models.CASCADE)
    floor_from = models.SmallIntegerField("起始楼层", null=True, blank=True)
    floor_to = models.SmallIntegerField("结束楼层", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "责任区"
        verbose_name_plural = "责任区"
        indexes = [models.Index(fields=["user", "building"], name="territory_by_user")]

    def __str__(self) -> str:
        floors = ""
        if self.floor_from is not None or self.floor_to is not None:
            floors = f" {self.floor_from or ''}–{self.floor_to or ''}层"
        return f"{self.building}{floors}"

    def unit_q(self, prefix: str = "") -> Q:
        q = Q(**{f"{prefix}building_id": self.building_id})
        if self.floor_from is not None:
            q &= Q(**{f"{prefix}floor__gte": self.floor_from})
        if self.floor_to is not None:
            q &= Q(**{f"{prefix}floor__lte": self.floor_to})
        return q


class AuditEvent(models.Model):
    """审计事件 — who did what to which record, with the values before and after.

    Append-only. ``actor`` is a person; ``actor_label`` names a job or command when no person acted.
    """

    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT
    )
    actor_label = models.CharField("操作来源", max_length=100, blank=True)
    verb = models.CharField("动作", max_length=60, db_index=True)
    object_type = models.CharField("对象类型", max_length=60, blank=True)
    object_id = models.CharField("对象编号", max_length=40, blank=True)
    object_repr = models.CharField("对象", max_length=200, blank=True)
    project_id = models.BigIntegerField("项目", null=True, blank=True)
    before = models.JSONField("变更前", null=True, blank=True)
    after = models.JSONField("变更后", null=True, blank=True)
    note = models.CharField("备注", max_length=500, blank=True)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)

    class Meta:
        verbose_name = "审计事件"
        verbose_name_plural = "审计事件"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_by_object")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor or self.actor_label} {self.verb} {self.object_repr}"
