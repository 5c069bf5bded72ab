import datetime as dt
import json
import time

from django.core.management.base import BaseCommand, CommandError

from wuye.billing.synthetic import seed_history
from wuye.estate.models import Project


class Command(BaseCommand):
    help = "为已有项目生成收费标准和若干个月的出账、收款历史（确定性，可复现）。"

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=24, help="历史月数，默认 24")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--project", action="append", help="项目编码（可重复）；不填则全部项目")
        parser.add_argument("--as-of", help="历史截止日期 YYYY-MM-DD，默认今天")
        parser.add_argument("--collector", help="以该收费员名义生成减免、分期申请（演示用）")
        parser.add_argument("--manager", help="以该经理名义审批部分申请（演示用）")

    def handle(self, *args, months, seed, project, as_of, collector=None, manager=None, **options):
        projects = Project.objects.order_by("code")
        if project:
            projects = projects.filter(code__in=project)
        projects = list(projects)
        if not projects:
            raise CommandError("没有可生成历史的项目。")
        try:
            day = dt.date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise CommandError("--as-of 格式应为 YYYY-MM-DD。") from exc
        started = time.monotonic()
        from wuye.accounts.models import User

        requester = User.objects.filter(username=collector).first() if collector else None
        approver = User.objects.filter(username=manager).first() if manager else None
        if (collector and requester is None) or (manager and approver is None):
            raise CommandError("找不到指定的收费员或经理账号。")
        counts = seed_history(projects=projects, months=months, seed=seed, as_of=day, requester=requester,
                              approver=approver)
        counts["seconds"] = round(time.monotonic() - started, 1)
        self.stdout.write(json.dumps(counts, ensure_ascii=False))
