"""Benchmark: month-end close, the provisional snapshot, the manager's home page and the drill-down on an estate
that already has its history (a copy of the 1M-unit base), as the issue's acceptance measures them.

    createdb -h 127.0.0.1 -U postgres -T wuye_base wuye_x_1m
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_x_1m
    .venv/bin/wuye migrate
    .venv/bin/python bench/bench_insights_home.py --period 2026-11 --fresh
    dropdb -h 127.0.0.1 -U postgres wuye_x_1m

``--fresh`` first removes every snapshot (closes, figures, per-unit rows) and vacuums those tables. Then:
1. ``wuye close_month --period P`` (the first close), wall time;
2. the same again with nothing new (a recheck that writes nothing);
3. ``wuye close_month --period <this month> --provisional`` (what the hourly job writes);
   then a payment dated inside P is recorded and P rechecked (adjustment rows, totals rebuilt);
4. server time through Django's test client (median of 5 after one warm-up) of the home page for P (closed),
   for this month (provisional snapshot) and for the month before P (not closed: says so, computes nothing),
   and of drill-down lists: all units of P page 1 and page 2, one ageing bucket, the building owing most, this
   month's list, and the month before P (not closed: no list).
Each line carries the 1-minute load average when it was measured. Not a test.
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


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def median_get(client, url: str, n: int = 5) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    times = []
    for _ in range(n):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - t0)
        assert r.status_code == 200, (url, r.status_code)
    return statistics.median(times), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--period", required=True, help="YYYY-MM, a finished month with history")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from wuye.accounts.choices import Role
    from wuye.accounts.models import User
    from wuye.insights.metrics import add_months, month_start
    from wuye.insights.models import MonthClose, MonthFigure, UnitFigure, UnitTotal

    period = dt.date.fromisoformat(f"{args.period}-01")
    before = add_months(period, -1)
    current = month_start(timezone.localdate())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}, {connection.vendor}, load {load()}")
    if args.fresh:
        for model in (UnitTotal, UnitFigure, MonthFigure, MonthClose):
            model.objects.all().delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                for model in (UnitTotal, UnitFigure, MonthFigure):
                    cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    MonthClose.objects.filter(period=before).delete()  # the month before stays unclosed for the pages below

    for label, argv in ((f"close_month --period {args.period}", ["--period", args.period]),
                        ("the same again (recheck, nothing new)", ["--period", args.period]),
                        (f"close_month --period {current:%Y-%m} --provisional",
                         ["--period", f"{current:%Y-%m}", "--provisional"])):
        start_load = load()
        seconds, _ = timed(lambda argv=argv: call_command("close_month", *argv))
        print(f"{label}: {seconds:.1f} s (load {start_load} → {load()})", flush=True)
    # a payment dated inside the closed month, recorded now: the recheck writes adjustment rows and rebuilds totals
    from django.db.models import F

    from wuye.billing.choices import PaymentMethod
    from wuye.billing.models import Bill
    from wuye.billing.services import payment_record

    bill = (Bill.objects.filter(is_void=False, late_fee_of__isnull=True, settled_fen__lt=F("amount_fen"),
                                period_start__lt=period).order_by("id").first())
    paid_at = dt.datetime.combine(period + dt.timedelta(days=20), dt.time(10), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    payment_record(actor=None, actor_label="bench:late", unit=bill.unit, amount_fen=100,
                   method=PaymentMethod.TRANSFER, paid_at=paid_at, reference=f"BENCH-{time.time_ns()}")
    start_load = load()
    seconds, _ = timed(lambda: call_command("close_month", "--period", args.period))
    print(f"recheck after a payment dated in {args.period}: {seconds:.1f} s (load {start_load} → {load()})", flush=True)
    print(f"rows: UnitFigure {UnitFigure.objects.filter(period=period).count():,}, "
          f"UnitTotal {UnitTotal.objects.filter(period=period).count():,} for {args.period}")

    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"role": Role.MANAGER})
    client = Client()
    client.force_login(manager)
    building = (UnitTotal.objects.filter(period=period, bucket="").values("building_id")
                .order_by().annotate(n=Count("id")).order_by("-n")
                .values_list("building_id", flat=True).first())
    pages = [
        (f"home, {args.period} (closed)", f"/insights/?period={args.period}"),
        (f"home, {current:%Y-%m} (provisional)", "/insights/"),
        (f"home, {before:%Y-%m} (not closed)", f"/insights/?period={before:%Y-%m}"),
        (f"drill-down, {args.period}, all units, page 1", f"/insights/units/?period={args.period}"),
        (f"drill-down, {args.period}, all units, page 2", f"/insights/units/?period={args.period}&page=2"),
        (f"drill-down, {args.period}, 91–180 days", f"/insights/units/?period={args.period}&bucket=age_180_fen"),
        (f"drill-down, {args.period}, largest building", f"/insights/units/?period={args.period}&building={building}"),
        (f"drill-down, {current:%Y-%m} (provisional), all units", f"/insights/units/?period={current:%Y-%m}"),
        (f"drill-down, {before:%Y-%m} (not closed)", f"/insights/units/?period={before:%Y-%m}"),
    ]
    for label, url in pages:
        seconds, queries = median_get(client, url)
        print(f"{label}: {seconds * 1000:.0f} ms, {queries} queries (load {load()})", flush=True)


if __name__ == "__main__":
    main()
