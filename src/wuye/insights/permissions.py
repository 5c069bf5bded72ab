"""Who sees the manager's numbers: managers, finance and admins (company-level figures and drill-downs, within
the projects assigned to them). Collectors work from their worklist; their league is the manager's to read."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from wuye.accounts.choices import Role

INSIGHT_ROLES = frozenset({Role.MANAGER, Role.FINANCE, Role.ADMIN})
TARGET_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def can_view(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in INSIGHT_ROLES))


def can_set_targets(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in TARGET_ROLES))


def require_view(user) -> None:
    if not can_view(user):
        raise PermissionDenied("只有经理、财务和管理员可以查看经营分析。")
