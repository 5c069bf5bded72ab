"""Records kept by the system's own machinery (not by any business domain).

``FanoutRun`` / ``FanoutPart``: a daily job (the collection run, bill generation) spread over the job workers,
one part per project (``wuye.fanout``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class FanoutKind(models.TextChoices):
    DUNNING = "dunning", "每日催缴决策"
    BILLS = "bills", "按账期出账"


class FanoutStatus(models.TextChoices):
    RUNNING = "running", "运行中"
    SUCCEEDED = "succeeded", "已完成"
    FAILED = "failed", "失败"
    TIMED_OUT = "timed_out", "超时"
    ABANDONED = "abandoned", "协调进程已失联"


class PartStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "执行中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class FanoutRun(models.Model):
    """分布式运行 — one run of a daily job over many workers, as the coordinator recorded it.

    At most one run of a kind and key (the business date, the billing period) is ``running`` at a time
    (a partial unique constraint): a second coordinator started for the same day stops at once."""

    kind = models.CharField("任务", max_length=12, choices=FanoutKind.choices)
    key = models.CharField("日期/账期", max_length=20)
    status = models.CharField("状态", max_length=12, choices=FanoutStatus.choices, default=FanoutStatus.RUNNING)
    coordinator = models.CharField("协调进程", max_length=120, blank=True, help_text="主机名:进程号")
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    heartbeat_at = models.DateTimeField("最近心跳", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    attempts_max = models.PositiveSmallIntegerField("每部分最多尝试次数", default=3)
    summary = models.JSONField("汇总", default=dict, blank=True)
    error = models.CharField("错误", max_length=500, blank=True)

    class Meta:
        verbose_name = "分布式运行"
        verbose_name_plural = "分布式运行"
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], condition=Q(status="running"),
                                               name="one_running_fanout_per_key")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}（{self.get_status_display()}）"


class FanoutPart(models.Model):
    """分布式运行的一部分 — one project's share of a ``FanoutRun``, done by whichever worker took it.

    ``attempts`` counts the times the part was queued; a worker takes a part only for the attempt it was
    queued for (a conditional update), so a late or repeated delivery of an old attempt does nothing."""

    run = models.ForeignKey(FanoutRun, verbose_name="运行", on_delete=models.CASCADE, related_name="parts")
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+")
    status = models.CharField("状态", max_length=10, choices=PartStatus.choices, default=PartStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField("已排队次数", default=0)
    worker = models.CharField("执行进程", max_length=120, blank=True)
    queued_at = models.DateTimeField("排队时间", null=True, blank=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    result = models.JSONField("结果", default=dict, blank=True)
    error = models.CharField("错误", max_length=1000, blank=True)

    class Meta:
        verbose_name = "分布式运行部分"
        verbose_name_plural = "分布式运行部分"
        constraints = [models.UniqueConstraint(fields=["run", "project"], name="one_part_per_run_and_project")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.project_id}（{self.get_status_display()}）"


class Submission(models.Model):
    """一次性提交 — the one-time key of a form or an API request that records something (a payment at the desk,
    a contact, a visit). The key is claimed in the same transaction as what the request does: a second copy of
    the request (a double-click, a browser's resend, a retried API call, from any server) finds the key taken
    and is answered with the first one's result instead of doing it again (``wuye.common.once``)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    key = models.CharField("提交键", max_length=64)
    path = models.CharField("地址", max_length=200)
    fingerprint = models.CharField("请求摘要", max_length=64, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True, db_index=True)
    result_url = models.CharField("结果页", max_length=500, blank=True)
    status_code = models.PositiveSmallIntegerField("响应状态", null=True, blank=True)
    body = models.JSONField("响应内容", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "一次性提交"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_submission_per_user_key")]

    def __str__(self) -> str:
        return f"{self.path} {self.key[:8]}…"
