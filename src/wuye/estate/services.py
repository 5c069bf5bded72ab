"""Writes for the estate. Views, API, imports and jobs all call these; each records an audit event."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction

from wuye.accounts.models import User
from wuye.accounts.permissions import require_project_scope
from wuye.accounts.services import audit_record, snapshot
from wuye.estate.choices import ContactKind, ContactSource, ContactValidity, OccupancyState, OccupantRole
from wuye.estate.models import ContactPoint, Occupancy, Party, Unit, UnitStateChange


def party_natural_key(name: str, id_number: str, phone: tuple[str, str] | None, fallback: str) -> str:
    """How a party is recognised again: by ID number, else by name and first phone, else within one unit."""
    if id_number:
        return f"id:{id_number}"
    if phone:
        return f"np:{name}|{phone[1]}"
    return f"n:{fallback}|{name}"


def parties_match(*, actor: User, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], Party | str]:
    """Resolve natural keys within ``actor``'s scope: (key, project id) → the existing party, or the key a new
    party must take.

    A party is matched only if ``actor`` may see it (``parties_visible``: linked to a unit in their scope). The
    same key outside that scope — an ID number of another project's owner — is never matched, named or
    touched: a new party is created under ``key#p<project id>`` (the key itself is taken), so nothing of the
    other project leaks through a form or an import (issue 14, decision 50). Set-based: two queries.
    """
    from wuye.estate.selectors import parties_visible

    if not wanted:
        return {}
    candidates = {k for k, _ in wanted} | {f"{k}#p{pid}" for k, pid in wanted}
    found: dict[str, Party] = {}
    names = sorted(candidates)
    for i in range(0, len(names), 500):
        for party in Party.objects.filter(natural_key__in=names[i:i + 500]):
            found[party.natural_key] = party
    visible = set(parties_visible(actor).filter(pk__in=[p.pk for p in found.values()]).values_list("pk", flat=True)) \
        if found else set()
    result: dict[tuple[str, int], Party | str] = {}
    for key, pid in wanted:
        scoped = f"{key}#p{pid}"
        for candidate in (key, scoped):
            party = found.get(candidate)
            if party is not None and party.pk in visible:
                result[(key, pid)] = party
                break
        else:
            if key not in found:
                result[(key, pid)] = key
            elif scoped not in found:
                result[(key, pid)] = scoped
            else:  # both taken by parties the actor may not see (e.g. another territory's): a key of its own
                result[(key, pid)] = f"{scoped}#{secrets.token_hex(4)}"
    return result


@transaction.atomic
def party_get_or_create(
    *, actor: User, kind: str, name: str, id_number: str = "", mobile: str = "", fallback: str, project_id: int
) -> tuple[Party, bool]:
    """Find a party within ``actor``'s scope by its natural key, or create it (with its mobile as the primary
    contact). A party of the same key that ``actor`` may not see is never returned (see ``parties_match``)."""
    phone = (ContactKind.MOBILE, mobile) if mobile else None
    base = party_natural_key(name, id_number, phone, fallback)
    match = parties_match(actor=actor, wanted={(base, project_id)})[(base, project_id)]
    if isinstance(match, Party):
        return match, False
    party = Party(natural_key=match, kind=kind, name=name, id_number=id_number)
    party.full_clean()
    party.save()
    audit_record(actor=actor, verb="party.create", obj=party, after=snapshot(party))
    if mobile:
        contact_add(actor=actor, party=party, kind=ContactKind.MOBILE, value=mobile,
                    source=ContactSource.OWNER, is_primary=True)
    return party, True


@transaction.atomic
def unit_set_state(*, actor: User, unit: Unit, state: str, since: dt.date, note: str = "") -> UnitStateChange:
    """Record a new occupancy state from ``since``; the history row is kept, the unit shows the latest."""
    if state not in OccupancyState.values:
        raise ValidationError({"state": "未知的入住状态。"})
    require_project_scope(actor, unit.project_id, "修改该项目房屋的入住状态")
    before = snapshot(unit, ["state"])
    change = UnitStateChange.objects.create(unit=unit, state=state, since=since, recorded_by=actor, source=note[:60])
    latest = unit.state_changes.order_by("-since", "-id").values_list("state", flat=True).first()
    if latest and unit.state != latest:
        unit.state = latest
        unit.save(update_fields=["state", "updated_at"])
    audit_record(actor=actor, verb="unit.state", obj=unit, before=before, after={"state": state, "since": since},
                 note=note)
    return change


@transaction.atomic
def occupancy_start(
    *, actor: User, unit: Unit, party: Party, role: str, start: dt.date, pays_fees: bool = False, source: str = ""
) -> Occupancy:
    """Start an ownership or tenancy. For owners, the current owner's row ends the day before ``start``."""
    if role not in OccupantRole.values:
        raise ValidationError({"role": "未知的关系类型。"})
    require_project_scope(actor, unit.project_id, "登记该项目房屋的业主或租户")
    current = Occupancy.objects.select_for_update().filter(unit=unit, role=role, end__isnull=True)
    ended = []
    for row in current:
        if row.party_id == party.pk:
            raise ValidationError({"party": f"{party} 已是该房屋的{row.get_role_display()}。"})
        if role == OccupantRole.OWNER:
            if row.start >= start:
                raise ValidationError({"start": "新业主的起始日期必须晚于现业主的起始日期。"})
            row.end = start - dt.timedelta(days=1)
            row.save(update_fields=["end"])
            ended.append(row.pk)
    occupancy = Occupancy(unit=unit, party=party, role=role, start=start, pays_fees=pays_fees,
                          recorded_by=actor, source=source)
    occupancy.full_clean()
    occupancy.save()
    audit_record(actor=actor, verb=f"occupancy.start.{role}", obj=unit, after=snapshot(occupancy),
                 note=f"ended {ended}" if ended else "")
    return occupancy


