"""Every write of the portal: payment orders, notifications and their settlement, owners' requests.

Money is posted only through ``billing.services.payment_record``. A paid order posts one payment however
often and however concurrently its notification arrives: the order row is locked (``select_for_update``)
for the status transition, ``(provider, transaction_id)`` is unique on orders, and billing refuses a second
payment with the same provider reference.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing import installments
from wuye.billing.choices import PaymentMethod
from wuye.billing.services import open_bills, payment_record
from wuye.common.formatting import format_yuan, mask_text
from wuye.portal import providers
from wuye.portal.choices import (
    PARKED_RESULTS,
    Channel,
    NotificationResult,
    OrderStatus,
    Provider,
    RequestKind,
    RequestStatus,
)
from wuye.portal.models import ContactPreference, OwnerRequest, PayLink, PaymentNotification, PaymentOrder

log = logging.getLogger(__name__)
R = NotificationResult

# the first is the default; NATIVE is a QR code to scan (WeChat Native, Alipay 当面付 precreate)
CHANNELS = {Provider.WECHAT: (Channel.NATIVE, Channel.H5, Channel.JSAPI),
            Provider.ALIPAY: (Channel.WAP, Channel.PAGE, Channel.NATIVE)}
METHOD = {Provider.WECHAT: PaymentMethod.WECHAT, Provider.ALIPAY: PaymentMethod.ALIPAY}


# User-Agent words of phones and tablets (Android's "Mobile" is in most phone browsers; HarmonyOS and
# OpenHarmony browsers name themselves)
MOBILE_AGENT_WORDS = ("Mobile", "Android", "iPhone", "iPad", "iPod", "HarmonyOS", "OpenHarmony", "Windows Phone")


def in_wechat(user_agent: str) -> bool:
    """WeChat's built-in browser (phone or desktop client) says ``MicroMessenger``."""
    return "MicroMessenger" in (user_agent or "")


# WeChat's browser inside WeCom (企业微信) and a mini program's web-view say MicroMessenger too, but cannot
# call getBrandWCPayRequest for a service account's order
NO_JSAPI_WORDS = ("wxwork", "miniProgram", "miniprogram")


def wechat_channel_for(user_agent: str) -> str:
    """How to pay by WeChat from this browser when the owner did not choose: inside WeChat 微信内支付 (JSAPI)
    when the service account is configured (``providers.jsapi_configured``), else the QR code to long-press
    or scan (H5 does not work inside WeChat); H5 (``h5_url``, the browser hands over to the WeChat app) from
    a mobile browser outside WeChat; the Native QR code on a desktop."""
    ua = user_agent or ""
    if in_wechat(ua):
        if providers.jsapi_configured() and not any(word in ua for word in NO_JSAPI_WORDS):
            return Channel.JSAPI
        return Channel.NATIVE
    if any(word in ua for word in MOBILE_AGENT_WORDS):
        return Channel.H5
    return Channel.NATIVE


def payer_hash(openid: str) -> str:
    """What an order keeps of a JSAPI payer: a keyed hash of the openid (never the openid), so that the same
    person tapping again gets the same order and another person of the same unit a new one (a prepay_id
    can be paid only by the openid it was made for)."""
    from wuye.portal.throttle import keyed_hash

    return keyed_hash("openid", openid) if openid else ""


def order_return_url(out_trade_no: str) -> str:
    """Where the provider sends the owner's browser back after paying (absolute; it names only the order)."""
    from django.urls import reverse

    return settings.WUYE_PAY_NOTIFY_BASE.rstrip("/") + reverse("portal:order-return",
                                                               kwargs={"out_trade_no": out_trade_no})


def with_redirect_url(h5_url: str, return_url: str) -> str:
    """WeChat H5: the ``h5_url`` plus ``redirect_url`` (URL-encoded), where WeChat sends the browser after the
    payment (or the cancellation) — it says nothing of the outcome; the page there asks the server."""
    from urllib.parse import quote

    return f"{h5_url}{'&' if '?' in h5_url else '?'}redirect_url={quote(return_url, safe='')}"


def link_actor(link: PayLink) -> str:
    """How an owner acting through a link appears in the audit log."""
    return f"portal:link:{link.pk}"


