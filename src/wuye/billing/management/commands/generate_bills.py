import datetime as dt
import json
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from wuye.billing.services import bill_generate, bill_plan
from wuye.estate.models import Project


class Command(BaseCommand):
    help = "按账期生成应收账单（幂等：重复运行不会重复出账）。"

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="账期，格式 YYYY-MM")
        parser.add_argument("--project", help="项目编码；不填则所有项目")
        parser.add_argument("--preview", action="store_true", help="只预览，不写入")

    def handle(self, *args, period: str, project: str | None, preview: bool, **options):
        try:
            day = dt.datetime.strptime(period, "%Y-%m").date()
        except ValueError as exc:
            raise CommandError("账期格式应为 YYYY-MM，例如 2026-07。") from exc
        projects = Project.objects.order_by("code")
        if project:
            projects = projects.filter(code=project)
            if not projects.exists():
                raise CommandError(f"没有编码为 {project} 的项目。")
        started = time.monotonic()
        created = amount = 0
        for p in projects:
            try:
                if preview:
                    plan = bill_plan(project=p, period=day)
                    created += len(plan.drafts)
                    amount += plan.amount_fen
                    continue
                run = bill_generate(actor=None, actor_label="generate_bills", project=p, period=day)
            except ValidationError as exc:
                if "period" in exc.message_dict and not project:
                    continue  # not a billing month of this project
                raise CommandError(f"{p.code}：" + "；".join(m for ms in exc.message_dict.values() for m in ms)) from exc
            if run is not None:
                created += run.bills_created
                amount += run.amount_fen
        result = {"period": period, "bills_created": created, "amount_fen": amount,
                  "seconds": round(time.monotonic() - started, 2)}
        if preview:
            result["preview"] = True
        self.stdout.write(json.dumps(result))
