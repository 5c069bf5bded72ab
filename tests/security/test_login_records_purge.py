"""django-axes' rows do not grow forever: a daily job deletes attempts and logs older than the retention
(``WUYE_LOGIN_RECORDS_RETENTION_DAYS``), never a counter that still locks."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _rows(age: dt.timedelta, name: str) -> None:
    at = timezone.now() - age
    common = {"user_agent": "ua", "ip_address": "192.0.2.1", "username": name, "http_accept": "*/*",
              "path_info": "/login/"}
    attempt = AccessAttempt.objects.create(get_data="", post_data="", failures_since_start=3, **common)
    AccessLog.objects.create(**common)
    AccessFailureLog.objects.create(locked_out=False, **common)
    for model in (AccessAttempt, AccessLog, AccessFailureLog):  # attempt_time is auto_now_add
        model.objects.filter(username=name).update(attempt_time=at)
    assert attempt.pk


def test_the_daily_job_deletes_what_is_older_than_the_retention(settings):
    from wuye.accounts.tasks import purge_login_records

    settings.WUYE_LOGIN_RECORDS_RETENTION_DAYS = 30
    _rows(dt.timedelta(days=31), "old")
    _rows(dt.timedelta(days=29), "recent")
    _rows(dt.timedelta(minutes=1), "now")
    purge_login_records.call_local()
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        assert set(model.objects.values_list("username", flat=True)) == {"recent", "now"}, model


def test_a_counter_inside_its_lockout_survives_a_retention_shorter_than_the_lockout(settings):
    from wuye.accounts.throttle import login_records_purge

    settings.WUYE_LOGIN_RECORDS_RETENTION_DAYS = 1
    settings.WUYE_LOGIN_LOCKOUT_MINUTES = 3 * 24 * 60
    _rows(dt.timedelta(days=2), "locked")
    _rows(dt.timedelta(days=4), "free")
    counts = login_records_purge()
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"locked"}
    assert not AccessLog.objects.exists() and not AccessFailureLog.objects.exists()
    assert counts == {"attempts": 1, "failures": 2, "logins": 2}


def test_the_job_is_scheduled():
    from huey.contrib.djhuey import HUEY

    from wuye.accounts.tasks import purge_login_records

    assert any(isinstance(t, purge_login_records.task_class) for t in HUEY._registry.periodic_tasks)
