"""PostgreSQL: trigram indexes for the unit search (``estate.selectors.unit_search_q``): on contact values,
for the last digits of a phone number (``value LIKE '%1234'`` read every contact point: 140 ms at 100k units,
about ten times that at 1M), and on party names, for a name of three characters or more, or digits (every
party's name was read for any search). Decision 74.

pg_trgm is a trusted extension (PostgreSQL 13+: the database's owner may create it). Where it cannot be
created the search keeps working without the index, and the migration says so instead of failing. Nothing
on SQLite (a small installation scans a small table)."""

from django.db import DatabaseError, migrations, transaction

INDEXES = {"estate_contactpoint_value_trgm": "estate_contactpoint USING gin (value gin_trgm_ops)",
           "estate_party_name_trgm": "estate_party USING gin (name gin_trgm_ops)"}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:  # pragma: no cover - depends on the server's rights
            print(f"\n  pg_trgm unavailable ({exc.__class__.__name__}): phone-tail search runs without an index")
            return
        for name, target in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            for name in INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("estate", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
