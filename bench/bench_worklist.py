"""Benchmark: the collector's worklist for one collector's territory in a seeded estate.

    python bench/bench_worklist.py --units 50000                 # fresh SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_worklist python bench/bench_worklist.py \\
        --units 1000000 --territory 5000                         # drops and recreates that database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_worklist python bench/bench_worklist.py \\
        --template wuye_base --date 2026-12-03                   # a copy of an already seeded database

Steps: fresh database → migrate → `wuye seed --units N --seed 1 --months 6` (or, with ``--template``, a
PostgreSQL copy of a seeded database, e.g. the 1M × 12-month one of bench_dunning) → with ``--date``, the
daily collection run of that day first, so the worklist has engine tasks and classes to show → a collector
given whole buildings until about ``--territory`` units → ``casework.selectors.worklist`` for that day
(default today), timed (median of 5 runs, server time without rendering) with its query count. Prints one
line. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WUYE = [sys.executable, "-m", "wuye"]

MEASURE = """
import datetime as dt, statistics, time
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.db.models import Count
from wuye.accounts.models import Territory, User
from wuye.casework.selectors import worklist
from wuye.estate.models import Building

user, _ = User.objects.get_or_create(username="bench-collector", defaults={"role": "collector"})
Territory.objects.filter(user=user).delete()
total = 0
for b in Building.objects.annotate(n=Count("units")).order_by("pk"):
    if total >= TARGET:
        break
    Territory.objects.create(user=user, project_id=b.project_id, building=b)
    total += b.n
day = DAY or timezone.localdate()
times = []
for _ in range(5):
    with CaptureQueriesContext(connection) as q:
        t = time.perf_counter()
        rows = worklist(user=user, day=day).rows
        times.append(time.perf_counter() - t)
print(f"territory {total:,} units, {len(rows):,} rows, {len(q.captured_queries)} queries, "
      f"median {statistics.median(times) * 1000:.0f} ms")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--territory", type=int, default=5_000)
    parser.add_argument("--template", help="PostgreSQL: copy this seeded database instead of seeding")
    parser.add_argument("--date", help="run the daily collection run of this day first, and list that day")
    args = parser.parse_args()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="wuye.settings", WUYE_LOG_LEVEL="WARNING")
    url = env.get("DATABASE_URL")
    if url:
        import psycopg

        base, name = url.rsplit("/", 1)
        if not name.startswith("wuye_bench_worklist"):
            raise SystemExit("refusing to recreate a database not named wuye_bench_worklist*")
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            template = f' TEMPLATE "{args.template}"' if args.template else ""
            conn.execute(f'CREATE DATABASE "{name}"{template}')
    elif args.template:
        raise SystemExit("--template needs DATABASE_URL (PostgreSQL)")
    else:
        env["WUYE_DATA_DIR"] = tempfile.mkdtemp(prefix="wuye-bench-")
    subprocess.run(WUYE + ["migrate", "-v0"], env=env, check=True)
    if not args.template:
        subprocess.run(WUYE + ["seed", "--units", str(args.units), "--seed", "1", "--months", "6"], env=env,
                       check=True, capture_output=True)
    if args.date:
        run = subprocess.run(WUYE + ["dunning_run", "--date", args.date], env=env, check=True, capture_output=True,
                             text=True).stdout
        print("daily run: " + run.strip().splitlines()[-1])
    day = f"dt.date.fromisoformat({args.date!r})" if args.date else "None"
    code = MEASURE.replace("TARGET", str(args.territory)).replace("DAY", day)
    out = subprocess.run(WUYE + ["shell", "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    units = "copy of " + args.template if args.template else f"{args.units:,} units"
    line = out.strip().splitlines()[-1]
    print(f"{units}: " + line)
    results = HERE / "results" / "worklist.md"
    if not results.exists():
        results.write_text("# Worklist benchmark\n\nBy `bench/bench_worklist.py`: `casework.selectors.worklist` for one "
                           "collector, server time without rendering, median of 5.\n\n"
                           "| date | database | estate | result | commit |\n|---|---|---|---|---|\n", encoding="utf-8")
    sys.path.insert(0, str(HERE))
    from bench_seed import git_commit

    vendor = "postgresql" if url else "sqlite"
    with results.open("a", encoding="utf-8") as f:
        f.write(f"| {dt.date.today()} | {vendor} | {units} | {line} | {git_commit()} |\n")


if __name__ == "__main__":
    main()
