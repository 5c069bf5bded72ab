"""Change markers of the incremental daily run (decision 62).

``mark_units`` bumps ``DecisionState.mark`` of each unit (creating the row of a unit never decided), one
statement per batch, inside the caller's transaction: if the write rolls back, so does its mark. The run
decides a unit whose ``mark`` differs from ``seen`` and then sets ``seen`` to the value it read (in the
transaction that writes the unit's actions), so a mark made while the run was deciding survives for the
next run. ``mark_projects`` does the same for a whole project (its next run is a full one) and
``mark_everything`` for every project (a calendar change). Writers in modules above dunning call
``wuye.common.changes`` instead; the receiver here turns that into these calls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection

from wuye.common.lookups import int_array
from wuye.dunning.models import DecisionState, ProjectDecisionState
from wuye.estate.models import Project, Unit

BATCH = 20_000
_held = threading.local()  # the unit ids of ``marks_held`` blocks (Django's connections are per thread too)


def _ids_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def _ids_param(ids: list[int]):
    return int_array(ids) if connection.vendor == "postgresql" else json.dumps(ids)


@contextmanager
def marks_held() -> Iterator[None]:
    """Inside the block ``mark_units`` only collects the units; at the end of the block (inside the caller's
    transaction, which must enclose the block) each unit is marked once. One write of several rows — a
    contact with a promise writes a hold, the class and the hold's own save — bumps a unit's marker once, not
    three times: the run only compares the marker with what it saw. A block that raises marks nothing (its
    transaction rolls back); a block inside another joins the outer one."""
    if getattr(_held, "ids", None) is not None:
        yield
        return
    _held.ids = set()
    try:
        yield
        ids = _held.ids
    finally:
        _held.ids = None
    if ids:
        mark_units(ids)


def mark_units(unit_ids: Iterable[int]) -> int:
    """Bump the change marker of every unit in ``unit_ids`` (ordered, so two writers never deadlock); inside
    ``marks_held`` only collect them."""
    ids = sorted({int(u) for u in unit_ids if u is not None})
    held = getattr(_held, "ids", None)
    if held is not None:
        held.update(ids)
        return len(ids)
    q = connection.ops.quote_name
    state, unit = q(DecisionState._meta.db_table), q(Unit._meta.db_table)
    n = 0
    with connection.cursor() as cursor:
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            cursor.execute(
                f"INSERT INTO {state} (unit_id, project_id, next_on, mark, seen, arrears, decided_on) "
                f"SELECT u.id, u.project_id, NULL, 1, 0, 0, NULL FROM {unit} u WHERE {_ids_sql('u.id')} "
                f"ORDER BY u.id ON CONFLICT (unit_id) DO UPDATE SET mark = {state}.mark + 1",
                [_ids_param(batch)])
            n += len(batch)
    return n


def mark_projects(project_ids: Iterable[int]) -> int:
    """Bump the change marker of every project in ``project_ids``: their next run decides them in full."""
    ids = sorted({int(p) for p in project_ids if p is not None})
    if not ids:
        return 0
    q = connection.ops.quote_name
    state, project = q(ProjectDecisionState._meta.db_table), q(Project._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {state} (project_id, mark, seen, last_on, watermark) "
            f"SELECT p.id, 1, 0, NULL, NULL FROM {project} p WHERE {_ids_sql('p.id')} "
            f"ORDER BY p.id ON CONFLICT (project_id) DO UPDATE SET mark = {state}.mark + 1",
            [_ids_param(ids)])
    return len(ids)


def mark_everything() -> int:
    """Every project's next run is a full one (a change to the calendar, which every project reads)."""
    from django.db.models import F

    return ProjectDecisionState.objects.update(mark=F("mark") + 1)


STATE_COLUMNS = ("unit_id", "project_id", "next_on", "arrears", "seen", "decided_on")


def write_state(rows: list[tuple], *, consume: bool) -> int:
    """Record the run's decision state of units: ``rows`` are ``(unit, project, next_on, accounts in
    arrears, marker read, run date)``. With ``consume`` the markers read become ``seen`` (an incremental run,
    in the transaction that wrote the units' actions: a marker bumped since stays unequal); a full run took
    them as seen before reading (``engine._begin_full``). One statement per batch (COPY and INSERT … ON
    CONFLICT on PostgreSQL)."""
    if not rows:
        return 0
    q = connection.ops.quote_name
    table = q(DecisionState._meta.db_table)
    cols = ", ".join(STATE_COLUMNS)
    sets = "next_on = EXCLUDED.next_on, arrears = EXCLUDED.arrears, decided_on = EXCLUDED.decided_on"
    if consume:
        sets += ", seen = EXCLUDED.seen"
    insert = f"INSERT INTO {table} (mark, {cols})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            temp = q("tmp_dunning_state")
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} AS SELECT {cols} FROM {table} WITH NO DATA")
            cursor.execute(f"TRUNCATE {temp}")
            with cursor.cursor.copy(f"COPY {temp} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"{insert} SELECT 0, {cols} FROM {temp} ORDER BY unit_id "
                           f"ON CONFLICT (unit_id) DO UPDATE SET {sets}")
            cursor.execute(f"TRUNCATE {temp}")
        else:
            cursor.executemany(f"{insert} VALUES (0, %s, %s, %s, %s, %s, %s) ON CONFLICT (unit_id) DO UPDATE SET {sets}",
                               [(u, p, n.isoformat() if n else None, a, s, d.isoformat())
                                for u, p, n, a, s, d in rows])
    return len(rows)
