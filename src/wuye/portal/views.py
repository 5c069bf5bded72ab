"""Owner pages behind a signed link: the bill, paying, receipts, requests. No login; the link is the key.

A bad, expired or revoked link gets a plain page (404 / 410) that names nothing of any unit. Guessing is
slowed down: after too many unknown tokens from one address, that address waits.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from wuye.billing import documents
from wuye.billing.models import Payment
from wuye.common.forms import validation_errors_text
from wuye.common.http import client_ip
from wuye.common.params import id_or_none
from wuye.portal import login, providers, services, throttle, wechat_oauth
from wuye.portal.choices import Channel, OrderStatus, Provider
from wuye.portal.links import LinkGone, link_resolve
from wuye.portal.models import ContactPreference, PayLink, PaymentOrder
from wuye.portal.providers import ProviderError
from wuye.portal.qr import qr_png_data_uri, qr_svg
from wuye.portal.selectors import owner_bill, pending_requests, scope_payment_ids

log = logging.getLogger(__name__)

GUESS_LIMIT = 20  # unknown tokens per address …
GUESS_WINDOW = 600  # … per 10 minutes (counted in the database: the limit holds across processes)




def _guess_key(request) -> str:
    return throttle.keyed_hash("ip", client_ip(request) or "-")


def _too_many_guesses(request) -> bool:
    return throttle.count("link_guess", _guess_key(request), GUESS_WINDOW) >= GUESS_LIMIT


def _count_guess(request) -> None:
    throttle.record("link_guess", _guess_key(request))


def _refuse(request, status: int):
    text = {
        404: (_("链接无效"), _("这个缴费链接不存在，可能是复制时不完整。请核对短信或通知中的链接，或联系物业服务中心。")),
        410: (_("链接已失效"), _("这个缴费链接已过期或已被收回。请联系物业服务中心获取新的链接，也可以到服务中心缴费。")),
        429: (_("请稍后再试"), _("尝试次数过多，请十分钟后再打开链接。")),
    }[status]
    return render(request, "portal/refused.html", {"title": text[0], "text": text[1]}, status=status)


def with_link(view):
    """Resolve ``token`` to a live link or answer with the refusal page; counts the link's use on GET."""

    @wraps(view)
    def wrapper(request, token: str, *args, **kwargs):
        if _too_many_guesses(request):
            return _refuse(request, 429)
        try:
            link = link_resolve(token, count_use=request.method == "GET" and view.__name__ == "bill")
        except LinkGone:
            return _refuse(request, 410)
        if link is None:
            _count_guess(request)
            return _refuse(request, 404)
        request.pay_link = link
        return view(request, token, *args, **kwargs)

    return never_cache(wrapper)


def _base_context(request, token: str) -> dict:
    link = request.pay_link
    unit = link.unit
    return {"token": token, "link": link, "unit": unit, "project": unit.project,
            "wechat_enabled": services.provider_enabled(Provider.WECHAT),
            "alipay_enabled": services.provider_enabled(Provider.ALIPAY)}


@with_link
def bill(request, token: str):
    ctx = _base_context(request, token)
    ctx["owner_login"] = _owner_session(request) is not None
    as_of = timezone.localdate()
    link = request.pay_link
    ob = owner_bill(ctx["unit"], as_of=as_of, party_id=link.party_id)
    may_set_preferences = services.link_speaks_for_unit(link)
    pref = ContactPreference.objects.filter(unit=ctx["unit"]).first() if may_set_preferences else None
    # a link shown at the door may open with the periods the owner chose there (?periods=2026-01-01,…)
    preselect = [p for p in request.GET.get("periods", "").split(",")[:120] if len(p) == 10]
    ctx.update({"bill": ob, "statement": ob.statement, "as_of": as_of, "pref": pref, "preselect": preselect,
                "may_set_preferences": may_set_preferences,
                "payments": [p for p in reversed(ob.statement.payments)][:24],
                "open_orders": services.scope_orders(link).filter(status=OrderStatus.CREATED,
                                                                  expires_at__gt=timezone.now())[:3],
                "first_due_default": (as_of + dt.timedelta(days=7)).isoformat(),
                "pending": pending_requests(ctx["unit"], party_id=link.party_id),
                "dispute_reasons": _dispute_reasons(),
                "pref_channels": ContactPreference._meta.get_field("preferred_channel").choices,
                "pref_times": ContactPreference._meta.get_field("preferred_time").choices})
    if link.party_id is not None:  # the owner's own grade, on their own link only (never another party's)
        from wuye.insights.credit import RULES, credits

        ctx["credit"] = credits(today=as_of, party_ids=[link.party_id]).get(link.party_id)
        ctx["credit_rules"] = RULES
    return render(request, "portal/bill.html", ctx)


