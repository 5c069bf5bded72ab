"""Benchmark: the prepaid run-out read of the daily run (decision 116) on a large estate. Read-only.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<an estate, e.g. a copy of the 1M base> \\
        python bench/bench_prepaid_out.py [--date 2026-12-03] [--chunk 20000] [--record]

Reads ``engine.prepaid_run_outs`` for every unit, ``--chunk`` units at a time in unit order — what the estate
pass reads per chunk — and prints: the balances (rows, rows at zero, rows holding money), the candidates (open
principal lines due in the 31-day window), the run-outs found, the time in all and the slowest chunk, and the
plan of the first chunk's query (EXPLAIN ANALYZE, BUFFERS). ``--date`` defaults to two days after the latest
bill run (the latest due date − 13 days, bills being due on the 15th): the day with the most candidates.
``--record`` appends a line to bench/results/dunning.md. Writes nothing to the database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")


def main() -> None:
    ap = argparse.ArgumentParser(description="测量预存款用完的读取（只读）。")
    ap.add_argument("--date", help="运行日期（默认：最近一期出账后第二天）")
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--record", action="store_true", help="在 bench/results/dunning.md 末尾追加一行")
    args = ap.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.db.models import F, Max, Q

    from wuye.billing.models import Bill, UnitBalance
    from wuye.dunning.engine import PREPAID_OUT_WINDOW, prepaid_run_out_lines, prepaid_run_outs
    from wuye.estate.models import Unit

    if args.date:
        day = dt.date.fromisoformat(args.date)
    else:
        day = Bill.objects.aggregate(d=Max("due_date"))["d"] - dt.timedelta(days=13)
    balances = UnitBalance.objects.aggregate(rows=django.db.models.Count("pk"),
                                             zero=django.db.models.Count("pk", filter=Q(prepaid_fen=0)))
    candidates = Bill.objects.filter(is_void=False, settled_fen__lt=F("amount_fen"), late_fee_of__isnull=True,
                                     due_date__gte=day, due_date__lte=day + PREPAID_OUT_WINDOW).count()
    ids = list(Unit.objects.order_by("pk").values_list("pk", flat=True))
    found, slowest = 0, 0.0
    started = time.perf_counter()
    for start in range(0, len(ids), args.chunk):
        t = time.perf_counter()
        found += len(prepaid_run_outs(day, unit_ids=ids[start:start + args.chunk]))
        slowest = max(slowest, time.perf_counter() - t)
    seconds = time.perf_counter() - started
    print(f"{connection.vendor} {day}: {len(ids):,} units, {balances['rows']:,} balances "
          f"({balances['zero']:,} at zero), {candidates:,} open lines due {day}~{day + PREPAID_OUT_WINDOW}, "
          f"{found:,} run-outs; {seconds:.2f} s in {-(-len(ids) // args.chunk)} chunks (slowest {slowest:.3f} s)")
    qs = prepaid_run_out_lines(day, unit_ids=ids[:args.chunk])
    plan = qs.explain(analyze=True, buffers=True) if connection.vendor == "postgresql" else qs.explain()
    print(re.sub(r"\{[0-9,]{200,}\}", lambda m: f"{{…{m.group(0).count(',') + 1} ids…}}", plan))
    if args.record:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=HERE).stdout.strip()
        with open(HERE / "results" / "dunning.md", "a", encoding="utf-8") as f:
            f.write(f"\n- 预存款用完读取（bench_prepaid_out.py，{commit}）：{day}，{len(ids):,} 户，候选 {candidates:,} 行，"
                    f"找到 {found:,} 户，{seconds:.2f} s（{args.chunk:,} 户一块，最慢一块 {slowest:.3f} s）\n")


if __name__ == "__main__":
    main()
