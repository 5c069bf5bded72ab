"""The collection engine's data: policies (ladders of steps), templates, holds, the calendar, runs, the outbox.

The outbox (``Action``) is the record a court may read: every action keeps what it demanded (content, its
hash, the template version, the bill periods), where it went, when, its delivery status and who or which
job is responsible. Its status moves forward only; each move is appended to ``ActionEvent``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from wuye.dunning.choices import (
    AccountClass,
    ActionStatus,
    Assignee,
    Channel,
    DayKind,
    Event,
    HoldKind,
    HoldReason,
    Segment,
    StepKind,
    TaskKind,
    TaskStatus,
    WindowDays,
    WindowGroup,
)
from wuye.dunning.guardrails import GuardedModel, guarded_queryset


class CollectionSettings(models.Model):
    """Per-project settings of the engine (defaults apply to a project without a row)."""

    project = models.OneToOneField("estate.Project", verbose_name="项目", on_delete=models.CASCADE,
                                   related_name="collection_settings")
    arrears_message_min_days = models.PositiveSmallIntegerField(
        "欠费消息最短间隔（天）", default=14, help_text="同一户两条欠费短信/微信/邮件之间至少相隔的天数。")
    calls_per_day = models.PositiveSmallIntegerField("每户每日电话上限", default=2)
    stage_message_max_age_days = models.PositiveSmallIntegerField(
        "阶段消息最长等待（天）", default=14,
        help_text="一条阶段短信/微信/邮件到了应发时间后，因时段、频次或节假日一直未能发出超过此天数即作废（已过期），不再补发。")
    deadline_days = models.PositiveSmallIntegerField(
        "通知缴费期限（天）", default=7, help_text="通知上写明的最后缴费日 = 发出日 + 天数，遇节假日顺延至下一工作日。")
    sms_signature = models.CharField("短信签名", max_length=20, default="物业服务中心",
                                     help_text="已在短信平台备案的签名（不含【】）。")
    company_name = models.CharField("落款单位", max_length=100, blank=True)
    service_phone = models.CharField("服务电话", max_length=30, blank=True)

    class Meta:
        verbose_name = "催缴设置"
        verbose_name_plural = "催缴设置"

    def __str__(self) -> str:
        return f"{self.project} 催缴设置"


class MessageTemplate(GuardedModel, models.Model):
    """A message or document text with placeholders such as {name} {unit} {amount}.

    Its subject and body are checked for what the law forbids on every save, ``objects.create``,
    ``bulk_create``, ``bulk_update`` and queryset ``update`` (``guardrails``; the channel decides whether
    lawyer wording is allowed). The template service bumps ``version``; actions keep the version and the
    rendered text.
    """

    GUARDED_FIELDS = ("subject", "body")

    project = models.ForeignKey("estate.Project", verbose_name="项目", null=True, blank=True,
                                on_delete=models.CASCADE, help_text="留空表示公司通用模板。")
    code = models.CharField("编码", max_length=40)
    name = models.CharField("名称", max_length=60)
    channel = models.CharField("渠道", max_length=12, choices=Channel.choices)
    subject = models.CharField("标题", max_length=120, blank=True)
    body = models.TextField("正文")
    provider_template_id = models.CharField(
        "短信平台模板 ID", max_length=40, blank=True,
        help_text="短信平台审核通过的模板编号；正文中的占位符按出现顺序作为模板参数。")
    version = models.PositiveIntegerField("版本", default=1)
    updated_at = models.DateTimeField("修改时间", auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="修改人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    objects = guarded_queryset(models.QuerySet).as_manager()

    class Meta:
        verbose_name = "消息模板"
        verbose_name_plural = "消息模板"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["project", "code"], name="template_code_per_project"),
            models.UniqueConstraint(fields=["code"], condition=Q(project__isnull=True), name="template_code_global"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（v{self.version}）"

    def save(self, *args, **kwargs):
        self.guard(kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def guard_channel(self) -> str | None:
        return self.channel or None

    def clean(self):
        super().clean()
        self.guard()


class Policy(models.Model):
    """催缴策略 — an ordered ladder of steps for one project and segment (blank segment: every segment
    without a policy of its own). A policy with dates (a year-end campaign) wins over an undated one."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE,
                                related_name="dunning_policies")
    segment = models.CharField("适用分群", max_length=20, choices=Segment.choices, blank=True,
                               help_text="留空表示未单独设置策略的所有分群。")
    name = models.CharField("名称", max_length=60)
    active = models.BooleanField("启用", default=True)
    valid_from = models.DateField("生效起", null=True, blank=True, help_text="年末专项等限期策略填写起止日期。")
    valid_to = models.DateField("生效止", null=True, blank=True)
    note = models.CharField("说明", max_length=300, blank=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    class Meta:
        verbose_name = "催缴策略"
        verbose_name_plural = "催缴策略"
        ordering = ["project_id", "segment", "name"]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    """One rung of a ladder.

    Steps with the same ``order`` form a stage and fire together. Within an arrears episode the ladder
    only moves up: a run fires the highest stage whose trigger holds and that is above the stage already
    reached (so an account first seen deep in arrears starts where it is, not at the bottom). Steps with
    ``repeat_days`` repeat while their trigger holds, at most once per that many days, beside the ladder.
    """

    policy = models.ForeignKey(Policy, verbose_name="策略", on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField("阶段序号")
    name = models.CharField("名称", max_length=60)
    kind = models.CharField("触发方式", max_length=20, choices=StepKind.choices)
    days = models.SmallIntegerField(
        "天数", null=True, blank=True,
        help_text="到期前提醒：负数，距截止日的天数；逾期阈值：逾期天数；距上一步：间隔天数。")
    months = models.PositiveSmallIntegerField("欠费月数达到", null=True, blank=True)
    amount_fen = models.BigIntegerField("欠费金额达到（分）", null=True, blank=True)
    event = models.CharField("事件", max_length=20, choices=Event.choices, blank=True)
    repeat_days = models.PositiveSmallIntegerField("重复间隔（天）", null=True, blank=True,
                                                   help_text="填写则在条件持续满足时按间隔重复。")
    min_amount_fen = models.BigIntegerField("最低欠费金额（分）", default=0,
                                            help_text="欠费低于此金额时不执行本步。")
    channel = models.CharField("渠道", max_length=12, choices=Channel.choices)
    template = models.ForeignKey(MessageTemplate, verbose_name="模板", null=True, blank=True,
                                 on_delete=models.PROTECT)
    assignee = models.CharField("执行人", max_length=12, choices=Assignee.choices, default=Assignee.SYSTEM)
    account_class = models.CharField(
        "仅限分类", max_length=12, choices=AccountClass.choices, blank=True,
        help_text="填写则只对该分类的欠费户执行（分类由收费员的联系结果决定）。")
    min_risk_pct = models.PositiveSmallIntegerField(
        "仅高风险户：预警风险不低于（%）", null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="仅用于到期前提醒（如到期前的电话）：填写则只对最近一次预警评分（未来 3 个月逾期 90 天以上的概率）"
                  "不低于此值的户执行，暂停、争议、分期与联系时段照常适用；留空则对所有户执行。"
                  "预警分只供员工参考，不向业主展示，也不作为停止任何服务的理由。")
    prefer_month_edge_days = models.PositiveSmallIntegerField(
        "可推迟至月初/月末（天）", default=0,
        help_text="大于 0 时，若在此天数内有月初（1–5 日）或月末（25 日后），则安排在那时发送。")
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "催缴步骤"
        verbose_name_plural = "催缴步骤"
        ordering = ["policy_id", "order", "id"]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"

    @property
    def repeating(self) -> bool:
        return bool(self.repeat_days)


class SegmentOverride(models.Model):
    """A unit's segment set by hand (e.g. a hardship household), with the reason and who set it."""

    unit = models.OneToOneField("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE,
                                related_name="segment_override")
    segment = models.CharField("分群", max_length=20, choices=Segment.choices)
    reason = models.CharField("原因", max_length=300)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="设置人", on_delete=models.PROTECT,
                               related_name="+")
    set_at = models.DateTimeField("设置时间", auto_now=True)

    class Meta:
        verbose_name = "分群调整"
        verbose_name_plural = "分群调整"

    def __str__(self) -> str:
        return f"{self.unit} → {self.get_segment_display()}"


class Hold(models.Model):
    """暂停催缴 — a dispute, a promise to pay or a manual hold. While in force the ladder does not move
    (pre-due reminders of new bills still go out). A promise holds until the day before its date."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="holds")
    party = models.ForeignKey("estate.Party", verbose_name="欠费人", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="只暂停此人名下的欠费；留空表示整户。")
    kind = models.CharField("类型", max_length=10, choices=HoldKind.choices)
    starts_on = models.DateField("开始日期")
    until = models.DateField("截止日期", null=True, blank=True, help_text="承诺缴费日；人工暂停的结束日。")
    amount_fen = models.BigIntegerField("承诺金额（分）", null=True, blank=True)
    reason = models.CharField("原因", max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    released_on = models.DateField("解除日期", null=True, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="解除人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    release_note = models.CharField("解除说明", max_length=300, blank=True)
    outcome = models.CharField("承诺结果", max_length=10, blank=True,
                               choices=[("kept", "已兑现"), ("broken", "失约")])

    class Meta:
        verbose_name = "暂停催缴"
        verbose_name_plural = "暂停催缴"
        indexes = [models.Index(fields=["project", "released_on"], name="hold_open_by_project")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}：{self.reason}"


class CalendarDay(models.Model):
    """A day of an officially published schedule entered by an administrator (holidays and make-up
    working days of a year the ``chinesecalendar`` package does not cover, or a correction). An entered
    day is covered; the other days of its year are covered only once the year is confirmed complete
    (``CalendarYear``)."""

    date = models.DateField("日期", primary_key=True)
    kind = models.CharField("类型", max_length=10, choices=DayKind.choices)
    name = models.CharField("说明", max_length=30, blank=True, help_text="如：国庆节、国庆调休上班。")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="录入人", on_delete=models.PROTECT,
                                   related_name="+")
    entered_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        verbose_name = "节假日安排"
        verbose_name_plural = "节假日安排"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class CalendarYear(models.Model):
    """该年安排已完整录入 — an administrator's confirmation that every holiday and make-up working day of
    ``year`` has been entered: from then on a day of that year that was not entered is an ordinary weekday
    or weekend day. Without it only the entered days of a year the package does not cover are known."""

    year = models.PositiveSmallIntegerField("年份", primary_key=True)
    note = models.CharField("依据", max_length=200, blank=True,
                            help_text="如：国务院办公厅关于 2027 年部分节假日安排的通知。")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="确认人", on_delete=models.PROTECT,
                                     related_name="+")
    confirmed_at = models.DateTimeField("确认时间", auto_now_add=True)

    class Meta:
        verbose_name = "已完整录入的年份"
        verbose_name_plural = "已完整录入的年份"
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year} 年安排已完整录入"


class ContactWindow(models.Model):
    """When a channel group may reach owners in a project (inside the hard bounds 08:00–21:00)."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE,
                                related_name="contact_windows")
    group = models.CharField("渠道组", max_length=10, choices=WindowGroup.choices)
    days = models.CharField("日期", max_length=20, choices=WindowDays.choices)
    ranges = models.CharField("时段", max_length=100, help_text="如 09:00-11:00,15:00-17:00")

    class Meta:
        verbose_name = "联系时段"
        verbose_name_plural = "联系时段"
        constraints = [models.UniqueConstraint(fields=["project", "group"], name="one_window_per_group")]

    def __str__(self) -> str:
        return f"{self.get_group_display()} {self.ranges}"