def _dispute_reasons() -> list[tuple[str, str]]:
    from django.apps import apps

    if not apps.is_installed("wuye.casework"):
        return []
    from wuye.casework.choices import DisputeReason

    return [(v, label) for v, label in DisputeReason.choices if v != DisputeReason.OTHER] + [
        (DisputeReason.OTHER, DisputeReason.OTHER.label)]


def _chosen_bill_ids(request) -> list[int]:
    ids: list[int] = []
    for value in request.POST.getlist("period"):
        for part in value.split(","):
            if (bill_id := id_or_none(part)) is not None:
                ids.append(bill_id)
    return ids


@require_POST
@with_link
def pay(request, token: str):
    link = request.pay_link
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    # a button may name the provider and the way to pay it at once ("alipay:native": Alipay's QR code)
    provider, _colon, channel = (request.POST.get("pay") or request.POST.get("provider", "")).partition(":")
    channel = channel or request.POST.get("channel", "")
    if provider == Provider.WECHAT and (not channel or channel == Channel.JSAPI):
        channel = services.wechat_channel_for(user_agent)  # JSAPI only inside WeChat, when configured
    chosen = _chosen_bill_ids(request)
    all_open = {b.pk for b in services.scope_open_bills(link.unit_id, link.party_id)}
    pay_all = not chosen or set(chosen) >= all_open
    if request.POST.get("scope") == "chosen" and not chosen:
        messages.error(request, _("请至少选择一期要缴的费用。"))
        return redirect("portal:bill", token=token)
    if provider == Provider.WECHAT and channel == Channel.JSAPI:
        openid = wechat_oauth.session_openid(request.session)
        if not openid:  # silent 网页授权 first; the callback places the order
            return redirect(wechat_oauth.authorize_start(request.session, link_id=link.pk, token=token,
                                                         bill_ids=chosen, pay_all=pay_all))
        return _place(request, link, token, provider=provider, channel=channel, chosen=chosen, pay_all=pay_all,
                      openid=openid)
    return _place(request, link, token, provider=provider, channel=channel, chosen=chosen, pay_all=pay_all)


def _place(request, link, token: str, *, provider: str, channel: str, chosen: list[int], pay_all: bool,
           openid: str = ""):
    """Create (or reuse) the order and go to its page; a refusal goes back to the bill with the reason."""
    try:
        order = services.order_create(link=link, provider=provider, bill_ids=chosen, pay_all=pay_all,
                                      channel=channel, client_ip=client_ip(request), openid=openid)
    except ValidationError as exc:
        messages.error(request, _("未能发起支付：") + validation_errors_text(exc))
        return redirect("portal:bill", token=token)
    except ProviderError as exc:
        if channel == Channel.JSAPI:  # e.g. WeChat refused the openid: ask again next time, the QR code now
            wechat_oauth.session_forget(request.session)
            messages.warning(request, _("微信内支付未能发起（%(e)s），已改用二维码支付。") % {"e": exc})
            return _place(request, link, token, provider=provider, channel=Channel.NATIVE, chosen=chosen,
                          pay_all=pay_all)
        messages.error(request, _("未能发起支付：") + str(exc))
        return redirect("portal:bill", token=token)
    _remember_order(request, order.out_trade_no, token)
    return redirect("portal:order", token=token, out_trade_no=order.out_trade_no)


