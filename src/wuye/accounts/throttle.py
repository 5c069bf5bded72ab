"""Staff login throttling with django-axes: per account and per client address, with different limits.

django-axes records failed logins (``AccessAttempt``: username × address × browser) and refuses a login while
its parameters are locked. Its own rule takes the largest failure count over the lockout parameters and
compares it with one limit; an office behind one NAT address must not be locked out by one person's typos,
so the address limit is higher: ``WUYE_LOGIN_FAILURES_PER_ACCOUNT`` (default 5) failures of one username, or
``WUYE_LOGIN_FAILURES_PER_IP`` (default 30) from one address, within ``WUYE_LOGIN_LOCKOUT_MINUTES`` (15)
lock that account or that address for as long. A successful login clears the account's count. Each
lock-out is an audit event (``login.locked``); the page says so in Chinese (HTTP 429).
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum
from django.dispatch import receiver
from django.shortcuts import render

from wuye.common.http import client_ip


def _failures(qs) -> int:
    return qs.aggregate(n=Sum("failures_since_start"))["n"] or 0


class LoginHandler(AxesDatabaseHandler):
    """Counts per account and per address separately (``AXES_LOCKOUT_PARAMETERS = ["username",
    "ip_address"]`` gives one queryset each), scaled so that axes' one limit means either limit."""

    def get_failures(self, request, credentials=None) -> int:
        by_account, by_address = self.get_user_attempts(request, credentials)
        per_account = settings.WUYE_LOGIN_FAILURES_PER_ACCOUNT  # == AXES_FAILURE_LIMIT
        per_ip = settings.WUYE_LOGIN_FAILURES_PER_IP
        account = _failures(by_account)
        address = _failures(by_address)
        # locked ⇔ account ≥ per_account or address ≥ per_ip; axes compares the result with per_account
        return max(account, per_account if address >= per_ip else 0)


def lockout_message() -> str:
    return (f"登录失败次数过多，已暂时锁定 {settings.WUYE_LOGIN_LOCKOUT_MINUTES} 分钟。"
            "请稍后再试，或联系管理员重置密码。")


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, with the lock-out message (HTTP 429)."""
    from django.contrib.auth.forms import AuthenticationForm

    form = AuthenticationForm(request, data=None)
    return render(request, "registration/login.html",
                  {"form": form, "locked_out": lockout_message(), "next": request.POST.get("next", "")},
                  status=429)


@receiver(user_locked_out, dispatch_uid="wuye-login-locked")
def _audit_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    """One audit event per lock-out (axes signals again for each attempt refused while locked)."""
    import datetime as dt

    from django.utils import timezone

    from wuye.accounts.models import AuditEvent
    from wuye.accounts.services import audit_record

    label = f"login:{(username or '')[:60]}"
    ip = ip_address or (client_ip(request) if request else "") or None
    since = timezone.now() - dt.timedelta(minutes=settings.WUYE_LOGIN_LOCKOUT_MINUTES)
    if AuditEvent.objects.filter(verb="login.locked", actor_label=label, ip=ip, created_at__gte=since).exists():
        return
    audit_record(actor=None, actor_label=label, verb="login.locked", ip=ip,
                 note=f"登录失败次数过多，锁定 {settings.WUYE_LOGIN_LOCKOUT_MINUTES} 分钟")


def login_records_purge(now=None) -> dict[str, int]:
    """Delete django-axes' records older than ``WUYE_LOGIN_RECORDS_RETENTION_DAYS`` (default 90): the log of
    logins (``AccessLog``), of failures (``AccessFailureLog``) and the failure counters (``AccessAttempt``).
    A counter still inside the lock-out period is never deleted, whatever the retention (it is what locks).
    Lock-outs themselves stay in the audit log (``login.locked``). Returns the rows deleted per table."""
    import datetime as dt

    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone

    now = now or timezone.now()
    days = max(1, int(settings.WUYE_LOGIN_RECORDS_RETENTION_DAYS))
    before = now - dt.timedelta(days=days)
    attempts_before = min(before, now - dt.timedelta(minutes=settings.WUYE_LOGIN_LOCKOUT_MINUTES))
    return {
        "attempts": AccessAttempt.objects.filter(attempt_time__lt=attempts_before).delete()[0],
        "failures": AccessFailureLog.objects.filter(attempt_time__lt=before).delete()[0],
        "logins": AccessLog.objects.filter(attempt_time__lt=before).delete()[0],
    }
