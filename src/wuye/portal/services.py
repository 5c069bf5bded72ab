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
from wuye.billing.models import Allocation
from wuye.billing.services import open_bills, payment_record
from wuye.common.changes import units_changed
from wuye.common.formatting import format_yuan, mask_text
from wuye.estate.models import Unit
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
from wuye.portal.models import (
    TWIN_REFUND,
    ContactPreference,
    OwnerRequest,
    PayLink,
    PaymentNotification,
    PaymentOrder,
)

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


def scope_orders(link: PayLink):
    """The orders a link may see: its unit's, and of those only its party's when it has one."""
    qs = PaymentOrder.objects.filter(unit_id=link.unit_id)
    if link.party_id is not None:
        from django.db.models import Q

        qs = qs.filter(Q(party_id=link.party_id) | Q(party__isnull=True, link__party_id=link.party_id))
    return qs


def link_speaks_for_unit(link: PayLink) -> bool:
    """Whether the link's holder may set the unit's contact preferences: the party liable today (or an old
    link without a party). A former owner paying their own periods does not decide how the new owner is
    contacted."""
    if link.party_id is None:
        return True
    from wuye.estate.selectors import liable_party_ids

    return liable_party_ids([link.unit_id], timezone.localdate()).get(link.unit_id) == link.party_id


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

def scope_open_bills(unit_id: int, party_id: int | None, *, lock: bool = False) -> list:
    """The open lines a link or an order may pay, in legal order: the party's lines of the unit (after a sale
    each period is the party's liable then), or all of the unit's when no party is named (old links)."""
    lines = open_bills(unit_id, lock=lock)
    return lines if party_id is None else [b for b in lines if b.party_id == party_id]


def order_amount(unit, bill_ids: list[int] | None, *, party_id: int | None = None) -> tuple[int, list[int]]:
    """What paying these lines (all open lines of the scope when none are named) costs now, and the ids in
    legal order."""
    lines = scope_open_bills(unit.pk, party_id)
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
    """Create (or reuse) an order for the link's unit and party and ask the provider for a way to pay it.

    A second tap on the same choice within the order's life returns the same order, so nobody pays twice
    by accident. A new order closes the other open orders of the same lines at the provider (the owner
    switched, e.g. from 微信内支付 to the QR code), so only one of them can be paid. Raises
    ``ValidationError`` for bad choices and ``ProviderError`` when the provider fails."""
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
    amount, ids = order_amount(unit, None if pay_all else bill_ids, party_id=link.party_id)
    if amount > 20_000_000:
        raise ValidationError({"bill_ids": f"在线支付单笔不能超过 {format_yuan(20_000_000)}，请分期次选择或到服务中心缴费。"})
    stored_ids = [] if pay_all else ids
    now = timezone.now()
    existing = (PaymentOrder.objects.filter(unit=unit, party_id=link.party_id, provider=provider, channel=channel,
                                            amount_fen=amount, bill_ids=stored_ids, payer_hash=payer,
                                            status=OrderStatus.CREATED, expires_at__gt=now + dt.timedelta(minutes=5))
                .exclude(code_url="", pay_url="", prepay_id="").order_by("-created_at").first())
    if existing is not None:
        return existing
    order = PaymentOrder.objects.create(
        out_trade_no=new_out_trade_no(), project_id=unit.project_id, unit=unit, link=link, party_id=link.party_id,
        provider=provider, channel=channel, amount_fen=amount, bill_ids=stored_ids, covers=ids, payer_hash=payer,
        description=_description(unit), expires_at=now + dt.timedelta(minutes=settings.WUYE_PAY_ORDER_TTL_MINUTES))
    audit_record(actor=None, actor_label=link_actor(link), verb="payorder.create", obj=order, ip=client_ip or None,
                 after={"out_trade_no": order.out_trade_no, "amount_fen": amount, "provider": provider,
                        "channel": channel, "bill_ids": stored_ids, "party": link.party_id})
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
    _close_later(_open_twins(order), f"业主改用订单 {order.out_trade_no} 支付同一账单")
    return order


