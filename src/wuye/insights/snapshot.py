"""A month's snapshot in a few set-based statements (decision 94): the month-end close, its rechecks and the
provisional snapshot of the month in progress all go through ``Snapshot``.

``metrics.facts`` and ``metrics.unit_ageing`` say what every figure is; they stay the reference, and
``tests/insights/test_snapshot.py`` compares this path with them on the same ledgers. What differs is how the
rows are read:

1. The lines that can add to any figure of the month (its own lines, lines open now, lines with an allocation or
   adjustment dated from the month's first day on) are found once, into a temporary table — the reference
   decides it line by line with two correlated ``EXISTS``.
2. Their allocations and adjustments are summed for those lines only, into a second temporary table of per-line
   amounts as of s and as of e (the reference groups all 5.4 M allocations of a 1M-unit estate, then joins).
3. The month's figures (``metrics.aggregate_sql``, the same SQL as the reference) and the per-unit ageing rows
   are both grouped from that table; the ageing rows go straight into ``UnitFigure`` with
   ``INSERT … SELECT``, collectors joined from a small temporary table of (building, floor) → collector built
   by ``metrics.collectors_by_floor`` (the same assignment as the reference).
4. The prepaid balance as of e is the database's per-unit balance (``billing.UnitBalance``, decision 67) minus
   the money received from e on and plus the money applied after e — only the entries after the month are
   read, where the reference sums every payment and allocation ever made.

The statements are plain SQL that PostgreSQL and SQLite both run; on PostgreSQL the sorts and hashes get a
larger ``work_mem`` for the transaction (``WUYE_INSIGHTS_WORK_MEM``) so they stay in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from contextlib import contextmanager, nullcontext

from django.conf import settings
from django.db import connection

from wuye.insights.metrics import (
    AGE_BOUNDS,
    Window,
    _d,
    _t,
    add_aggregates,
    add_prepaid,
    add_relief,
    aggregate_sql,
    collectors_by_floor,
    local_midnight,
)
from wuye.insights.models import MEASURES, FigureKind, UnitFigure, UnitTotal

REL = "insights_snap_rel"
PAID = "insights_snap_paid"
PB = "insights_snap_pb"
FLOORS = "insights_snap_floor"
UNITS = "insights_snap_units"
SCOPE = "insights_snap_scope"
SCOPE_UNITS = "insights_snap_scope_units"
NO_FLOOR = -32768  # stands for a unit without a floor in the (building, floor) → collector table
WORK_TABLES = (REL, PAID, PB, FLOORS, UNITS, SCOPE, SCOPE_UNITS)

# What the provisional snapshot's stored rows mean: a refresh by another version recomputes everything
# (decision 177). Bump LIVE_VERSION when a definition or the grain changes in a way the constants below miss.
LIVE_VERSION = 1


def live_version() -> str:
    import hashlib

    from wuye.insights.metrics import AGE_BOUNDS, RELIEF_KINDS

    text = repr((LIVE_VERSION, MEASURES, AGE_BOUNDS, RELIEF_KINDS, NO_FLOOR))
    return f"{LIVE_VERSION}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _pg() -> bool:
    return connection.vendor == "postgresql"


class Snapshot:
    """The month of ``window`` read from the ledger once; use as a context manager inside a transaction (the
    work tables are temporary and dropped at the end). ``buildings``: only the units of these buildings (an
    incremental provisional snapshot, decision 177) — every statement reads them through the unit's indexes."""

    def __init__(self, window: Window, *, buildings: list[int] | None = None):
        self.window = window
        self.buildings = None if buildings is None else sorted(set(buildings))
        self.cur = None

    def __enter__(self) -> Snapshot:
        self.cur = connection.cursor()
        if _pg():
            self.cur.execute("SELECT set_config('work_mem', %s, true)", [settings.WUYE_INSIGHTS_WORK_MEM])
        self._drop()
        self._scope()
        self._floors()
        self._lines()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._drop()
        finally:
            self.cur.close()

    def _drop(self) -> None:
        for name in WORK_TABLES:
            self.cur.execute(f"DROP TABLE IF EXISTS {name}")

    def _analyze(self, table: str) -> None:
        if _pg():
            self.cur.execute(f"ANALYZE {table}")

    # --- work tables ---------------------------------------------------------------------------------------

    def _scope(self) -> None:
        """The buildings and units a scoped snapshot reads (nothing for a whole one)."""
        if self.buildings is None:
            return
        self.cur.execute(f"CREATE TEMPORARY TABLE {SCOPE} (building_id bigint NOT NULL PRIMARY KEY)")
        self.cur.execute(f"CREATE TEMPORARY TABLE {SCOPE_UNITS} (id bigint NOT NULL PRIMARY KEY)")
        for start in range(0, len(self.buildings), 500):
            batch = self.buildings[start:start + 500]
            self.cur.execute(f"INSERT INTO {SCOPE} (building_id) VALUES " + ", ".join(["(%s)"] * len(batch)), batch)
        self.cur.execute(f"INSERT INTO {SCOPE_UNITS} (id) SELECT u.id FROM estate_unit u "
                         f"WHERE u.building_id IN (SELECT building_id FROM {SCOPE})")
        self._analyze(SCOPE)
        self._analyze(SCOPE_UNITS)

    def _in_scope(self, column: str) -> str:
        """`` AND <column> IN (the scope's units)`` for a scoped snapshot, else nothing."""
        return "" if self.buildings is None else f" AND {column} IN (SELECT id FROM {SCOPE_UNITS})"

    def _floors(self) -> None:
        """(building, floor) → collector for every floor a territory can cover (buildings with a territory)."""
        from wuye.accounts.models import Territory
        from wuye.estate.models import Unit

        self.cur.execute(f"CREATE TEMPORARY TABLE {FLOORS} (building_id bigint NOT NULL, floor integer NOT NULL, "
                         "collector_id bigint NOT NULL)")
        territories = Territory.objects.all()
        if self.buildings is not None:
            territories = territories.filter(building_id__in=self.buildings)
        buildings = list(territories.values_list("building_id", flat=True).distinct())
        if not buildings:
            return
        keys = [(None, b, f) for b, f in
                Unit.objects.filter(building_id__in=buildings).values_list("building_id", "floor").distinct()]
        who = collectors_by_floor(keys)
        data = [(b, NO_FLOOR if f is None else f, c) for (b, f), c in who.items() if c is not None]
        if data:
            self.cur.executemany(f"INSERT INTO {FLOORS} (building_id, floor, collector_id) VALUES (%s, %s, %s)",
                                 data)
        self._analyze(FLOORS)

    @contextmanager
    def _nested_loops(self):
        """On PostgreSQL, read the allocations of the chosen lines through their index: a few hundred thousand
        index probes instead of hashing all 5.4 M allocations of a 1M-unit estate (4.3 s → 0.9 s measured)."""
        if not _pg():
            yield
            return
        for name in ("enable_hashjoin", "enable_mergejoin"):
            self.cur.execute("SELECT set_config(%s, 'off', true)", [name])
        try:
            yield
        finally:
            for name in ("enable_hashjoin", "enable_mergejoin"):
                self.cur.execute("SELECT set_config(%s, 'on', true)", [name])

    def _lines(self) -> None:
        """The lines that can add to the month's figures, with their amounts paid and relieved as of s and e."""
        s, e = self.window.period, self.window.end
        s_at, e_at = local_midnight(s), local_midnight(e + dt.timedelta(days=1))
        live = "b.is_void = %s AND b.late_fee_of_id IS NULL AND b.period_start <= %s"
        first = "(b.period_start >= %s OR b.settled_fen < b.amount_fen)"
        # An earlier period's line settled now, with no entry dated from s on, was settled before M began: the
        # month's own lines and the lines open now, then the others with an entry since s.
        if self.buildings is not None:
            # a few buildings: their units' lines through the unit index, entries since s through the line's
            scope = self._in_scope("b.unit_id")
            with self._nested_loops():
                self._rel_scoped(live, first, scope, s, e, s_at)
        else:
            self._rel_whole(live, first, s, e, s_at)
        self._paid_and_lines(s, e, s_at, e_at)

    def _rel_scoped(self, live: str, first: str, scope: str, s: dt.date, e: dt.date, s_at: dt.datetime) -> None:
        self.cur.execute(f"""
            CREATE TEMPORARY TABLE {REL} AS
            SELECT b.id, b.unit_id, b.fee_item_id, b.amount_fen, b.due_date, b.period_start
            FROM billing_bill b WHERE {live} AND {first}{scope}
            UNION ALL
            SELECT b.id, b.unit_id, b.fee_item_id, b.amount_fen, b.due_date, b.period_start
            FROM billing_bill b
            WHERE {live} AND NOT {first}{scope}
              AND (EXISTS (SELECT 1 FROM billing_allocation a WHERE a.bill_id = b.id AND a.applied_on >= %s)
                   OR EXISTS (SELECT 1 FROM billing_adjustment j WHERE j.bill_id = b.id AND j.decided_at >= %s))
        """, [False, _d(e), _d(s), False, _d(e), _d(s), _d(s), _t(s_at)])

    def _rel_whole(self, live: str, first: str, s: dt.date, e: dt.date, s_at: dt.datetime) -> None:
        self.cur.execute(f"""
            CREATE TEMPORARY TABLE {REL} AS
            SELECT b.id, b.unit_id, b.fee_item_id, b.amount_fen, b.due_date, b.period_start
            FROM billing_bill b WHERE {live} AND {first}
            UNION ALL
            SELECT b.id, b.unit_id, b.fee_item_id, b.amount_fen, b.due_date, b.period_start
            FROM billing_bill b
            WHERE b.id IN (SELECT a.bill_id FROM billing_allocation a WHERE a.applied_on >= %s
                           UNION SELECT j.bill_id FROM billing_adjustment j WHERE j.decided_at >= %s)
              AND {live} AND NOT {first}
        """, [False, _d(e), _d(s), _d(s), _t(s_at), False, _d(e), _d(s)])

    def _paid_and_lines(self, s: dt.date, e: dt.date, s_at: dt.datetime, e_at: dt.datetime) -> None:
        self._analyze(REL)
        with self._nested_loops():
            self.cur.execute(f"""
                CREATE TEMPORARY TABLE {PAID} AS
                SELECT a.bill_id, SUM(CASE WHEN a.applied_on <= %s THEN a.amount_fen ELSE 0 END) AS paid_e,
                       SUM(CASE WHEN a.applied_on < %s THEN a.amount_fen ELSE 0 END) AS paid_s
                FROM {REL} r JOIN billing_allocation a ON a.bill_id = r.id
                GROUP BY a.bill_id
            """, [_d(e), _d(s)])
        self._analyze(PAID)
        self.cur.execute(f"""
            CREATE TEMPORARY TABLE {PB} AS
            SELECT r.id, r.unit_id, r.fee_item_id, r.amount_fen, r.due_date,
                   CASE WHEN r.period_start >= %s THEN 1 ELSE 0 END AS cur,
                   COALESCE(al.paid_e, 0) AS paid_e, COALESCE(al.paid_s, 0) AS paid_s,
                   COALESCE(ad.rel_e, 0) AS rel_e, COALESCE(ad.rel_s, 0) AS rel_s,
                   r.amount_fen - COALESCE(al.paid_e, 0) - COALESCE(ad.rel_e, 0) AS open_e
            FROM {REL} r
            LEFT JOIN {PAID} al ON al.bill_id = r.id
            LEFT JOIN (SELECT j.bill_id,
                              SUM(CASE WHEN j.decided_at < %s THEN j.amount_fen ELSE 0 END) AS rel_e,
                              SUM(CASE WHEN j.decided_at < %s THEN j.amount_fen ELSE 0 END) AS rel_s
                       FROM billing_adjustment j JOIN {REL} r2 ON r2.id = j.bill_id
                       WHERE j.status = 'approved'
                         AND j.kind IN ('waive_principal', 'write_off', 'prepay_discount')
                       GROUP BY j.bill_id) ad ON ad.bill_id = r.id
        """, [_d(s), _t(e_at), _t(s_at)])
        self._analyze(PB)

    # --- what the snapshot holds ------------------------------------------------------------------------------

    def _grain(self) -> tuple[str, str]:
        return ("m.collector_id",
                f"LEFT JOIN {FLOORS} m ON m.building_id = u.building_id AND m.floor = COALESCE(u.floor, {NO_FLOOR})")

    def rows(self) -> dict:
        """``metrics.rows`` of the window — the figures at the snapshot's grain (project, building, collector,
        fee item) — grouped by collector in the database."""
        out: dict = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
        sql, params = aggregate_sql(self.window, f"{PB} pb", self._grain())
        self.cur.execute(sql, params)
        add_aggregates(out, self.cur.fetchall())
        add_prepaid(out, self._prepaid())
        add_relief(self.cur, self.window, out, grain=self._grain(), extra=self._in_scope("b.unit_id"))
        return {k: v for k, v in out.items() if any(v.values())}

    def _prepaid(self) -> list[tuple]:
        """Prepaid balance as of e per (project, building, collector): the balance now, less what was received
        from e on (a reversal on its original payment's day), plus what was applied after e. The balance counts
        an allocation on its payment's unit, as this does; billing applies a unit's money to that unit's lines
        only, so it is the reference's figure (which counts it on the line's unit)."""
        e = self.window.end
        e_at = local_midnight(e + dt.timedelta(days=1))
        col, join = self._grain()
        ub, x = self._in_scope("ub.unit_id"), self._in_scope("x.unit_id")
        # a scoped snapshot reads its units' payments and their allocations through the indexes
        with self._nested_loops() if self.buildings is not None else nullcontext():
            self.cur.execute(f"""
            SELECT u.project_id, u.building_id, {col}, SUM(t.fen) FROM (
                SELECT ub.unit_id, ub.prepaid_fen AS fen FROM billing_unitbalance ub WHERE ub.prepaid_fen <> 0{ub}
                UNION ALL
                SELECT x.unit_id, -x.amount_fen FROM billing_payment x
                WHERE x.reverses_id IS NULL AND x.paid_at >= %s{x}
                UNION ALL
                SELECT x.unit_id, -x.amount_fen FROM billing_payment x JOIN billing_payment o ON o.id = x.reverses_id
                WHERE o.paid_at >= %s{x}
                UNION ALL
                SELECT x.unit_id, a.amount_fen FROM billing_allocation a JOIN billing_payment x ON x.id = a.payment_id
                WHERE a.applied_on > %s{x}
            ) t JOIN estate_unit u ON u.id = t.unit_id {join}
            GROUP BY u.project_id, u.building_id, {col}
        """, [_t(e_at), _t(e_at), _d(e)])
            return self.cur.fetchall()  # before the planner settings are put back on the same cursor

    def units(self) -> None:
        """The per-unit ageing rows as of e (``metrics.unit_ageing`` at the snapshot's grain) into a work table:
        project, building, collector, fee item, unit, bucket, open fen, lines, oldest due date."""
        e = self.window.end
        cases, params = [], []
        for days, name in AGE_BOUNDS:
            cases.append(f"WHEN pb.due_date >= %s THEN '{name}'")
            params.append(_d(e - dt.timedelta(days=days)))
        self.cur.execute(f"""
            CREATE TEMPORARY TABLE {UNITS} AS
            SELECT u.project_id, u.building_id, m.collector_id, pb.fee_item_id, pb.unit_id, pb.bucket,
                   SUM(pb.open_e) AS open_fen, COUNT(*) AS lines, MIN(pb.due_date) AS oldest_due
            FROM (SELECT pb.unit_id, pb.fee_item_id, pb.due_date, pb.open_e,
                         CASE {" ".join(cases)} ELSE 'age_over_3y_fen' END AS bucket
                  FROM {PB} pb WHERE pb.due_date < %s AND pb.open_e > 0) pb
            JOIN estate_unit u ON u.id = pb.unit_id
            LEFT JOIN {FLOORS} m ON m.building_id = u.building_id AND m.floor = COALESCE(u.floor, {NO_FLOOR})
            GROUP BY u.project_id, u.building_id, m.collector_id, pb.fee_item_id, pb.unit_id, pb.bucket
        """, [*params, _d(e)])
        self._analyze(UNITS)

    def units_insert(self, period: dt.date, kind: str, revision: int) -> int:
        """Write the per-unit rows as they are now (a close's or a provisional snapshot's)."""
        self.cur.execute(f"""
            INSERT INTO {UnitFigure._meta.db_table} (period, kind, revision, project_id, building_id, collector_id,
                                                     fee_item_id, unit_id, bucket, open_fen, lines, oldest_due)
            SELECT %s, %s, %s, project_id, building_id, collector_id, fee_item_id, unit_id, bucket, open_fen,
                   lines, oldest_due
            FROM {UNITS}
        """, [_d(period), kind, revision])
        return self.cur.rowcount

    def units_adjust(self, period: dt.date, revision: int) -> int:
        """Write what changed per unit row since the close (now minus the snapshot and its adjustments) as
        adjustment rows of ``revision``; returns how many."""
        self.cur.execute(f"""
            INSERT INTO {UnitFigure._meta.db_table} (period, kind, revision, project_id, building_id, collector_id,
                                                     fee_item_id, unit_id, bucket, open_fen, lines, oldest_due)
            SELECT %s, %s, %s, project_id, building_id, collector_id, fee_item_id, unit_id, bucket,
                   SUM(open_fen), SUM(lines), MAX(oldest_due)
            FROM (SELECT project_id, building_id, collector_id, fee_item_id, unit_id, bucket, open_fen, lines,
                         oldest_due
                  FROM {UNITS}
                  UNION ALL
                  SELECT project_id, building_id, collector_id, fee_item_id, unit_id, bucket, -open_fen, -lines, NULL
                  FROM {UnitFigure._meta.db_table} WHERE period = %s AND kind IN (%s, %s)) t
            GROUP BY project_id, building_id, collector_id, fee_item_id, unit_id, bucket
            HAVING SUM(open_fen) <> 0 OR SUM(lines) <> 0
        """, [_d(period), FigureKind.ADJUST, revision, _d(period), FigureKind.CLOSE, FigureKind.ADJUST])
        return self.cur.rowcount


