"""Benchmark: the closed month's per-unit rows and drill-down, the monthly report PDF and the early-warning model,
on a copy of a seeded estate (already migrated; last month closed with ``wuye close_month``).

    createdb -h 127.0.0.1 -U postgres -T wuye_base wuye_insights_1m && DATABASE_URL=… wuye migrate
    DATABASE_URL=… wuye close_month --period 2026-11 --today 2026-12-04
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_insights_1m .venv/bin/python bench/bench_insights_risk.py \\
        --today 2026-12-04

Prints, one line each, with the load average beside it: ``metrics.unit_ageing`` of last month (the per-unit
query the close now runs), the closed month's drill-down (the largest building; the whole estate's first page,
server time through the test client, median of 3 after a warm-up), the report PDF, ``risk_model_train``
(validation + kept model) and ``risk_scores_refresh`` (every account). Not a test.
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


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label}: {time.perf_counter() - t0:.1f} s (load {load()})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--today", required=True)
    parser.add_argument("--skip-risk", action="store_true")
    parser.add_argument("--skip-ageing", action="store_true")
    args = parser.parse_args()
    import django

    django.setup()
    from django.db.models import Count
    from django.test import Client

    from wuye.accounts.choices import Role
    from wuye.accounts.models import User
    from wuye.insights.metrics import Window, add_months, month_start, unit_ageing
    from wuye.insights.models import MonthClose, UnitFigure
    from wuye.insights.services import risk_model_train, risk_scores_refresh

    today = dt.date.fromisoformat(args.today)
    last = add_months(month_start(today), -1)
    assert MonthClose.objects.filter(period=last).exists(), f"close {last:%Y-%m} first"
    if not args.skip_ageing:
        rows = timed(f"unit_ageing {last:%Y-%m}", lambda: unit_ageing(Window.of(last)))
        print(f"  {len(rows):,} rows; stored: {UnitFigure.objects.filter(period=last).count():,}")
    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"role": Role.MANAGER})
    client = Client()
    client.force_login(manager)
    building = (UnitFigure.objects.filter(period=last).values("building_id").annotate(n=Count("id"))
                .order_by("-n").first()["building_id"])
    for label, url in (("drill-down, largest building", f"/insights/units/?period={last:%Y-%m}&building={building}"),
                       ("drill-down, whole estate page 1", f"/insights/units/?period={last:%Y-%m}"),
                       ("report PDF", f"/insights/report/{last:%Y-%m}.pdf")):
        client.get(url)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, (url, r.status_code)
        print(f"{label}: {statistics.median(times) * 1000:.0f} ms median of 3 (load {load()})", flush=True)
    if args.skip_risk:
        return
    model = timed("risk_model_train", lambda: risk_model_train(today=today, actor_label="bench"))
    m = model.metrics
    print(f"  AUC {m['auc']} vs rule {m['baseline_auc']}; brier {m['brier']}; n_train {m['n_train']:,} "
          f"(every {m['sample_every']}th account), n_test {m['n_test']:,}, positives {m['positives']:,}; "
          f"test month {m['test_month']}, trained on {m['validation_train']}")
    n = timed("risk_scores_refresh", lambda: risk_scores_refresh(model=model))
    print(f"  {n:,} accounts scored")


if __name__ == "__main__":
    main()