class Episode(models.Model):
    """欠费周期 — a continuous stretch of arrears of one unit. The ladder's position is per episode;
    a payment that clears the arrears closes it."""

    # no database foreign keys on the tables the daily run fills (decision 104): the checks cost the run
    # more than every index together; Django's on_delete still cascades and protects
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, db_constraint=False)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="episodes",
                             db_constraint=False)
    party = models.ForeignKey("estate.Party", verbose_name="欠费人", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_constraint=False, help_text="对哪些账期负责的人（账单行的缴费责任人）；房屋出售后买卖双方各自一个欠费周期。")
    opened_on = models.DateField("开始日期")
    first_due = models.DateField("最早欠费截止日")
    closed_on = models.DateField("结清日期", null=True, blank=True)
    account_class = models.CharField("催缴分类", max_length=12, choices=AccountClass.choices, blank=True)
    class_since = models.DateField("分类日期", null=True, blank=True)
    ladder_done_on = models.DateField(
        "催缴步骤执行完毕", null=True, blank=True,
        help_text="每日运行发现策略的最后一个阶段已执行、再无自动步骤的日期：此后由经理决定分期、减免、转介或继续跟进。")

    class Meta:
        verbose_name = "欠费周期"
        verbose_name_plural = "欠费周期"
        constraints = [
            models.UniqueConstraint(fields=["unit", "party"], condition=Q(closed_on__isnull=True),
                                    name="one_open_episode_per_debtor"),
        ]
        indexes = [models.Index(fields=["project", "closed_on"], name="episode_by_project")]

    def __str__(self) -> str:
        return f"{self.unit} 自 {self.opened_on}"

    @property
    def cycle(self) -> str:
        return f"A{self.opened_on.isoformat()}"


