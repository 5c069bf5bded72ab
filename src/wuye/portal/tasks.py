"""Periodic jobs of the portal (Huey autodiscovers ``<app>.tasks``): query orders that heard nothing; send
login codes; purge old rate-limit rows and codes."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task


@db_periodic_task(crontab(minute="*/5"))
def query_waiting_orders() -> None:
    """Ask WeChat Pay / Alipay about orders without a notification after WUYE_PAY_QUERY_AFTER_MINUTES, and
    about refunds whose outcome is not known yet (退款待核实)."""
    from wuye.portal.services import orders_query_waiting, refunds_query_pending

    with HUEY.lock_task("portal-query-orders"):
        orders_query_waiting()
        refunds_query_pending()


@db_task()
def close_orders(order_ids: list[int], reason: str) -> None:
    """Close other open orders of the same lines at the provider (one was paid, or the owner switched)."""
    from wuye.portal.services import orders_close

    orders_close(order_ids, reason=reason)


@db_task()
def refund_order(order_id: int) -> None:
    """Refund an order whose lines another online order paid first (the owner paid twice)."""
    from wuye.portal.services import order_refund_auto

    order_refund_auto(order_id)


@db_task()
def send_login_code(code_id: int, phone: str) -> None:
    """Make and send an owner's login code (queued for every request, known number or not)."""
    from wuye.portal.login import code_send

    code_send(code_id=code_id, phone=phone)


@db_periodic_task(crontab(minute="40", hour="4"))
def purge_login_records() -> None:
    """Rate-limit rows and login codes older than two days go; owners' sessions stay (they are the record)."""
    import datetime as dt

    from django.utils import timezone

    from wuye.portal import throttle
    from wuye.portal.models import LoginCode

    throttle.purge(older_than_hours=48)
    LoginCode.objects.filter(created_at__lt=timezone.now() - dt.timedelta(hours=48)).delete()
