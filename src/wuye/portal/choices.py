from django.db import models


class Provider(models.TextChoices):
    WECHAT = "wechat", "微信支付"
    ALIPAY = "alipay", "支付宝"


class Channel(models.TextChoices):
    """How the owner pays: a QR code to scan, a mobile browser page, or inside WeChat."""

    NATIVE = "native", "扫码支付"
    H5 = "h5", "手机网页支付"
    JSAPI = "jsapi", "微信内支付"
    PAGE = "page", "电脑网页支付"
    WAP = "wap", "手机网站支付"


class OrderStatus(models.TextChoices):
    CREATED = "created", "待支付"
    PAID = "paid", "已支付"
    CLOSED = "closed", "已关闭"
    REFUNDED = "refunded", "已退款"
    REFUNDING = "refunding", "退款待核实"  # asked; the provider's answer could not be trusted: queried, never assumed
    PARKED = "parked", "待财务处理"


class NotificationResult(models.TextChoices):
    """What became of a notification (or an order query) from a provider."""

    RECEIVED = "received", "已接收"
    POSTED = "posted", "已入账"
    DUPLICATE = "duplicate", "重复通知（已入账过）"
    IGNORED = "ignored", "无需处理"
    PARKED_MISMATCH = "parked_mismatch", "金额不符，待财务处理"
    PARKED_UNKNOWN = "parked_unknown", "订单不存在，待财务处理"
    PARKED_ERROR = "parked_error", "入账失败，待财务处理"
    PARKED_UNVERIFIED = "parked_unverified", "查单应答验签失败，待财务核对"
    REJECTED_SIGNATURE = "rejected_signature", "签名无效，已拒绝"
    REJECTED_STALE = "rejected_stale", "时间戳超出范围，已拒绝"
    REJECTED_MALFORMED = "rejected_malformed", "内容无法解析，已拒绝"


PARKED_RESULTS = frozenset({NotificationResult.PARKED_MISMATCH, NotificationResult.PARKED_UNKNOWN,
                            NotificationResult.PARKED_ERROR, NotificationResult.PARKED_UNVERIFIED})
REJECTED_RESULTS = frozenset({NotificationResult.REJECTED_SIGNATURE, NotificationResult.REJECTED_STALE,
                              NotificationResult.REJECTED_MALFORMED})


class RequestKind(models.TextChoices):
    INSTALLMENT = "installment", "分期申请"
    DISPUTE = "dispute", "账单异议"
    CONTACT = "contact", "联系偏好"


class RequestStatus(models.TextChoices):
    OPEN = "open", "待处理"
    FORWARDED = "forwarded", "已转交处理"  # installment → the approvals queue; dispute → casework
    DONE = "done", "已处理"


class FieldPaymentStatus(models.TextChoices):
    PENDING = "pending", "待财务确认"
    CONFIRMED = "confirmed", "已确认入账"
    REJECTED = "rejected", "未到账（已退回）"


class FieldPaymentMethod(models.TextChoices):
    """How an owner paid at the door: a transfer to the company's account, never cash into a collector's hand."""

    WECHAT = "wechat", "微信转账/扫码"
    ALIPAY = "alipay", "支付宝转账/扫码"
    TRANSFER = "transfer", "银行转账"
