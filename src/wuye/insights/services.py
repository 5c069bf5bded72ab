"""Writes of the insights app: month-end close (snapshot, then adjustment lines), the current month's figures,
targets. The close is idempotent: closing a closed month writes nothing unless the ledger's figures for it
have changed since, and then only the difference, as one new revision of adjustment rows."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.common.bulk import insert_rows
from wuye.estate.models import Project
from wuye.insights.metrics import Window, collectors_by_floor, month_end, month_start, rows, unit_ageing
from wuye.insights.models import MEASURES, FigureKind, MonthClose, MonthFigure, Target, UnitFigure

FIGURE_COLUMNS = ("period", "kind", "revision", "recorded_at", "project_id", "building_id", "collector_id",
                  "fee_item_id", *MEASURES)


def _write(period: dt.date, kind: str, revision: int, found: dict, now: dt.datetime) -> int:
    data = [(period, kind, revision, now, p, b, c, item, *(values[m] for m in MEASURES))
            for (p, b, c, item), values in found.items()]
    if data:
        insert_rows(MonthFigure, FIGURE_COLUMNS, data)
    return len(data)


UNIT_COLUMNS = ("period", "kind", "revision", "project_id", "building_id", "collector_id", "fee_item_id", "unit_id",
                "bucket", "open_fen", "lines", "oldest_due")


def unit_figures_now(period: dt.date) -> dict:
    """The month's drill-down rows as the ledger says now: (project, building, collector, fee item, unit, bucket)
    → [open fen, lines, oldest due]; collectors by the territories of today, as ``rows`` assigns them."""
    found = unit_ageing(Window.of(period))
    who = collectors_by_floor([(p, b, f) for p, b, f, *_ in found])
    return {(p, b, who[(b, f)], item, unit, bucket): [fen, n, oldest]
            for p, b, f, item, unit, bucket, fen, n, oldest in found}


def _write_units(period: dt.date, kind: str, revision: int, found: dict) -> int:
    data = [(period, kind, revision, *key, *values) for key, values in found.items()]
    if data:
        insert_rows(UnitFigure, UNIT_COLUMNS, data)
    return len(data)


def _units_delta(period: dt.date) -> dict:
    """What changed per unit row since the close: current minus snapshot plus adjustments (set-based reads)."""
    now_rows = unit_figures_now(period)
    recorded: dict = {}
    qs = UnitFigure.objects.filter(period=period).values_list(
        "project_id", "building_id", "collector_id", "fee_item_id", "unit_id", "bucket", "open_fen", "lines")
    for *key, fen, n in qs.iterator(chunk_size=5000):
        values = recorded.setdefault(tuple(key), [0, 0])
        values[0] += fen
        values[1] += n
    delta = {}
    for key in set(now_rows) | set(recorded):
        fen, n, oldest = now_rows.get(key, (0, 0, None))
        was = recorded.get(key, (0, 0))
        if fen != was[0] or n != was[1]:
            delta[key] = [fen - was[0], n - was[1], oldest]
    return delta


def _recorded(period: dt.date) -> dict:
    """The figures a closed month shows now: its snapshot plus every adjustment, at the snapshot's grain."""
    out: dict = {}
    qs = MonthFigure.objects.filter(period=period, kind__in=[FigureKind.CLOSE, FigureKind.ADJUST]).values_list(
        "project_id", "building_id", "collector_id", "fee_item_id", *MEASURES)
    for row in qs.iterator(chunk_size=5000):
        values = out.setdefault(row[:4], dict.fromkeys(MEASURES, 0))
        for name, v in zip(MEASURES, row[4:], strict=True):
            values[name] += v
    return out


