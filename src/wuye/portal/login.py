"""Owners log in to the portal with their phone number and a 6-digit code sent by SMS.

- The number must be a live mobile contact point of a unit's current owner (the liable party). Whether it
  is or not, the answer is the same ("if the number is registered, a code is on its way") and the same work
  is queued, so the page cannot be used to find out who lives where.
- Codes are random, stored as a keyed hash, valid for ``CODE_MINUTES``, used once, and dead after
  ``MAX_WRONG`` wrong tries (each try is claimed with a conditional UPDATE before comparing, so parallel
  guesses cannot get more).
- Requests are rate-limited per number and per address in the database (``wuye.portal.throttle``).
- A verified number gets an ``OwnerSession`` of ``SESSION_MINUTES``; each unit opened from it gets a pay link
  that ends with the session, so the owner sees the very page the signed link shows.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wuye.accounts.services import audit_record
from wuye.common.formatting import mask_phone
from wuye.estate.choices import DEAD_VALIDITIES, ContactKind, OccupantRole
from wuye.estate.models import ContactPoint, Occupancy, Unit
from wuye.portal import throttle
from wuye.portal.links import token_hash
from wuye.portal.models import LoginCode, OwnerSession, PayLink

log = logging.getLogger(__name__)

CODE_MINUTES = 5
MAX_WRONG = 5
SESSION_MINUTES = getattr(settings, "WUYE_PORTAL_SESSION_MINUTES", 30)
# (at most N, per S seconds)
PHONE_LIMITS = [(1, 60), (5, 3600)]
IP_SEND_LIMITS = [(10, 3600)]
IP_CHECK_LIMITS = [(20, 600)]
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """A mainland mobile number as 11 digits (spaces, dashes and a +86 / 0086 prefix removed), or ''."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits if MOBILE.match(digits) else ""


def phone_hash(phone: str) -> str:
    return throttle.keyed_hash("phone", phone)


def _code_hash(salt: str, code: str) -> str:
    return throttle.keyed_hash(f"code:{salt}", code)


