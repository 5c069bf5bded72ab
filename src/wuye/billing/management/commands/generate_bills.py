import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count

from wuye.billing.services import bill_generate, bill_plan
from wuye.estate.models import Project, Unit

# Without --workers, an estate of at least this many units is billed by one process per core (at most
# MAX_AUTO_WORKERS) on PostgreSQL: a million units take 68 s in one process and 38 s in two on two cores
# (bench/results/billing.md); below it the children's start costs more than it saves.
PARALLEL_MIN_UNITS = 100_000
MAX_AUTO_WORKERS = 4


def partition(sizes: dict[str, int], workers: int) -> list[list[str]]:
    """Split projects into ``workers`` groups of about equal unit counts (largest first, greedy)."""
    groups: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for code, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        i = loads.index(min(loads))
        groups[i].append(code)
        loads[i] += size
    return [g for g in groups if g]


def auto_workers(projects) -> int:
    """How many processes bill ``projects`` when ``--workers`` is not given: one per core (at most
    ``MAX_AUTO_WORKERS``) on PostgreSQL for an estate of ``PARALLEL_MIN_UNITS`` units or more, else one."""
    cores = min(os.cpu_count() or 1, MAX_AUTO_WORKERS)
    if connection.vendor != "postgresql" or cores < 2:
        return 1
    return cores if Unit.objects.filter(project__in=projects).count() >= PARALLEL_MIN_UNITS else 1


class Command(BaseCommand):
    help = "按账期生成应收账单（幂等：重复运行不会重复出账）。"

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="账期，格式 YYYY-MM")
        parser.add_argument("--project", action="append", help="项目编码（可重复）；不填则所有项目")
        parser.add_argument("--preview", action="store_true", help="只预览，不写入")
        parser.add_argument("--workers", type=int, default=None,
                            help="并行进程数（PostgreSQL；各项目的出账相互独立）。默认：PostgreSQL 上房屋数达到 "
                                 f"{PARALLEL_MIN_UNITS:,} 套时每个 CPU 核一个进程（最多 {MAX_AUTO_WORKERS} 个），否则 1")
        # a child of a parallel run: its projects are a share of "all projects", not projects asked for by name,
        # so one whose billing months do not include the period is skipped as in a one-process run
        parser.add_argument("--part-of-all", action="store_true", help=argparse.SUPPRESS)
        from wuye import fanout

        fanout.add_arguments(parser)

    def handle(self, *args, period: str, project: list[str] | None, preview: bool, workers: int | None,
               part_of_all: bool = False, **options):
        try:
            day = dt.datetime.strptime(period, "%Y-%m").date()
        except ValueError as exc:
            raise CommandError("账期格式应为 YYYY-MM，例如 2026-07。") from exc
        if isinstance(project, str):  # call_command(project="T1")
            project = [project]
        projects = Project.objects.order_by("code")
        if project:
            projects = projects.filter(code__in=project)
            missing = set(project) - set(projects.values_list("code", flat=True))
            if missing:
                raise CommandError(f"没有编码为 {'、'.join(sorted(missing))} 的项目。")
        if options.get("distributed"):
            if preview or (workers or 1) > 1:
                raise CommandError("--distributed 不能与 --preview 或 --workers 同用。")
            from wuye import fanout

            fanout.command_run(self, kind="bills", key=f"{day:%Y-%m}", projects=list(projects), options=options,
                               head={"period": f"{day:%Y-%m}"}, explicit=bool(project))
            return
        started = time.monotonic()
        if workers is None:
            workers = 1 if preview or project else auto_workers(projects)
        if workers > 1 and not preview:
            if connection.vendor != "postgresql":
                raise CommandError("--workers 只用于 PostgreSQL；SQLite 同一时刻只能有一个写入者。")
            result = self._parallel(period, projects, workers)
        else:
            result = self._run(day, projects, preview, explicit=bool(project) and not part_of_all)
        result = {"period": period, **result, "seconds": round(time.monotonic() - started, 2)}
        if preview:
            result["preview"] = True
        self.stdout.write(json.dumps(result))

    def _run(self, day, projects, preview, explicit):
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
                if "period" in exc.message_dict and not explicit:
                    continue  # not a billing month of this project
                raise CommandError(f"{p.code}：" + "；".join(m for ms in exc.message_dict.values() for m in ms)) from exc
            if run is not None:
                created += run.bills_created
                amount += run.amount_fen
        return {"bills_created": created, "amount_fen": amount}

    def _parallel(self, period, projects, workers):
        sizes = dict(projects.annotate(n=Count("units")).values_list("code", "n"))
        children = []
        for group in partition(sizes, workers):
            args = [sys.executable, "-m", "wuye", "generate_bills", "--period", period, "--workers", "1",
                    "--part-of-all"]
            for code in group:
                args += ["--project", code]
            children.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        created = amount = 0
        failures = []
        for child in children:
            out, err = child.communicate()
            if child.returncode != 0:
                failures.append(err.strip().splitlines()[-1] if err.strip() else f"exit {child.returncode}")
                continue
            part = json.loads(out.strip().splitlines()[-1])
            created += part["bills_created"]
            amount += part["amount_fen"]
        if failures:
            raise CommandError("部分项目出账失败（其余已完成，重跑只会补出未出的账单）：" + "；".join(failures))
        return {"bills_created": created, "amount_fen": amount}
