"""Fast inserts of many rows inside the current transaction: COPY on PostgreSQL, executemany elsewhere.

The ORM's ``bulk_create`` builds a model instance per row; for a million bill lines that is most of the
time. Rows here are plain tuples in the order of ``fields`` (attribute names, e.g. ``unit_id``); the
database assigns primary keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from django.db import connection, models

BATCH = 10_000


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert ``rows`` into ``model``'s table; returns how many. Values must already be database-ready
    (ints, strings, dates, aware datetimes, booleans, None)."""
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    columns = [by_attname[name].column for name in fields]
    table = connection.ops.quote_name(meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    it = iter(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg 3 cursor
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in it:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
        while batch := list(islice(it, BATCH)):
            cursor.executemany(sql, [tuple(_adapt(v) for v in row) for row in batch])
            count += len(batch)
    return count


def insert_rows_ignore_conflicts(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
    """Like ``insert_rows``, but rows that would break a unique constraint are skipped (the outbox's
    idempotency). Returns how many rows were inserted. PostgreSQL: COPY into a temporary table, then one
    INSERT … SELECT … ON CONFLICT DO NOTHING; SQLite: INSERT … ON CONFLICT DO NOTHING in batches."""
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    columns = [by_attname[name].column for name in fields]
    table = connection.ops.quote_name(meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    it = iter(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            temp = connection.ops.quote_name(f"tmp_{meta.db_table}")
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} AS SELECT {cols} FROM {table} WITH NO DATA")
            cursor.execute(f"TRUNCATE {temp}")
            raw = cursor.cursor
            with raw.copy(f"COPY {temp} ({cols}) FROM STDIN") as copy:
                for row in it:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp} ON CONFLICT DO NOTHING")
            inserted = cursor.rowcount
            cursor.execute(f"TRUNCATE {temp}")
            return inserted
        sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING"
        raw_conn = connection.connection
        before = raw_conn.total_changes
        while batch := list(islice(it, BATCH)):
            cursor.executemany(sql, [tuple(_adapt(v) for v in row) for row in batch])
        return raw_conn.total_changes - before


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
    """Set ``fields`` on many rows at once: ``rows`` are ``(pk, value, …)`` tuples in the order of ``fields``
    (database-ready values; JSON as a string). ``QuerySet.bulk_update`` builds a CASE per field and row,
    which costs seconds per thousand rows; this is one COPY and one UPDATE … FROM on PostgreSQL and a
    prepared ``executemany`` on SQLite."""
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    q = connection.ops.quote_name
    columns = [by_attname[name].column for name in fields]
    pk = meta.pk.column
    table = q(meta.db_table)
    rows = list(rows)
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            temp = q(f"tmp_upd_{meta.db_table}")
            cols = ", ".join(q(c) for c in [pk, *columns])
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} AS SELECT {cols} FROM {table} WITH NO DATA")
            cursor.execute(f"TRUNCATE {temp}")
            with cursor.cursor.copy(f"COPY {temp} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in columns)
            cursor.execute(f"UPDATE {table} AS t SET {sets} FROM {temp} AS s WHERE t.{q(pk)} = s.{q(pk)}")
            n = cursor.rowcount
            cursor.execute(f"TRUNCATE {temp}")
            return n
        sets = ", ".join(f"{q(c)} = %s" for c in columns)
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE {q(pk)} = %s",
                           [tuple(_adapt(v) for v in row[1:]) + (row[0],) for row in rows])
        return len(rows)


def _adapt(value):
    """What SQLite's backend would store for a value (aware datetimes → UTC text, dates → ISO text)."""
    import datetime as dt

    from django.utils import timezone

    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.make_naive(value, dt.UTC)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, ensure_ascii=False)
    return value


class Analyzer:
    """Keeps PostgreSQL's row counts of tables that a long job grows from (nearly) empty to large.

    Foreign-key checks of inserted rows run through plans that PostgreSQL prepares once per connection; a
    plan made while the referenced table looked empty scans it whole for every inserted row, which turns a
    first run over a big estate quadratic (and with autovacuum off or behind, nothing corrects it). So the
    job reports how many rows it added; each time they reach the count at the last ``ANALYZE`` (at least
    ``floor``), the tables are analysed again, which also makes PostgreSQL re-plan those checks. Geometric
    steps: a handful of ANALYZEs per run. Nothing on SQLite."""

    def __init__(self, *models: type[models.Model], floor: int = 5_000):
        self.tables = [m._meta.db_table for m in models]
        self.floor = floor
        self.pending = 0
        self.analysed_at = 0

    def grew(self, rows: int) -> None:
        if connection.vendor != "postgresql" or rows <= 0:
            return
        self.pending += rows
        if self.pending >= max(self.floor, self.analysed_at):
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in self.tables))
            self.analysed_at += self.pending
            self.pending = 0