def _variants(phone: str) -> list[str]:
    return [phone, f"+86{phone}", f"86{phone}", f"{phone[:3]} {phone[3:7]} {phone[7:]}",
            f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"]


def parties_of_phone(phone: str) -> list[int]:
    """Parties that have ``phone`` as a live mobile contact point."""
    return sorted(set(ContactPoint.objects.filter(kind=ContactKind.MOBILE, value__in=_variants(phone))
                      .exclude(validity__in=list(DEAD_VALIDITIES)).values_list("party_id", flat=True)))


def units_of_parties(party_ids: list[int], *, on: dt.date | None = None) -> list[Unit]:
    """Units whose current owner is one of ``party_ids`` (the owner is the one liable to pay)."""
    on = on or timezone.localdate()
    unit_ids = (Occupancy.objects.filter(party_id__in=party_ids, role=OccupantRole.OWNER, start__lte=on)
                .exclude(end__lt=on).values_list("unit_id", flat=True))
    return list(Unit.objects.filter(pk__in=list(unit_ids)).select_related("project", "building")
                .order_by("project__name", "building__code", "floor", "number"))


class Throttled(Exception):
    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds


def code_request(*, raw_phone: str, ip: str) -> tuple[str, str]:
    """Ask for a code. Raises ``ValidationError`` for a malformed number and ``Throttled`` past a limit.
    Returns (phone hash, masked phone) for the next step; says nothing of whether the number is known."""
    phone = normalize_phone(raw_phone)
    if not phone:
        raise ValidationError({"phone": "请输入 11 位手机号码。"})
    ip_key, key = throttle.keyed_hash("ip", ip or "-"), phone_hash(phone)
    wait = throttle.attempt("sms_ip", ip_key, IP_SEND_LIMITS) or throttle.attempt("sms_phone", key, PHONE_LIMITS)
    if wait:
        raise Throttled(wait)
    now = timezone.now()
    parties = parties_of_phone(phone)
    known = bool(parties and units_of_parties(parties))
    row = LoginCode.objects.create(phone_hash=key, known=known, party_ids=parties if known else [],
                                   salt=secrets.token_hex(8), created_at=now,
                                   expires_at=now + dt.timedelta(minutes=CODE_MINUTES), ip_hash=ip_key)
    from wuye.portal.tasks import send_login_code

    # the code is made and sent by the job (the same queued work whether the number is known or not; the
    # code itself never passes through the queue). The row is committed: this runs outside a transaction.
    send_login_code(row.pk, phone)
    return key, mask_phone(phone)


def code_send(*, code_id: int, phone: str) -> str:
    """Make the code of a ``LoginCode`` row and send it by the configured SMS backend (the job calls this).
    Returns the outcome ("sent", "transient", "permanent", "unknown", "expired")."""
    from wuye.notify.base import Message, backend_for

    row = LoginCode.objects.filter(pk=code_id).first()
    if row is None or row.code_hash or row.expires_at <= timezone.now() or row.phone_hash != phone_hash(phone):
        return "expired"
    if not row.known:
        LoginCode.objects.filter(pk=row.pk).update(sent="unknown")
        return "unknown"
    code = f"{secrets.randbelow(10**6):06d}"
    LoginCode.objects.filter(pk=row.pk, code_hash="").update(code_hash=_code_hash(row.salt, code))
    units = units_of_parties(parties_of_phone(phone))
    signature = "物业服务中心"
    if units:
        from wuye.dunning.models import CollectionSettings

        cs = CollectionSettings.objects.filter(project_id=units[0].project_id).first()
        signature = cs.sms_signature if cs else signature
    message = Message(
        channel="sms", to=phone, out_id=f"login-{row.pk}",
        body=f"您的物业缴费登录验证码为 {code}，{CODE_MINUTES} 分钟内有效，仅用于本人登录，请勿告诉他人。",
        template_id=getattr(settings, "WUYE_PORTAL_LOGIN_SMS_TEMPLATE", ""), params=(code, str(CODE_MINUTES)),
        sign_name=signature)
    backend = backend_for("sms")
    try:
        result = backend.send(message)
    finally:
        backend.close()
    LoginCode.objects.filter(pk=row.pk).update(sent=str(result.outcome))
    if str(result.outcome) != "sent":
        log.warning("login code %s not sent: %s %s", row.pk, result.outcome, result.detail)
    return str(result.outcome)


def code_verify(*, key: str, masked: str, code: str, ip: str) -> OwnerSession:
    """Check a code for the number behind ``key``; on success an ``OwnerSession`` starts. Every failure says
    the same thing (wrong, expired, used up or never sent)."""
    wrong = ValidationError({"code": "验证码不正确或已失效，请重新获取。"})
    code = (code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise ValidationError({"code": "请输入短信中的 6 位数字验证码。"})
    ip_key = throttle.keyed_hash("ip", ip or "-")
    wait = throttle.attempt("code_ip", ip_key, IP_CHECK_LIMITS)
    if wait:
        raise Throttled(wait)
    now = timezone.now()
    row = (LoginCode.objects.filter(phone_hash=key, used_at__isnull=True, expires_at__gt=now)
           .exclude(code_hash="").order_by("-created_at", "-pk").first())
    if row is None:
        raise wrong
    # claim one of the MAX_WRONG tries before comparing: parallel guesses cannot get more
    if not LoginCode.objects.filter(pk=row.pk, attempts__lt=MAX_WRONG, used_at__isnull=True).update(
            attempts=F("attempts") + 1):
        raise wrong
    if not hmac.compare_digest(row.code_hash, _code_hash(row.salt, code)):
        raise wrong
    if not LoginCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        raise wrong  # used by a parallel request a moment ago
    return _session_start(key=key, masked=masked, ip_key=ip_key, now=now, parties=list(row.party_ids))


def _session_start(*, key: str, masked: str, ip_key: str, now: dt.datetime, parties: list[int]) -> OwnerSession:
    session = OwnerSession.objects.create(phone_hash=key, phone_masked=masked[:20], party_ids=parties,
                                          created_at=now, expires_at=now + dt.timedelta(minutes=SESSION_MINUTES),
                                          ip_hash=ip_key)
    audit_record(actor=None, actor_label=f"portal:sms:{session.pk}", verb="portal.login", obj=session,
                 after={"phone": masked, "parties": parties})
    return session


def session_units(session: OwnerSession) -> list[Unit]:
    return units_of_parties(list(session.party_ids)) if session.is_live else []


@transaction.atomic
def session_link(*, session: OwnerSession, unit: Unit) -> str:
    """A pay link to one of the session's units that ends with the session; returns its token."""
    if not session.is_live:
        raise ValidationError({"session": "登录已过期，请重新登录。"})
    if unit.pk not in {u.pk for u in session_units(session)}:
        raise ValidationError({"unit": "该房屋不在您的名下。"})
    token = secrets.token_urlsafe(12)
    link = PayLink.objects.create(token_hash=token_hash(token), project_id=unit.project_id, unit=unit,
                                  party_id=_owner_of(unit, session), created_by_label=f"portal:sms:{session.pk}",
                                  expires_at=session.expires_at)
    audit_record(actor=None, actor_label=f"portal:sms:{session.pk}", verb="paylink.create", obj=link,
                 after={"unit": unit.pk, "expires_at": link.expires_at, "via": "sms-login"})
    return token


def _owner_of(unit: Unit, session: OwnerSession) -> int | None:
    today = timezone.localdate()
    return (Occupancy.objects.filter(unit=unit, role=OccupantRole.OWNER, start__lte=today,
                                     party_id__in=list(session.party_ids))
            .exclude(end__lt=today).values_list("party_id", flat=True).first())


@transaction.atomic
def session_end(*, session: OwnerSession) -> None:
    """Log out: the session and every link it opened end now."""
    now = timezone.now()
    OwnerSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(ended_at=now)
    PayLink.objects.filter(created_by_label=f"portal:sms:{session.pk}", revoked_at__isnull=True).update(
        revoked_at=now, revoke_reason="业主退出登录")
    audit_record(actor=None, actor_label=f"portal:sms:{session.pk}", verb="portal.logout", obj=session)
