"""Demo logins and territories for ``wuye demo`` (one per role)."""

from __future__ import annotations

from django.db import transaction

from wuye.accounts.choices import Role
from wuye.accounts.models import Territory, User
from wuye.accounts.services import audit_record

DEMO_PASSWORD = "wuye2026"

# username, display name, role
DEMO_USERS = [
    ("admin", "系统管理员", Role.ADMIN),
    ("jingli", "王经理", Role.MANAGER),
    ("shoufei1", "李收费", Role.COLLECTOR),
    ("shoufei2", "赵收费", Role.COLLECTOR),
    ("kefu", "陈客服", Role.SERVICE),
    ("caiwu", "刘财务", Role.FINANCE),
    ("gongcheng", "孙工程", Role.ENGINEERING),
    ("fawu", "周法务", Role.LEGAL),
]

# collector → [(project code, building code, floor_from, floor_to)]
DEMO_TERRITORIES = {
    "shoufei1": [("DEMO-CH", "1", None, None), ("DEMO-CH", "2", None, None)],
    "shoufei2": [("DEMO-CH", "3", None, None), ("DEMO-JR", "1", 1, 12)],
}


@transaction.atomic
def demo_users_ensure() -> list[tuple[str, str, str]]:
    """Create (or reset the password of) every demo user; returns (username, password, role label)."""
    out = []
    for username, name, role in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username, defaults={"display_name": name, "role": role})
        user.display_name, user.role = name, role
        user.is_staff = role in (Role.ADMIN, Role.MANAGER)
        user.is_superuser = role == Role.ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        out.append((username, DEMO_PASSWORD, Role(role).label))
    from wuye.estate.models import Building

    for username, areas in DEMO_TERRITORIES.items():
        user = User.objects.get(username=username)
        for project_code, building_code, floor_from, floor_to in areas:
            building = Building.objects.filter(project__code=project_code, code=building_code).first()
            if building is None or Territory.objects.filter(user=user, building=building).exists():
                continue
            territory = Territory.objects.create(user=user, project_id=building.project_id, building=building,
                                                 floor_from=floor_from, floor_to=floor_to)
            audit_record(actor=None, actor_label="demo", verb="territory.assign", obj=territory)
    return out
