"""Writes of the insights app: month-end close (snapshot, then adjustment lines), the current month's figures,
targets. The close is idempotent: closing a closed month writes nothing unless the ledger's figures for it
have changed since, and then only the difference, as one new revision of adjustment rows."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.common.bulk import insert_rows
from wuye.estate.models import Project
from wuye.insights.metrics import Window, month_end, month_start
from wuye.insights.models import (
    MEASURES,
    FigureKind,
    LiveSnapshot,
    MonthClose,
    MonthFigure,
    MonthRollup,
    RiskModel,
    RiskScore,
    Target,
    UnitFigure,
    UnitTotal,
)
from wuye.insights.snapshot import Snapshot, totals_rebuild

FIGURE_COLUMNS = ("period", "kind", "revision", "recorded_at", "project_id", "building_id", "collector_id",
                  "fee_item_id", *MEASURES)


def _write(period: dt.date, kind: str, revision: int, found: dict, now: dt.datetime) -> int:
    """Write figure rows of one kind and revision, and their roll-up by project × collector × fee item."""
    data = [(period, kind, revision, now, p, b, c, item, *(values[m] for m in MEASURES))
            for (p, b, c, item), values in found.items()]
    if data:
        insert_rows(MonthFigure, FIGURE_COLUMNS, data)
        rollup_write(period, kind, revision)
    return len(data)


def rollup_write(period: dt.date, kind: str, revision: int) -> int:
    """``MonthRollup`` rows of the figures of (period, kind, revision): one grouped INSERT … SELECT."""
    from django.db import connection

    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    with connection.cursor() as cur:
        cur.execute(f"""
            INSERT INTO {MonthRollup._meta.db_table} (period, kind, revision, project_id, collector_id, fee_item_id,
                                                      {", ".join(MEASURES)})
            SELECT period, kind, revision, project_id, collector_id, fee_item_id, {sums}
            FROM {MonthFigure._meta.db_table} WHERE period = %s AND kind = %s AND revision = %s
            GROUP BY period, kind, revision, project_id, collector_id, fee_item_id
        """, [connection.ops.adapt_datefield_value(period), kind, revision])
        return cur.rowcount


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


CLOSED_KINDS = (FigureKind.CLOSE, FigureKind.ADJUST)


@transaction.atomic
def month_close(*, period: dt.date, actor_label: str = "", today: dt.date | None = None,
                provisional: bool = False, full: bool = False) -> tuple[MonthClose | None, int]:
    """Close month ``period`` (or recheck it when closed): returns the close and the rows written.

    First close: the snapshot (kind ``close``). Later: the difference between what the ledger says about the
    month now and what was recorded, as adjustment rows of a new revision (none when nothing changed).
    ``provisional``: the month in progress as of today instead (``live_refresh``, in full with ``full``; no
    close is recorded)."""
    period = month_start(period)
    today = today or timezone.localdate()
    if provisional:
        if period != month_start(today):
            raise ValidationError({"period": f"临时快照只用于本月（{today:%Y-%m}）。"})
        return None, live_refresh(today=today, full=full)
    if month_end(period) >= today:
        raise ValidationError({"period": f"{period:%Y-%m} 尚未结束，不能月结。"})
    t0 = time.monotonic()
    now = timezone.now()
    closing = MonthClose.objects.select_for_update().filter(period=period).first()
    with Snapshot(Window.of(period)) as snap:
        found = snap.rows()
        snap.units()
        if closing is None:
            # a provisional snapshot of this month, taken while it ran, gives way to the close
            MonthFigure.objects.filter(period=period, kind=FigureKind.LIVE).delete()
            MonthRollup.objects.filter(period=period, kind=FigureKind.LIVE).delete()
            UnitFigure.objects.filter(period=period, kind=FigureKind.LIVE).delete()
            LiveSnapshot.objects.filter(period=period).delete()
            written = _write(period, FigureKind.CLOSE, 0, found, now)
            snap.units_insert(period, FigureKind.CLOSE, 0)
            totals_rebuild(period, CLOSED_KINDS, from_work_table=True)
            closing = MonthClose.objects.create(period=period, closed_at=now, seconds=time.monotonic() - t0,
                                                actor_label=actor_label[:60])
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
        units_changed = snap.units_adjust(period, closing.revisions + 1)
    if delta or units_changed:
        closing.revisions += 1
        written = _write(period, FigureKind.ADJUST, closing.revisions, delta, now)
        if units_changed:
            totals_rebuild(period, CLOSED_KINDS)
        audit_record(actor=None, actor_label=actor_label or "insights", verb="insights.month_adjust",
                     obj=closing, after={"revision": closing.revisions, "rows": written})
    else:
        written = 0
    closing.save(update_fields=["rechecked_at", "revisions"])
    return closing, written


@transaction.atomic
def live_refresh(*, today: dt.date | None = None, full: bool = False) -> int:
    """The provisional snapshot of the month in progress (as of today), written by the same code as a close:
    the ``live`` figures and per-unit rows, their roll-ups and the month's drill-down totals. Returns the figure
    rows written. Run by the hourly job, ``wuye close_month --provisional`` and a manager's refresh — never by a
    page that shows the figures.

    Incremental (decision 177): only the buildings whose inputs were written since the last snapshot
    (``LiveChange``, filled from ``common.changes``) or whose territories changed are recomputed, and only
    the rows that differ are rewritten — nothing when nothing changed. In full (everything recomputed and
    rewritten) with ``full``, for the first snapshot of a month or of a day (every ageing bucket moves with the
    date), when the figures' code changed (``snapshot.live_version``), after a change of everything, or when
    most buildings changed anyway. Two refreshes at once run one after the other: each locks the month's
    ``LiveSnapshot`` row first."""
    from wuye.accounts.models import Territory
    from wuye.estate.models import Building
    from wuye.insights.models import LiveChange
    from wuye.insights.snapshot import live_version

    t0 = time.monotonic()
    today = today or timezone.localdate()
    period = month_start(today)
    state = _live_state_locked(period)
    # after the lock: a change committed before this read is recomputed now, any later one stays for next time
    changes = list(LiveChange.objects.values_list("id", "unit_id", "building_id", "project_id", "everything"))
    territories = _territories(Territory)
    version = live_version()
    now = timezone.now()
    reason = ("asked" if full else "first" if state.taken_at is None else "version" if state.version != version
              else "day" if state.as_of != today else "everything" if any(c[4] for c in changes) else "")
    dirty: set[int] = set()
    if not reason:
        dirty = _dirty_buildings(changes, state.territories, territories)
        if dirty and len(dirty) * 2 > Building.objects.count():
            reason = "most"
    if reason:
        written = _live_full(period, today, now)
    elif dirty:
        written = _live_buildings(period, today, sorted(dirty), now)
    else:
        written = 0
    if changes:
        ids = [c[0] for c in changes]
        for start in range(0, len(ids), 5000):
            LiveChange.objects.filter(pk__in=ids[start:start + 5000]).delete()
    LiveSnapshot.objects.filter(pk=state.pk).update(
        as_of=today, taken_at=now, version=version, territories=territories, full=bool(reason),
        buildings=0 if reason else len(dirty), written=written, seconds=round(time.monotonic() - t0, 3))
    return written


def _live_state_locked(period: dt.date):
    """The month's ``LiveSnapshot`` row, created if missing, locked for the transaction (on SQLite the
    transaction already holds the database's write lock: ``transaction_mode`` IMMEDIATE)."""
    table = connection.ops.quote_name(LiveSnapshot._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (period, version, territories, \"full\", buildings, written, seconds) "
                    "VALUES (%s, '', '{}', %s, 0, 0, 0) ON CONFLICT (period) DO NOTHING",
                    [connection.ops.adapt_datefield_value(period), False])
    return LiveSnapshot.objects.select_for_update().get(period=period)


def _territories(territory_model) -> dict[str, list]:
    """Building → its territories as ``collectors_by_floor`` reads them (in id order: the first one wins)."""
    out: dict[str, list] = {}
    for b, pk, low, high, user in territory_model.objects.order_by("id").values_list(
            "building_id", "id", "floor_from", "floor_to", "user_id"):
        out.setdefault(str(b), []).append([pk, low, high, user])
    return out


def _dirty_buildings(changes: list[tuple], before: dict, territories: dict) -> set[int]:
    """The buildings an incremental refresh recomputes: those of the changed units, the changed buildings,
    every building of a changed project, and those whose territories differ from the last snapshot's."""
    from wuye.estate.models import Building, Unit

    units = sorted({c[1] for c in changes if c[1] is not None})
    dirty = {c[2] for c in changes if c[2] is not None}
    for start in range(0, len(units), 5000):
        dirty.update(Unit.objects.filter(pk__in=units[start:start + 5000]).values_list("building_id", flat=True))
    projects = sorted({c[3] for c in changes if c[3] is not None})
    if projects:
        dirty.update(Building.objects.filter(project_id__in=projects).values_list("pk", flat=True))
    dirty.update(int(b) for b in set(before) | set(territories) if before.get(b) != territories.get(b))
    return dirty


def _live_full(period: dt.date, today: dt.date, now: dt.datetime) -> int:
    """Every ``live`` row rewritten from one read of the month (and the leftovers of other months dropped)."""
    closed = set(MonthClose.objects.values_list("period", flat=True))
    with Snapshot(Window.of(period, today)) as snap:
        found = snap.rows()
        snap.units()
        MonthFigure.objects.filter(kind=FigureKind.LIVE).delete()
        MonthRollup.objects.filter(kind=FigureKind.LIVE).delete()
        UnitFigure.objects.filter(kind=FigureKind.LIVE).delete()
        # drill-down rows of months neither closed nor in progress are a provisional snapshot's leftovers
        UnitTotal.objects.exclude(period__in=closed).exclude(period=period).delete()
        LiveSnapshot.objects.exclude(period=period).delete()
        written = _write(period, FigureKind.LIVE, 0, found, now)
        snap.units_insert(period, FigureKind.LIVE, 0)
        totals_rebuild(period, (FigureKind.LIVE,), from_work_table=True)
    return written


def _live_buildings(period: dt.date, today: dt.date, buildings: list[int], now: dt.datetime) -> int:
    """Recompute the ``live`` rows of ``buildings`` and write only what differs from the stored rows: figure
    rows, their projects' roll-ups, per-unit rows and drill-down totals. Returns the figure rows written."""
    from wuye.insights.snapshot import live_units_sync

    with Snapshot(Window.of(period, today), buildings=buildings) as snap:
        found = snap.rows()
        snap.units()
        written, projects = _figures_sync(period, buildings, found, now)
        live_units_sync(period, buildings)
    if projects:
        _rollups_sync(period, projects)
    return written


def _figures_sync(period: dt.date, buildings: list[int], found: dict, now: dt.datetime) -> tuple[int, set]:
    """Make the ``live`` figure rows of ``buildings`` equal ``found``: delete the rows that differ or are gone,
    insert the new and changed ones. Returns the rows inserted and the projects whose rows changed."""
    stored: dict = {}
    for start in range(0, len(buildings), 1000):
        qs = MonthFigure.objects.filter(period=period, kind=FigureKind.LIVE,
                                        building_id__in=buildings[start:start + 1000]).values_list(
            "pk", "project_id", "building_id", "collector_id", "fee_item_id", *MEASURES)
        for pk, *key_values in qs:
            stored[tuple(key_values[:4])] = (pk, dict(zip(MEASURES, key_values[4:], strict=True)))
    gone = [pk for key, (pk, values) in stored.items() if found.get(key) != values]
    new = {key: values for key, values in found.items() if key not in stored or stored[key][1] != values}
    for start in range(0, len(gone), 1000):
        MonthFigure.objects.filter(pk__in=gone[start:start + 1000]).delete()
    data = [(period, FigureKind.LIVE, 0, now, p, b, c, item, *(values[m] for m in MEASURES))
            for (p, b, c, item), values in new.items()]
    if data:
        insert_rows(MonthFigure, FIGURE_COLUMNS, data)
    gone_ids = set(gone)
    projects = {key[0] for key, (pk, _) in stored.items() if pk in gone_ids} | {key[0] for key in new}
    return len(data), projects


def _rollups_sync(period: dt.date, projects: set[int]) -> int:
    """The ``live`` roll-ups of ``projects`` made equal to their figure rows summed: only differing rows move."""
    ids = sorted(projects)
    want: dict = {}
    for row in MonthFigure.objects.filter(period=period, kind=FigureKind.LIVE, project_id__in=ids).values_list(
            "project_id", "collector_id", "fee_item_id", *MEASURES):
        values = want.setdefault(row[:3], dict.fromkeys(MEASURES, 0))
        for name, v in zip(MEASURES, row[3:], strict=True):
            values[name] += v
    stored = {row[1:4]: (row[0], dict(zip(MEASURES, row[4:], strict=True))) for row in
              MonthRollup.objects.filter(period=period, kind=FigureKind.LIVE, project_id__in=ids).values_list(
                  "pk", "project_id", "collector_id", "fee_item_id", *MEASURES)}
    gone = [pk for key, (pk, values) in stored.items() if want.get(key) != values]
    MonthRollup.objects.filter(pk__in=gone).delete()
    data = [(period, FigureKind.LIVE, 0, *key, *(values[m] for m in MEASURES)) for key, values in want.items()
            if key not in stored or stored[key][1] != values]
    if data:
        insert_rows(MonthRollup, ("period", "kind", "revision", "project_id", "collector_id", "fee_item_id",
                                  *MEASURES), data)
    return len(data)


# how far back a month may be closed: the scheduled close's window (``close_due_months``), the 24 months of the trend
CLOSE_MONTHS_BACK = 24


def first_bill_month() -> dt.date | None:
    """The month of the estate's first bill: one probe of ``bill_by_project_period`` per project (the bills'
    earliest period over the whole table read every bill, 77 ms at 100k units × 3 months)."""
    from django.db.models import OuterRef, Subquery

    from wuye.billing.models import Bill
    from wuye.estate.models import Project

    firsts = [d for d in Project.objects.annotate(first=Subquery(
        Bill.objects.filter(project_id=OuterRef("pk")).order_by("period_start").values("period_start")[:1]))
        .values_list("first", flat=True) if d is not None]
    return month_start(min(firsts)) if firsts else None


def refresh_refusal(period: dt.date, today: dt.date | None = None, *, ledger: bool = True) -> str:
    """Why a manager may not ask for ``period``'s snapshot (``views.refresh``, the job behind it, the API's answer
    for a month not closed), or "" when they may: a month after this one has happened in no ledger; a month more
    than ``CLOSE_MONTHS_BACK`` months back is outside the window the scheduled close keeps; a month before the
    estate's first bill has nothing to close (closing it wrote an empty month) — that one reads the bills, so
    pages, which read snapshots only (decision 95), leave it out (``ledger=False``) and the refresh refuses it
    (decision 182)."""
    from wuye.insights.metrics import add_months

    this = month_start(today or timezone.localdate())
    period = month_start(period)
    if period > this:
        return f"{period:%Y-%m} 还没有到，不能计算该月的数字。"
    earliest = add_months(this, -CLOSE_MONTHS_BACK)
    if period < earliest:
        return f"只能计算最近 {CLOSE_MONTHS_BACK} 个月（{earliest:%Y-%m} 起）的数字，{period:%Y-%m} 太早了。"
    if ledger:
        first = first_bill_month()
        if first is None:
            return "还没有任何账单，没有可计算的月份。"
        if period < first:
            return f"{period:%Y-%m} 早于第一期账单（{first:%Y-%m}），该月没有可月结的数字。"
    return ""


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
    start = max(month_start(first_bill), add_months(last, 1 - CLOSE_MONTHS_BACK))
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


# --- early warning (预警): train monthly, score every account ---------------------------------------------------

def risk_model_train(*, today: dt.date | None = None, actor_label: str = "") -> RiskModel:
    """Train the early-warning model on the estate's history (see ``insights.risk``): first the held-out
    validation (trained only on months whose outcome was known by the test month), then the model kept,
    refitted on the latest months whose outcome is known. Scores every account as of the last finished month."""
    import json

    from django.conf import settings

    from wuye.billing.models import Bill
    from wuye.insights import risk

    today = today or timezone.localdate()
    t0 = time.monotonic()
    first = Bill.objects.order_by("period_start").values_list("period_start", flat=True).first()
    if first is None:
        raise ValidationError("还没有账单，无法训练预警模型。")
    plan = risk.plan(today, settings.WUYE_RISK_TRAIN_MONTHS, first)
    if not plan["validation_train"]:
        raise ValidationError("历史不足：至少需要约 7 个月的账单历史才能按时间切分验证。")
    risk.assert_no_future(plan["validation_train"], plan["test"])
    risk.assert_no_future(plan["final_train"], plan["last"])
    every = risk.sample_every(settings.WUYE_RISK_MAX_ROWS_PER_MONTH)
    cache: dict = {}  # reference months shared by the validation and the kept model are computed once
    X, y, _ = risk.examples(plan["validation_train"], sample=every, cache=cache)
    validation = risk.fit(X, y)
    tX, ty, tdays = risk.examples([plan["test"]], sample=every, cache=cache)
    metrics = risk.evaluate(validation, tX, ty, tdays, high=settings.WUYE_RISK_HIGH)
    metrics |= {"n_train": int(len(y)), "train_positives": int(y.sum()), "sample_every": every,
                "test_month": f"{plan['test']:%Y-%m}", "validation_train": [f"{t:%Y-%m}" for t in
                                                                        plan["validation_train"]],
                "final_train": [f"{t:%Y-%m}" for t in plan["final_train"]]}
    X, y, _ = risk.examples(plan["final_train"], sample=every, cache=cache)
    kept = risk.fit(X, y)
    metrics["n_final"] = int(len(y))
    model = RiskModel.objects.create(
        trained_at=timezone.now(), as_of=plan["last"], features=list(risk.FEATURE_NAMES),
        mean=kept.mean.tolist(), scale=kept.scale.tolist(), coef=kept.coef.tolist(), intercept=kept.intercept,
        metrics=json.loads(json.dumps(metrics)), seconds=round(time.monotonic() - t0, 2))
    audit_record(actor=None, actor_label=actor_label or "insights", verb="insights.risk_train", obj=model,
                 after={"auc": metrics["auc"], "baseline_auc": metrics["baseline_auc"], "n_train": metrics["n_train"]})
    return model


def fitted(model: RiskModel):
    import numpy as np

    from wuye.insights.risk import Fitted

    return Fitted(np.array(model.mean), np.array(model.scale), np.array(model.coef), model.intercept)


@transaction.atomic
def risk_scores_refresh(*, model: RiskModel | None = None, as_of: dt.date | None = None) -> int:
    """Score every account (not already 90+ days overdue) as of ``as_of`` (default: the model's month) with
    the latest model, replacing the stored scores: one feature query, numpy for the probabilities and the top
    reasons, one bulk write (on PostgreSQL COPY text in batches of ``SCORE_BATCH`` rows)."""
    from wuye.insights import risk

    model = model or RiskModel.objects.first()
    if model is None:
        return 0
    as_of = as_of or model.as_of
    frame = risk.features(as_of)
    m = fitted(model)
    probabilities = m.predict(frame.X).tolist() if len(frame) else []
    reasons = m.reasons_json(frame.X) if len(frame) else []
    RiskScore.objects.all().delete()
    rows = zip(frame.units.tolist(), frame.projects.tolist(), probabilities, reasons, strict=True)
    if connection.vendor == "postgresql":
        _scores_copy(model.pk, as_of, rows)
    else:
        insert_rows(RiskScore, ("model_id", "project_id", "unit_id", "as_of", "probability", "reasons"),
                    ((model.pk, p, u, as_of, round(prob, 6), r) for u, p, prob, r in rows))
    RiskModel.objects.filter(pk=model.pk).update(scored_on=as_of, scored=len(frame))
    return len(frame)


SCORE_BATCH = 100_000


def _scores_copy(model_id: int, as_of: dt.date, rows) -> None:
    """The scores as COPY text, ``SCORE_BATCH`` lines a write (no tuple adapted per value). Nothing in a line
    needs escaping: ids, a date, a float and JSON of feature names and numbers."""
    from itertools import islice

    table = connection.ops.quote_name(RiskScore._meta.db_table)
    head, day = f"{model_id}\t", as_of.isoformat()
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} (model_id, project_id, unit_id, as_of, probability, reasons) FROM STDIN") as copy:
        while batch := list(islice(rows, SCORE_BATCH)):
            copy.write("".join(f"{head}{p}\t{u}\t{day}\t{round(prob, 6)!r}\t{r}\n" for u, p, prob, r in batch))


def risk_monthly(*, today: dt.date | None = None, actor_label: str = "") -> RiskModel:
    """The monthly job and ``wuye risk_train``: retrain, then score every account."""
    model = risk_model_train(today=today, actor_label=actor_label)
    risk_scores_refresh(model=model)
    model.refresh_from_db()
    return model
