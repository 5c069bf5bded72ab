"""Periodic job of accounts (Huey autodiscovers ``<app>.tasks``): keep django-axes' login records bounded."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task


@db_periodic_task(crontab(minute="40", hour="3"))
def purge_login_records() -> None:
    """Daily at 03:40: login attempts and logs older than ``WUYE_LOGIN_RECORDS_RETENTION_DAYS`` go."""
    from wuye.accounts.throttle import login_records_purge

    with HUEY.lock_task("accounts-login-records-purge"):
        login_records_purge()


@db_periodic_task(crontab(minute="45", hour="3"))
def purge_submission_keys() -> None:
    """Daily at 03:45: one-time form and API keys older than ``WUYE_SUBMISSION_RETENTION_DAYS`` go."""
    from wuye.common.once import submissions_purge

    with HUEY.lock_task("common-submissions-purge"):
        submissions_purge()