def totals_rebuild(period: dt.date, kinds: tuple[str, ...], *, from_work_table: bool = False) -> int:
    """Rewrite the month's ``UnitTotal`` rows from its ``UnitFigure`` rows of ``kinds`` (a closed month: the
    snapshot and its adjustments; the month in progress: its provisional rows) — or, right after a snapshot
    wrote them, from the work table they were copied from: per unit, and per unit × bucket, all fee items
    together, where something is owed."""
    table = UnitTotal._meta.db_table
    if from_work_table:
        source, params = UNITS, []
    else:
        source = (f"(SELECT * FROM {UnitFigure._meta.db_table} WHERE period = %s "
                  f"AND kind IN ({', '.join(['%s'] * len(kinds))}))")
        params = [_d(period), *kinds]
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE period = %s", [_d(period)])
        cur.execute(f"""
            INSERT INTO {table} (period, project_id, building_id, collector_id, unit_id, bucket, open_fen, lines,
                                 oldest_due)
            SELECT %s, project_id, building_id, collector_id, unit_id, bucket, open_fen, lines, oldest_due FROM (
                SELECT project_id, building_id, collector_id, unit_id, '' AS bucket, SUM(open_fen) AS open_fen,
                       SUM(lines) AS lines, MIN(oldest_due) AS oldest_due
                FROM {source} f
                GROUP BY project_id, building_id, collector_id, unit_id HAVING SUM(open_fen) > 0
                UNION ALL
                SELECT project_id, building_id, collector_id, unit_id, bucket, SUM(open_fen), SUM(lines),
                       MIN(oldest_due)
                FROM {source} f
                GROUP BY project_id, building_id, collector_id, unit_id, bucket HAVING SUM(open_fen) > 0
            ) t
        """, [_d(period), *params, *params])
        written = cur.rowcount
        if _pg():
            cur.execute(f"ANALYZE {table}")  # the pages' plans count on its size (600k rows a month at 1M units)
        return written