def _overlaps(a: PaymentOrder, b: PaymentOrder) -> bool:
    """Two orders are for the same lines when what their amounts cover overlaps (an order made before orders
    recorded it is taken to cover its whole scope)."""
    if a.party_id is not None and b.party_id is not None and a.party_id != b.party_id:
        return False
    return not a.covers or not b.covers or bool(set(a.covers) & set(b.covers))


def _open_twins(order: PaymentOrder) -> list[int]:
    """Other orders still open for (some of) the same lines of the same unit."""
    others = PaymentOrder.objects.filter(unit_id=order.unit_id, status=OrderStatus.CREATED).exclude(pk=order.pk)
    return [o.pk for o in others if _overlaps(order, o)]


def _close_later(order_ids: list[int], reason: str) -> None:
    """Close these orders at the provider once the current transaction commits (a job: network calls never
    run inside a transaction, and a notification's answer is not held up)."""
    if not order_ids:
        return
    from wuye.portal import tasks

    transaction.on_commit(lambda: tasks.close_orders(order_ids, reason))


def orders_close(order_ids: list[int], *, reason: str) -> dict[str, int]:
    """Close open orders at WeChat Pay / Alipay (``close`` / ``alipay.trade.close``), then here. An order the
    provider will not close (already paid, or the provider unreachable) is queried instead: a paid one is
    settled like a notification (and refunded if its lines were paid twice); one that cannot be reached stays
    open for the periodic query."""
    counts = {"closed": 0, "settled": 0, "failed": 0}
    for order in PaymentOrder.objects.filter(pk__in=order_ids, status=OrderStatus.CREATED):
        try:
            if order.provider == Provider.WECHAT:
                providers.wechat_close(order.out_trade_no)
            else:
                providers.alipay_close(order.out_trade_no)
        except providers.ProviderError as exc:
            log.warning("closing order %s failed (%s); querying it", order.out_trade_no, exc)
            try:
                order = order_query(order)
            except providers.ProviderError:
                counts["failed"] += 1
                continue
            counts["settled" if order.status != OrderStatus.CREATED else "failed"] += 1
            continue
        _close(order, reason)
        counts["closed"] += 1
    return counts


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
    """Apply a verified, successful payment to its order: post it once, or park it for finance.

    The money pays only the order's scope: its party's lines (chosen ones first) when the order has a party,
    else the unit's. When another online order already paid (some of) the same lines since this order was
    made — the owner paid twice, e.g. an abandoned 微信内支付 order and then the QR code — the money is recorded
    without paying anything and refunded at once (billing's reversal, audited). Once posted, the other open
    orders of the same lines are closed at the provider."""
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
            return _park(note, order, transaction_id, amount_fen, paid_at,
                         f"通知金额 {format_yuan(amount_fen)} 与订单金额 {format_yuan(order.amount_fen)} 不符")
        paid_at = min(paid_at, timezone.now())
        label = f"portal:{provider}"
        common = {"actor": None, "actor_label": label, "unit": order.unit, "amount_fen": amount_fen,
                  "method": METHOD[provider], "paid_at": paid_at, "reference": transaction_id,
                  "payer_name": payer_name[:100], "note": f"在线支付订单 {out_trade_no}"}
        Unit.objects.select_for_update().filter(pk=order.unit_id).first()  # payments of one unit, one at a time
        twin = _paid_twin(order)
        try:
            if twin:
                order.refund_reason = f"同一账单已由订单 {twin} 支付，{TWIN_REFUND}"
                payment = payment_record(bill_ids=[], only_chosen=True, **common)  # recorded, pays nothing
            elif order.party_id is not None:
                lines = scope_open_bills(order.unit_id, order.party_id)
                chosen = {i: n for n, i in enumerate(order.bill_ids or [])}
                lines.sort(key=lambda b: (b.pk not in chosen, chosen.get(b.pk, 0)))  # the payer's choice first
                if sum(b.amount_fen - b.settled_fen for b in lines) < amount_fen:
                    # never onto another party's lines: finance refunds or asks the payer
                    return _park(note, order, transaction_id, amount_fen, paid_at,
                                 "入账失败：该业户名下的未缴账单已少于支付金额（可能已在服务中心缴纳），"
                                 "款项未入账，请核实后退款或按业主意愿处理")
                payment = payment_record(bill_ids=[b.pk for b in lines], only_chosen=True, **common)
            else:
                try:
                    payment = payment_record(bill_ids=order.bill_ids or None, **common)
                except ValidationError as exc:
                    if "bill_ids" not in getattr(exc, "message_dict", {}):
                        raise
                    # the chosen lines were settled meanwhile (e.g. at the desk): the money still arrived and
                    # pays the oldest open lines, the rest becomes prepaid
                    payment = payment_record(bill_ids=None, **common)
        except ValidationError as exc:
            return _park(note, order, transaction_id, amount_fen, paid_at,
                         "入账失败：" + "；".join(exc.messages)[:280])
        order.status, order.transaction_id, order.paid_fen = OrderStatus.PAID, transaction_id, amount_fen
        order.payment, order.paid_at = payment, paid_at
        order.save()
        _earlier_failures_settled(note, order)
        if twin:
            transaction.on_commit(lambda: _auto_refund_later(order.pk))
            return _finish(note, R.POSTED, f"已收款，收据号 {payment.receipt_no}；{order.refund_reason}。")
        _close_later(_open_twins(order), f"同一账单已由订单 {order.out_trade_no} 支付")
        return _finish(note, R.POSTED, f"已入账，收据号 {payment.receipt_no}。")


