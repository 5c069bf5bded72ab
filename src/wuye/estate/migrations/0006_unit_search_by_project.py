"""PostgreSQL: the unit search's trigram indexes on ``upper(code)`` and ``upper(number)`` (0004) lead with the
project (``gin (project_id, upper(code) gin_trgm_ops)``, through btree_gin), keeping their names. A search limited
to one project (the desk's: decision 180) then finds its candidates inside one index scan — the estate-wide
index gave every unit of the estate sharing the typed trigrams (``1-101`` is in every project) to be read and
thrown away; a search of the whole estate uses the trigram column alone, as before (decision 170).

Without btree_gin (an extension PostgreSQL ships with pg_trgm, trusted since PostgreSQL 13) or without 0004's
indexes (pg_trgm missing), nothing changes and the migration says so; nothing on SQLite. The new index is built
before the old one is dropped: the table is write-locked meanwhile, as in 0004."""

from django.db import DatabaseError, migrations, transaction

COLUMNS = {"estate_unit_code_trgm": "code", "estate_unit_number_trgm": "number"}


def _rebuild(schema_editor, *, by_project: bool) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(COLUMNS)])
        if len(cursor.fetchall()) != len(COLUMNS):
            print("\n  unit search trigram indexes missing (pg_trgm unavailable): left as they are")
            return
        if by_project:
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
            except DatabaseError as exc:  # pragma: no cover - depends on the server's rights
                print(f"\n  btree_gin unavailable ({exc.__class__.__name__}): the unit search's indexes stay estate-wide")
                return
        for name, column in COLUMNS.items():
            keys = f"project_id, upper({column}) gin_trgm_ops" if by_project else f"upper({column}) gin_trgm_ops"
            cursor.execute(f"CREATE INDEX {name}_new ON estate_unit USING gin ({keys})")
            cursor.execute(f"DROP INDEX {name}")
            cursor.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def forward(apps, schema_editor):
    _rebuild(schema_editor, by_project=True)


def backward(apps, schema_editor):
    _rebuild(schema_editor, by_project=False)


class Migration(migrations.Migration):
    dependencies = [("estate", "0005_importjob_queued")]

    operations = [migrations.RunPython(forward, backward)]
