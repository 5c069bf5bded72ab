"""Benchmark ``wuye seed --months``: an estate of N units with M months of bills and payments, from scratch.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_history \\
        python bench/bench_history.py --units 1000000 --months 12 [--seed 1] [--keep]
    python bench/bench_history.py --units 20000 --fast-history    # SQLite in a temporary WUYE_DATA_DIR

Steps: fresh database (the one named in ``DATABASE_URL`` is dropped and re-created) → ``wuye migrate`` →
``wuye seed --units N --seed S --months M`` (measured: wall time and the process's peak RSS; above 20,000
units, or with ``--fast-history``, the history is written by the set-based generator,
``wuye.billing.fast_history``) → ``wuye
check_ledger`` (timed; must report no mismatch) → the share of units in arrears by depth, from
``account_summaries`` → the database is dropped (the temporary directory removed) unless ``--keep``.

The peak RSS is the seed process's own ``ru_maxrss`` (``os.wait4``); the PostgreSQL server's memory is not
in it (the generator lets its sorts use up to 1 GB of ``work_mem``). Each run appends a line to
``bench/results/history.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "history.md"
HEADER = (
    "| 日期 | 数据库 | 房屋数 | 月数 | 总耗时（秒） | 其中房屋（秒） | 其中历史（秒） | 峰值内存（MB） | 账单行 | 收款 | "
    "check_ledger | 欠费户占比（≤2 月 / 3–6 月 / >6 月或 >5,000 元） | 提交 |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n"
)
BANDS = """
import datetime as dt, json
from django.utils import timezone
from wuye.billing.selectors import account_summaries
from wuye.estate.models import Unit
bands = [0, 0, 0, 0]
for s in account_summaries(as_of=timezone.localdate()):
    if s.days_overdue > 180 or s.overdue_fen > 500_000:
        bands[3] += 1
    elif s.days_overdue >= 90:
        bands[2] += 1
    elif s.days_overdue > 60:
        bands[1] += 1
    else:
        bands[0] += 1
print(json.dumps({"units": Unit.objects.count(), "bands": bands}))
"""


def wuye(*args: str) -> list[str]:
    return [sys.executable, "-m", "wuye", *args]


def postgres_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        sys.exit("DATABASE_URL 里没有数据库名。")
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True), name


def fresh_postgres(url: str) -> str:
    """Drop and re-create the database named in ``url``; returns the server version."""
    from psycopg import sql

    conn, name = postgres_admin(url)
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def drop_postgres(url: str) -> None:
    from psycopg import sql

    conn, name = postgres_admin(url)
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], check=True,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "未知"
    return commit + ("-dirty" if dirty else "")


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``, echoing its output; returns (wall seconds, peak RSS in MB, output) of that process."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in child.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd[2:])} 失败（退出码 {os.waitstatus_to_exitcode(status)}），未记录结果。")
    peak_kb = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS
    return seconds, peak_kb / 1024, "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="测量 wuye seed --months 在全新数据库上的耗时和峰值内存。")
    parser.add_argument("--units", type=int, required=True, help="房屋数，例如 1000000")
    parser.add_argument("--months", type=int, default=12, help="历史月数（默认 12）")
    parser.add_argument("--seed", type=int, default=1, help="随机种子（默认 1）")
    parser.add_argument("--keep", action="store_true", help="保留数据库（默认测完删除，磁盘有限）")
    parser.add_argument("--fast-history", action="store_true",
                        help="不足 20,000 套房屋也用集合式生成器（传给 wuye seed）")
    args = parser.parse_args()

    env = dict(os.environ, WUYE_LOG_LEVEL="WARNING")
    url = env.get("DATABASE_URL", "")
    tmpdir = None
    if url:
        backend = f"PostgreSQL {fresh_postgres(url)}"
        print(f"已重建数据库 {urlsplit(url).path.lstrip('/')}，正在迁移…", flush=True)
    else:
        tmpdir = tempfile.mkdtemp(prefix="wuye-bench-")
        env.pop("WUYE_SQLITE_PATH", None)
        env["WUYE_DATA_DIR"] = tmpdir
        backend = f"SQLite {sqlite3.sqlite_version}"
        print(f"SQLite 数据目录 {tmpdir}，正在迁移…", flush=True)
    try:
        subprocess.run(wuye("migrate", "-v", "0"), env=env, check=True)
        command = ["seed", "--units", str(args.units), "--seed", str(args.seed), "--months", str(args.months)]
        if args.fast_history:
            command.append("--fast-history")
        print(f"开始：wuye {' '.join(command)}（{backend}）", flush=True)
        seconds, peak_mb, out = run_measured(wuye(*command), env)
        estate = re.search(r"完成，用时 ([\d.]+) 秒", out)
        history = json.loads(out.strip().splitlines()[-1])
        started = time.perf_counter()
        ledger = subprocess.run(wuye("check_ledger"), env=env, capture_output=True, text=True)
        ledger_s = time.perf_counter() - started
        ledger_out = json.loads(ledger.stdout.strip().splitlines()[-1])
        print(f"check_ledger：{ledger_out}，{ledger_s:.1f} 秒", flush=True)
        bands_out = subprocess.run(wuye("shell", "-c", BANDS), env=env, check=True, capture_output=True,
                                   text=True).stdout
        mix = json.loads(bands_out.strip().splitlines()[-1])
    finally:
        if url and not args.keep:
            drop_postgres(url)
            print(f"已删除数据库 {urlsplit(url).path.lstrip('/')}", flush=True)
        if tmpdir and not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)

    owing = sum(mix["bands"])
    near, _two_three, middle, far = mix["bands"]
    share = (f"{owing / mix['units']:.1%}（{near / mix['units']:.1%} / {middle / mix['units']:.1%} / "
             f"{far / mix['units']:.1%}）")
    ledger_text = f"{ledger_out['mismatches']} 处差异，{ledger_s:.0f} 秒"
    forced = "（--fast-history）" if args.fast_history else ""
    line = (f"| {dt.datetime.now():%Y-%m-%d %H:%M} | {backend} | {args.units:,}{forced} | {args.months} | {seconds:.0f} | "
            f"{float(estate.group(1)) if estate else 0:.0f} | {history.get('seconds', 0):.0f} | {peak_mb:.0f} | "
            f"{history.get('bills', 0):,} | {history.get('payments', 0):,} | {ledger_text} | {share} | "
            f"{git_commit()} |\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as results:
        if new:
            results.write(
                "# wuye seed --months 基准测试（房屋 + 出账收款历史）\n\n"
                "复现（PostgreSQL，数据库会被删除重建，测完删除）：\n\n"
                "```sh\nDATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_history \\\n"
                "    python bench/bench_history.py --units 1000000 --months 12 --seed 1\n```\n\n"
                "即在全新数据库上 `wuye migrate` 后计时 `wuye seed --units 1000000 --seed 1 --months 12`"
                "（超过 20,000 套房屋时历史由集合式生成器 `wuye.billing.fast_history` 写入），"
                "再运行 `wuye check_ledger`，并用 `account_summaries` 按今天统计欠费户。"
                "峰值内存是 seed 进程自身的 ru_maxrss，不含 PostgreSQL 服务端。每行一次运行。\n\n" + HEADER)
        results.write(line)
    print(f"总耗时 {seconds:.1f} 秒，峰值内存 {peak_mb:.0f} MB；已追加到 {RESULTS.relative_to(ROOT)}")
    if ledger_out["mismatches"]:
        sys.exit("check_ledger 报告差异！")


if __name__ == "__main__":
    main()