def provider_enabled(provider: str) -> bool:
    return providers.wechat_configured() if provider == Provider.WECHAT else providers.alipay_configured()


def new_out_trade_no() -> str:
    """``WY`` + local time to the second + 8 random hex digits: 24 characters, unique in practice; the
    database's unique constraint decides."""
    return f"WY{timezone.localtime():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def _description(unit) -> str:
    text = f"{unit.project.name} {unit.code} 物业费"
    while len(text.encode("utf-8")) > 120:  # WeChat allows 127 bytes
        text = text[:-1]
    return text


# --- orders -------------------------------------------------------------------------------------------

def order_amount(unit, bill_ids: list[int] | None) -> tuple[int, list[int]]:
    """What paying these lines (all open lines when none are named) costs now, and the ids in legal order."""
    lines = open_bills(unit.pk)
    if bill_ids:
        wanted = set(bill_ids)
        chosen = [b for b in lines if b.pk in wanted]
        if len(chosen) != len(wanted):
            raise ValidationError({"bill_ids": "所选账单已结清或不属于该房屋，请刷新后重选。"})
        lines = chosen
    total = sum(b.amount_fen - b.settled_fen for b in lines)
    if total <= 0:
        raise ValidationError({"bill_ids": "目前没有需要缴纳的费用。"})
    return total, [b.pk for b in lines]


def order_create(
    *, link: PayLink, provider: str, channel: str = "", bill_ids: list[int] | None = None, client_ip: str = "",
    openid: str = "", pay_all: bool = True,
) -> PaymentOrder:
    """Create (or reuse) an order for the link's unit and ask the provider for a way to pay it.

    A second tap on the same choice within the order's life returns the same order, so nobody pays twice
    by accident. Raises ``ValidationError`` for bad choices and ``ProviderError`` when the provider fails."""
    if provider not in Provider.values:
        raise ValidationError({"provider": "未知的支付方式。"})
    channel = channel or CHANNELS[provider][0]
    if channel not in CHANNELS[provider]:
        raise ValidationError({"channel": "该支付方式不支持所选的支付途径。"})
    if not provider_enabled(provider):
        raise ValidationError({"provider": f"{Provider(provider).label}暂未开通，请到服务中心或用其他方式缴费。"})
    if not pay_all and not bill_ids:
        raise ValidationError({"bill_ids": "请至少选择一项要缴的费用。"})
    if channel == Channel.JSAPI and not (openid and providers.jsapi_configured()):
        raise ValidationError({"channel": "微信内支付暂未开通或未取得微信授权，请改用二维码支付。"})
    payer = payer_hash(openid) if channel == Channel.JSAPI else ""
    unit = link.unit
    amount, ids = order_amount(unit, None if pay_all else bill_ids)
    if amount > 20_000_000:
        raise ValidationError({"bill_ids": f"在线支付单笔不能超过 {format_yuan(20_000_000)}，请分期次选择或到服务中心缴费。"})
    stored_ids = [] if pay_all else ids
    now = timezone.now()
    existing = (PaymentOrder.objects.filter(unit=unit, provider=provider, channel=channel, amount_fen=amount,
                                            bill_ids=stored_ids, payer_hash=payer, status=OrderStatus.CREATED,
                                            expires_at__gt=now + dt.timedelta(minutes=5))
                .exclude(code_url="", pay_url="", prepay_id="").order_by("-created_at").first())
    if existing is not None:
        return existing
    order = PaymentOrder.objects.create(
        out_trade_no=new_out_trade_no(), project_id=unit.project_id, unit=unit, link=link, provider=provider,
        channel=channel, amount_fen=amount, bill_ids=stored_ids, payer_hash=payer, description=_description(unit),
        expires_at=now + dt.timedelta(minutes=settings.WUYE_PAY_ORDER_TTL_MINUTES))
    audit_record(actor=None, actor_label=link_actor(link), verb="payorder.create", obj=order, ip=client_ip or None,
                 after={"out_trade_no": order.out_trade_no, "amount_fen": amount, "provider": provider,
                        "channel": channel, "bill_ids": stored_ids})
    try:
        if provider == Provider.WECHAT:
            answer = providers.wechat_order(
                out_trade_no=order.out_trade_no, description=order.description, amount_fen=amount,
                channel=channel, expires_at=order.expires_at, client_ip=client_ip, openid=openid)
            order.code_url = str(answer.get("code_url", ""))[:500]
            h5_url = str(answer.get("h5_url", ""))
            order.pay_url = with_redirect_url(h5_url, order_return_url(order.out_trade_no)) if h5_url else ""
            order.prepay_id = str(answer.get("prepay_id", ""))[:100]
            if not (order.code_url or order.pay_url or order.prepay_id):
                raise providers.ProviderError("微信支付没有返回支付信息，请稍后再试。")
        elif channel == Channel.NATIVE:  # 当面付: a QR code to scan with the Alipay app
            order.code_url = providers.alipay_precreate(
                out_trade_no=order.out_trade_no, subject=order.description, amount_fen=amount,
                expires_at=order.expires_at)[:500]
        else:
            order.pay_url = providers.alipay_pay_url(
                out_trade_no=order.out_trade_no, subject=order.description, amount_fen=amount, channel=channel,
                return_url=order_return_url(order.out_trade_no), expires_at=order.expires_at)
    except providers.ProviderError:
        PaymentOrder.objects.filter(pk=order.pk, status=OrderStatus.CREATED).update(
            status=OrderStatus.CLOSED, closed_at=timezone.now(), park_reason="下单失败")
        raise
    order.save(update_fields=["code_url", "pay_url", "prepay_id"])
    return order


