"""Pay links: a short token, stored only as its SHA-256, bound to one unit and one liable party.

A link opens the bill of its ``(unit, party)``: after a sale each billing period belongs to the party liable
then (``Bill.party``), and a link shows and pays only its party's lines (a link without a party — rows made
before links had one — shows the whole unit, as before).

``link_create`` / ``pay_link_for`` make one link with a random token that is shown once (a collector sending
one by hand, an owner who logged in). ``pay_links_for`` is what the reminder dispatcher and the printed
notices call, for many units at once (through ``settings.WUYE_PAY_LINKS_FACTORY``): one link per
``(unit, party)`` per issue day. Its token must be unguessable *and* the same whenever that day's message is
rendered again (after a crash the dispatcher renders the message anew, and its text and content hash must not
change). So each such link gets a random ``token_seed`` stored on the row, and the token is
``HMAC(site key, seed)``: the database alone (a copy, a backup) does not give the token, and neither does the
key alone (the old token, an HMAC of the key, the unit and the day, could be computed by anyone holding the
key — with the shipped default key, by anyone). The same day asks again, finds the row and recomputes the same
token; links are created in bulk, a few queries per batch; a revoked link is never handed out again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
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
from wuye.estate.models import Party, Unit
from wuye.estate.selectors import liable_party_ids
from wuye.portal.models import PayLink

log = logging.getLogger(__name__)

TOKEN_BYTES = 12  # 96 random bits → 16 URL-safe characters
SEED_SALT = "wuye.portal.paylink.seed"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_url(token: str) -> str:
    return settings.WUYE_PAY_NOTIFY_BASE.rstrip("/") + reverse("portal:bill", kwargs={"token": token})


def _liable_party_id(unit: Unit) -> int | None:
    return liable_party_ids([unit.pk], timezone.localdate()).get(unit.pk)


@transaction.atomic
def link_create(
    *, unit: Unit, party: Party | int | None = None, actor: User | None = None, actor_label: str = "",
    ttl_days: int | None = None,
) -> tuple[PayLink, str]:
    """A new link for ``unit`` and ``party`` (default: the party liable today — the owner in force, else the
    developer); returns the row and the token (shown once, never stored)."""
    if actor is None and not actor_label:
        raise ValidationError({"actor": "生成链接需要操作人或来源。"})
    ttl_days = settings.WUYE_PAY_LINK_TTL_DAYS if ttl_days is None else ttl_days
    if not 1 <= ttl_days <= 366:
        raise ValidationError({"ttl_days": "链接有效期应在 1 到 366 天之间。"})
    party_id = getattr(party, "pk", party) if party is not None else _liable_party_id(unit)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = PayLink.objects.create(
        token_hash=token_hash(token), project_id=unit.project_id, unit=unit, party_id=party_id,
        created_by=actor, created_by_label=actor_label[:60],
        expires_at=timezone.now() + dt.timedelta(days=ttl_days))
    audit_record(actor=actor, actor_label=actor_label, verb="paylink.create", obj=link,
                 after={"unit": unit.pk, "party": party_id, "expires_at": link.expires_at})
    return link, token


def pay_link_for(unit: Unit, *, created_by_label: str, ttl_days: int = 30, party: Party | int | None = None) -> str:
    """A fresh short absolute URL to ``unit``'s bill (``party``'s lines; default the liable party)."""
    _, token = link_create(unit=unit, party=party, actor_label=created_by_label, ttl_days=ttl_days)
    return link_url(token)


LINK_FIELDS = ("token_hash", "token_seed", "project_id", "unit_id", "party_id", "issued_on", "created_at",
               "created_by_label", "expires_at", "revoke_reason", "use_count")

Key = int | tuple[int, int | None]


def seed_token(seed: str, key: str | bytes | None = None) -> str:
    """The token of a link with this seed under ``key`` (default: the site's ``SECRET_KEY``)."""
    digest = salted_hmac(SEED_SALT, seed, secret=key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii")


def _token_of(seed: str, stored_hash: str) -> str | None:
    """The token of a stored day link, checked against its hash. A link made under a key since rotated is
    found through ``SECRET_KEY_FALLBACKS``; without the key that made it, it cannot be shown again."""
    for key in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        token = seed_token(seed, key)
        if token_hash(token) == stored_hash:
            return token
    return None


def pay_links_for(keys: Iterable[Key], *, issued_on: dt.date, created_by_label: str, ttl_days: int | None = None,
                  known_units: dict[int, tuple[int, int | None]] | None = None) -> dict[Key, str]:
    """key → a short absolute URL to a bill, one link per (unit, party) per ``issued_on`` (made when missing).

    A key is a ``(unit id, party id)`` pair — that party's lines of the unit — or a plain unit id, meaning the
    party liable on ``issued_on`` (the owner in force, else the developer). The answer is keyed as asked.
    A link of that day that was revoked is not handed out (the key is left out; the caller prints the other
    ways to pay), nor one whose token can no longer be computed (the site key changed without keeping the old
    one in ``SECRET_KEY_FALLBACKS``). ``known_units`` (unit → (project id, liable party id)), when the caller
    has read them already, saves reading them again (for pairs only the project is taken from it).
    Queries: one read of the day's links, and for links not made yet one read of units (unless known), one
    read of liable parties (plain ids not in ``known_units``), one bulk insert and one re-read."""
    if not created_by_label:
        raise ValidationError({"actor": "生成链接需要操作人或来源。"})
    ttl_days = settings.WUYE_PAY_LINK_TTL_DAYS if ttl_days is None else ttl_days
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    known_units = known_units or {}
    want: dict[Key, tuple[int, int | None]] = {}
    plain = [k for k in keys if not isinstance(k, tuple)]
    unknown = [u for u in plain if u not in known_units]
    liable = liable_party_ids(unknown, issued_on) if unknown else {}
    for k in keys:
        if isinstance(k, tuple):
            want[k] = (int(k[0]), None if k[1] is None else int(k[1]))
        else:
            want[k] = (int(k), known_units[k][1] if k in known_units else liable.get(k))
    pairs = set(want.values())
    units = sorted({u for u, _ in pairs})

    def read(unit_ids) -> dict[tuple[int, int | None], tuple]:
        return {(u, p): (h, seed, revoked, expires) for u, p, h, seed, revoked, expires in
                PayLink.objects.filter(issued_on=issued_on, unit_id__in_ids=unit_ids).values_list(
                    "unit_id", "party_id", "token_hash", "token_seed", "revoked_at", "expires_at")}

    found = read(units)
    missing = sorted((p for p in pairs if p not in found), key=lambda p: (p[0], p[1] or 0))
    if missing:
        projects = {u: known_units[u][0] for u, _ in missing if u in known_units}
        rest = [u for u, _ in missing if u not in projects]
        if rest:
            projects.update(Unit.objects.filter(pk__in_ids=rest).values_list("pk", "project_id"))
        expires = timezone.make_aware(dt.datetime.combine(issued_on + dt.timedelta(days=ttl_days), dt.time(23, 59)))
        now = timezone.now()
        rows = []
        for u, p in missing:
            if u not in projects:
                continue  # no such unit
            seed = secrets.token_urlsafe(16)
            rows.append((token_hash(seed_token(seed)), seed, projects[u], u, p, issued_on, now, created_by_label[:60],
                         expires, "", 0))
        inserted = insert_rows_ignore_conflicts(PayLink, LINK_FIELDS, rows)
        # a concurrent caller may have made some of them first: theirs count (the same link for everyone)
        found.update(read(sorted({u for u, _ in missing})))
        if inserted:
            project_ids = {projects[u] for u, _ in missing if u in projects}
            audit_record(actor=None, actor_label=created_by_label, verb="paylink.create_many",
                         after={"issued_on": issued_on, "links": inserted, "expires_at": expires},
                         project_id=next(iter(project_ids)) if len(project_ids) == 1 else None)
    out: dict[Key, str] = {}
    for k, pair in want.items():
        row = found.get(pair)
        if row is None:
            continue
        stored_hash, seed, revoked_at, _expires_at = row
        if revoked_at is not None or not seed:
            continue
        token = _token_of(seed, stored_hash)
        if token is None:
            log.warning("pay link of unit %s for %s cannot be shown again: made under another site key", pair[0],
                        issued_on)
            continue
        out[k] = link_url(token)
    return out


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