class Run(models.Model):
    """One daily run (or dry run) of the engine."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", null=True, blank=True,
                                on_delete=models.CASCADE)
    run_date = models.DateField("业务日期")
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    accounts_in_arrears = models.IntegerField("欠费户数", default=0)
    actions_created = models.IntegerField("新建动作", default=0)
    held = models.IntegerField("暂停户数", default=0)
    seconds = models.FloatField("耗时（秒）", default=0)
    actor_label = models.CharField("执行来源", max_length=60, blank=True)
    alert = models.CharField("警示", max_length=300, blank=True)

    class Meta:
        verbose_name = "每日运行"
        verbose_name_plural = "每日运行"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.run_date} 催缴运行"


class HeldAccount(models.Model):
    """Why nothing happened for an account in arrears on a run date (one row per account and date)."""

    # a row per held account and day, kept: the overview counts one day's of a project from (project, day)
    # rather than every day's rows of the project (decision 197)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, db_constraint=False,
                                db_index=False)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="+",
                             db_constraint=False)
    run_date = models.DateField("业务日期")
    reason = models.CharField("原因", max_length=12, choices=HoldReason.choices)
    detail = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "暂停记录"
        verbose_name_plural = "暂停记录"
        constraints = [models.UniqueConstraint(fields=["unit", "run_date"], name="one_hold_record_per_day")]
        indexes = [models.Index(fields=["project", "run_date"], name="held_by_project_day")]

    def __str__(self) -> str:
        return f"{self.run_date} {self.get_reason_display()}"


class Action(models.Model):
    """An entry of the outbox: one step for one account in one cycle. ``(unit, step, cycle)`` is unique,
    which makes the daily run idempotent."""

    # project and unit lead the composite indexes below: single-column indexes would only slow the run's
    # inserts (a first run over a large estate writes half a million rows); for the same reason no column
    # has a database foreign key (decision 104): Django's on_delete still cascades and protects
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, db_index=False,
                                db_constraint=False)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="actions",
                             db_index=False, db_constraint=False)
    party = models.ForeignKey("estate.Party", verbose_name="欠费人", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False, db_constraint=False,
                              help_text="本动作催告的人：只涉及其名下的账期，只发往其联系方式。")
    step = models.ForeignKey(Step, verbose_name="步骤", on_delete=models.PROTECT, related_name="actions",
                             db_constraint=False)
    cycle = models.CharField("周期键", max_length=40, help_text="见 wuye.dunning.cycles：E<欠费周期>[@<日期>]、D<到期日>或事件键。")
    episode = models.ForeignKey(Episode, verbose_name="欠费周期", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="actions", db_constraint=False)
    decided_on = models.DateField("决策日期")
    channel = models.CharField("渠道", max_length=12, choices=Channel.choices)
    stage = models.PositiveSmallIntegerField("阶段")
    not_before = models.DateTimeField("最早发送时间")
    status = models.CharField("状态", max_length=10, choices=ActionStatus.choices, default=ActionStatus.PENDING)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True)
    claimed_at = models.DateTimeField("领取时间", null=True, blank=True)
    claimed_by = models.CharField("领取者", max_length=40, blank=True,
                                  help_text="领取该动作的发送进程标识（条件更新，防止两个进程发送同一条）。")
    out_id = models.CharField("外部流水号", max_length=40,  # unique: see Meta (no pattern-ops index needed)
                              help_text="发给短信/邮件平台的唯一编号，用于防止重复发送和核对回执。")
    # Evidence: what was demanded, where it went, when, with which result, by whom.
    overdue_fen = models.BigIntegerField("决策时欠费（分）", default=0)
    deadline = models.DateField("缴费期限", null=True, blank=True)
    periods = models.JSONField("所催账期", default=list, blank=True)
    template_version = models.PositiveIntegerField("模板版本", null=True, blank=True)
    content = models.TextField("发送内容", blank=True)
    content_sha256 = models.CharField("内容摘要", max_length=64, blank=True)
    address = models.CharField("发送地址", max_length=300, blank=True)
    provider = models.CharField("通道", max_length=30, blank=True)
    provider_message_id = models.CharField("平台消息 ID", max_length=100, blank=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)
    last_error = models.CharField("错误", max_length=300, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="执行人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+", db_index=False,
                                    db_constraint=False)  # indexed where set: see Meta
    actor_label = models.CharField("生成来源", max_length=60, default="job:dunning_run")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    printed_at = models.DateTimeField("打印时间", null=True, blank=True,
                                      help_text="书面通知、挂号信：首次打印的时间（未打印的在打印页列出）")

    class Meta:
        verbose_name = "催缴动作"
        verbose_name_plural = "催缴动作"
        ordering = ["-decided_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "step", "cycle"], name="one_action_per_step_cycle"),
            models.UniqueConstraint(fields=["out_id"], name="action_out_id_unique"),
        ]
        indexes = [
            models.Index(fields=["status", "not_before"], name="action_due",
                         condition=Q(status__in=["pending", "sending"])),
            models.Index(fields=["unit", "channel", "sent_at"], name="action_by_unit_channel"),
            models.Index(fields=["project", "decided_on"], name="action_by_project_day"),
            # a day's outbox by status for a company-wide manager (the collection overview): without it the
            # count read every action ever decided (decision 193); with the project, the overview's figures
            # of the day come from the same index-only pass (decision 197)
            models.Index(fields=["decided_on", "status", "project"], name="action_by_day_status_project"),
            # delivery receipts that carry only the gateway's id (only sent actions have one)
            models.Index(fields=["provider_message_id"], name="action_by_provider_id",
                         condition=~Q(provider_message_id="")),
            # the written demands a referral rests on (few rows; the daily run reads them per project)
            models.Index(fields=["project", "decided_on"], name="action_written_demands",
                         condition=Q(channel__in=["notice", "registered"])),
            # the notices print page: written notices and letters not printed yet
            models.Index(fields=["project", "unit"], name="action_to_print",
                         condition=Q(channel__in=["notice", "registered"], printed_at__isnull=True)),
            # calls and visits have an assignee, messages none: only the rows that have one are indexed
            models.Index(fields=["assigned_to"], name="action_by_assignee", condition=Q(assigned_to__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.decided_on}"


class ActionEvent(models.Model):
    """Append-only history of an action's status (sent, delivery receipt, failure, cancellation)."""

    action = models.ForeignKey(Action, verbose_name="动作", on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("时间")
    status = models.CharField("状态", max_length=10, choices=ActionStatus.choices)
    detail = models.CharField("说明", max_length=300, blank=True)
    actor_label = models.CharField("来源", max_length=60)

    class Meta:
        verbose_name = "动作记录"
        verbose_name_plural = "动作记录"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["at"], name="action_event_at")]  # the incremental run's scan

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_status_display()}"