@never_cache
def wechat_oauth_callback(request):
    """Where WeChat's 网页授权 sends the browser back (``code`` and our ``state``). The state must name a
    payment this browser started (else nothing is exchanged and a plain page says to start again); then the
    code becomes the payer's openid and the JSAPI order is placed. When WeChat gives no openid the owner gets
    the QR code instead, with a message saying why."""
    pending = wechat_oauth.pending_take(request.session, request.GET.get("state", ""))
    if pending is None:
        log.warning("wechat oauth callback with an unknown, tampered or expired state")
        return render(request, "portal/refused.html", {
            "title": _("授权校验未通过"),
            "text": _("这个微信授权不是从本页面发起的，或已使用、已过期。请回到缴费链接重新点击“微信支付”。")}, status=400)
    try:
        link = link_resolve(pending.token, count_use=False)
    except LinkGone:
        link = None
    if link is None or link.pk != pending.link_id:
        return _refuse(request, 410)
    try:
        openid = wechat_oauth.openid_for_code(request.GET.get("code", ""))
    except ProviderError as exc:  # OAuthFailed, or the secret file unreadable
        messages.warning(request, str(exc))
        return _place(request, link, pending.token, provider=Provider.WECHAT, channel=Channel.NATIVE,
                      chosen=pending.bill_ids, pay_all=pending.pay_all)
    wechat_oauth.session_remember(request.session, openid)
    return _place(request, link, pending.token, provider=Provider.WECHAT, channel=Channel.JSAPI,
                  chosen=pending.bill_ids, pay_all=pending.pay_all, openid=openid)


RETURN_MEMORY = 5  # orders per browser session whose return page may lead back to the order page


def _remember_order(request, out_trade_no: str, token: str) -> None:
    """The provider sends the browser back to a page that names only the order (no link token goes to the
    provider); this browser's session remembers which link started it, so that page can lead back."""
    started = dict(request.session.get("portal_orders") or {})
    started.pop(out_trade_no, None)
    started[out_trade_no] = token
    request.session["portal_orders"] = dict(list(started.items())[-RETURN_MEMORY:])


def _order_or_404(request, out_trade_no: str) -> PaymentOrder:
    """An order of the link's unit and party (a party never sees another party's orders)."""
    order = services.scope_orders(request.pay_link).select_related("payment").filter(out_trade_no=out_trade_no
                                                                                     ).first()
    if order is None:
        raise Http404(_("订单不存在。"))
    return order


@with_link
def order(request, token: str, out_trade_no: str):
    ctx = _base_context(request, token)
    o = _order_or_404(request, out_trade_no)
    wechat_browser = services.in_wechat(request.META.get("HTTP_USER_AGENT", ""))
    ctx.update({"order": o, "in_wechat": wechat_browser,
                # inside WeChat the code is an image, so that a long press offers 识别图中二维码
                "qr": (qr_png_data_uri(o.code_url) if wechat_browser else qr_svg(o.code_url)) if o.code_url else ""})
    if o.channel == Channel.JSAPI and o.status == OrderStatus.CREATED and o.prepay_id:
        # 微信内支付: the page calls WeixinJSBridge with these; "?wx=ok" is where it goes when WeChat says paid
        ctx["wx_ok"] = request.GET.get("wx") == "ok"
        if wechat_browser and not ctx["wx_ok"]:
            try:
                ctx["jsapi"] = providers.wechat_jsapi_params(o.prepay_id)
            except ProviderError as exc:
                ctx["jsapi_error"] = str(exc)
        if settings.WUYE_PAY_SANDBOX:  # no WeChat client around the demo: the stand-in's pay page instead
            ctx["sandbox_pay"] = f"{settings.WECHATPAY_API_BASE.rstrip('/')}/sandbox/pay/wechat/{o.out_trade_no}"
    return render(request, "portal/order.html", ctx)


