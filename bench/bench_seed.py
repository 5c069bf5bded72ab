"""Benchmark ``wuye seed``: wall time and peak memory of seeding N units into a fresh database.

    python bench/bench_seed.py --units 1000000 [--seed 1] [--keep]

* With ``DATABASE_URL`` set (PostgreSQL): the database named in the URL is dropped and re-created, then
  ``wuye migrate`` runs; only the seed itself is measured.
* Without it: SQLite in a temporary ``WUYE_DATA_DIR`` (removed afterwards unless ``--keep``).

The peak RSS is the seed process's own ``ru_maxrss`` (``os.wait4`` gives the rusage of that one child, the
same figure ``resource.getrusage(RUSAGE_CHILDREN)`` reports, without the migrate step mixed in).
Each run appends a line to ``bench/results/seed.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "seed.md"
HEADER = "| 日期 | 数据库 | 房屋数 | 耗时（秒） | 峰值内存（MB） | 提交 |\n|---|---|---:|---:|---:|---|\n"


def wuye(*args: str) -> list[str]:
    return [sys.executable, "-m", "wuye", *args]


def fresh_postgres(url: str) -> str:
    """Drop and re-create the database named in ``url``; returns the server version."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        sys.exit("DATABASE_URL 里没有数据库名。")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], check=True,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "未知"
    return commit + ("-dirty" if dirty else "")


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; returns (wall seconds, peak RSS in MB) of that process."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env)
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"seed 失败（退出码 {child.returncode}），未记录结果。")
    peak_kb = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS
    return seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description="测量 wuye seed 在全新数据库上的耗时和峰值内存。")
    parser.add_argument("--units", type=int, required=True, help="房屋数，例如 1000000")
    parser.add_argument("--seed", type=int, default=1, help="随机种子（默认 1）")
    parser.add_argument("--keep", action="store_true", help="保留 SQLite 临时目录")
    args = parser.parse_args()

    env = dict(os.environ)
    tmpdir = None
    url = env.get("DATABASE_URL", "")
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
        print(f"开始：wuye seed --units {args.units} --seed {args.seed}（{backend}）", flush=True)
        seconds, peak_mb = run_measured(wuye("seed", "--units", str(args.units), "--seed", str(args.seed)), env)
    finally:
        if tmpdir and not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)

    line = (f"| {dt.datetime.now():%Y-%m-%d %H:%M} | {backend} | {args.units:,} | {seconds:.1f} | "
            f"{peak_mb:.0f} | {git_commit()} |\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as out:
        if new:
            out.write("# wuye seed 基准测试\n\n由 `python bench/bench_seed.py --units N` 追加，每行一次运行。\n\n"
                      + HEADER)
        out.write(line)
    print(f"耗时 {seconds:.1f} 秒，峰值内存 {peak_mb:.0f} MB；已追加到 {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
