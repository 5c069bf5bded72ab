import json
import sys

from django.core.management.base import BaseCommand

from wuye.accounts.services import audit_record
from wuye.billing.ledger import check_ledger


class Command(BaseCommand):
    help = "从账目明细重算每笔账单和每户预存余额，报告差异（有差异时退出码为 1）。"

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="只检查一个项目（项目 id）")
        parser.add_argument("--rebuild", action="store_true", help="按明细重建缓存字段（记录审计事件）")
        parser.add_argument("--verbose-problems", action="store_true", help="逐条列出差异")

    def handle(self, *args, project=None, rebuild=False, verbose_problems=False, **options):
        report = check_ledger(rebuild=rebuild, project_id=project)
        if rebuild and report.mismatches:
            audit_record(actor=None, actor_label="check_ledger --rebuild", verb="ledger.rebuild",
                         after=report.as_dict())
        if verbose_problems:
            for line in report.problems:
                self.stderr.write(line)
        out = {"units_checked": report.units_checked, "mismatches": report.mismatches}
        self.stdout.write(json.dumps(out))
        if report.mismatches:
            sys.exit(1)
