"""Who may import statements, confirm matches and run direct debit: finance, managers and admins
(the same people who may record payments). Collectors may not."""

from wuye.billing.permissions import can_record_payments


def can_bank(user) -> bool:
    return user is not None and user.is_authenticated and can_record_payments(user)
