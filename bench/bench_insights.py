"""Benchmark: month-end close and the manager's pages on a seeded estate with 12 months of history.

    createdb -h 127.0.0.1 -U postgres wuye_bench_insights
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_insights .venv/bin/python bench/bench_insights.py \\
        --units 100000 --months 12 --seed-estate
    dropdb -h 127.0.0.1 -U postgres wuye_bench_insights

With ``--seed-estate`` the database is migrated and ``wuye seed --units N --seed 1 --months M`` runs first
(timed separately). Then, as of today:
1. ``insights.services.month_close`` of last month (the snapshot), timed;
2. the same again (a recheck with nothing new: no rows), timed;
3. one payment dated inside last month recorded after the close, and the recheck that writes its adjustment
   lines, timed;
4. the closes of the earlier months of the history (``close_due_months``), total time;
5. ``live_refresh`` (the month in progress from the ledger), timed;
6. the manager's home page for last month (from snapshots) and for this month (stored live figures), and a
   drill-down list (the largest building's units), server time through Django's test client: median of 5 after
   one warm-up;
and prints one line per measurement, then a Markdown table row for bench/results/insights.md. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")


def _timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _median_get(client, url: str, n: int = 5) -> float:
    client.get(url)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, (url, r.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed-estate", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, F
    from django.test import Client
    from django.utils import timezone

    seed_s = None
    if args.seed_estate:
        call_command("migrate", verbosity=0)
        seed_s, _ = _timed(lambda: call_command("seed", units=args.units, seed=1, months=args.months))
        print(f"seed {args.units} units × {args.months} months: {seed_s:.1f} s")

    from wuye.accounts.choices import Role
    from wuye.accounts.models import User
    from wuye.billing.choices import PaymentMethod
    from wuye.billing.models import Bill, Payment
    from wuye.billing.services import payment_record
    from wuye.estate.models import Unit
    from wuye.insights.metrics import add_months, month_start
    from wuye.insights.models import MonthClose, MonthFigure
    from wuye.insights.services import close_due_months, live_refresh, month_close

    today = timezone.localdate()
    last = add_months(month_start(today), -1)
    MonthClose.objects.all().delete()
    MonthFigure.objects.all().delete()
    units = Unit.objects.count()
    lines = Bill.objects.count()
    payments = Payment.objects.count()
    with connection.cursor() as cur:
        cur.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        db = cur.fetchone()[0].split(" on ")[0]
        db = db if connection.vendor == "postgresql" else f"SQLite {db}"
    print(f"{db}: {units:,} units, {lines:,} bill lines, {payments:,} payments")

    close_s, (_, rows) = _timed(lambda: month_close(period=last, actor_label="bench"))
    print(f"close {last:%Y-%m}: {close_s:.1f} s, {rows:,} rows")
    again_s, (_, again) = _timed(lambda: month_close(period=last, actor_label="bench"))
    print(f"recheck, nothing new: {again_s:.1f} s, {again} rows")
    bill = Bill.objects.filter(is_void=False, late_fee_of__isnull=True, settled_fen__lt=F("amount_fen"),
                               period_start__lt=last).order_by("id").first()
    paid_at = dt.datetime.combine(last + dt.timedelta(days=20), dt.time(10), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    payment_record(actor=None, actor_label="bench:late", unit=bill.unit, amount_fen=100,
                   method=PaymentMethod.TRANSFER, paid_at=paid_at, reference=f"BENCH-{time.time_ns()}")
    adjust_s, (_, adjusted) = _timed(lambda: month_close(period=last, actor_label="bench"))
    print(f"recheck after a late payment: {adjust_s:.1f} s, {adjusted} adjustment rows")
    earlier_s, done = _timed(lambda: close_due_months(recheck=0))
    print(f"close the other {len(done) - 1} months of history: {earlier_s:.1f} s")
    live_s, live_rows = _timed(lambda: live_refresh())
    print(f"live refresh of {today:%Y-%m}: {live_s:.1f} s, {live_rows:,} rows")

    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"role": Role.MANAGER})
    client = Client()
    client.force_login(manager)
    home_closed = _median_get(client, f"/insights/?period={last:%Y-%m}")
    home_live = _median_get(client, "/insights/")
    print(f"home page from snapshots ({last:%Y-%m}): {home_closed * 1000:.0f} ms; this month (stored live): "
          f"{home_live * 1000:.0f} ms")
    building = (Bill.objects.filter(is_void=False, settled_fen__lt=F("amount_fen"))
                .values("unit__building_id").annotate(n=Count("id")).order_by("-n")
                .values_list("unit__building_id", flat=True).first())
    drill = _median_get(client, f"/insights/units/?building={building}")
    drill_all = _median_get(client, "/insights/units/")
    print(f"drill-down (one building): {drill * 1000:.0f} ms; (all units in arrears, page 1): {drill_all * 1000:.0f} ms")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"| {timezone.localtime():%Y-%m-%d %H:%M} | {db} | {units:,} | {lines:,} | "
          f"{seed_s and f'{seed_s:.0f}' or '—'} | {close_s:.1f} ({rows:,} 行) | {again_s:.1f} | {adjust_s:.1f} | "
          f"{earlier_s:.1f}（{len(done) - 1} 个月） | {live_s:.1f} | {home_closed * 1000:.0f} / {home_live * 1000:.0f} | "
          f"{drill * 1000:.0f} / {drill_all * 1000:.0f} | {commit} |")



if __name__ == "__main__":
    main()