# --- notifications ------------------------------------------------------------------------------------

KEPT_HEADERS = ("wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce", "wechatpay-serial",
                "wechatpay-signature-type", "content-type", "user-agent", "request-id")


def _finish(note: PaymentNotification, result: str, detail: str = "", **fields) -> PaymentNotification:
    note.result, note.detail = result, detail[:300]
    for key, value in fields.items():
        setattr(note, key, value)
    note.save()
    if result in PARKED_RESULTS:
        # the alert: finance sees it at the top of the payments page; the log line reaches operations
        log.error("online payment parked for finance: %s %s %s", note.provider, note.out_trade_no, detail)
        audit_record(actor=None, actor_label=f"portal:{note.provider}", verb="payment.parked",
                     obj=note.order or note, note=detail,
                     after={"notification": note.pk, "out_trade_no": note.out_trade_no,
                            "amount_fen": note.amount_fen, "transaction_id": note.transaction_id})
    return note


def _settle(note: PaymentNotification, *, provider: str, out_trade_no: str, transaction_id: str, amount_fen: int,
            paid_at: dt.datetime, payer_name: str = "") -> PaymentNotification:
    """Apply a verified, successful payment to its order: post it once, or park it for finance."""
    with transaction.atomic():
        order = (PaymentOrder.objects.select_for_update().select_related("unit", "unit__project")
                 .filter(out_trade_no=out_trade_no, provider=provider).first())
        if order is None:
            return _finish(note, R.PARKED_UNKNOWN, f"订单 {out_trade_no or '—'} 不存在；款项 "
                                                   f"{format_yuan(amount_fen)} 未入账。")
        note.order = order
        if order.transaction_id:
            if order.transaction_id == transaction_id:
                return _finish(note, R.DUPLICATE, "该交易已处理过。")
            return _finish(note, R.PARKED_MISMATCH, f"订单已有交易 {order.transaction_id}，又收到交易 "
                                                    f"{transaction_id}；未入账。")
        if amount_fen != order.amount_fen:
            order.status, order.transaction_id, order.paid_fen = OrderStatus.PARKED, transaction_id, amount_fen
            order.park_reason = (f"通知金额 {format_yuan(amount_fen)} 与订单金额 "
                                 f"{format_yuan(order.amount_fen)} 不符")
            order.paid_at = paid_at
            order.save()
            return _finish(note, R.PARKED_MISMATCH, order.park_reason + "；未入账。")
        paid_at = min(paid_at, timezone.now())
        label = f"portal:{provider}"
        common = {"actor": None, "actor_label": label, "unit": order.unit, "amount_fen": amount_fen,
                  "method": METHOD[provider], "paid_at": paid_at, "reference": transaction_id,
                  "payer_name": payer_name[:100], "note": f"在线支付订单 {out_trade_no}"}
        try:
            try:
                payment = payment_record(bill_ids=order.bill_ids or None, **common)
            except ValidationError as exc:
                if "bill_ids" not in getattr(exc, "message_dict", {}):
                    raise
                # the chosen lines were settled meanwhile (e.g. at the desk): the money still arrived and
                # pays the oldest open lines, the rest becomes prepaid
                payment = payment_record(bill_ids=None, **common)
        except ValidationError as exc:
            order.status, order.transaction_id, order.paid_fen = OrderStatus.PARKED, transaction_id, amount_fen
            order.paid_at = paid_at
            order.park_reason = "入账失败：" + "；".join(exc.messages)[:280]
            order.save()
            return _finish(note, R.PARKED_ERROR, order.park_reason)
        order.status, order.transaction_id, order.paid_fen = OrderStatus.PAID, transaction_id, amount_fen
        order.payment, order.paid_at = payment, paid_at
        order.save()
        return _finish(note, R.POSTED, f"已入账，收据号 {payment.receipt_no}。")


