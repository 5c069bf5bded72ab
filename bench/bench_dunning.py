"""Benchmark the collection engine: the daily run over N units with M months of history, and the
dispatcher's throughput to the file backend.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_dun \\
        python bench/bench_dunning.py --units 1000000 --months 12 [--reuse] [--keep]

1. (unless ``--reuse``) drop and re-create the database, migrate, ``wuye seed --units N --months M``;
2. ``wuye dunning_run --date D`` (D = the day after the last seeded month's due date + 20 days, so every
   ladder stage has accounts) — wall time and the process's peak RSS;
3. the same command again: must create nothing (idempotency at scale) — wall time (incremental: decides
   almost nothing);
4. ``wuye dunning_run --date D+1`` (the next day, before any dispatch) — wall time;
5. ``wuye dispatch --now D 10:00 --limit K`` with the file backend — messages per second.

``--full`` runs every ``dunning_run`` with ``--full`` (every account decided, the run before decision 62).

Each run appends a line to ``bench/results/dunning.md``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seed import fresh_postgres, git_commit, wuye  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "dunning.md"
HEADER = ("| 日期 | 数据库 | 房屋数 | 历史（月） | 欠费户 | 新建动作 | 每日运行（秒） | 峰值内存（MB） | 重跑（秒） "
          "| 发送条数 | 发送速度（条/秒） | 提交 |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd[2:])} 失败，未记录结果。\n{out}")
    return seconds, usage.ru_maxrss / 1024, out.strip().splitlines()[-1] if out.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description="测量每日催缴运行与发送速度。")
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--date", help="运行日期（默认按种子数据推算）")
    parser.add_argument("--limit", type=int, default=200_000, help="发送测量的最多条数")
    parser.add_argument("--reuse", action="store_true", help="沿用已有数据库（跳过建库和生成数据）")
    parser.add_argument("--full", action="store_true", help="每次运行都逐户全量决策（dunning_run --full）")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("请设置 DATABASE_URL（PostgreSQL）。")
    outbox = tempfile.mkdtemp(prefix="wuye-outbox-")
    env = dict(os.environ, WUYE_OUTBOX_DIR=outbox, WUYE_SMS_BACKEND="file", WUYE_EMAIL_BACKEND="file",
               WUYE_WECHAT_BACKEND="file")
    version = "PostgreSQL"
    if not args.reuse:
        version = "PostgreSQL " + fresh_postgres(url)
        subprocess.run(wuye("migrate", "-v", "0"), env=env, check=True)
        t = time.perf_counter()
        subprocess.run(wuye("seed", "--units", str(args.units), "--seed", str(args.seed), "--months",
                            str(args.months)), env=env, check=True)
        print(f"seed: {time.perf_counter() - t:.1f} s", flush=True)
    day = args.date
    if not day:
        out = subprocess.run([sys.executable, "-c", (
            "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','wuye.settings');django.setup();"
            "from django.db.models import Max;from wuye.billing.models import Bill;"
            "print(Bill.objects.aggregate(m=Max('due_date'))['m'])")], env=env, capture_output=True, text=True,
            check=True).stdout.strip()
        day = (dt.date.fromisoformat(out) + dt.timedelta(days=20)).isoformat()
    full = ["--full"] if args.full else []
    run_s, peak, line = measured(wuye("dunning_run", "--date", day, *full), env)
    first = json.loads(line)
    print("run:", line, f"peak {peak:.0f} MB", flush=True)
    rerun_s, _, line2 = measured(wuye("dunning_run", "--date", day, *full), env)
    second = json.loads(line2)
    print("rerun:", line2, flush=True)
    if second["actions_created"] != 0:
        sys.exit("重跑新建了动作：幂等性被破坏。")
    next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    next_s, next_peak, line_next = measured(wuye("dunning_run", "--date", next_day, *full), env)
    print("next day:", line_next, f"{next_s:.1f} s, peak {next_peak:.0f} MB", flush=True)
    send_s, _, line3 = measured(wuye("dispatch", "--now", f"{day}T10:00", "--limit", str(args.limit)), env)
    sent = json.loads(line3)
    rate = sent["sent"] / send_s if send_s else 0
    print("dispatch:", line3, f"{send_s:.1f} s, {rate:.0f}/s", flush=True)
    if not RESULTS.exists():
        RESULTS.write_text("# 催缴每日运行与发送基准\n\n由 `bench/bench_dunning.py` 生成。\n\n" + HEADER, encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(f"| {dt.date.today()} | {version} | {args.units:,} | {args.months} | "
                f"{first['accounts_in_arrears']:,} | {first['actions_created']:,} | {run_s:.1f} | {peak:.0f} | "
                f"{rerun_s:.1f} | {sent['sent']:,} | {rate:,.0f} | {git_commit()} |\n")


if __name__ == "__main__":
    main()
