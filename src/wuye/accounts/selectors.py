"""Read queries for accounts: what a user may see."""

from __future__ import annotations

from django.db.models import Q

from wuye.accounts.models import Territory, User
from wuye.common.memo import memoized

NOTHING = Q(pk__in=[])


def assigned_project_ids(user: User) -> list[int]:
    """The ids of the projects ``user`` is assigned to (in project code order) — read once per request."""
    return list(memoized(("assigned_projects", user.pk), lambda: list(user.projects.values_list("id", flat=True))))


def territories_of(user: User) -> list[Territory]:
    """A collector's territories (building, floors, project) — read once per request."""
    return list(memoized(("territories", user.pk), lambda: list(
        Territory.objects.filter(user=user).only("building_id", "floor_from", "floor_to", "project_id"))))


def unit_scope_q(user: User, prefix: str = "") -> Q:
    """A filter on Unit (or on a relation to Unit via ``prefix``) for what ``user`` may see.

    Collectors see their territories only (nothing if they have none); other staff see the projects they
    are assigned to, or every project when they are assigned to none.
    """
    if not user.is_authenticated:
        return NOTHING
    if user.is_superuser:
        return Q()
    if user.territory_bound:
        q = NOTHING
        for territory in territories_of(user):
            q |= territory.unit_q(prefix)
        return q
    project_ids = assigned_project_ids(user)
    if project_ids:
        return Q(**{f"{prefix}project_id__in": project_ids})
    return Q()


def project_scope_q(user: User, prefix: str = "") -> Q:
    """A filter on Project for the projects ``user`` works in."""
    if not user.is_authenticated:
        return NOTHING
    if user.is_superuser:
        return Q()
    if user.territory_bound:
        ids = {t.project_id for t in territories_of(user)}
        return Q(**{f"{prefix}pk__in": ids})
    ids = assigned_project_ids(user)
    return Q(**{f"{prefix}pk__in": ids}) if ids else Q()


def scope_project_ids(user: User) -> list[int] | None:
    """The ids of the projects ``user`` works in, or None for the whole estate (a superuser, or staff assigned
    to no project) — what a search limits its index probes to (decision 180). A collector's are the projects of
    their territories; ``unit_scope_q`` still narrows to the territories themselves."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return None
    if user.territory_bound:
        return sorted({t.project_id for t in territories_of(user)})
    return sorted(assigned_project_ids(user)) or None


def audit_events_visible(user: User):
    """Audit events of the projects the user works in (all events for company-level staff)."""
    from wuye.accounts.models import AuditEvent

    qs = AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    ids = list(user.projects.values_list("id", flat=True))
    return qs.filter(project_id__in=ids) if ids else qs