def _parse_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return timezone.now()
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Alipay: Beijing time
    return moment


def _apply_wechat_transaction(note: PaymentNotification, data: dict) -> PaymentNotification:
    """A decrypted WeChat transaction (from a notification or a query)."""
    amount = data.get("amount") or {}
    note.out_trade_no = str(data.get("out_trade_no", ""))[:64]
    note.transaction_id = str(data.get("transaction_id", ""))[:64]
    note.trade_state = str(data.get("trade_state", ""))[:32]
    total = amount.get("total")
    note.amount_fen = total if isinstance(total, int) and not isinstance(total, bool) else None
    if "refund_status" in data:  # REFUND.* events: the refund was already applied when finance asked for it
        return _finish(note, R.IGNORED, f"退款通知：{data.get('refund_status')}（{data.get('out_refund_no', '')}）。")
    if data.get("mchid") != settings.WECHATPAY_MCHID or data.get("appid") not in providers.wechat_appids():
        return _finish(note, R.REJECTED_MALFORMED, "商户号或应用号与本系统不符。")
    if note.trade_state != "SUCCESS":
        return _finish(note, R.IGNORED, f"交易状态 {note.trade_state or '—'}，无需入账。")
    if note.amount_fen is None or not note.transaction_id or not note.out_trade_no:
        return _finish(note, R.REJECTED_MALFORMED, "缺少订单号、交易号或金额。")
    if amount.get("currency", "CNY") != "CNY":
        return _finish(note, R.PARKED_MISMATCH, f"币种 {amount.get('currency')} 不是人民币；未入账。")
    return _settle(note, provider=Provider.WECHAT, out_trade_no=note.out_trade_no,
                   transaction_id=note.transaction_id, amount_fen=note.amount_fen,
                   paid_at=_parse_time(str(data.get("success_time", ""))))


def wechat_notification_receive(*, headers: dict[str, str], body: str, remote_addr: str | None = None
                                ) -> tuple[int, dict]:
    """Handle a WeChat Pay notification; returns the HTTP status and JSON body WeChat expects."""
    kept = {k: v for k, v in ((k.lower(), v) for k, v in headers.items()) if k in KEPT_HEADERS}
    note = PaymentNotification.objects.create(provider=Provider.WECHAT, headers=kept, body=body[:100_000],
                                              remote_addr=remote_addr)
    if not providers.wechat_configured():
        _finish(note, R.REJECTED_MALFORMED, "微信支付未配置，无法验签。")
        return 503, {"code": "FAIL", "message": "not configured"}
    try:
        verified = providers.wechat_verify(headers, body, now=timezone.now())
    except providers.NotConfigured:
        _finish(note, R.REJECTED_MALFORMED, "微信支付配置有误（密钥或证书文件无法读取），无法验签；平台会重发。")
        return 503, {"code": "FAIL", "message": "not configured"}
    if not verified.ok:
        result = {"stale": R.REJECTED_STALE, "signature": R.REJECTED_SIGNATURE}.get(verified.reason,
                                                                                   R.REJECTED_MALFORMED)
        _finish(note, result, {"stale": "签名时间戳与当前时间相差超过允许范围。",
                               "signature": "签名验证或解密失败。"}.get(verified.reason, "通知内容无法解析。"))
        return 401, {"code": "FAIL", "message": "验签失败"}
    note.verified, note.event_id = True, verified.event_id
    note.save(update_fields=["verified", "event_id"])
    try:
        _apply_wechat_transaction(note, verified.data or {})
    except Exception:
        log.exception("wechat notification %s could not be applied", note.pk)
        PaymentNotification.objects.filter(pk=note.pk).update(result=R.PARKED_ERROR, detail="处理出错，等待重试。")
        return 500, {"code": "FAIL", "message": "处理失败，请重试"}
    return 200, {"code": "SUCCESS", "message": "成功"}


