"""Role checks written once, used by views, API and templates."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from wuye.accounts.choices import ROLES_AUDIT, ROLES_IMPORT, Role


def can_import(user) -> bool:
    return user.is_superuser or user.role in ROLES_IMPORT


def can_audit(user) -> bool:
    return user.is_superuser or user.role in ROLES_AUDIT


def can_manage_team(user) -> bool:
    return user.is_superuser or user.role in {Role.MANAGER, Role.ADMIN}


def ui_flags(user) -> dict[str, bool]:
    return {"can_import": can_import(user), "can_audit": can_audit(user), "can_manage_team": can_manage_team(user)}


def require(check, user) -> None:
    if not check(user):
        raise PermissionDenied("您的角色无权执行此操作。")
