"""Periodic job of casework (Huey autodiscovers ``<app>.tasks``): deal with promises the daily run found broken."""

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task


@db_periodic_task(crontab(minute="20"))
def settle_broken_promises() -> None:
    """Hourly (the daily run is at 06:00, a run from the command line may come any time): accounts whose
    promise broke go back to 暂未明确, so the next run calls them daily."""
    from wuye.casework.services import promises_broken_settle

    with HUEY.lock_task("casework-broken-promises"):
        promises_broken_settle(as_of=timezone.localdate())