def _apply_alipay_trade(note: PaymentNotification, data: dict) -> PaymentNotification:
    note.out_trade_no = str(data.get("out_trade_no", ""))[:64]
    note.transaction_id = str(data.get("trade_no", ""))[:64]
    note.trade_state = str(data.get("trade_status", ""))[:32]
    note.amount_fen = providers.fen_from_yuan_text(str(data.get("total_amount", "")))
    if note.trade_state not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        return _finish(note, R.IGNORED, f"交易状态 {note.trade_state or '—'}，无需入账。")
    if note.amount_fen is None or not note.transaction_id or not note.out_trade_no:
        return _finish(note, R.REJECTED_MALFORMED, "缺少订单号、交易号或金额。")
    return _settle(note, provider=Provider.ALIPAY, out_trade_no=note.out_trade_no,
                   transaction_id=note.transaction_id, amount_fen=note.amount_fen,
                   paid_at=_parse_time(str(data.get("gmt_payment") or data.get("send_pay_date") or "")))


def alipay_notification_receive(*, params: dict[str, str], body: str, remote_addr: str | None = None) -> str:
    """Handle an Alipay notification; returns the plain text Alipay expects (``success`` or ``fail``)."""
    note = PaymentNotification.objects.create(provider=Provider.ALIPAY, body=body[:100_000], remote_addr=remote_addr,
                                              event_id=str(params.get("notify_id", ""))[:100])
    if not providers.alipay_configured():
        _finish(note, R.REJECTED_MALFORMED, "支付宝未配置，无法验签。")
        return "fail"
    try:
        verified = providers.alipay_verify(params, now=timezone.now())
    except providers.NotConfigured:
        _finish(note, R.REJECTED_MALFORMED, "支付宝配置有误（密钥文件无法读取），无法验签；平台会重发。")
        return "fail"
    if not verified.ok:
        result, detail = {
            "signature": (R.REJECTED_SIGNATURE, "签名验证失败。"),
            "stale": (R.REJECTED_STALE, f"通知时间 {params.get('notify_time', '')} 与当前时间相差超过允许范围。"),
        }.get(verified.reason, (R.REJECTED_MALFORMED, "应用号与本系统不符或缺少通知时间。"))
        _finish(note, result, detail, out_trade_no=str(params.get("out_trade_no", ""))[:64])
        return "fail"
    note.verified = True
    note.save(update_fields=["verified"])
    try:
        _apply_alipay_trade(note, verified.data or {})
    except Exception:
        log.exception("alipay notification %s could not be applied", note.pk)
        PaymentNotification.objects.filter(pk=note.pk).update(result=R.PARKED_ERROR, detail="处理出错，等待重试。")
        return "fail"
    return "success"


# --- querying orders that heard nothing ------------------------------------------------------------------

def _query_unverified(order: PaymentOrder, exc: providers.VerificationFailed) -> None:
    """A query answer whose signature is not the provider's: nothing is posted or closed (the order keeps
    waiting for a genuine notification or the next query); finance sees it at the top of the payments page
    (one open item per order, however often the query fails) and operations get an error in the log."""
    log.error("order query %s: answer failed signature verification", order.out_trade_no)
    if PaymentNotification.objects.filter(order=order, result=R.PARKED_UNVERIFIED, resolved_at__isnull=True).exists():
        return
    note = PaymentNotification.objects.create(provider=order.provider, source="query", verified=False, order=order,
                                              out_trade_no=order.out_trade_no)
    _finish(note, R.PARKED_UNVERIFIED,
            f"{exc}订单仍为待支付，未入账也未关闭。请核对支付平台公钥/证书设置，并在商户后台核实该订单是否已付款。")


