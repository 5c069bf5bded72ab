"""The owner portal: signed pay links, online payment orders, what providers told us, owners' requests.

Money is integer fen. A payment order posts at most one billing ``Payment``: the order row is locked while a
notification is applied, and ``(provider, transaction_id)`` is unique (billing's unique payment reference is
a second guard). Every notification received is kept as it arrived, verified or not.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from wuye.portal.choices import (
    Channel,
    FieldPaymentMethod,
    FieldPaymentStatus,
    NotificationResult,
    OrderStatus,
    Provider,
    RequestKind,
    RequestStatus,
)

TWIN_REFUND = "本笔重复支付自动退款"


class PayLink(models.Model):
    """缴费链接 — a short link bound to one unit (and, when ``party`` is set, to that party's lines only) that
    opens its bill; expiring, revocable, uses counted.

    Only the SHA-256 of the token is stored: a copy of the database does not give working links. Links handed
    out in bulk by reminders and notices (one per unit, party and ``issued_on`` day) keep a random
    ``token_seed``: the token is an HMAC of it under the site key, so the same day's link can be shown again
    (a message re-rendered after a crash) while neither the key alone nor the database alone gives the token.
    A link without a party (rows made before links were bound to parties) shows all of the unit's lines.
    """

    token_hash = models.CharField("令牌摘要", max_length=64, unique=True)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT, related_name="pay_links")
    party = models.ForeignKey("estate.Party", verbose_name="业户", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="只显示并只能缴纳该业户名下的账单；为空表示整户（旧链接）。")
    issued_on = models.DateField("发放日", null=True, blank=True,
                                 help_text="提醒和通知按日发放的链接：同一房屋、业户、日期只有一个。")
    token_seed = models.CharField("令牌种子", max_length=32, blank=True,
                                  help_text="随机值；与站点密钥一起算出令牌（单独任何一个都算不出）。")
    created_at = models.DateTimeField("生成时间", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="生成人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_by_label = models.CharField("生成来源", max_length=60, blank=True)
    expires_at = models.DateTimeField("失效时间")
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="撤销人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    revoke_reason = models.CharField("撤销原因", max_length=200, blank=True)
    use_count = models.PositiveIntegerField("打开次数", default=0)
    last_used_at = models.DateTimeField("最后打开", null=True, blank=True)

    class Meta:
        verbose_name = "缴费链接"
        verbose_name_plural = "缴费链接"
        ordering = ["-created_at"]
        constraints = [
            # one link a day per (unit, party): two dispatchers inserting at once keep the first
            models.UniqueConstraint(fields=["unit", "party", "issued_on"],
                                    condition=Q(issued_on__isnull=False, party__isnull=False),
                                    name="paylink_one_per_party_day"),
            models.UniqueConstraint(fields=["unit", "issued_on"], condition=Q(issued_on__isnull=False,
                                                                             party__isnull=True),
                                    name="paylink_one_per_unit_day"),
        ]

    def __str__(self) -> str:
        return f"{self.unit.code} 缴费链接 #{self.pk}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class PaymentOrder(models.Model):
    """支付订单 — what an owner set out to pay online: amount, lines chosen, provider, and how it ended."""

    out_trade_no = models.CharField("商户订单号", max_length=32, unique=True)
    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="payment_orders")
    link = models.ForeignKey(PayLink, verbose_name="来自链接", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="orders")
    party = models.ForeignKey("estate.Party", verbose_name="业户", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="订单只缴该业户名下的账单；为空表示整户。")
    provider = models.CharField("支付渠道", max_length=10, choices=Provider.choices)
    channel = models.CharField("支付方式", max_length=10, choices=Channel.choices)
    amount_fen = models.BigIntegerField("金额（分）")
    bill_ids = models.JSONField("所选账单", default=list, blank=True, help_text="空表示按从旧到新缴清。")
    covers = models.JSONField("订单金额所含账单", default=list, blank=True,
                              help_text="下单时金额所依据的未缴账单；用于识别同一账单的其他订单。")
    description = models.CharField("商品描述", max_length=120)
    status = models.CharField("状态", max_length=10, choices=OrderStatus.choices, default=OrderStatus.CREATED)
    code_url = models.CharField("二维码内容", max_length=500, blank=True)
    pay_url = models.TextField("支付地址", blank=True)
    prepay_id = models.CharField("预支付标识", max_length=100, blank=True)
    payer_hash = models.CharField("付款人摘要", max_length=64, blank=True,
                                  help_text="微信内支付：付款人 openid 的密钥散列（不存 openid 本身）。")
    transaction_id = models.CharField("渠道交易号", max_length=64, blank=True)
    paid_fen = models.BigIntegerField("实收（分）", null=True, blank=True)
    payment = models.OneToOneField("billing.Payment", verbose_name="收款", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="portal_order")
    park_reason = models.CharField("挂起原因", max_length=300, blank=True)
    created_at = models.DateTimeField("下单时间", auto_now_add=True)
    expires_at = models.DateTimeField("支付截止")
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    refund_no = models.CharField("退款单号", max_length=64, blank=True)
    refund_reason = models.CharField("退款原因", max_length=300, blank=True)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    last_queried_at = models.DateTimeField("最后查单", null=True, blank=True)
    query_count = models.PositiveSmallIntegerField("查单次数", default=0)
    resolved_at = models.DateTimeField("财务处理时间", null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="财务处理人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolution_note = models.CharField("处理说明", max_length=300, blank=True)

    class Meta:
        verbose_name = "支付订单"
        verbose_name_plural = "支付订单"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payorder_amount_positive"),
            models.UniqueConstraint(fields=["provider", "transaction_id"], condition=~Q(transaction_id=""),
                                    name="payorder_one_order_per_transaction"),
            models.CheckConstraint(condition=~Q(status="paid") | Q(payment__isnull=False),
                                   name="payorder_paid_has_payment"),
        ]
        indexes = [
            # the order-query job reads orders still waiting for the provider
            models.Index(fields=["created_at"], condition=Q(status="created"), name="payorder_query_waiting"),
        ]

    def __str__(self) -> str:
        return self.out_trade_no

    @property
    def refunded_as_twin(self) -> bool:
        """Refunded (or being refunded) by the portal because another order paid the same lines first."""
        return self.refund_reason.endswith(TWIN_REFUND)


class PaymentNotification(models.Model):
    """支付通知 — one notification (or order-query answer) from a provider, kept as received, with its result.

    Parked results wait for finance; ``resolved_*`` record who dealt with them.
    """

    provider = models.CharField("支付渠道", max_length=10, choices=Provider.choices)
    source = models.CharField("来源", max_length=10, default="notify",
                              choices=[("notify", "异步通知"), ("query", "主动查单")])
    received_at = models.DateTimeField("接收时间", default=timezone.now, db_index=True)
    remote_addr = models.GenericIPAddressField("来源 IP", null=True, blank=True)
    headers = models.JSONField("请求头", default=dict, blank=True)
    body = models.TextField("原文", blank=True)
    verified = models.BooleanField("验签通过", default=False)
    event_id = models.CharField("通知编号", max_length=100, blank=True)
    out_trade_no = models.CharField("商户订单号", max_length=64, blank=True, db_index=True)
    transaction_id = models.CharField("渠道交易号", max_length=64, blank=True)
    amount_fen = models.BigIntegerField("通知金额（分）", null=True, blank=True)
    trade_state = models.CharField("交易状态", max_length=32, blank=True)
    order = models.ForeignKey(PaymentOrder, verbose_name="订单", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="notifications")
    result = models.CharField("处理结果", max_length=20, choices=NotificationResult.choices,
                              default=NotificationResult.RECEIVED)
    detail = models.CharField("说明", max_length=300, blank=True)
    resolved_at = models.DateTimeField("财务处理时间", null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="财务处理人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolution_note = models.CharField("处理说明", max_length=300, blank=True)

    class Meta:
        verbose_name = "支付通知"
        verbose_name_plural = "支付通知"
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["received_at"], condition=Q(result__startswith="parked", resolved_at__isnull=True),
                         name="paynotice_parked_open"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.out_trade_no or '—'} {self.get_result_display()}"


class OwnerRequest(models.Model):
    """业主申请 — what an owner asked for from the portal: installments, a dispute, contact preferences."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="owner_requests")
    link = models.ForeignKey(PayLink, verbose_name="来自链接", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="requests")
    kind = models.CharField("类型", max_length=12, choices=RequestKind.choices)
    text = models.CharField("内容", max_length=500, blank=True)
    data = models.JSONField("明细", default=dict, blank=True)
    bill_ids = models.JSONField("涉及账单", default=list, blank=True)
    installment_plan = models.ForeignKey("billing.InstallmentPlan", verbose_name="分期计划", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    dispute = models.ForeignKey("casework.Dispute", verbose_name="争议", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="owner_requests",
                                help_text="业主在线提出的异议转入收费员工作台后对应的争议。")
    status = models.CharField("状态", max_length=10, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    handled_at = models.DateTimeField("处理时间", null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="处理人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    handling_note = models.CharField("处理说明", max_length=300, blank=True)

    class Meta:
        verbose_name = "业主申请"
        verbose_name_plural = "业主申请"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.unit.code} {self.get_kind_display()}"


class ContactPreference(models.Model):
    """联系偏好 — the owner's choice of channel and time, and an opt-out of non-essential messages.

    Opting out stops reminders before the due date and other non-essential messages; the legally needed
    demand for overdue fees still goes out (it is not marketing).
    """

    unit = models.OneToOneField("estate.Unit", verbose_name="房屋", on_delete=models.CASCADE,
                                related_name="contact_preference")
    opt_out_non_essential = models.BooleanField("不接收非必要消息", default=False)
    preferred_channel = models.CharField("偏好渠道", max_length=10, blank=True,
                                         choices=[("sms", "短信"), ("wechat", "微信"), ("email", "电子邮件"),
                                                  ("letter", "信件")])
    preferred_time = models.CharField("偏好时段", max_length=10, blank=True,
                                      choices=[("morning", "上午 9–11 点"), ("afternoon", "下午 3–5 点"),
                                               ("evening", "傍晚 6–8 点")])
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_via = models.ForeignKey(PayLink, verbose_name="经由链接", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "联系偏好"
        verbose_name_plural = "联系偏好"

    def __str__(self) -> str:
        return f"{self.unit.code} 联系偏好"


class Throttle(models.Model):
    """限流记录 — one attempt counted against a limit (SMS codes per phone and per address, code checks per
    address, unknown pay-link tokens per address). Kept in the database so every process sees the same counts;
    keys are keyed hashes, never the phone number or address itself. Old rows are purged daily."""

    scope = models.CharField("类别", max_length=20)
    key = models.CharField("对象摘要", max_length=64)
    at = models.DateTimeField("时间", default=timezone.now)
    allowed = models.BooleanField("已放行", default=True)

    class Meta:
        verbose_name = "限流记录"
        verbose_name_plural = "限流记录"
        indexes = [models.Index(fields=["scope", "key", "at"], name="throttle_window")]

    def __str__(self) -> str:
        return f"{self.scope} {self.at:%Y-%m-%d %H:%M:%S}"


class LoginCode(models.Model):
    """短信验证码 — a one-time code sent to an owner's phone to log in to the portal.

    Only a keyed hash of the phone and of the code is stored. A request for a number nobody registered gets a
    row too (``known`` false, no code): the answer and the work done look the same either way."""

    phone_hash = models.CharField("号码摘要", max_length=64)
    known = models.BooleanField("号码已登记", default=False)
    party_ids = models.JSONField("业户", default=list, blank=True)
    salt = models.CharField("盐", max_length=32)
    code_hash = models.CharField("验证码摘要", max_length=64, blank=True)
    created_at = models.DateTimeField("发送时间", default=timezone.now)
    expires_at = models.DateTimeField("失效时间")
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)
    sent = models.CharField("发送结果", max_length=20, blank=True)
    ip_hash = models.CharField("来源摘要", max_length=64, blank=True)

    class Meta:
        verbose_name = "短信验证码"
        verbose_name_plural = "短信验证码"
        indexes = [models.Index(fields=["phone_hash", "created_at"], name="logincode_by_phone")]

    def __str__(self) -> str:
        return f"验证码 #{self.pk}"


class OwnerSession(models.Model):
    """业主登录 — an owner who proved a phone number by SMS; lasts ``WUYE_PORTAL_SESSION_MINUTES``.

    The units shown are those whose current owner has that number as a contact point (re-read on each visit);
    opening one makes a pay link that ends with the session."""

    phone_hash = models.CharField("号码摘要", max_length=64)
    phone_masked = models.CharField("号码（掩码）", max_length=20)
    party_ids = models.JSONField("业户", default=list)
    created_at = models.DateTimeField("登录时间", default=timezone.now)
    expires_at = models.DateTimeField("失效时间")
    ended_at = models.DateTimeField("退出时间", null=True, blank=True)
    ip_hash = models.CharField("来源摘要", max_length=64, blank=True)

    class Meta:
        verbose_name = "业主登录"
        verbose_name_plural = "业主登录"

    def __str__(self) -> str:
        return f"{self.phone_masked} 登录 #{self.pk}"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None and self.expires_at > timezone.now()


class FieldPayment(models.Model):
    """上门收款登记 — money an owner says they transferred at the door (to the company's WeChat, Alipay or bank
    account), recorded by the collector with the transfer's reference and the periods it is for. Nothing is
    posted until finance finds the money and confirms: then billing's ``payment_record`` posts it (the row keeps
    the payment); or finance rejects it with a reason. A reference is registered once while not rejected."""

    project = models.ForeignKey("estate.Project", verbose_name="项目", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("estate.Unit", verbose_name="房屋", on_delete=models.PROTECT,
                             related_name="field_payments")
    party = models.ForeignKey("estate.Party", verbose_name="缴款人（欠费人）", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField("金额（分）")
    method = models.CharField("方式", max_length=10, choices=FieldPaymentMethod.choices)
    reference = models.CharField("转账流水号", max_length=64)
    paid_on = models.DateField("转账日期")
    bill_ids = models.JSONField("所缴账单", default=list, blank=True)
    note = models.CharField("备注", max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField("登记时间", default=timezone.now)
    status = models.CharField("状态", max_length=10, choices=FieldPaymentStatus.choices,
                              default=FieldPaymentStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="确认人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField("确认时间", null=True, blank=True)
    decision_note = models.CharField("确认说明", max_length=300, blank=True)
    payment = models.OneToOneField("billing.Payment", verbose_name="入账收款", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="field_payment")

    class Meta:
        verbose_name = "上门收款登记"
        verbose_name_plural = "上门收款登记"
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="field_payment_amount_positive"),
            models.UniqueConstraint(fields=["method", "reference"], condition=~Q(status="rejected"),
                                    name="field_payment_reference_once"),
        ]
        indexes = [models.Index(fields=["status", "recorded_at"], name="field_payment_by_status")]

    def __str__(self) -> str:
        return f"{self.unit} {self.get_method_display()} {self.reference}"
