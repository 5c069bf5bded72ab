"""PostgreSQL: trigram indexes on the unit's code and room number, whatever the case (``upper(code)``,
``upper(number)``), for the unit search (``estate.selectors.code_search_q``: Django's ``icontains`` and
``istartswith`` are ``UPPER(col::text) LIKE UPPER(…)``, the indexed expression). Without them the unit list's
search read every unit in scope — 1M for a manager of the whole estate. Decision 170.

As migration 0002: pg_trgm may be missing (the search then works without the index, and the migration says
so); nothing on SQLite."""

from django.db import DatabaseError, migrations, transaction

INDEXES = {"estate_unit_code_trgm": "estate_unit USING gin (upper(code) gin_trgm_ops)",
           "estate_unit_number_trgm": "estate_unit USING gin (upper(number) gin_trgm_ops)"}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:  # pragma: no cover - depends on the server's rights
            print(f"\n  pg_trgm unavailable ({exc.__class__.__name__}): unit code search runs without an index")
            return
        for name, target in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            for name in INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("estate", "0003_importjob_claim")]

    operations = [migrations.RunPython(forward, backward)]