@transaction.atomic
def month_close(*, period: dt.date, actor_label: str = "", today: dt.date | None = None) -> tuple[MonthClose, int]:
    """Close month ``period`` (or recheck it when closed): returns the close and the rows written.

    First close: the snapshot (kind ``close``). Later: the difference between what the ledger says about the
    month now and what was recorded, as adjustment rows of a new revision (none when nothing changed)."""
    period = month_start(period)
    today = today or timezone.localdate()
    if month_end(period) >= today:
        raise ValidationError({"period": f"{period:%Y-%m} 尚未结束，不能月结。"})
    t0 = time.monotonic()
    now = timezone.now()
    closing = MonthClose.objects.select_for_update().filter(period=period).first()
    found = rows(Window.of(period))
    if closing is None:
        written = _write(period, FigureKind.CLOSE, 0, found, now)
        _write_units(period, FigureKind.CLOSE, 0, unit_figures_now(period))
        closing = MonthClose.objects.create(period=period, closed_at=now, seconds=time.monotonic() - t0,
                                            actor_label=actor_label[:60])
        MonthFigure.objects.filter(period=period, kind=FigureKind.LIVE).delete()
        audit_record(actor=None, actor_label=actor_label or "insights", verb="insights.month_close",
                     obj=closing, after={"rows": written})
        return closing, written
    recorded = _recorded(period)
    delta = {}
    for key in set(found) | set(recorded):
        now_v, was = found.get(key, {}), recorded.get(key, {})
        diff = {m: now_v.get(m, 0) - was.get(m, 0) for m in MEASURES}
        if any(diff.values()):
            delta[key] = diff
    closing.rechecked_at = now
    units_delta = _units_delta(period)
    if delta or units_delta:
        closing.revisions += 1
        written = _write(period, FigureKind.ADJUST, closing.revisions, delta, now)
        _write_units(period, FigureKind.ADJUST, closing.revisions, units_delta)
        audit_record(actor=None, actor_label=actor_label or "insights", verb="insights.month_adjust",
                     obj=closing, after={"revision": closing.revisions, "rows": written})
    else:
        written = 0
    closing.save(update_fields=["rechecked_at", "revisions"])
    return closing, written


@transaction.atomic
def live_refresh(*, today: dt.date | None = None) -> int:
    """Recompute the month in progress (as of today) and replace its ``live`` rows."""
    today = today or timezone.localdate()
    period = month_start(today)
    found = rows(Window.of(period, today))
    MonthFigure.objects.filter(kind=FigureKind.LIVE).delete()
    return _write(period, FigureKind.LIVE, 0, found, timezone.now())


def close_due_months(*, today: dt.date | None = None, recheck: int = 3) -> list[tuple[dt.date, int]]:
    """The scheduled job: close last month (and any earlier month with figures but no close), then recheck
    the ``recheck`` closed months before it for late entries."""
    from wuye.billing.models import Bill
    from wuye.insights.metrics import add_months

    today = today or timezone.localdate()
    last = add_months(month_start(today), -1)
    done = []
    first_bill = Bill.objects.order_by("period_start").values_list("period_start", flat=True).first()
    if first_bill is None:
        return done
    closed = set(MonthClose.objects.values_list("period", flat=True))
    start = max(month_start(first_bill), add_months(last, -23))
    period = start
    while period <= last:
        if period not in closed or period >= add_months(last, -recheck):
            _, n = month_close(period=period, actor_label="job:close_month", today=today)
            done.append((period, n))
        period = add_months(period, 1)
    return done


@transaction.atomic
def target_set(*, actor: User, project: Project, period: dt.date, collection_rate: Decimal,
               clearance_rate: Decimal | None = None) -> Target:
    """A manager sets (or changes) a project's targets for a month."""
    from wuye.insights.permissions import can_set_targets

    if not can_set_targets(actor):
        raise ValidationError({"actor": "只有经理可以设定收费目标。"})
    for name, value in (("collection_rate", collection_rate), ("clearance_rate", clearance_rate)):
        if value is not None and not (Decimal(0) <= value <= Decimal(100)):
            raise ValidationError({name: "目标应在 0–100% 之间。"})
    period = month_start(period)
    before = Target.objects.filter(project=project, period=period).values("collection_rate",
                                                                           "clearance_rate").first()
    target, _ = Target.objects.update_or_create(
        project=project, period=period,
        defaults={"collection_rate": collection_rate, "clearance_rate": clearance_rate, "set_by": actor})
    audit_record(actor=actor, verb="insights.target_set", obj=target, project_id=project.pk,
                 before={k: str(v) for k, v in (before or {}).items()},
                 after={"collection_rate": str(collection_rate), "clearance_rate": str(clearance_rate)})
    return target
