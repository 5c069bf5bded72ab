"""Benchmark: post one month of bills for N units and read the account summary over all of them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_billing python bench/bench_billing.py --units 1000000
    python bench/bench_billing.py --units 50000          # fresh SQLite in a temp dir

Steps: fresh database → migrate → `wuye seed --units N --seed 1` → fee standards for every project →
`wuye generate_bills --period 2026-11` (timed, in a subprocess; the default command) → `account_summaries` over every unit
(timed) → `wuye check_ledger` (timed). Appends one line to bench/results/billing.md. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WUYE = [sys.executable, "-m", "wuye"]


def run(args: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(WUYE + args, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, out


def fresh_database(env: dict) -> None:
    url = env.get("DATABASE_URL")
    if not url:
        env["WUYE_DATA_DIR"] = tempfile.mkdtemp(prefix="wuye-bench-")
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--period", default="2026-11")
    args = parser.parse_args()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="wuye.settings", WUYE_LOG_LEVEL="WARNING")
    fresh_database(env)
    run(["migrate", "-v0"], env)
    seed_s, _ = run(["seed", "--units", str(args.units), "--seed", "1"], env)
    print(f"seed {args.units:,} units: {seed_s:.1f} s")
    setup = ("from wuye.billing.synthetic import setup_fee_standards; import datetime as dt;"
             "from wuye.estate.models import Project;"
             "[setup_fee_standards(p, since=dt.date(2026, 1, 1)) for p in Project.objects.all()];"
             "from wuye.billing.models import BillingPolicy; BillingPolicy.objects.update(cycle_months=1)")
    run(["shell", "-c", setup], env)
    gen_s, out = run(["generate_bills", "--period", args.period], env)
    result = json.loads(out.strip().splitlines()[-1])
    print(f"generate_bills: {result['bills_created']:,} lines in {gen_s:.1f} s (command says {result['seconds']} s)")
    summary_code = ("import time, datetime as dt; from wuye.billing.selectors import account_summaries;"
                    "t=time.perf_counter(); n=sum(1 for _ in account_summaries(as_of=dt.date(2026, 12, 31)));"
                    "print(n, round(time.perf_counter()-t, 2))")
    _, out = run(["shell", "-c", summary_code], env)
    accounts, summary_s = out.strip().splitlines()[-1].split()
    print(f"account_summaries: {int(accounts):,} accounts in {summary_s} s")
    check_s, out = run(["check_ledger"], env)
    print(f"check_ledger: {out.strip()} in {check_s:.1f} s")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    backend = "postgresql" if env.get("DATABASE_URL") else "sqlite"
    line = (f"| {dt.date.today()} | {backend} | {args.units:,} | {seed_s:.0f} s | {result['bills_created']:,} "
            f"| {gen_s:.1f} s | {summary_s} s | {check_s:.1f} s | {commit} (load average "
            f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}) |\n")
    results = HERE / "results" / "billing.md"
    results.parent.mkdir(exist_ok=True)
    if not results.exists():
        results.write_text("# Billing benchmark\n\n| date | database | units | seed | bill lines | generate_bills "
                           "| account_summaries | check_ledger | commit |\n|---|---|---|---|---|---|---|---|---|\n")
    with results.open("a") as fh:
        fh.write(line)
    print(line.strip())


if __name__ == "__main__":
    main()
