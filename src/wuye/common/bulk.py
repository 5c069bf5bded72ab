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
    return value
