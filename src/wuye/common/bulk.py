"""Fast inserts of many rows inside the current transaction: COPY on PostgreSQL, executemany elsewhere.

The ORM's ``bulk_create`` builds a model instance per row; for a million bill lines that is most of the
time. Rows here are plain tuples in the order of ``fields`` (attribute names, e.g. ``unit_id``); the
database assigns primary keys.

Rows of many columns are better written as dicts (``insert_dicts``, ``update_dicts``): a dict names its
columns, and the columns it leaves out get the model's defaults (``model_defaults``), so adding a field to a
model never shifts a positional tuple that must match a field list somewhere else.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from itertools import islice
from operator import itemgetter

from django.db import connection, models
from django.utils import timezone

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
            temp = connection.ops.quote_name(_temp_name("tmp", meta.db_table, columns))
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


def _temp_name(prefix: str, table: str, columns: Sequence[str]) -> str:
    """A staging table per target and column list: a temporary table lives as long as the connection, so
    one made for other columns of the same table must not be reused."""
    return f"{prefix}_{table}_{zlib.crc32(','.join(columns).encode()):08x}"[:63]


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
            temp = q(_temp_name("tmp_upd", meta.db_table, columns))
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


_DEFAULTS: dict[type[models.Model], tuple[dict, frozenset[str], frozenset[str], frozenset[str]]] = {}
_NOW = object()  # auto_now / auto_now_add: the time of the write


def model_defaults(model: type[models.Model]) -> dict[str, object]:
    """attname → the value a column gets when a row leaves it out: the field's default (called when
    callable), ``None`` for a nullable field, ``""`` for a text field, the time of the write for
    ``auto_now``/``auto_now_add``. Columns with none of these (a required foreign key, a date) are left out:
    a row must give them. The primary key is never filled."""
    return {k: (timezone.now() if v is _NOW else v() if callable(v) else v) for k, v in _model_meta(model)[0].items()}


def _model_meta(model):
    cached = _DEFAULTS.get(model)
    if cached is None:
        static, required, json_fields = {}, set(), set()
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            if isinstance(f, models.JSONField):
                json_fields.add(f.attname)
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                static[f.attname] = _NOW
            elif f.has_default():
                static[f.attname] = f.get_default() if not callable(f.default) else f.default
            elif f.null:
                static[f.attname] = None
            elif f.empty_strings_allowed and not isinstance(f, models.JSONField):
                static[f.attname] = ""
            else:
                required.add(f.attname)
        names = frozenset(f.attname for f in model._meta.concrete_fields)
        cached = _DEFAULTS[model] = (static, frozenset(required), frozenset(json_fields), names)
    return cached


def _defaults_to_write(model: type[models.Model]) -> dict[str, object]:
    """``model_defaults`` as written: the time of this write for ``auto_now`` columns, JSON as text."""
    static, _required, json_fields, _names = _model_meta(model)
    now = timezone.now()
    out = {}
    for k, v in static.items():
        v = now if v is _NOW else v() if callable(v) else v
        if k in json_fields and not isinstance(v, str):
            v = json.dumps(v, ensure_ascii=False)
        out[k] = v
    return out


def dict_rows(model: type[models.Model], rows: Iterable[dict], fields: Sequence[str] | None = None
              ) -> tuple[list[str], list[tuple]]:
    """(columns, tuples) for ``insert_rows`` from dicts: every concrete column (or ``fields``), each row's
    own values over the model's defaults. A key the model lacks, or a required column left out, raises
    ``KeyError`` naming it. JSON columns given as lists or dicts are serialised. (Per row: a merge and an
    ``itemgetter`` — as fast as building the tuple by hand, which the daily run's half a million rows need.)"""
    _static, required, json_fields, names = _model_meta(model)
    defaults = _defaults_to_write(model)
    columns = list(fields) if fields is not None else [*defaults, *sorted(required)]
    pick = itemgetter(*columns)
    single = len(columns) == 1
    out = []
    for row in rows:
        merged = {**defaults, **row}
        if len(merged) != len(defaults) + len(required) or not required <= row.keys():
            unknown = row.keys() - names
            if unknown:
                raise KeyError(f"{model.__name__} has no column {sorted(unknown)}")
            missing = sorted(required - row.keys())
            if missing:
                raise KeyError(f"{model.__name__} row lacks required {missing}")
        for c in json_fields:
            if c in row and not isinstance(row[c], str):
                merged[c] = json.dumps(row[c], ensure_ascii=False)
        out.append((pick(merged),) if single else pick(merged))
    return columns, out


def insert_dicts(model: type[models.Model], rows: Iterable[dict], *, ignore_conflicts: bool = False) -> int:
    """Insert rows given as dicts (attnames → values; the rest from ``model_defaults``)."""
    columns, tuples = dict_rows(model, rows)
    if not tuples:
        return 0
    if ignore_conflicts:
        return insert_rows_ignore_conflicts(model, columns, tuples)
    return insert_rows(model, columns, tuples)


class Shape:
    """Rows of ``model`` built as tuples of the named ``fields``, in that order, with every other column
    taken from the model's defaults (``model_defaults``) at write time: as safe as dicts (a row names its
    columns where it is built, a field added to the model gets its default, an unknown or a missing required
    column is a ``KeyError`` when the shape is made) without a dict per row — the daily run's half a million
    outbox rows are built once, as tuples. JSON columns among ``fields`` are given as JSON text."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]):
        static, required, _json_fields, names = _model_meta(model)
        unknown = sorted(set(fields) - names)
        if unknown:
            raise KeyError(f"{model.__name__} has no column {unknown}")
        missing = sorted(required - set(fields))
        if missing:
            raise KeyError(f"{model.__name__} rows lack required {missing}")
        self.model, self.fields = model, tuple(fields)
        self.rest = tuple(k for k in static if k not in self.fields)

    def index(self, field: str) -> int:
        return self.fields.index(field)

    def columns_and_tail(self) -> tuple[list[str], tuple]:
        """Every column of a written row, and the defaults that follow each row's own values."""
        defaults = _defaults_to_write(self.model)
        return [*self.fields, *self.rest], tuple(defaults[k] for k in self.rest)


def insert_shaped(shape: Shape, rows: Iterable[tuple], *, ignore_conflicts: bool = False) -> int:
    """Insert tuples of ``shape.fields`` (the other columns get their defaults); returns how many."""
    columns, tail = shape.columns_and_tail()
    full = (row + tail for row in rows) if tail else rows
    if ignore_conflicts:
        return insert_rows_ignore_conflicts(shape.model, columns, full)
    return insert_rows(shape.model, columns, full)


def update_dicts(model: type[models.Model], rows: Iterable[dict], fields: Sequence[str]) -> int:
    """Set ``fields`` on many rows given as dicts holding ``pk`` and each of ``fields`` (``update_rows``)."""
    _static, _required, json_fields, names = _model_meta(model)
    unknown = set(fields) - names
    if unknown:
        raise KeyError(f"{model.__name__} has no column {sorted(unknown)}")
    tuples = []
    for row in rows:
        values = [row["pk"]]
        for f in fields:
            v = row[f]
            if f in json_fields and not isinstance(v, str):
                v = json.dumps(v, ensure_ascii=False)
            values.append(v)
        tuples.append(tuple(values))
    return update_rows(model, fields, tuples)


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
