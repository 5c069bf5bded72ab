"""The insights jobs (listed with every other job in docs/architecture.md): close last month on the 1st,
recheck the closed months before it, and keep the month in progress fresh."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task


@db_periodic_task(crontab(minute="10", hour="2", day="1"))
def close_last_month() -> None:
    """02:10 on the 1st: snapshot last month; write adjustment lines for late entries of the months before."""
    from wuye.insights.services import close_due_months

    with HUEY.lock_task("insights-close-month"):
        close_due_months(recheck=settings.WUYE_INSIGHTS_RECHECK_MONTHS)


@db_periodic_task(crontab(minute="25"))
def refresh_current_month() -> None:
    """Hourly: the provisional snapshot of the month in progress, so the manager's pages read stored figures
    (they never compute over the ledger themselves). Incremental: only the buildings written since the last
    run are recomputed; the first run of each day is a full one (decision 177)."""
    from wuye.insights.services import live_refresh

    with HUEY.lock_task("insights-live"):
        live_refresh()


@db_task()
def month_snapshot(period: str, actor_label: str = "") -> None:
    """A manager's refresh (``views.refresh``): the provisional snapshot of the month in progress, or the close
    of a past month nobody closed. ``period`` is YYYY-MM-DD (the month's first day)."""
    import datetime as dt

    from django.utils import timezone

    from wuye.insights.metrics import month_start
    from wuye.insights.services import live_refresh, month_close, refresh_refusal

    first = month_start(dt.date.fromisoformat(period))
    if refresh_refusal(first):  # queued by hand or before the rule: a month that may not be closed is not
        return
    if first == month_start(timezone.localdate()):
        with HUEY.lock_task("insights-live"):
            live_refresh()
    else:
        with HUEY.lock_task("insights-close-month"):
            month_close(period=first, actor_label=actor_label or "manager:refresh")


@db_periodic_task(crontab(minute="40", hour="3", day="1"))
def retrain_risk_model() -> None:
    """03:40 on the 1st (after the close): retrain the early-warning model on last month's history, score
    every account (see insights.risk)."""
    from wuye.insights.services import risk_monthly

    with HUEY.lock_task("insights-risk"):
        risk_monthly(actor_label="job:risk_train")
