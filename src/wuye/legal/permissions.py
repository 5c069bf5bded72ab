"""Who may see and do legal work: the legal role, managers (who approve legal escalation) and admins.
Collectors, customer service, finance and engineering see no case, no clock list and no legal number."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from wuye.accounts.choices import Role

LEGAL_ROLES = frozenset({Role.LEGAL, Role.MANAGER, Role.ADMIN})
# may upload a signed 回执 or EMS 签收 for a demand (collectors hand notices over; the office posts letters)
PROOF_ROLES = frozenset({Role.LEGAL, Role.MANAGER, Role.ADMIN, Role.SERVICE, Role.COLLECTOR})


def can_legal(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in LEGAL_ROLES))


def can_upload_proof(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in PROOF_ROLES))


def require_legal(user) -> None:
    if not can_legal(user):
        raise PermissionDenied("只有法务、经理和管理员可以查看和办理法务案件。")
