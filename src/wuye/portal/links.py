"""Signed pay links: a short token, stored only as its SHA-256, bound to one unit.

``pay_link_for`` makes one link with a random token (a collector sending one by hand).
``pay_links_for`` is what the reminder dispatcher and the printed notices call, for many units at once
(through ``settings.WUYE_PAY_LINKS_FACTORY``): one link per unit per issue day, its token derived from the
site's secret key, the unit and the day (an HMAC, as unguessable as a random one). The same day asks again
and gets the same URL, so a message re-rendered after a crash carries the same text and content hash as the
first rendering; links are created in bulk, a few queries per batch.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.common.bulk import insert_rows_ignore_conflicts
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Occupancy, Unit
from wuye.estate.selectors import current_occupancy_q
from wuye.portal.models import PayLink

TOKEN_BYTES = 12  # 96 random bits → 16 URL-safe characters


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_url(token: str) -> str:
    return settings.WUYE_PAY_NOTIFY_BASE.rstrip("/") + reverse("portal:bill", kwargs={"token": token})


def _current_owner_id(unit: Unit) -> int | None:
    today = timezone.localdate()
    return (Occupancy.objects.filter(unit=unit, role=OccupantRole.OWNER, start__lte=today)
            .exclude(end__lt=today).order_by("-start").values_list("party_id", flat=True).first())


@transaction.atomic
def link_create(
    *, unit: Unit, actor: User | None = None, actor_label: str = "", ttl_days: int | None = None,
) -> tuple[PayLink, str]:
    """A new link for ``unit``; returns the row and the token (shown once, never stored)."""
    if actor is None and not actor_label:
        raise ValidationError({"actor": "生成链接需要操作人或来源。"})
    ttl_days = settings.WUYE_PAY_LINK_TTL_DAYS if ttl_days is None else ttl_days
    if not 1 <= ttl_days <= 366:
        raise ValidationError({"ttl_days": "链接有效期应在 1 到 366 天之间。"})
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = PayLink.objects.create(
        token_hash=token_hash(token), project_id=unit.project_id, unit=unit, party_id=_current_owner_id(unit),
        created_by=actor, created_by_label=actor_label[:60],
        expires_at=timezone.now() + dt.timedelta(days=ttl_days))
    audit_record(actor=actor, actor_label=actor_label, verb="paylink.create", obj=link,
                 after={"unit": unit.pk, "expires_at": link.expires_at})
    return link, token


def pay_link_for(unit: Unit, *, created_by_label: str, ttl_days: int = 30) -> str:
    """A fresh short absolute URL to ``unit``'s bill, for a reminder or a printed notice."""
    _, token = link_create(unit=unit, actor_label=created_by_label, ttl_days=ttl_days)
    return link_url(token)


LINK_FIELDS = ("token_hash", "project_id", "unit_id", "party_id", "created_at", "created_by_label", "expires_at",
               "revoke_reason", "use_count")


def _day_token(unit_id: int, day: dt.date) -> str:
    digest = salted_hmac("wuye.portal.paylink", f"{unit_id}:{day.isoformat()}", algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii")


def pay_links_for(unit_ids: Iterable[int], *, issued_on: dt.date, created_by_label: str,
                  ttl_days: int | None = None,
                  known_units: dict[int, tuple[int, int | None]] | None = None) -> dict[int, str]:
    """unit → a short absolute URL to its bill, one link per unit per ``issued_on`` (created when missing).

    A unit whose link of that day was revoked gets none (the caller prints the other ways to pay).
    ``known_units`` (unit → (project id, liable party id)), when the caller has read them already, saves
    reading them again."""
    if not created_by_label:
        raise ValidationError({"actor": "生成链接需要操作人或来源。"})
    ttl_days = settings.WUYE_PAY_LINK_TTL_DAYS if ttl_days is None else ttl_days
    tokens = {uid: _day_token(uid, issued_on) for uid in set(unit_ids)}
    if not tokens:
        return {}
    by_hash = {token_hash(t): uid for uid, t in tokens.items()}
    known = dict(PayLink.objects.filter(token_hash__in=list(by_hash)).values_list("token_hash", "revoked_at"))
    missing = [uid for h, uid in by_hash.items() if h not in known]
    if missing:
        known_units = known_units or {}
        if all(uid in known_units for uid in missing):
            projects = {uid: known_units[uid][0] for uid in missing}
            owners = {uid: known_units[uid][1] for uid in missing}
        else:
            owners = {}
            for uid, party in (Occupancy.objects.filter(current_occupancy_q(issued_on), unit_id__in=missing,
                                                        role=OccupantRole.OWNER).order_by("start", "id")
                               .values_list("unit_id", "party_id")):
                owners[uid] = party
            projects = dict(Unit.objects.filter(pk__in=missing).values_list("pk", "project_id"))
        expires = timezone.make_aware(dt.datetime.combine(issued_on + dt.timedelta(days=ttl_days), dt.time(23, 59)))
        now = timezone.now()
        insert_rows_ignore_conflicts(PayLink, LINK_FIELDS, [
            (token_hash(tokens[uid]), projects[uid], uid, owners.get(uid), now, created_by_label[:60], expires,
             "", 0) for uid in missing])
        audit_record(actor=None, actor_label=created_by_label, verb="paylink.create_many",
                     after={"issued_on": issued_on, "units": len(missing), "expires_at": expires},
                     project_id=projects[missing[0]] if len({*projects.values()}) == 1 else None)
    return {uid: link_url(tokens[uid]) for h, uid in by_hash.items() if known.get(h) is None}


class LinkGone(Exception):
    """The token names a link that expired or was revoked (HTTP 410)."""


def link_resolve(token: str, *, count_use: bool = False) -> PayLink | None:
    """The live link for ``token``; ``None`` when unknown; raises ``LinkGone`` when expired or revoked."""
    if not token or len(token) > 64:
        return None
    link = PayLink.objects.select_related("unit", "unit__project", "unit__building").filter(
        token_hash=token_hash(token)).first()
    if link is None:
        return None
    if not link.is_live:
        raise LinkGone
    if count_use:
        PayLink.objects.filter(pk=link.pk).update(use_count=F("use_count") + 1, last_used_at=timezone.now())
    return link


@transaction.atomic
def link_revoke(*, actor: User, link: PayLink, reason: str) -> PayLink:
    if not reason.strip():
        raise ValidationError({"reason": "请填写撤销原因。"})
    link = PayLink.objects.select_for_update().get(pk=link.pk)
    if link.revoked_at is not None:
        raise ValidationError({"link": "该链接已撤销。"})
    link.revoked_at, link.revoked_by, link.revoke_reason = timezone.now(), actor, reason[:200]
    link.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_record(actor=actor, verb="paylink.revoke", obj=link, note=reason)
    return link
