"""Rate limits kept in the database (``Throttle`` rows), so that they hold across processes and restarts —
the per-process cache did not.

An attempt is written (and committed) before the counting, and only the rows written before it count: two
processes racing for the last slot cannot both get it. Refused attempts are kept but do not count against
later ones (someone who retries too early is not locked out longer)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from wuye.portal.models import Throttle


def keyed_hash(kind: str, value: str) -> str:
    """A keyed SHA-256 of a phone number or an address: stable, but useless without the server's secret."""
    return hmac.new(settings.SECRET_KEY.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def attempt(scope: str, key: str, limits: list[tuple[int, int]], *, now: dt.datetime | None = None) -> int:
    """Count one attempt of ``scope`` for ``key`` against ``limits`` (at most N per S seconds, for each pair).
    Returns 0 when allowed, otherwise how many seconds to wait."""
    now = now or timezone.now()
    with transaction.atomic():  # its own commit when called outside a transaction
        row = Throttle.objects.create(scope=scope, key=key, at=now)
    for count, seconds in limits:
        since = now - dt.timedelta(seconds=seconds)
        earlier = list(Throttle.objects.filter(scope=scope, key=key, allowed=True, at__gt=since, pk__lte=row.pk)
                       .order_by("at").values_list("at", flat=True))
        if len(earlier) > count:
            Throttle.objects.filter(pk=row.pk).update(allowed=False)
            oldest = earlier[len(earlier) - 1 - count]  # when it leaves the window, a slot frees
            return max(1, int((oldest + dt.timedelta(seconds=seconds) - now).total_seconds()) + 1)
    return 0


def count(scope: str, key: str, seconds: int, *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return Throttle.objects.filter(scope=scope, key=key, at__gt=now - dt.timedelta(seconds=seconds)).count()


def record(scope: str, key: str, *, now: dt.datetime | None = None) -> None:
    Throttle.objects.create(scope=scope, key=key, at=now or timezone.now())


def purge(*, older_than_hours: int = 48, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return Throttle.objects.filter(at__lt=now - dt.timedelta(hours=older_than_hours)).delete()[0]
