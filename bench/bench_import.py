"""Benchmark: import an N-row unit/owner CSV (GBK) into an empty database, then re-import it.

    python bench/bench_import.py --rows 10000            # fresh SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_import python bench/bench_import.py

Appends one line per run to bench/results/import.md. Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build_csv(rows: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["项目编码", "项目名称", "楼栋编码", "单元", "楼层", "房号", "物业类型", "建筑面积", "入住状态",
                "业主姓名", "手机号码", "租户姓名", "租户电话"])
    for i in range(rows):
        b, rest = divmod(i, 200)
        floor, k = divmod(rest, 4)
        w.writerow(["BENCH", "基准花园", str(b + 1), "1", str(floor + 1), f"{floor + 1}{k + 1:02d}", "高层", "95.20",
                    "出租" if i % 7 == 0 else "自住", f"业主{i}", f"139{i:08d}",
                    f"租户{i}" if i % 7 == 0 else "", f"137{i:08d}" if i % 7 == 0 else ""])
    return out.getvalue().encode("gbk")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("WUYE_DATA_DIR", tempfile.mkdtemp(prefix="wuye-bench-"))
    os.environ["WUYE_HUEY_IMMEDIATE"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection

    from wuye.accounts.models import User
    from wuye.estate.importer import import_submit
    from wuye.estate.models import Project

    if connection.vendor == "postgresql":
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    if Project.objects.filter(code="BENCH").exists():
        sys.exit("database already holds the BENCH project")
    user = User.objects.create_user("bench", role="admin")
    raw = build_csv(args.rows)

    timings = []
    for label in ("first import", "re-import"):
        t0 = time.perf_counter()
        job = import_submit(actor=user, upload=SimpleUploadedFile("bench.csv", raw))
        elapsed = time.perf_counter() - t0
        assert job.status == "succeeded", job.errors[:5]
        timings.append(elapsed)
        print(f"{label}: {args.rows:,} rows in {elapsed:.2f} s; changes: "
              f"{ {k: v for k, v in job.summary.items() if v} }")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    line = (f"| {dt.date.today()} | {connection.vendor} | {args.rows:,} | {timings[0]:.2f} s | {timings[1]:.2f} s "
            f"| {commit} |\n")
    results = HERE / "results" / "import.md"
    results.parent.mkdir(exist_ok=True)
    if not results.exists():
        results.write_text("# Import benchmark\n\n| date | database | rows | first import | re-import | commit |\n"
                           "|---|---|---|---|---|---|\n")
    with results.open("a") as fh:
        fh.write(line)
    print(line.strip())


if __name__ == "__main__":
    main()