TOTALS = "insights_snap_totals"
UNIT_COLUMNS = ("project_id", "building_id", "collector_id", "fee_item_id", "unit_id", "bucket", "open_fen", "lines",
                "oldest_due")
TOTAL_COLUMNS = ("project_id", "building_id", "collector_id", "unit_id", "bucket", "open_fen", "lines", "oldest_due")


NULLABLE = ("collector_id", "oldest_due")


def _same(a: str, b: str, columns) -> str:
    """Rows ``a`` and ``b`` equal in every column, NULLs equal to each other (plain equality where a column is
    never NULL, so the unit's index serves)."""
    null_safe = "IS NOT DISTINCT FROM" if _pg() else "IS"
    return " AND ".join(f"{a}.{c} {null_safe if c in NULLABLE else '='} {b}.{c}" for c in columns)


def _sync(cur, table: str, columns, scope: tuple[str, list], match: tuple[str, list], source: str,
          head: tuple[str, list]) -> int:
    """Make the stored rows of ``table`` selected by ``scope`` (a condition on alias ``f`` and its params) equal
    the rows of ``source``: delete the stored rows no source row equals, insert the source rows no stored row
    equals (``match``: the condition a stored row of the same month and kind meets, without the scope, so each
    source row finds its equals through the table's (period, project, building) index). ``head``: the leading
    columns and values of an inserted row (period, kind …). Returns the rows written."""
    cols = ", ".join(columns)
    (where, params), (same_month, month_params), (head_cols, head_values) = scope, match, head
    cur.execute(f"""
        DELETE FROM {table} WHERE id IN (
            SELECT f.id FROM {table} f WHERE {where}
              AND NOT EXISTS (SELECT 1 FROM {source} n WHERE {_same("n", "f", columns)}))
    """, params)
    removed = cur.rowcount
    cur.execute(f"""
        INSERT INTO {table} ({head_cols}, {cols})
        SELECT {", ".join(["%s"] * len(head_values))}, {", ".join(f"n.{c}" for c in columns)} FROM {source} n
        WHERE NOT EXISTS (SELECT 1 FROM {table} f WHERE {same_month} AND {_same("n", "f", columns)})
    """, [*head_values, *month_params])
    return removed + cur.rowcount