@with_link
def order_status(request, token: str, out_trade_no: str):
    """The status box on the order page; htmx polls it until the order is paid or closed."""
    ctx = _base_context(request, token)
    ctx["order"] = _order_or_404(request, out_trade_no)
    ctx["wx_ok"] = request.GET.get("wx") == "ok" and ctx["order"].channel == Channel.JSAPI
    return render(request, "portal/_order_status.html", ctx)


@never_cache
def order_return(request, out_trade_no: str):
    """Where Alipay and WeChat H5 send the browser back. The browser that started the payment (its session
    remembers the link) goes on to the order page, which follows the status and shows the receipt; any other
    visitor learns only whether the payment has arrived (no unit data)."""
    token = (request.session.get("portal_orders") or {}).get(out_trade_no)
    if token:
        try:
            link = link_resolve(token, count_use=False)
        except LinkGone:
            link = None
        if link is not None and services.scope_orders(link).filter(out_trade_no=out_trade_no).exists():
            return redirect("portal:order", token=token, out_trade_no=out_trade_no)
    o = PaymentOrder.objects.filter(out_trade_no=out_trade_no).only("status").first()
    return render(request, "portal/returned.html", {"paid": o is not None and o.status == OrderStatus.PAID})


@with_link
def receipt_pdf(request, token: str, payment_id: int):
    link = request.pay_link
    payment = (Payment.objects.select_related("unit", "project", "created_by")
               .filter(pk=payment_id, unit=link.unit, amount_fen__gt=0).first())
    allowed = scope_payment_ids(link.unit, link.party_id) if payment is not None else None
    if payment is None or (allowed is not None and payment.pk not in allowed):
        raise Http404(_("收据不存在。"))
    return HttpResponse(documents.receipt_pdf(payment), content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{payment.receipt_no or payment.pk}.pdf"'})


@require_POST
@with_link
def installment(request, token: str):
    try:
        count = int(request.POST.get("count", ""))
        first_due = dt.date.fromisoformat(request.POST.get("first_due", ""))
    except ValueError:
        messages.error(request, _("未提交：请填写分期期数和第一期日期。"))
        return redirect("portal:bill", token=token)
    try:
        services.installment_ask(link=request.pay_link, count=count, first_due=first_due,
                                 reason=request.POST.get("reason", ""), ip=client_ip(request) or None)
    except ValidationError as exc:
        messages.error(request, _("未提交：") + validation_errors_text(exc))
    else:
        messages.success(request, _("分期申请已提交，物业经理审核后会与您联系。"))
    return redirect("portal:bill", token=token)


@require_POST
@with_link
def dispute(request, token: str):
    try:
        services.dispute_raise(link=request.pay_link, bill_ids=_chosen_bill_ids(request),
                               text=request.POST.get("text", ""), reason=request.POST.get("reason") or "other",
                               ip=client_ip(request) or None)
    except ValidationError as exc:
        messages.error(request, _("未提交：") + validation_errors_text(exc))
    else:
        messages.success(request, _("您的异议已记录，物业会尽快核实处理；核实期间不会对相关欠费升级催缴。"))
    return redirect("portal:bill", token=token)


@require_POST
@with_link
def preferences(request, token: str):
    try:
        services.contact_preference_set(
            link=request.pay_link, opt_out_non_essential=request.POST.get("opt_out") == "1",
            preferred_channel=request.POST.get("channel", ""), preferred_time=request.POST.get("time", ""),
            ip=client_ip(request) or None)
    except ValidationError as exc:
        messages.error(request, _("未保存：") + validation_errors_text(exc))
    else:
        messages.success(request, _("联系偏好已保存。"))
    return redirect("portal:bill", token=token)


# --- logging in by phone number and SMS code -------------------------------------------------------------

def _owner_session(request):
    from wuye.portal.models import OwnerSession

    pk = request.session.get("portal_owner")
    session = OwnerSession.objects.filter(pk=pk).first() if pk else None
    return session if session is not None and session.is_live else None


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return _("请求过于频繁，请 %(n)s 秒后再试。") % {"n": seconds}
    return _("请求过于频繁，请 %(n)s 分钟后再试。") % {"n": (seconds + 59) // 60}


@never_cache
def login_phone(request):
    """业主登录 (1/3): the phone number. The same answer whether or not the number is registered."""
    error, phone = "", ""
    if request.method == "POST":
        phone = request.POST.get("phone", "")
        try:
            key, masked = login.code_request(raw_phone=phone, ip=client_ip(request))
        except ValidationError as exc:
            error = exc.message_dict.get("phone", exc.messages)[0]
        except login.Throttled as exc:
            error = _wait_text(exc.seconds)
        else:
            request.session["portal_login"] = {"key": key, "masked": masked}
            messages.info(request, _("如果该号码已在物业登记，验证码短信已发出，5 分钟内有效。"))
            return redirect("portal:login-code")
    return render(request, "portal/login_phone.html", {"error": error, "phone": phone}, status=400 if error else 200)


@never_cache
def login_code(request):
    """业主登录 (2/3): the code from the SMS."""
    pending = request.session.get("portal_login")
    if not pending:
        return redirect("portal:login")
    error = ""
    if request.method == "POST":
        try:
            session = login.code_verify(key=pending["key"], masked=pending["masked"],
                                        code=request.POST.get("code", ""), ip=client_ip(request))
        except ValidationError as exc:
            error = exc.message_dict.get("code", exc.messages)[0]
        except login.Throttled as exc:
            error = _wait_text(exc.seconds)
        else:
            request.session.cycle_key()  # a new session id once logged in
            request.session.pop("portal_login", None)
            request.session["portal_owner"] = session.pk
            request.session["portal_links"] = {}
            request.session.set_expiry(session.expires_at)
            return redirect("portal:login-units")
    sandbox_sms = ""
    if settings.WUYE_PAY_SANDBOX and settings.WUYE_CHANNEL_BACKENDS.get("sms") == "file":
        sandbox_sms = settings.WECHATPAY_API_BASE.rstrip("/") + "/sandbox/sms/"  # the demo's SMS inbox
    return render(request, "portal/login_code.html", {"error": error, "masked": pending["masked"],
                                                      "sandbox_sms": sandbox_sms}, status=400 if error else 200)


def _open_unit(request, session, unit):
    links = request.session.get("portal_links") or {}
    token = links.get(str(unit.pk))
    if token is None or not PayLink.objects.filter(token_hash=login.token_hash(token), revoked_at__isnull=True,
                                                   expires_at__gt=timezone.now()).exists():
        token = login.session_link(session=session, unit=unit)
        links[str(unit.pk)] = token
        request.session["portal_links"] = links
    return redirect("portal:bill", token=token)


@never_cache
def login_units(request):
    """业主登录 (3/3): the owner's units; one unit opens at once."""
    session = _owner_session(request)
    if session is None:
        return redirect("portal:login")
    units = login.session_units(session)
    if request.method == "POST":
        unit = next((u for u in units if str(u.pk) == request.POST.get("unit")), None)
        if unit is None:
            raise Http404(_("房屋不存在。"))
        return _open_unit(request, session, unit)
    if len(units) == 1:
        return _open_unit(request, session, units[0])
    return render(request, "portal/login_units.html", {"units": units, "owner": session})


@require_POST
def logout(request):
    session = _owner_session(request)
    if session is not None:
        login.session_end(session=session)
    request.session.flush()
    messages.info(request, _("您已退出登录。"))
    return redirect("portal:login")
