"""Role checks written once, used by views, API and templates."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from wuye.accounts.choices import (
    ROLES_AUDIT,
    ROLES_DOORSTEP,
    ROLES_EDIT_CONTACTS,
    ROLES_EDIT_ESTATE,
    ROLES_IMPORT,
    Role,
)


def can_import(user) -> bool:
    return user.is_superuser or user.role in ROLES_IMPORT


def can_audit(user) -> bool:
    return user.is_superuser or user.role in ROLES_AUDIT


def can_manage_team(user) -> bool:
    return user.is_superuser or user.role in {Role.MANAGER, Role.ADMIN}


def can_edit_estate(user) -> bool:
    return user.is_superuser or user.role in ROLES_EDIT_ESTATE


def can_edit_contacts(user) -> bool:
    return user.is_superuser or user.role in ROLES_EDIT_CONTACTS


def can_work_doorstep(user) -> bool:
    return user.is_superuser or user.role in ROLES_DOORSTEP


def ui_flags(user) -> dict[str, bool]:
    return {
        "can_import": can_import(user),
        "can_audit": can_audit(user),
        "can_manage_team": can_manage_team(user),
        "can_edit_estate": can_edit_estate(user),
        "can_edit_contacts": can_edit_contacts(user),
        "can_doorstep": can_work_doorstep(user),
        "can_bill": user.is_superuser or user.role in {Role.FINANCE, Role.MANAGER, Role.ADMIN},
        "can_approve": user.is_superuser or user.role in {Role.MANAGER, Role.ADMIN},
        # the manager's numbers (wuye.insights.permissions.INSIGHT_ROLES)
        "can_insights": user.is_superuser or user.role in {Role.MANAGER, Role.FINANCE, Role.ADMIN},
        "can_legal": user.is_superuser or user.role in {Role.LEGAL, Role.MANAGER, Role.ADMIN},
        "can_upload_proof": user.is_superuser or user.role in {Role.LEGAL, Role.MANAGER, Role.ADMIN, Role.SERVICE,
                                                                Role.COLLECTOR},
    }


def require(check, user) -> None:
    if not check(user):
        raise PermissionDenied("您的角色无权执行此操作。")


def require_project_scope(actor, project_id: int, what: str) -> None:
    """A service's own check that ``actor`` works in the project it is about to change (decision 202): the pages
    and the API already list only what the user may see, but a service is also reached from a shell, a job, a
    new view or an API that forgets. ``actor`` None is the system acting on a rule (a job, the portal): it has
    no scope to check. Staff assigned to no project work across the company."""
    if actor is None or actor.is_superuser:
        return
    if project_id not in allowed_project_ids(actor, {project_id}):
        from wuye.estate.models import Project

        name = Project.objects.filter(pk=project_id).values_list("name", flat=True).first() or "该项目"
        raise PermissionDenied(f"“{name}”不在您负责的项目范围内，不能{what}。")


def allowed_project_ids(actor, project_ids: set[int]) -> set[int]:
    """Which of ``project_ids`` ``actor`` works in. Read from the request's memo of the actor's territories or
    assigned projects (no query after the first within a request, so a service may check every row of a batch);
    staff assigned to no project work in all of them."""
    from wuye.accounts.selectors import assigned_project_ids, territories_of

    if actor is None or actor.is_superuser:
        return set(project_ids)
    if not actor.is_authenticated:
        return set()
    if actor.territory_bound:
        return set(project_ids) & {t.project_id for t in territories_of(actor)}
    assigned = assigned_project_ids(actor)
    return set(project_ids) & set(assigned) if assigned else set(project_ids)