def order_query(order: PaymentOrder, *, now: dt.datetime | None = None) -> PaymentOrder:
    """Ask the provider about one waiting order; a paid answer settles it like a notification would. An
    answer that fails signature verification changes nothing but is recorded for finance, then raised."""
    now = now or timezone.now()
    PaymentOrder.objects.filter(pk=order.pk).update(last_queried_at=now, query_count=order.query_count + 1)
    try:
        return _order_query(order, now=now)
    except providers.VerificationFailed as exc:
        _query_unverified(order, exc)
        raise


def _order_query(order: PaymentOrder, *, now: dt.datetime) -> PaymentOrder:
    if order.provider == Provider.WECHAT:
        data = providers.wechat_query(order.out_trade_no)  # the SDK verified the answer's signature
        state = str(data.get("trade_state", ""))
        if state == "SUCCESS":
            note = PaymentNotification.objects.create(provider=order.provider, source="query", verified=True,
                                                      body=_json(data), order=order)
            _apply_wechat_transaction(note, data)
        elif state in ("CLOSED", "REVOKED", "PAYERROR") or (state == "NOTPAY" and now > order.expires_at):
            _close(order, f"查单结果 {state}")
    else:
        try:
            data = providers.alipay_query(order.out_trade_no)
        except providers.VerificationFailed:
            raise
        except providers.ProviderError as exc:
            if "ACQ.TRADE_NOT_EXIST" in str(exc) or "40004" in str(exc):
                if now > order.expires_at:
                    _close(order, "支付宝无此交易且已过期")
                return order
            raise
        state = str(data.get("trade_status", ""))
        if state in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            note = PaymentNotification.objects.create(provider=order.provider, source="query", verified=True,
                                                      body=_json(data), order=order)
            _apply_alipay_trade(note, data)
        elif state == "TRADE_CLOSED" or now > order.expires_at + dt.timedelta(minutes=30):
            _close(order, f"查单结果 {state or '未支付'}")
    order.refresh_from_db()
    return order


# who paid, in a provider's query answer: kept only masked (the order already says which unit it paid for)
PAYER_KEYS = ("openid", "sub_openid", "sp_openid", "buyer_id", "buyer_user_id", "buyer_open_id")


