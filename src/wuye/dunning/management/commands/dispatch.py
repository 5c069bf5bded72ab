"""wuye dispatch [--now YYYY-MM-DDTHH:MM] [--limit N] [--batch N]

Any number of these may run at once, on any number of machines: actions are claimed one by one and
accounts are held while their caps are read (docs/collection.md, Dispatch)."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wuye.dunning.dispatch import BATCH, dispatch


class Command(BaseCommand):
    help = "发送此刻到期的催缴动作（只在联系时段内发送；时段外的计为顺延）。"

    def add_arguments(self, parser):
        parser.add_argument("--now", help="以该时刻为“现在”（本地时间 YYYY-MM-DDTHH:MM，用于测试与补发）")
        parser.add_argument("--limit", type=int, help="最多发送条数")
        parser.add_argument("--batch", type=int, default=BATCH, help=f"每批领取的动作数（默认 {BATCH}）")

    def handle(self, *args, now=None, limit=None, batch=BATCH, **options):
        at = None
        if now:
            try:
                at = dt.datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"时间格式应为 YYYY-MM-DDTHH:MM：{now}") from exc
            if at.tzinfo is None:
                at = at.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
        if batch < 1:
            raise CommandError("--batch 至少为 1")
        result = dispatch(now=at, limit=limit, batch=batch)
        for alert in result.alerts:
            self.stderr.write(alert)
        self.stdout.write(result.as_json())