@transaction.atomic
def occupancy_end(*, actor: User, occupancy: Occupancy, end: dt.date) -> Occupancy:
    require_project_scope(actor, occupancy.unit.project_id, "结束该项目房屋的业主或租户关系")
    if end < occupancy.start:
        raise ValidationError({"end": "结束日期不能早于起始日期。"})
    before = snapshot(occupancy)
    occupancy.end = end
    occupancy.save(update_fields=["end"])
    audit_record(actor=actor, verb="occupancy.end", obj=occupancy.unit, before=before, after=snapshot(occupancy))
    return occupancy


def require_party_scope(actor: User | None, party: Party, what: str) -> None:
    """The party service's own check (decision 202): ``actor`` may change a party linked — now or before — to a unit
    they may see (a former owner still owing was linked), the developer of a project they work in (the debtor of its
    unsold units), or a party linked to no unit yet (one an import or a form has just created). A job
    (None), a superuser and company-wide staff pass without a query."""
    from django.core.exceptions import PermissionDenied
    from django.db.models import Q

    from wuye.accounts.selectors import unit_scope_q

    if actor is None or actor.is_superuser:
        return
    scope = unit_scope_q(actor, "unit__")
    if scope == Q():
        return
    from wuye.accounts.permissions import allowed_project_ids
    from wuye.estate.models import Project

    linked = Occupancy.objects.filter(party=party)
    if linked.filter(scope).exists() or not linked.exists():
        return
    developer_of = set(Project.objects.filter(developer=party).values_list("pk", flat=True))
    if developer_of and allowed_project_ids(actor, developer_of):
        return
    raise PermissionDenied(f"“{party.name}”不在您负责的房屋范围内，不能{what}。")


@transaction.atomic
def contact_add(
    *, actor: User, party: Party, kind: str, value: str, source: str, label: str = "", is_primary: bool = False
) -> ContactPoint:
    require_party_scope(actor, party, "为其添加联系方式")
    contact = ContactPoint(party=party, kind=kind, value=value.strip(), source=source, label=label,
                           is_primary=is_primary)
    contact.full_clean()
    contact.save()
    audit_record(actor=actor, verb="contact.add", obj=party, after={"contact": contact.pk, "kind": kind})
    return contact


@transaction.atomic
def contact_set_validity(
    *, actor: User | None, contact: ContactPoint, validity: str, verified_on: dt.date, actor_label: str = ""
) -> ContactPoint:
    """Mark a contact point 有效/停机/空号/错号 as of ``verified_on`` (a later issue's dispatcher calls this)."""
    if validity not in ContactValidity.values:
        raise ValidationError({"validity": "未知的有效性状态。"})
    require_party_scope(actor, contact.party, "修改其联系方式的状态")
    before = snapshot(contact, ["validity", "last_verified"])
    contact.validity = validity
    contact.last_verified = verified_on
    contact.save(update_fields=["validity", "last_verified", "updated_at"])
    audit_record(actor=actor, actor_label=actor_label, verb="contact.validity", obj=contact.party, before=before,
                 after=snapshot(contact, ["validity", "last_verified"]), note=f"contact {contact.pk}")
    return contact
