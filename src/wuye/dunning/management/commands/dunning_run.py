"""wuye dunning_run --date YYYY-MM-DD [--project CODE] [--dry-run] [--full] [--workers N]"""

import argparse
import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from wuye.dunning.engine import dunning_run
from wuye.estate.models import Project


class Command(BaseCommand):
    help = "每日催缴决策：为每个欠费户决定今天的动作并写入发件箱（同一天重复运行不会重复生成）。"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="业务日期 YYYY-MM-DD（默认今天）")
        parser.add_argument("--project", help="只运行该项目（项目编码）")
        parser.add_argument("--dry-run", action="store_true", help="只显示将会发生什么，不写入")
        parser.add_argument("--full", action="store_true",
                            help="逐户重新决策全部账户（默认只决策有变更或到了下次决策日的账户）")
        parser.add_argument("--verbose-accounts", action="store_true", help="试运行时逐户列出决定与原因")
        parser.add_argument("--workers", type=int, default=None,
                            help="全部项目一起决策时按房屋拆分使用的进程数（仅 PostgreSQL；默认：待决策房屋达 10 万套时每个 CPU 核一个，"
                                 "最多 4 个，否则 1）")
        parser.add_argument("--estate-part", help=argparse.SUPPRESS)  # a child of a split pass (engine)
        from wuye import fanout

        fanout.add_arguments(parser)

    def handle(self, *args, date=None, project=None, dry_run=False, verbose_accounts=False, full=False,
               workers=None, estate_part=None, **options):
        if estate_part:
            from wuye.dunning.engine import run_estate_part

            self.stdout.write(json.dumps(run_estate_part(estate_part)))
            return
        if workers is not None and not 1 <= workers <= 64:
            raise CommandError("--workers 应为 1–64。")
        try:
            as_of = dt.date.fromisoformat(date) if date else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"日期格式应为 YYYY-MM-DD：{date}") from exc
        proj = None
        if project:
            proj = Project.objects.filter(code=project).first()
            if proj is None:
                raise CommandError(f"没有编码为 {project} 的项目。")
        if options.get("distributed"):
            if dry_run or full:
                raise CommandError("--distributed 不能与 --dry-run 或 --full 同用。")
            from wuye import fanout

            projects = [proj] if proj else list(Project.objects.order_by("pk"))
            fanout.command_run(self, kind="dunning", key=as_of.isoformat(), projects=projects, options=options,
                               head={"date": as_of.isoformat()})
            return
        result = dunning_run(as_of=as_of, project=proj, dry_run=dry_run, full=full, workers=workers)
        if result.alert:
            self.stderr.write(result.alert)
        if dry_run and verbose_accounts:
            for out in result.outcomes or []:
                what = "；".join(f"{d.step.name}（{d.why}）" for d in out.decisions)
                why = f"暂停：{out.held[1]}" if out.held else out.note
                self.stdout.write(f"unit {out.unit_id}: {what or '—'} {why}")
        self.stdout.write(result.as_json())