class Task(models.Model):
    """Work for a person made by a call, visit, notice, referral or escalation step (the collector's
    worklist builds on these)."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE)
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE, related_name="tasks")
    action = models.OneToOneField(Action, verbose_name="来源动作", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="task")
    kind = models.CharField("类型", max_length=12, choices=TaskKind.choices)
    title = models.CharField("事项", max_length=200)
    detail = models.TextField("说明", blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="执行人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="dunning_tasks")
    assignee_role = models.CharField("执行角色", max_length=12, choices=Assignee.choices)
    due_on = models.DateField("办理日期")
    status = models.CharField("状态", max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    close_note = models.CharField("办理结果", max_length=300, blank=True)

    class Meta:
        verbose_name = "催缴任务"
        verbose_name_plural = "催缴任务"
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["assigned_to", "status", "due_on"], name="task_by_assignee")]

    def __str__(self) -> str:
        return self.title


class DecisionState(models.Model):
    """Where the incremental daily run stands with one unit (all its debtors): the day its decision can next
    change with nothing written (``next_on``: the earliest of a step's threshold date, a hold's end, a
    promise's eve and date, a repeat's due day, a due date passing …) and a change marker. Every write that
    can change a decision bumps ``mark`` (``dunning.marks``); the run decides the units whose ``mark`` differs
    from ``seen`` or whose ``next_on`` has come, and sets ``seen`` to the mark it read in the transaction that
    writes their actions. Not a copy of any figure: deleting every row makes the next run a full one."""

    unit = models.OneToOneField("estate.Unit", verbose_name="房屋", primary_key=True, on_delete=models.CASCADE,
                                related_name="+", db_constraint=False)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.CASCADE, related_name="+",
                                db_index=False, db_constraint=False)  # decision 104
    next_on = models.DateField("下次决策日", null=True, blank=True)
    mark = models.IntegerField("变更标记", default=0)
    seen = models.IntegerField("已处理标记", default=0)
    arrears = models.SmallIntegerField("欠费户数", default=0)
    decided_on = models.DateField("上次决策日", null=True, blank=True)

    class Meta:
        verbose_name = "决策状态"
        verbose_name_plural = "决策状态"
        indexes = [models.Index(fields=["project", "next_on"], name="decision_due")]

    def __str__(self) -> str:
        return f"{self.unit_id} → {self.next_on}"


class ProjectDecisionState(models.Model):
    """A project's side of the incremental run: a marker bumped by writes that change every decision of the
    project (a ladder or its settings, bill generation, the calendar for all projects), the last run date and
    when it started (the scans of time-driven changes and of outbox events look back to them). A project
    without a row, or whose ``mark`` differs from ``seen``, is decided in full."""

    project = models.OneToOneField("estate.Project", verbose_name="项目", primary_key=True,
                                   on_delete=models.CASCADE, related_name="+")
    mark = models.IntegerField("变更标记", default=0)
    seen = models.IntegerField("已处理标记", default=0)
    last_on = models.DateField("上次运行业务日期", null=True, blank=True)
    watermark = models.DateTimeField("上次运行开始时间", null=True, blank=True)

    class Meta:
        verbose_name = "项目决策状态"
        verbose_name_plural = "项目决策状态"

    def __str__(self) -> str:
        return f"{self.project_id} {self.last_on}"
