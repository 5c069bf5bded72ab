from django.db import models


class Role(models.TextChoices):
    """员工角色 — what a staff member does; drives what they may see and do."""

    MANAGER = "manager", "经理"
    COLLECTOR = "collector", "收费员"
    SERVICE = "service", "客服"
    FINANCE = "finance", "财务"
    ENGINEERING = "engineering", "工程"
    LEGAL = "legal", "法务"
    ADMIN = "admin", "管理员"


# Roles that see phone and ID numbers in clear: legal drafts court papers, admins maintain master data.
# Every other role sees masks and may reveal one value at a time, which is logged.
ROLES_SEE_PII = frozenset({Role.LEGAL, Role.ADMIN})
# Roles that may not reveal at all (their work never needs an owner's number).
ROLES_NO_REVEAL: frozenset[str] = frozenset()
# Roles restricted to the units of their territory.
ROLES_TERRITORY_BOUND = frozenset({Role.COLLECTOR})
# Roles that may import master data.
ROLES_IMPORT = frozenset({Role.ADMIN, Role.MANAGER})
# Roles that may read the audit log.
ROLES_AUDIT = frozenset({Role.ADMIN, Role.MANAGER, Role.LEGAL})
# Roles that may change units, ownership and tenancy from the staff pages.
ROLES_EDIT_ESTATE = frozenset({Role.ADMIN, Role.MANAGER, Role.SERVICE})
# Roles that may add contact points and mark them 有效/停机/空号/错号 (collectors find new numbers).
ROLES_EDIT_CONTACTS = frozenset({Role.ADMIN, Role.MANAGER, Role.SERVICE, Role.COLLECTOR})
# who takes payment on the doorstep: shows the QR, sends the pay link, records a transfer (wuye.portal.field)
ROLES_DOORSTEP = frozenset({Role.COLLECTOR, Role.SERVICE, Role.MANAGER, Role.ADMIN})
