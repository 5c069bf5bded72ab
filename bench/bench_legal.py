"""Benchmark: limitation clocks for every open line of a large estate, and one evidence pack.

    createdb -h 127.0.0.1 -U postgres -T wuye_base wuye_bench_legal          # a copy of the 1M-unit estate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_legal .venv/bin/wuye migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bench_legal .venv/bin/python bench/bench_legal.py \\
        --synthesize --date 2026-12-04
    dropdb -h 127.0.0.1 -U postgres wuye_bench_legal

Steps: with ``--synthesize`` (once per database), delivered written demands are written straight into the
outbox — a delivered SMS naming the periods overdue on 2026-06-01 for three units in five, a signed registered
letter naming those overdue on 2026-09-10 for one in five — so the clock has interruptions to read (the seeded
estate has payments, allocations and disputes but no outbox). Then:
1. ``legal.clocks.limitation_clocks`` over the whole estate (grouped reads, every open matured line), timed
   three times (median);
2. ``legal.selectors.expiring_periods(within_days=90)`` (what the engine's 时效保全 step reads), timed;
3. a debtor with 36 billing periods and 200 delivered actions (each with events) is written, a case opened,
   and ``legal.pack.build_pack`` timed (median of three; sealing runs before the first).
Prints one line per measurement. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")


def _median(fn, n=3):
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def synthesize(day: dt.date) -> int:
    from django.db import connection, transaction

    from wuye.dunning.models import Action, Policy, Step
    from wuye.estate.models import Project

    if Action.objects.filter(actor_label="bench:legal").exists():
        return 0
    project = Project.objects.order_by("pk").first()
    policy = Policy.objects.create(project=project, name="bench legal")
    sms = Step.objects.create(policy=policy, order=10, name="bench 短信", kind="overdue", days=1, channel="sms")
    reg = Step.objects.create(policy=policy, order=20, name="bench 挂号信", kind="overdue", days=90, channel="registered")
    sql = """
        INSERT INTO dunning_action (project_id, unit_id, step_id, cycle, decided_on, channel, stage, not_before,
            status, attempts, claimed_by, out_id, overdue_fen, periods, content, content_sha256, address, provider,
            provider_message_id, sent_at, delivered_at, last_error, actor_label, created_at)
        SELECT b.project_id, b.unit_id, %(step)s, %(cycle)s, %(day)s, %(channel)s, 10, %(at)s, 'delivered', 1, '',
               %(prefix)s || b.unit_id, SUM(b.amount_fen - b.settled_fen),
               jsonb_agg(DISTINCT to_char(b.period_start, 'YYYY-MM-DD')), '欠费催缴（基准测试）', '', '', 'bench', '',
               %(at)s, %(at)s, '', 'bench:legal', now()
        FROM billing_bill b
        WHERE NOT b.is_void AND b.late_fee_of_id IS NULL AND b.settled_fen < b.amount_fen AND b.due_date < %(day)s
          AND b.unit_id %% 5 < %(share)s
        GROUP BY b.project_id, b.unit_id"""
    n = 0
    with transaction.atomic(), connection.cursor() as cur:
        for step, channel, when, share in ((sms, "sms", dt.date(2026, 6, 1), 3), (reg, "registered", dt.date(2026, 9, 10), 1)):
            at = dt.datetime.combine(when, dt.time(10), tzinfo=dt.timezone(dt.timedelta(hours=8)))
            cur.execute(sql, {"step": step.pk, "cycle": f"B{when}", "day": when, "channel": channel, "at": at,
                              "prefix": f"bench-{channel}-", "share": share})
            n += cur.rowcount
    return n


def pack_fixture(day: dt.date):
    """A debtor with 36 monthly lines and 200 delivered actions (with two events each), and an open case."""
    from django.db import transaction

    from wuye.accounts.models import User
    from wuye.billing.models import Bill, FeeItem
    from wuye.dunning.models import Action, ActionEvent, Policy, Step
    from wuye.estate.models import Building, Occupancy, Party, Project, Unit
    from wuye.legal import services
    from wuye.legal.models import LegalCase

    user, _ = User.objects.get_or_create(username="bench-legal", defaults={"role": "legal"})
    existing = LegalCase.objects.filter(party__natural_key="bench:pack-debtor").first()
    if existing:
        return user, existing
    with transaction.atomic():
        project = Project.objects.create(code="BENCH-LEGAL", name="基准花园", city="杭州")
        building = Building.objects.create(project=project, code="1", name="1幢")
        unit = Unit.objects.create(project=project, building=building, number="101", code="1-101", property_type="high_rise",
                                   area=100, state="self")
        party = Party.objects.create(name="基准业主", natural_key="bench:pack-debtor")
        Occupancy.objects.create(unit=unit, party=party, role="owner", start=dt.date(2020, 1, 1))
        fee = FeeItem.objects.create(project=project, code="wy", name="物业服务费", kind="service", pricing="area")
        first = dt.date(day.year - 3, day.month, 1)
        periods = [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(36)]
        Bill.objects.bulk_create(Bill(project=project, unit=unit, party=party, fee_item=fee, period_start=p,
                                      period_end=p.replace(day=28), amount_fen=25_000, due_date=p.replace(day=15),
                                      rule="2.50 元/m²/月 × 100 m²") for p in periods)
        policy = Policy.objects.create(project=project, name="bench")
        step = Step.objects.create(policy=policy, order=10, name="欠费短信", kind="overdue", days=1, channel="sms")
        actions = []
        for i in range(200):
            sent = dt.datetime.combine(periods[min(35, i * 36 // 200)] + dt.timedelta(days=20), dt.time(10),
                                       tzinfo=dt.UTC)
            named = [p.isoformat() for p in periods if p.replace(day=15) < sent.date()]
            actions.append(Action(project=project, unit=unit, step=step, cycle=f"B{i}", decided_on=sent.date(),
                                  channel="sms", stage=10, not_before=sent, status="delivered", out_id=f"bench-pack-{i}",
                                  periods=named, content=f"尊敬的业主，您的房屋 1-101 尚欠物业费，请于期限内缴纳。第 {i} 次提醒。",
                                  content_sha256="0" * 64, address="13800000000", provider="bench",
                                  provider_message_id=f"m{i}", sent_at=sent, delivered_at=sent + dt.timedelta(seconds=7)))
        Action.objects.bulk_create(actions)
        ActionEvent.objects.bulk_create(
            [ActionEvent(action=a, at=a.sent_at, status="sent", detail="平台已受理", actor_label="job:dispatch")
             for a in actions]
            + [ActionEvent(action=a, at=a.delivered_at, status="delivered", detail="用户短信送达成功",
                           actor_label="job:receipt") for a in actions])
    case = services.case_open(actor=user, project=project, party=party, on=day)
    return user, case


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--date", default=None, help="业务日期 YYYY-MM-DD（默认今天）")
    parser.add_argument("--synthesize", action="store_true", help="写入模拟的已送达催缴（每个库一次）")
    parser.add_argument("--skip-estate", action="store_true", help="只测证据包")
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    day = dt.date.fromisoformat(args.date) if args.date else timezone.localdate()
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; date {day}")
    if args.synthesize:
        t0 = time.perf_counter()
        n = synthesize(day)
        print(f"synthesized {n:,} delivered demands in {time.perf_counter() - t0:.1f} s")
    if not args.skip_estate:
        from wuye.legal.clocks import limitation_clocks
        from wuye.legal.selectors import expiring_periods

        seconds, clocks = _median(lambda: limitation_clocks(as_of=day))
        interrupted = sum(1 for lc in clocks if lc.clock.applied)
        print(f"limitation clocks, whole estate: {len(clocks):,} open lines ({interrupted:,} interrupted) "
              f"in {seconds:.2f} s (median of 3)")
        del clocks
        seconds, periods = _median(lambda: expiring_periods(as_of=day, within_days=90), n=1)
        print(f"expiring_periods(within 90 days): {len(periods):,} accounts in {seconds:.2f} s")
    from wuye.legal.pack import build_pack

    user, case = pack_fixture(day)
    t0 = time.perf_counter()
    build_pack(actor=user, case=case, as_of=day)
    first = time.perf_counter() - t0
    seconds, pack = _median(lambda: build_pack(actor=user, case=case, as_of=day))
    print(f"evidence pack, 36 periods / 200 actions: {pack.pages} pages, {pack.exhibits} exhibits, "
          f"{pack.zip.size / 1024:.0f} KiB zip in {seconds:.2f} s (median of 3; first with sealing {first:.2f} s)")


if __name__ == "__main__":
    main()
