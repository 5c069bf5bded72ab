import datetime as dt
import json
import time

from django.core.management.base import BaseCommand, CommandError

from wuye.billing.fast_history import FAST_HISTORY_UNITS, seed_history_fast
from wuye.billing.synthetic import seed_history
from wuye.estate.models import Project, Unit


class Command(BaseCommand):
    help = (
        "为已有项目生成收费标准和若干个月的出账、收款历史（确定性，可复现）。"
        f"所选项目不超过 {FAST_HISTORY_UNITS:,} 套房屋时逐笔调用出账、收款服务（演示用，含减免、分期申请）；"
        "超过时（或指定 --fast-history）改用集合式 SQL 生成，百万套房屋几分钟完成，已有账单的项目跳过。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=24, help="历史月数，默认 24")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--project", action="append", help="项目编码（可重复）；不填则全部项目")
        parser.add_argument("--as-of", help="历史截止日期 YYYY-MM-DD，默认今天")
        parser.add_argument("--collector", help="以该收费员名义生成减免、分期申请（演示用）")
        parser.add_argument("--manager", help="以该经理名义审批部分申请（演示用）")
        parser.add_argument("--fast-history", action="store_true",
                            help=f"用集合式 SQL 生成（不经服务逐笔处理，无减免、分期申请）；"
                                 f"超过 {FAST_HISTORY_UNITS:,} 套房屋且未指定 --collector/--manager 时自动使用")

    def handle(self, *args, months, seed, project, as_of, collector=None, manager=None, fast_history=False,
               **options):
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
        demo_requests = bool(collector or manager)
        if fast_history and demo_requests:
            raise CommandError("--fast-history 不生成减免、分期申请，不能与 --collector/--manager 同用。")
        if fast_history or (not demo_requests
                            and Unit.objects.filter(project__in=projects).count() > FAST_HISTORY_UNITS):
            counts = seed_history_fast(projects=projects, months=months, seed=seed, as_of=day, stdout=self.stdout)
        else:
            counts = seed_history(projects=projects, months=months, seed=seed, as_of=day, requester=requester,
                                  approver=approver)
        counts["seconds"] = round(time.monotonic() - started, 1)
        self.stdout.write(json.dumps(counts, ensure_ascii=False))
