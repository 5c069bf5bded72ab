"""Benchmark: the hourly provisional snapshot of the month in progress, in full and incremental (decision 177).

    createdb -h 127.0.0.1 -U postgres wuye_bench_live
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_live .venv/bin/python bench/bench_insights_live.py \\
        --units 100000 --months 12 --seed-estate --payments 100
    dropdb -h 127.0.0.1 -U postgres wuye_bench_live

With ``--seed-estate`` the database is migrated and ``wuye seed --units N --seed 1 --months M`` runs first. Then,
as of today, each timed and printed with the rows written and the 1-minute load average:
1. ``live_refresh(full=True)``: every ``live`` row recomputed and rewritten (what the hourly job did before);
2. ``live_refresh()`` with nothing written since: reads the changes (none) and the territories, writes nothing;
3. ``--payments`` N payments recorded in one project (the largest; their own time printed apart), then
   ``live_refresh()``: only the buildings of the paid units are recomputed;
4. the same with the N payments spread over N projects (as many as there are).
Each refresh is its own transaction, like the job's. Not a test; the lead runs the 1M-unit figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed-estate", action="store_true")
    parser.add_argument("--payments", type=int, default=100)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    if args.seed_estate:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        call_command("seed", units=args.units, seed=1, months=args.months)
        print(f"seed {args.units} units × {args.months} months: {time.perf_counter() - t0:.1f} s")

    from wuye.billing.choices import PaymentMethod
    from wuye.billing.services import payment_record
    from wuye.estate.models import Project, Unit
    from wuye.insights.models import LiveSnapshot, MonthFigure, UnitFigure, UnitTotal
    from wuye.insights.services import live_refresh

    today = timezone.localdate()
    period = today.replace(day=1)

    def refresh(label: str, **kw) -> None:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        live_refresh(today=today, **kw)
        seconds = time.perf_counter() - t0
        s = LiveSnapshot.objects.get(period=period)
        print(f"{label}: {seconds:.2f} s — {'full' if s.full else f'{s.buildings} buildings'}, "
              f"{s.written:,} figure rows written (load {load:.1f})", flush=True)

    def pay(units: list) -> None:
        t0 = time.perf_counter()
        at = timezone.now() - dt.timedelta(minutes=1)
        for n, unit in enumerate(units):
            payment_record(actor=None, actor_label="bench", unit=unit, amount_fen=5000 + n,
                           method=PaymentMethod.CASH, paid_at=at)
        print(f"  ({len(units)} payments recorded in {time.perf_counter() - t0:.1f} s)", flush=True)

    print(f"{connection.vendor}, {Unit.objects.count():,} units, today {today}", flush=True)
    refresh("full provisional refresh", full=True)
    rows = (MonthFigure.objects.filter(kind="live").count(), UnitFigure.objects.filter(kind="live").count(),
            UnitTotal.objects.filter(period=period).count())
    print(f"  live rows: {rows[0]:,} figures, {rows[1]:,} per-unit, {rows[2]:,} drill-down totals")
    refresh("incremental, nothing changed")
    biggest = (Unit.objects.values("project_id").annotate(n=Count("id")).order_by("-n").first())["project_id"]
    pay(list(Unit.objects.filter(project_id=biggest).order_by("?")[:args.payments]))
    refresh(f"incremental after {args.payments} payments in one project")
    projects = sorted(set(Project.objects.values_list("pk", flat=True)))
    spread = [Unit.objects.filter(project_id=p).order_by("id").first() for p in projects]
    spread = (spread * (args.payments // len(spread) + 1))[:args.payments]
    pay(spread)
    refresh(f"incremental after {args.payments} payments over {min(len(projects), args.payments)} projects")
    refresh("incremental, nothing changed (again)")


if __name__ == "__main__":
    main()