def _json(data: dict) -> str:
    """A query answer as kept on its PaymentNotification, with the payer's account ids masked."""
    import json

    def scrub(value):
        if isinstance(value, dict):
            return {k: mask_text(str(v)) if k in PAYER_KEYS and v else scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return json.dumps(scrub(data), ensure_ascii=False)[:100_000]


def _close(order: PaymentOrder, reason: str) -> None:
    if PaymentOrder.objects.filter(pk=order.pk, status=OrderStatus.CREATED).update(
            status=OrderStatus.CLOSED, closed_at=timezone.now(), park_reason=reason[:300]):
        audit_record(actor=None, actor_label=f"portal:{order.provider}", verb="payorder.close", obj=order,
                     note=reason)


def orders_query_waiting(*, now: dt.datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Query the provider for orders that have waited more than ``WUYE_PAY_QUERY_AFTER_MINUTES`` without a
    notification (each order at most once per that interval). A periodic job calls this."""
    now = now or timezone.now()
    gap = dt.timedelta(minutes=settings.WUYE_PAY_QUERY_AFTER_MINUTES)
    waiting = (PaymentOrder.objects.filter(status=OrderStatus.CREATED, created_at__lte=now - gap,
                                           created_at__gte=now - dt.timedelta(days=2))
               .exclude(last_queried_at__gt=now - gap).order_by("created_at")[:limit])
    counts = {"queried": 0, "paid": 0, "closed": 0, "failed": 0, "unverified": 0}
    for order in waiting:
        if not provider_enabled(order.provider):
            continue
        counts["queried"] += 1
        try:
            order = order_query(order, now=now)
        except providers.VerificationFailed:
            counts["unverified"] += 1
            continue
        except providers.ProviderError as exc:
            counts["failed"] += 1
            log.warning("order query %s failed: %s", order.out_trade_no, exc)
            continue
        if order.status in (OrderStatus.PAID, OrderStatus.PARKED):
            counts["paid"] += 1
        elif order.status == OrderStatus.CLOSED:
            counts["closed"] += 1
    return counts


# --- finance ------------------------------------------------------------------------------------------

@transaction.atomic
def parked_resolve(*, actor: User, notification: PaymentNotification | None = None,
                   order: PaymentOrder | None = None, note: str) -> None:
    """Finance records how a parked item was dealt with (e.g. refunded, or posted at the desk)."""
    from wuye.billing.permissions import can_record_payments

    if not can_record_payments(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以处理挂起的款项。"})
    if not note.strip():
        raise ValidationError({"note": "请写明处理方式。"})
    now = timezone.now()
    for obj in (notification, order):
        if obj is None:
            continue
        obj = type(obj).objects.select_for_update().get(pk=obj.pk)
        if obj.resolved_at is not None:
            raise ValidationError({"resolved": "该记录已处理。"})
        obj.resolved_at, obj.resolved_by, obj.resolution_note = now, actor, note[:300]
        obj.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
        audit_record(actor=actor, verb="payment.parked_resolve", obj=obj, note=note)


def order_refund(*, actor: User, order: PaymentOrder, reason: str) -> PaymentOrder:
    """Refund a paid order in full: the provider's refund first, then billing reverses the payment with the
    reason. A provider that refuses leaves everything as it was."""
    from wuye.billing.models import Payment
    from wuye.billing.permissions import can_record_payments
    from wuye.billing.services import payment_reverse

    if not can_record_payments(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以退款。"})
    if not reason.strip():
        raise ValidationError({"reason": "请填写退款原因。"})
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.PAID or order.payment_id is None:
            raise ValidationError({"order": "只有已支付的订单可以退款。"})
        if Payment.objects.filter(reverses_id=order.payment_id).exists():
            raise ValidationError({"order": "该收款已冲正，不能再退款。"})
        out_refund_no = "RF" + order.out_trade_no[2:]
        if order.provider == Provider.WECHAT:
            answer = providers.wechat_refund(out_trade_no=order.out_trade_no, out_refund_no=out_refund_no,
                                             refund_fen=order.amount_fen, total_fen=order.amount_fen, reason=reason)
            if answer.get("status") not in ("SUCCESS", "PROCESSING"):
                raise providers.ProviderError(f"微信支付退款未受理：{answer.get('status') or '未知状态'}")
        else:
            answer = providers.alipay_refund(out_trade_no=order.out_trade_no, out_request_no=out_refund_no,
                                             refund_fen=order.amount_fen, reason=reason)
        payment_reverse(actor=actor, payment=order.payment, reason=f"在线支付退款：{reason}"[:300])
        order.status = OrderStatus.REFUNDED
        order.save(update_fields=["status"])
        audit_record(actor=actor, verb="payorder.refund", obj=order, note=reason,
                     after={"out_refund_no": out_refund_no, "amount_fen": order.amount_fen,
                            "provider_status": str(answer.get("status") or answer.get("code") or "")})
    return order


# --- owners' requests ---------------------------------------------------------------------------------

MAX_REQUESTS_PER_DAY = 5


def _request_quota(link: PayLink) -> None:
    since = timezone.now() - dt.timedelta(days=1)
    if OwnerRequest.objects.filter(link=link, created_at__gte=since).count() >= MAX_REQUESTS_PER_DAY:
        raise ValidationError({"link": "今天提交的申请已较多，请明天再试或致电服务中心。"})


@transaction.atomic
def installment_ask(*, link: PayLink, count: int, first_due: dt.date, reason: str, ip: str | None = None
                    ) -> OwnerRequest:
    """An owner asks to pay the open amount in ``count`` monthly instalments: billing's plan request, which
    waits for a manager's approval, plus our record of who asked through which link."""
    _request_quota(link)
    unit = link.unit
    open_fen = sum(b.amount_fen - b.settled_fen for b in open_bills(unit.pk))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "请简单说明原因。"})
    schedule = installments.equal_schedule(open_fen, count, first_due) if open_fen > 0 else []
    plan = installments.installment_request(actor=None, actor_label=link_actor(link), unit=unit, schedule=schedule,
                                            reason=f"业主在线申请：{reason}"[:300])
    request = OwnerRequest.objects.create(
        project_id=unit.project_id, unit=unit, link=link, kind=RequestKind.INSTALLMENT, text=reason[:500],
        data={"count": count, "first_due": first_due.isoformat(), "total_fen": open_fen},
        installment_plan=plan, status=RequestStatus.FORWARDED)
    audit_record(actor=None, actor_label=link_actor(link), verb="portal.installment_ask", obj=request, ip=ip,
                 after={"plan": plan.pk, "count": count})
    return request