def _park(note: PaymentNotification, order: PaymentOrder, transaction_id: str, amount_fen: int,
          paid_at: dt.datetime, reason: str) -> PaymentNotification:
    order.status, order.transaction_id, order.paid_fen = OrderStatus.PARKED, transaction_id, amount_fen
    order.paid_at, order.park_reason = paid_at, reason[:300]
    order.save()
    return _finish(note, R.PARKED_MISMATCH if reason.startswith("通知金额") else R.PARKED_ERROR,
                   f"订单 {order.out_trade_no}：{reason}" + ("" if reason.startswith("入账失败") else "；未入账。"))


def _paid_twin(order: PaymentOrder) -> str:
    """The number of another online order whose payment settled (some of) this order's lines after this order
    was made, and still stands; "" when there is none (the owner did not pay these lines twice)."""
    if not order.covers:
        return ""
    hit = (Allocation.objects.filter(bill_id__in=list(order.covers), amount_fen__gt=0,
                                     created_at__gte=order.created_at, payment__portal_order__isnull=False,
                                     payment__reversed_by__isnull=True)
           .exclude(payment__portal_order=order).values_list("payment__portal_order__out_trade_no", flat=True)
           .first())
    return hit or ""


def _earlier_failures_settled(note: PaymentNotification, order: PaymentOrder) -> None:
    """Copies of this notification that failed earlier (e.g. the database was busy) are not failures any more
    once a copy posted: they become duplicates, and finance never sees them as 入账失败."""
    (PaymentNotification.objects.filter(provider=order.provider, out_trade_no=order.out_trade_no,
                                        transaction_id=order.transaction_id, result=R.PARKED_ERROR,
                                        resolved_at__isnull=True)
     .exclude(pk=note.pk).update(order=order, result=R.DUPLICATE,
                                 detail=f"处理出错后，同一交易已由另一次通知入账（订单 {order.out_trade_no}）。"))


