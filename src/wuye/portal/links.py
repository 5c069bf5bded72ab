"""Signed pay links: a random short token, stored only as its SHA-256, bound to one unit.

``pay_link_for`` is what reminders and printed notices call (through ``settings.WUYE_PAY_LINK_FACTORY``):
it returns a short absolute URL such as ``https://wy.example.com/p/Xa3…/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Occupancy, Unit
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