@transaction.atomic
def dispute_raise(*, link: PayLink, bill_ids: list[int], text: str, reason: str = "other", ip: str | None = None
                  ) -> OwnerRequest:
    """An owner disputes bill lines. Where casework is installed the dispute goes there (a casework dispute,
    which holds escalation like one a collector records and shows on the manager's desk); the owner's request
    is kept as the owner-side record linked to it. Without casework it stays a request for customer service."""
    _request_quota(link)
    text = text.strip()
    errors: dict[str, str] = {}
    if len(text) < 5:
        errors["text"] = "请写明异议内容（至少 5 个字）。"
    unit = link.unit
    valid = set(unit.bills.filter(is_void=False).values_list("pk", flat=True))
    if any(i not in valid for i in bill_ids):
        errors["bill_ids"] = "所选账单不属于该房屋。"
    casework = apps.is_installed("wuye.casework")
    if casework:
        from wuye.casework.choices import DisputeReason

        if reason not in DisputeReason.values:
            errors["reason"] = "请选择异议原因。"
    if errors:
        raise ValidationError(errors)
    bill_ids = sorted(set(bill_ids))
    request = OwnerRequest.objects.create(project_id=unit.project_id, unit=unit, link=link,
                                          kind=RequestKind.DISPUTE, text=text[:500], bill_ids=bill_ids,
                                          data={"reason": reason})
    created = None
    if casework:
        from wuye.casework.services import dispute_open_for_owner

        periods = "、".join(f"{d:%Y年%-m月}" for d in unit.bills.filter(pk__in=bill_ids)
                           .order_by("period_start").values_list("period_start", flat=True).distinct())
        dispute, created = dispute_open_for_owner(
            unit=unit, reason=reason, bill_ids=bill_ids, actor_label=link_actor(link),
            description=(f"业主在线提出（{periods}）：" if periods else "业主在线提出：") + text)
        request.dispute, request.status = dispute, RequestStatus.FORWARDED
        request.save(update_fields=["dispute", "status"])
    audit_record(actor=None, actor_label=link_actor(link), verb="portal.dispute_raise", obj=request, ip=ip,
                 after={"bill_ids": bill_ids, "reason": reason, "dispute": request.dispute_id,
                        "dispute_created": created})
    return request


@transaction.atomic
def contact_preference_set(*, link: PayLink, opt_out_non_essential: bool, preferred_channel: str = "",
                           preferred_time: str = "", ip: str | None = None) -> ContactPreference:
    unit = link.unit
    pref, _ = ContactPreference.objects.select_for_update().get_or_create(unit=unit)
    before = {"opt_out_non_essential": pref.opt_out_non_essential, "preferred_channel": pref.preferred_channel,
              "preferred_time": pref.preferred_time}
    pref.opt_out_non_essential = opt_out_non_essential
    pref.preferred_channel, pref.preferred_time, pref.updated_via = preferred_channel, preferred_time, link
    pref.full_clean()
    pref.save()
    after = {"opt_out_non_essential": opt_out_non_essential, "preferred_channel": preferred_channel,
             "preferred_time": preferred_time}
    OwnerRequest.objects.create(project_id=unit.project_id, unit=unit, link=link, kind=RequestKind.CONTACT,
                                data=after, status=RequestStatus.DONE, handled_at=timezone.now())
    audit_record(actor=None, actor_label=link_actor(link), verb="portal.contact_preference", obj=unit, ip=ip,
                 before=before, after=after)
    return pref
