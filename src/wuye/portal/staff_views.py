"""Finance's page of online payments: parked items first (with an alert), orders, notifications, links."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from wuye.billing.permissions import can_record_payments
from wuye.common.forms import validation_errors_text
from wuye.common.params import id_param
from wuye.estate.models import Unit
from wuye.estate.selectors import projects_visible
from wuye.portal import links, selectors, services
from wuye.portal.models import PayLink, PaymentOrder
from wuye.portal.providers import ProviderError


def _require_finance(user) -> None:
    if not can_record_payments(user):
        raise PermissionDenied("只有财务、经理和管理员可以查看在线支付。")


@login_required
def payments(request):
    _require_finance(request.user)
    project_ids = list(projects_visible(request.user).values_list("pk", flat=True))
    parked_notes = list(selectors.finance_notifications(project_ids).filter(selectors.parked_notifications_q())[:100])
    parked_orders = list(selectors.finance_orders(project_ids).filter(selectors.orders_needing_finance_q())[:100])
    orders = Paginator(selectors.finance_orders(project_ids), 50).get_page(request.GET.get("page"))
    notes = selectors.finance_notifications(project_ids)[:100]
    recent_links = PayLink.objects.filter(project_id__in=project_ids).select_related("unit")[:20]
    return render(request, "portal/staff_payments.html", {
        "parked_notes": parked_notes, "parked_orders": parked_orders, "orders": orders, "notes": notes,
        # parked orders show through their notifications; these are the refunds to look at
        "attention_orders": [o for o in parked_orders if o.status != "parked"],
        "links": recent_links, "projects": projects_visible(request.user).order_by("code"),
        "new_link": request.session.pop("portal_new_link", "")})


@login_required
@require_POST
def resolve(request):
    _require_finance(request.user)
    project_ids = list(projects_visible(request.user).values_list("pk", flat=True))
    note = order = None
    if request.POST.get("notification"):
        note = get_object_or_404(selectors.finance_notifications(project_ids), pk=id_param(request.POST, "notification"))
    if request.POST.get("order"):
        order = get_object_or_404(PaymentOrder.objects.filter(project_id__in=project_ids), pk=id_param(request.POST, "order"))
    try:
        services.parked_resolve(actor=request.user, notification=note, order=order,
                                note=request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, "未处理：" + validation_errors_text(exc))
    else:
        messages.success(request, "已记录处理结果。")
    return redirect("portal-admin:payments")


@login_required
@require_POST
def link_new(request):
    """Make a pay link for a unit (e.g. to send by hand); the URL is shown once."""
    _require_finance(request.user)
    unit = Unit.objects.filter(project__in=projects_visible(request.user), project_id=id_param(request.POST, "project"),
                               code=request.POST.get("unit_code", "").strip()).first()
    if unit is None:
        messages.error(request, "未生成：找不到该房屋。")
        return redirect("portal-admin:payments")
    try:
        _, token = links.link_create(unit=unit, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "未生成：" + validation_errors_text(exc))
        return redirect("portal-admin:payments")
    request.session["portal_new_link"] = links.link_url(token)
    messages.success(request, f"已为 {unit.code} 生成缴费链接（只显示这一次）。")
    return redirect("portal-admin:payments")


@login_required
@require_POST
def link_revoke(request, pk: int):
    _require_finance(request.user)
    link = get_object_or_404(PayLink.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    try:
        links.link_revoke(actor=request.user, link=link, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, "未撤销：" + validation_errors_text(exc))
    else:
        messages.success(request, "链接已撤销。")
    return redirect("portal-admin:payments")



@login_required
@require_POST
def order_refund(request, pk: int):
    _require_finance(request.user)
    order = get_object_or_404(PaymentOrder.objects.filter(project__in=projects_visible(request.user)), pk=pk)
    try:
        services.order_refund(actor=request.user, order=order, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, "未退款：" + validation_errors_text(exc))
    except services.RefundUncertain as exc:
        messages.warning(request, str(exc))
    except ProviderError as exc:
        messages.error(request, f"未退款：{exc}")
    else:
        messages.success(request, f"订单 {order.out_trade_no} 已退款，收款已冲正。")
    return redirect("portal-admin:payments")