def _apply_failed(note: PaymentNotification) -> None:
    """A notification whose processing raised (its transaction rolled back): kept with the order it names and
    what it said. If another copy of the same transaction has posted it meanwhile, it is a duplicate;
    otherwise it waits for the provider's retry as 入账失败, naming its order."""
    order = (PaymentOrder.objects.filter(out_trade_no=note.out_trade_no, provider=note.provider).first()
             if note.out_trade_no else None)
    fields = {"out_trade_no": note.out_trade_no, "transaction_id": note.transaction_id,
              "amount_fen": note.amount_fen, "trade_state": note.trade_state, "order": order}
    if order is not None and note.transaction_id and order.transaction_id == note.transaction_id and \
            order.payment_id is not None:
        result, detail = R.DUPLICATE, f"处理出错时，同一交易已由另一次通知入账（订单 {order.out_trade_no}）。"
    else:
        result, detail = R.PARKED_ERROR, f"订单 {note.out_trade_no or '—'} 处理出错，等待支付平台重发通知。"
    PaymentNotification.objects.filter(pk=note.pk).update(result=result, detail=detail, **fields)


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
        _apply_failed(note)
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
        _apply_failed(note)
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


class RefundUncertain(providers.ProviderError):
    """The refund was asked but whether the provider accepted it is not known (its answer failed verification
    or never came, and the refund query could not tell): the order waits as 退款待核实 and is queried again;
    nothing was reversed and nothing may be assumed."""


AUTO_REFUND_LABEL = "portal:auto-refund"


