"""Benchmark: the collector's worklist for one collector's territory in a seeded estate.

    python bench/bench_worklist.py --units 50000                 # fresh SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_worklist python bench/bench_worklist.py \\
        --units 1000000 --territory 5000                         # drops and recreates that database

Steps: fresh database → migrate → `wuye seed --units N --seed 1 --months 6` → a collector given whole
buildings until about ``--territory`` units → ``casework.selectors.worklist`` for today, timed (median of 5
runs, server time without rendering) with its query count. Prints one line. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WUYE = [sys.executable, "-m", "wuye"]

MEASURE = """
import statistics, time
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
day = timezone.localdate()
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
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        env["WUYE_DATA_DIR"] = tempfile.mkdtemp(prefix="wuye-bench-")
    subprocess.run(WUYE + ["migrate", "-v0"], env=env, check=True)
    subprocess.run(WUYE + ["seed", "--units", str(args.units), "--seed", "1", "--months", "6"], env=env, check=True,
                   capture_output=True)
    out = subprocess.run(WUYE + ["shell", "-c", MEASURE.replace("TARGET", str(args.territory))], env=env,
                         check=True, capture_output=True, text=True).stdout
    print(f"{args.units:,} units: " + out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
