"""Writes for accounts: audit events, territories, revealing personal data."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

from wuye.accounts.choices import ROLES_NO_REVEAL, Role
from wuye.accounts.models import AuditEvent, Territory, User
from wuye.common.params import FLOOR_MAX, FLOOR_MIN


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe dict of a model's concrete field values, for before/after in audit events."""
    names = fields or [f.attname for f in obj._meta.concrete_fields]
    return {name: _jsonable(getattr(obj, name)) for name in names}


def audit_event(
    *,
    actor: User | None,
    verb: str,
    obj: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    actor_label: str = "",
    project_id: int | None = None,
    ip: str | None = None,
    obj_repr: str | None = None,
) -> AuditEvent:
    """One audit event, not yet saved (``audit_record`` saves one; batches ``bulk_create`` many). Either
    ``actor`` (a person) or ``actor_label`` (a job) must be given. ``obj_repr`` stands in for ``str(obj)``
    where that would read related rows (one query per event in a batch)."""
    if actor is None and not actor_label:
        raise ValueError("an audit event needs a person or a job as its actor")
    if obj is not None and project_id is None:
        project_id = getattr(obj, "project_id", None)
        if project_id is None and obj._meta.model_name == "project":
            project_id = obj.pk
    if obj_repr is None:
        obj_repr = str(obj) if obj is not None else ""
    return AuditEvent(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label[:100],
        verb=verb,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=obj_repr[:200],
        project_id=project_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        note=note[:500],
        ip=ip,
    )


def audit_record(**kwargs) -> AuditEvent:
    """Append one audit event (see ``audit_event`` for the arguments)."""
    event = audit_event(**kwargs)
    event.save(force_insert=True)
    return event


@transaction.atomic
def territory_assign(
    *, actor: User, user: User, building, floor_from: int | None = None, floor_to: int | None = None
) -> Territory:
    """Make ``user`` responsible for a building (or a floor range of it).

    One responsible person per unit: a range that overlaps another collector's territory is refused.
    """
    if user.role != Role.COLLECTOR:
        raise ValidationError({"user": "只有收费员可以分配责任区。"})
    for name, value in (("floor_from", floor_from), ("floor_to", floor_to)):
        if value is not None and not FLOOR_MIN <= value <= FLOOR_MAX:
            raise ValidationError({name: f"楼层应在 {FLOOR_MIN} 到 {FLOOR_MAX} 之间。"})
    if floor_from is not None and floor_to is not None and floor_from > floor_to:
        raise ValidationError({"floor_to": "结束楼层不能低于起始楼层。"})
    lo = floor_from if floor_from is not None else -10_000
    hi = floor_to if floor_to is not None else 10_000
    overlap = (
        Territory.objects.filter(building=building)
        .exclude(user=user)
        .filter(Q(floor_from__isnull=True) | Q(floor_from__lte=hi))
        .filter(Q(floor_to__isnull=True) | Q(floor_to__gte=lo))
        .select_related("user")
        .first()
    )
    if overlap is not None:
        raise ValidationError({"building": f"与 {overlap.user} 的责任区（{overlap}）重叠。"})
    territory = Territory(
        user=user, project_id=building.project_id, building=building, floor_from=floor_from, floor_to=floor_to
    )
    territory.full_clean()
    territory.save()
    audit_record(actor=actor, verb="territory.assign", obj=territory, after=snapshot(territory))
    return territory


@transaction.atomic
def territory_remove(*, actor: User, territory: Territory) -> None:
    before = snapshot(territory)
    audit_record(actor=actor, verb="territory.remove", obj=territory, before=before)
    territory.delete()


def pii_reveal(*, actor: User, obj: models.Model, field: str, ip: str | None = None) -> str:
    """Return one personal-data value in clear and log who looked at it."""
    if actor.role in ROLES_NO_REVEAL and not actor.is_superuser:
        raise PermissionError("该角色不能查看完整的个人信息。")
    value = getattr(obj, field)
    audit_record(actor=actor, verb="pii.reveal", obj=obj, note=field, ip=ip)
    return value
