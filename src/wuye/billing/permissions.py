"""Who may move money and who may approve what reduces it."""

from wuye.accounts.choices import Role

PAYMENT_ROLES = frozenset({Role.FINANCE, Role.MANAGER, Role.ADMIN})
APPROVER_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def can_record_payments(user) -> bool:
    return user.is_superuser or user.role in PAYMENT_ROLES


def can_approve(user) -> bool:
    """Approve waivers, voids and write-offs; reverse bill runs."""
    return user is not None and (user.is_superuser or user.role in APPROVER_ROLES)
