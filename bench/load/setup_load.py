"""Bench-only: the people of the load test, in a seeded database. Not used by the application or the tests.

    DATABASE_URL=postgres://…/wuye_load .venv/bin/python bench/load/setup_load.py --out var/load/people.json

Creates (or resets) with the password ``--password``:
- ``load-c01`` … ``load-cNN`` collectors (收费员), each given whole buildings of one project until about
  ``--territory`` units, buildings with the most units in arrears first, no two collectors sharing one;
- ``load-k01`` … cashiers (财务), each bound to one project (the desk of that project), with up to 200 units
  of that project that owe money (id, code, the owner's phone tail), to find and take payments on;
- ``load-m01`` … managers (经理), company-wide (they see every project: the heaviest reports);
- ``--owners`` pay links (``portal.links.link_create``) to units that owe money, spread over the projects —
  the owners open their bill from the link, as from a reminder SMS; owners do not log in.

Writes the usernames, the password, the cashiers' unit ids and the owners' link tokens as JSON for the
locustfile. Run again before each load run: passwords are reset and new links made (old ones stay valid).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--password", default="load-2026-bench")
    parser.add_argument("--collectors", type=int, default=50)
    parser.add_argument("--cashiers", type=int, default=10)
    parser.add_argument("--managers", type=int, default=5)
    parser.add_argument("--owners", type=int, default=1600,
                        help="pay links (an owner who has paid leaves and the next arrives with a new link: 200 "
                             "owners paying about every 40 s for 5 minutes need about 1,500)")
    parser.add_argument("--territory", type=int, default=2000, help="units per collector (about)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from wuye.accounts.choices import Role
    from wuye.accounts.models import Territory, User
    from wuye.portal.links import link_create

    today = timezone.localdate()
    # one hash for everyone (hashing 65 times at the default cost takes a while on a busy machine)
    password_hash = make_password(args.password)

    def user(username: str, role: str, name: str) -> User:
        u, _ = User.objects.get_or_create(username=username, defaults={"role": role})
        u.role, u.display_name, u.password = role, name, password_hash
        u.is_active, u.is_staff, u.is_superuser = True, role == Role.MANAGER, False
        u.save()
        return u

    # units in arrears per building: where collectors have work, where cashiers see payers
    with connection.cursor() as cur:
        cur.execute("""
            SELECT u.building_id, b.project_id, count(DISTINCT u.id) AS units,
                   count(DISTINCT u.id) FILTER (WHERE o.unit_id IS NOT NULL) AS owing
            FROM estate_unit u JOIN estate_building b ON b.id = u.building_id
            LEFT JOIN (SELECT DISTINCT unit_id FROM billing_bill
                       WHERE NOT is_void AND settled_fen < amount_fen AND due_date < %s) o ON o.unit_id = u.id
            GROUP BY u.building_id, b.project_id ORDER BY b.project_id, u.building_id""", [today])
        buildings = cur.fetchall()
    by_project: dict[int, list[tuple[int, int, int]]] = {}
    for building_id, project_id, units, owing in buildings:
        by_project.setdefault(project_id, []).append((building_id, units, owing))
    # projects with the most units in arrears first
    projects = sorted(by_project, key=lambda p: -sum(b[2] for b in by_project[p]))

    out: dict = {"password": args.password, "collectors": [], "cashiers": [], "managers": [], "owners": []}
    with transaction.atomic():
        collectors = [user(f"load-c{i + 1:02d}", Role.COLLECTOR, f"压测收费员{i + 1}") for i in range(args.collectors)]
        Territory.objects.filter(user__in=collectors).delete()
        taken = set(Territory.objects.values_list("building_id", flat=True))
        pool = [(p, b) for p in projects for b in sorted(by_project[p], key=lambda b: -b[2]) if b[0] not in taken]
        rows = []
        for c in collectors:
            total, project = 0, None
            while pool and total < args.territory:
                i = next((k for k, (p, _b) in enumerate(pool) if project is None or p == project), None)
                if i is None:
                    break
                p, (building_id, units, _owing) = pool.pop(i)
                project = p
                rows.append(Territory(user=c, project_id=p, building_id=building_id))
                total += units
            out["collectors"].append({"username": c.username, "units": total})
        Territory.objects.bulk_create(rows)
        for i in range(args.cashiers):
            project_id = projects[i % len(projects)]
            c = user(f"load-k{i + 1:02d}", Role.FINANCE, f"压测收银{i + 1}")
            c.projects.set([project_id])
            with connection.cursor() as cur:  # units that owe, their code and the owner's phone tail
                cur.execute("""SELECT u.id, u.code, (SELECT right(cp.value, 4) FROM estate_occupancy o
                                   JOIN estate_contactpoint cp ON cp.party_id = o.party_id AND cp.kind = 'mobile'
                                   WHERE o.unit_id = u.id AND o.end IS NULL LIMIT 1)
                               FROM estate_unit u WHERE u.id IN (
                                   SELECT DISTINCT b.unit_id FROM billing_bill b WHERE b.project_id = %s
                                   AND NOT b.is_void AND b.settled_fen < b.amount_fen ORDER BY b.unit_id LIMIT 200)""",
                            [project_id])
                units = [list(r) for r in cur.fetchall()]
            out["cashiers"].append({"username": c.username, "project_id": project_id,
                                    "unit_ids": [u[0] for u in units], "units": units})
        for i in range(args.managers):
            m = user(f"load-m{i + 1:02d}", Role.MANAGER, f"压测经理{i + 1}")
            m.projects.clear()
            out["managers"].append({"username": m.username})
    # an order a previous run placed and never paid would be reused by the next owner of that unit, and the new
    # sandbox process does not know it (the owner would confirm an order the provider never saw): expire them
    from wuye.portal.choices import OrderStatus
    from wuye.portal.models import PaymentOrder

    PaymentOrder.objects.filter(status=OrderStatus.CREATED, link__created_by_label="bench:load",
                                expires_at__gt=timezone.now()).update(expires_at=timezone.now())
    # owners: the first units in arrears of each project in turn
    from wuye.estate.models import Unit

    per_project = max(1, -(-args.owners // len(projects)))
    unit_ids: list[int] = []
    with connection.cursor() as cur:
        for p in projects:
            cur.execute("""SELECT DISTINCT b.unit_id FROM billing_bill b WHERE b.project_id = %s AND NOT b.is_void
                           AND b.settled_fen < b.amount_fen AND b.due_date < %s ORDER BY b.unit_id DESC LIMIT %s""",
                        [p, today, per_project * 3])
            unit_ids += [r[0] for r in cur.fetchall()][::3]
            if len(unit_ids) >= args.owners:
                break
    for unit in Unit.objects.filter(pk__in=unit_ids[:args.owners]).order_by("pk"):
        _link, token = link_create(unit=unit, actor_label="bench:load", ttl_days=7)
        out["owners"].append({"unit_id": unit.pk, "token": token})
    # the month in progress as the hourly job keeps it (insights' provisional snapshot): the managers' home and
    # drill-down read it; without it the drill-down lists what is open today from the ledger (2.4 s at 1M units)
    from wuye.insights.services import live_refresh

    live_refresh()
    # the morning's seal of the daily run's records into the action log's hash chain (legal_daily at 07:30, and
    # each dispatch): on a database fresh from a daily run the first 5-minute dispatch of the load test did it,
    # 30 s of writes at 1M units in the middle of the run (13:51 on 2026-12-05: every page stalled ~1.3 s)
    from wuye.legal.chain import seal

    seal()
    # what autovacuum does within a minute of the nightly run (its insert threshold), where it runs: the
    # visibility map of the tables the run grew, without which the collection overview's counts of the day's
    # actions, open episodes and held accounts cannot be read from their indexes alone (decision 197) — the
    # bench server runs with autovacuum off
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) dunning_action, dunning_episode, dunning_heldaccount")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(out['collectors'])} collectors ({sum(c['units'] for c in out['collectors']):,} units), "
          f"{len(out['cashiers'])} cashiers, {len(out['managers'])} managers, {len(out['owners'])} owner links "
          f"→ {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