def live_units_sync(period: dt.date, buildings: list[int]) -> int:
    """An incremental provisional snapshot's per-unit rows and drill-down totals (decision 177): the ``live``
    ``UnitFigure`` rows and the month's ``UnitTotal`` rows of the scope's buildings made equal to what the scoped
    ``Snapshot`` just computed (its ``UNITS`` work table), writing only the rows that differ. Returns how many."""
    with connection.cursor() as cur:
        cur.execute(f"CREATE INDEX insights_snap_units_unit ON {UNITS} (unit_id)")
        cur.execute(f"DROP TABLE IF EXISTS {TOTALS}")
        cur.execute(f"""
            CREATE TEMPORARY TABLE {TOTALS} AS
            SELECT project_id, building_id, collector_id, unit_id, '' AS bucket, SUM(open_fen) AS open_fen,
                   SUM(lines) AS lines, MIN(oldest_due) AS oldest_due
            FROM {UNITS} GROUP BY project_id, building_id, collector_id, unit_id HAVING SUM(open_fen) > 0
            UNION ALL
            SELECT project_id, building_id, collector_id, unit_id, bucket, SUM(open_fen), SUM(lines), MIN(oldest_due)
            FROM {UNITS} GROUP BY project_id, building_id, collector_id, unit_id, bucket HAVING SUM(open_fen) > 0
        """)
        cur.execute(f"CREATE INDEX insights_snap_totals_unit ON {TOTALS} (unit_id)")
        day = _d(period)
        in_scope = f" AND f.building_id IN (SELECT building_id FROM {SCOPE})"
        live = ("f.period = %s AND f.kind = %s", [day, FigureKind.LIVE])
        figures = _sync(cur, UnitFigure._meta.db_table, UNIT_COLUMNS, (live[0] + in_scope, live[1]), live, UNITS,
                        ("period, kind, revision", [day, FigureKind.LIVE, 0]))
        month = ("f.period = %s", [day])
        totals = _sync(cur, UnitTotal._meta.db_table, TOTAL_COLUMNS, (month[0] + in_scope, month[1]), month, TOTALS,
                       ("period", [day]))
        cur.execute(f"DROP TABLE IF EXISTS {TOTALS}")
        return figures + totals