def order_refund(*, actor: User, order: PaymentOrder, reason: str) -> PaymentOrder:
    """Finance refunds a paid order in full: the provider's refund first, then billing reverses the payment
    with the reason. A provider that refuses leaves everything as it was; an answer that cannot be trusted is
    followed by a refund query, never taken as a refusal (see ``_refund``)."""
    from wuye.billing.permissions import can_record_payments

    if not can_record_payments(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以退款。"})
    if not reason.strip():
        raise ValidationError({"reason": "请填写退款原因。"})
    return _refund(order, reason=reason, actor=actor)


def order_refund_auto(order_id: int) -> PaymentOrder | None:
    """The portal refunds an order whose lines were paid by another online order first (the owner paid
    twice): the same path as finance's refund, by the system, audited with the reason. A refusal is left for
    finance (the order stays paid with the reason, at the top of the payments page)."""
    order = PaymentOrder.objects.filter(pk=order_id, status=OrderStatus.PAID).first()
    if order is None or not order.refund_reason:
        return None
    try:
        return _refund(order, reason=order.refund_reason, actor=None, actor_label=AUTO_REFUND_LABEL)
    except RefundUncertain:
        return PaymentOrder.objects.get(pk=order_id)
    except (providers.ProviderError, ValidationError) as exc:
        detail = str(exc) if isinstance(exc, providers.ProviderError) else "；".join(exc.messages)
        why = f"重复支付，自动退款未成功：{detail}；请核实后在本页退款"[:300]
        PaymentOrder.objects.filter(pk=order_id).update(park_reason=why)
        log.error("automatic refund of order %s failed: %s", order.out_trade_no, detail)
        audit_record(actor=None, actor_label=AUTO_REFUND_LABEL, verb="payment.parked", obj=order, note=why)
        return PaymentOrder.objects.get(pk=order_id)


def _auto_refund_later(order_id: int) -> None:
    from wuye.portal import tasks

    tasks.refund_order(order_id)


def _refund(order: PaymentOrder, *, reason: str, actor: User | None, actor_label: str = "") -> PaymentOrder:
    """Refund in three steps, so that no outcome is ever assumed:

    1. the order becomes 退款待核实 with its refund number (committed before anything is asked);
    2. the provider is asked (WeChat ``refund``, Alipay ``alipay.trade.refund``; the SDKs verify the answer);
    3. an accepted refund reverses the payment (billing's ``payment_reverse``) and the order is 已退款; a
       refusal (a provider's error answer) puts it back to 已支付 with nothing changed — asking again is safe,
       the refund number is the same and providers refund a number once; an answer that fails verification,
       or none at all, is followed by a refund query whose verified answer decides; when even that cannot
       tell, the order stays 退款待核实 for finance and the periodic query (``RefundUncertain``)."""
    from wuye.billing.models import Payment

    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.PAID or order.payment_id is None:
            raise ValidationError({"order": "只有已支付的订单可以退款。"})
        if Payment.objects.filter(reverses_id=order.payment_id).exists():
            raise ValidationError({"order": "该收款已冲正，不能再退款。"})
        order.status, order.refund_no, order.refund_reason = (OrderStatus.REFUNDING, "RF" + order.out_trade_no[2:],
                                                              reason[:300])
        order.save(update_fields=["status", "refund_no", "refund_reason"])
        audit_record(actor=actor, actor_label=actor_label, verb="payorder.refund_ask", obj=order, note=reason,
                     after={"out_refund_no": order.refund_no, "amount_fen": order.amount_fen})
    try:
        if order.provider == Provider.WECHAT:
            answer = providers.wechat_refund(out_trade_no=order.out_trade_no, out_refund_no=order.refund_no,
                                             refund_fen=order.amount_fen, total_fen=order.amount_fen, reason=reason)
            if answer.get("status") not in ("SUCCESS", "PROCESSING"):
                raise providers.Refused(f"微信支付退款未受理：{answer.get('status') or '未知状态'}",
                                        str(answer.get("status") or ""))
        else:
            answer = providers.alipay_refund(out_trade_no=order.out_trade_no, out_request_no=order.refund_no,
                                             refund_fen=order.amount_fen, reason=reason)
    except providers.Refused:
        _refund_refused(order, actor=actor, actor_label=actor_label)
        raise
    except (providers.VerificationFailed, providers.ProviderError) as exc:
        # the request may have reached the provider: ask it, never roll back blind
        log.error("refund %s: answer not trusted or missing (%s); querying the refund", order.refund_no, exc)
        return _refund_check(order, actor=actor, actor_label=actor_label, cause=str(exc))
    return _refund_done(order, actor=actor, actor_label=actor_label,
                        provider_status=str(answer.get("status") or answer.get("code") or ""))


def _refund_done(order: PaymentOrder, *, actor: User | None, actor_label: str, provider_status: str
                 ) -> PaymentOrder:
    from wuye.billing.services import payment_reverse

    label = actor_label or ("" if actor else AUTO_REFUND_LABEL)
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.REFUNDING:
            return order
        payment_reverse(actor=actor, actor_label=label, payment=order.payment,
                        reason=f"在线支付退款：{order.refund_reason}"[:300])
        order.status = OrderStatus.REFUNDED
        order.save(update_fields=["status"])
        audit_record(actor=actor, actor_label=label, verb="payorder.refund", obj=order,
                     note=order.refund_reason,
                     after={"out_refund_no": order.refund_no, "amount_fen": order.amount_fen,
                            "provider_status": provider_status})
    return order


def _refund_refused(order: PaymentOrder, *, actor: User | None, actor_label: str, why: str = "") -> None:
    if PaymentOrder.objects.filter(pk=order.pk, status=OrderStatus.REFUNDING).update(status=OrderStatus.PAID):
        audit_record(actor=actor, actor_label=actor_label or ("" if actor else AUTO_REFUND_LABEL),
                     verb="payorder.refund_refused", obj=order,
                     note=why or "支付平台未受理退款", after={"out_refund_no": order.refund_no})


def _refund_check(order: PaymentOrder, *, actor: User | None = None, actor_label: str = "", cause: str = ""
                  ) -> PaymentOrder:
    """Ask the provider what became of the order's refund; only its verified answer moves the order."""
    try:
        if order.provider == Provider.WECHAT:
            found = providers.wechat_refund_query(order.refund_no)
            accepted = found is not None and found.get("status") in ("SUCCESS", "PROCESSING")
            closed = found is not None and found.get("status") == "CLOSED"
        else:
            found = providers.alipay_refund_query(out_trade_no=order.out_trade_no, out_request_no=order.refund_no)
            accepted, closed = found is not None, False
    except providers.ProviderError as exc:
        _refund_uncertain(order, f"{cause or '退款结果未知'}；退款查询也未得到可信答复（{exc}）")
        raise RefundUncertain(f"退款结果待核实：{cause or '支付平台的答复未通过验签'}。已向支付平台查询，"
                              f"暂未得到可信结果，系统会继续查询；请勿重复退款。") from exc
    if accepted:
        return _refund_done(order, actor=actor, actor_label=actor_label,
                            provider_status=str(found.get("status") or found.get("refund_status") or "SUCCESS"))
    if found is None or closed:
        _refund_refused(order, actor=actor, actor_label=actor_label or "portal:refund-query",
                        why="退款查询：支付平台没有这笔退款" if found is None else "退款查询：退款已关闭")
        raise providers.Refused(f"{cause + '；' if cause else ''}经查询，支付平台没有受理这笔退款。",
                                "RESOURCE_NOT_EXISTS" if found is None else "CLOSED")
    why = f"退款状态 {found.get('status')}，需在支付平台核实"
    _refund_uncertain(order, why)
    raise RefundUncertain(f"退款结果待核实：{why}。")


def _refund_uncertain(order: PaymentOrder, why: str) -> None:
    """退款待核实: finance sees it at the top of the payments page; operations get an error in the log."""
    PaymentOrder.objects.filter(pk=order.pk).update(park_reason=why[:300])
    log.error("refund %s of order %s uncertain: %s", order.refund_no, order.out_trade_no, why)
    audit_record(actor=None, actor_label=f"portal:{order.provider}", verb="payment.parked", obj=order, note=why)


def refunds_query_pending(*, limit: int = 100) -> dict[str, int]:
    """The periodic job's second part: ask again about refunds whose outcome is not known."""
    counts = {"refunded": 0, "refused": 0, "uncertain": 0}
    for order in PaymentOrder.objects.filter(status=OrderStatus.REFUNDING).order_by("paid_at")[:limit]:
        if not provider_enabled(order.provider):
            continue
        try:
            _refund_check(order, actor_label="portal:refund-query")
        except RefundUncertain:
            counts["uncertain"] += 1
        except providers.ProviderError:
            counts["refused"] += 1
        else:
            counts["refunded"] += 1
    return counts


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
    open_fen = sum(b.amount_fen - b.settled_fen for b in scope_open_bills(unit.pk, link.party_id))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "请简单说明原因。"})
    refused = installments.schedule_refusal(count, first_due)
    if refused:
        raise ValidationError(refused)
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
    scope = unit.bills.filter(is_void=False)
    if link.party_id is not None:
        scope = scope.filter(party_id=link.party_id)
    valid = set(scope.values_list("pk", flat=True))
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
            unit=unit, reason=reason, bill_ids=bill_ids, actor_label=link_actor(link), party_id=link.party_id,
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
    if not link_speaks_for_unit(link):
        raise ValidationError({"link": "联系偏好由该房屋的现业主设置。"})
    unit = link.unit
    pref, _ = ContactPreference.objects.select_for_update().get_or_create(unit=unit)
    before = {"opt_out_non_essential": pref.opt_out_non_essential, "preferred_channel": pref.preferred_channel,
              "preferred_time": pref.preferred_time}
    pref.opt_out_non_essential = opt_out_non_essential
    pref.preferred_channel, pref.preferred_time, pref.updated_via = preferred_channel, preferred_time, link
    pref.full_clean()
    pref.save()
    units_changed([unit.pk])  # pre-due reminders by message follow the preference
    after = {"opt_out_non_essential": opt_out_non_essential, "preferred_channel": preferred_channel,
             "preferred_time": preferred_time}
    OwnerRequest.objects.create(project_id=unit.project_id, unit=unit, link=link, kind=RequestKind.CONTACT,
                                data=after, status=RequestStatus.DONE, handled_at=timezone.now())
    audit_record(actor=None, actor_label=link_actor(link), verb="portal.contact_preference", obj=unit, ip=ip,
                 before=before, after=after)
    return pref
