"""wuye close_month --period YYYY-MM: write the month's snapshot, or (when closed) its adjustment lines;
with --provisional, the provisional snapshot of the month in progress (what the hourly job writes: only what
changed since the last one; add --full to recompute and rewrite all of it)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from wuye.insights.services import month_close


class Command(BaseCommand):
    help = "月结：写入该月的指标快照；已月结的月份只把之后入账的差额记为调整行（幂等）。"

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="月份 YYYY-MM")
        parser.add_argument("--today", help="以哪天为今天（YYYY-MM-DD，默认今天）")
        parser.add_argument("--provisional", action="store_true",
                            help="本月临时快照（截至此刻；首页和下钻读它，每小时由任务更新）")
        parser.add_argument("--full", action="store_true",
                            help="与 --provisional 一起：全量重算临时快照（默认只重算上次以来有变动的楼栋）")

    def handle(self, *args, period: str, today: str | None = None, provisional: bool = False, full: bool = False,
               **options):
        try:
            first = dt.date.fromisoformat(f"{period}-01")
            day = dt.date.fromisoformat(today) if today else None
        except ValueError as exc:
            raise CommandError(f"日期格式不对：{exc}") from exc
        try:
            closing, written = month_close(period=first, actor_label="cli:close_month", today=day,
                                           provisional=provisional, full=full)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if provisional:
            self.stdout.write(f"{first:%Y-%m} 临时快照：写入 {written} 行")
            return
        what = "快照" if closing.revisions == 0 and closing.rechecked_at is None else f"调整（第 {closing.revisions} 次）"
        self.stdout.write(f"{first:%Y-%m} 月结{what}：写入 {written} 行")
