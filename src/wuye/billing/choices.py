from django.db import models


class FeeKind(models.TextChoices):
    PROPERTY = "property", "物业服务费"
    ELEVATOR = "elevator", "电梯费"
    SHARED_WATER = "shared_water", "公摊水费"
    SHARED_POWER = "shared_power", "公摊电费"
    PARKING = "parking", "车位管理费"
    LATE_FEE = "late_fee", "违约金"
    OTHER = "other", "其他"


class Pricing(models.TextChoices):
    """How a fee item's amount is found."""

    PER_AREA = "per_area", "按建筑面积（元/m²/月）"
    FIXED = "fixed", "按户固定（元/月）"
    ENTERED = "entered", "按期录入/分摊"


class DueRule(models.TextChoices):
    DAY_OF_CYCLE = "day_of_cycle", "账期首月的固定日"
    AFTER_DELIVERY = "after_delivery", "账单送达后 N 天"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "现金"
    POS = "pos", "POS 刷卡"
    TRANSFER = "transfer", "银行转账"
    WECHAT = "wechat", "微信支付"
    ALIPAY = "alipay", "支付宝"
    DIRECT_DEBIT = "direct_debit", "银行代扣"


class AdjustmentKind(models.TextChoices):
    VOID = "void", "作废账单"
    RUN_REVERSAL = "run_reversal", "撤销出账批次"
    WAIVE_PRINCIPAL = "waive_principal", "减免本金"
    WRITE_OFF = "write_off", "核销/和解"
    PREPAY_DISCOUNT = "prepay_discount", "预缴优惠"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "待审批"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "已驳回"


# Adjustments that take effect without a manager (they correct our own mistakes, reason required).
SELF_APPROVED_KINDS = frozenset({AdjustmentKind.RUN_REVERSAL})
