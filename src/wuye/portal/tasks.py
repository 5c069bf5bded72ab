"""Periodic job of the portal (Huey autodiscovers ``<app>.tasks``): query orders that heard nothing."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task


@db_periodic_task(crontab(minute="*/5"))
def query_waiting_orders() -> None:
    """Ask WeChat Pay / Alipay about orders without a notification after WUYE_PAY_QUERY_AFTER_MINUTES."""
    from wuye.portal.services import orders_query_waiting

    with HUEY.lock_task("portal-query-orders"):
        orders_query_waiting()
