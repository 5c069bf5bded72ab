"""Periodic jobs of the portal (Huey autodiscovers ``<app>.tasks``): query orders that heard nothing; send
login codes; purge old rate-limit rows and codes."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task


@db_periodic_task(crontab(minute="*/5"))
def query_waiting_orders() -> None:
    """Ask WeChat Pay / Alipay about orders without a notification after WUYE_PAY_QUERY_AFTER_MINUTES."""
    from wuye.portal.services import orders_query_waiting

    with HUEY.lock_task("portal-query-orders"):
        orders_query_waiting()


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
