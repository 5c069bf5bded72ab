"""Benchmark printed notices: render N collection notices (one A4 page each) into one PDF.

    WUYE_DATA_DIR=var python bench/bench_notices.py [--count 1000]     # after `make demo` (or any seeded DB)

Takes the N most recent arrears actions of the database (any channel: the page is the same), renders them
with ``wuye.dunning.notices.notices_pdf`` and appends the figure to ``bench/results/notices.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seed import git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "notices.md"


def main() -> None:
    parser = argparse.ArgumentParser(description="测量书面催缴通知的 PDF 生成速度。")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from wuye.dunning.models import Action
    from wuye.dunning.notices import notices_pdf

    actions = list(Action.objects.filter(episode__isnull=False).select_related("unit__project", "step__template")
                   .order_by("-decided_on", "unit_id").distinct()[:args.count])
    if len(actions) < args.count:
        sys.exit(f"只有 {len(actions)} 个催缴动作；先运行 make demo 或 wuye dunning_run。")
    started = time.perf_counter()
    pdf = notices_pdf(actions, as_of=timezone.localdate())
    seconds = time.perf_counter() - started
    print(f"{args.count} notices, {len(pdf) / 1e6:.1f} MB, {seconds:.1f} s ({args.count / seconds:.0f}/s)")
    if not RESULTS.exists():
        RESULTS.write_text("# 书面通知 PDF 基准\n\n由 `bench/bench_notices.py` 生成。\n\n"
                           "| 日期 | 数据库 | 份数 | 耗时（秒） | 文件（MB） | 提交 |\n|---|---|---:|---:|---:|---|\n",
                           encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(f"| {dt.date.today()} | {connection.vendor} | {args.count:,} | {seconds:.1f} | "
                f"{len(pdf) / 1e6:.1f} | {git_commit()} |\n")


if __name__ == "__main__":
    main()
