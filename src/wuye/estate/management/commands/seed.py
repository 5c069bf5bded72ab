"""``wuye seed --units N --seed S [--demo]`` — fill the database with a deterministic synthetic estate."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from wuye.estate.synthetic import DEMO_SEED, SeedConflict, seed_estate

LABELS = {
    "projects": "项目",
    "buildings": "楼栋",
    "units": "房屋",
    "unit_state_changes": "入住状态记录",
    "parties": "业户（含开发商、租户）",
    "occupancies": "产权/租住关系",
    "contacts": "联系方式",
}


class Command(BaseCommand):
    help = (
        "生成确定性的模拟物业数据：项目、楼栋、房屋、业主/租户、联系方式。同一个种子总是生成同样的数据；"
        "--demo 生成三个固定的演示项目（翠湖花园、锦绣家园、金融中心大厦）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--units", type=int, default=None, help="房屋总数，例如 1000000")
        parser.add_argument("--seed", type=int, default=1, help="随机种子（默认 1），决定全部数据和项目编码")
        parser.add_argument("--demo", action="store_true",
                            help=f"只生成三个演示项目（约 1,500 套房屋，种子固定为 {DEMO_SEED}），忽略 --units")
        parser.add_argument("--months", type=int, default=0,
                            help="再生成 M 个月的出账与收款历史（由账单模块的 seed_billing 完成；"
                                 "超过 20,000 套房屋时自动用集合式 SQL 生成）")
        parser.add_argument("--fast-history", action="store_true",
                            help="历史一律用集合式 SQL 生成（传给 seed_billing），小规模也不逐笔调用服务")

    def handle(self, *args, units, seed, demo, months, fast_history=False, **options):
        if not demo:
            if units is None:
                raise CommandError("请用 --units 指定房屋数量，或用 --demo 生成演示项目。")
            if units < 1:
                raise CommandError("--units 必须是正整数。")
        started = time.perf_counter()
        try:
            counts = seed_estate(units=units or 0, seed=seed, demo=demo, stdout=self.stdout)
        except SeedConflict as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write("已写入：")
        for key, label in LABELS.items():
            self.stdout.write(f"  {label}：{counts.get(key, 0):,}")
        rate = counts.get("units", 0) / elapsed if elapsed else 0
        self.stdout.write(self.style.SUCCESS(f"完成，用时 {elapsed:.1f} 秒（每秒 {rate:,.0f} 套房屋）。"))
        if months > 0:
            # By command name: the estate module does not import billing (data flows one way).
            from django.core.management import call_command

            self.stdout.write(f"正在生成 {months} 个月的出账与收款历史……")
            call_command("seed_billing", months=months, seed=seed, project=counts.get("project_codes"),
                         fast_history=fast_history, stdout=self.stdout)
