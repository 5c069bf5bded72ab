"""The prepaid balance per unit, kept by triggers on payments and allocations (decision 67)."""

from django.db import migrations, models

# PostgreSQL: one statement-level trigger per table and event (transition tables allow one event each); the
# function folds the statement's rows into one grouped upsert, so bulk writes cost one statement.
def _pg_move(delta_sql: str) -> str:
    """One grouped upsert of the statement's rows (ordered by unit, so two writers lock balances in one order)."""
    return (f"INSERT INTO billing_unitbalance AS b (unit_id, project_id, prepaid_fen) "
            f"SELECT unit_id, min(project_id), sum(fen)::bigint FROM ({delta_sql}) d "
            f"GROUP BY unit_id HAVING sum(fen) <> 0 ORDER BY unit_id "
            f"ON CONFLICT (unit_id) DO UPDATE SET prepaid_fen = b.prepaid_fen + EXCLUDED.prepaid_fen;")


def _pg_lower(delta_sql: str) -> str:
    """A deletion moves balances that exist and never creates one (see the SQLite triggers below)."""
    return (f"UPDATE billing_unitbalance AS b SET prepaid_fen = b.prepaid_fen + d.fen FROM "
            f"(SELECT unit_id, sum(fen)::bigint AS fen FROM ({delta_sql}) x GROUP BY unit_id) d "
            f"WHERE b.unit_id = d.unit_id;")


_PAY_NEW = "SELECT unit_id, project_id, amount_fen AS fen FROM payment_new"
_PAY_OLD = "SELECT unit_id, project_id, -amount_fen AS fen FROM payment_old"
_ALLOC_NEW = ("SELECT p.unit_id, p.project_id, -a.amount_fen AS fen FROM allocation_new a "
              "JOIN billing_payment p ON p.id = a.payment_id")
_ALLOC_OLD = ("SELECT p.unit_id, p.project_id, a.amount_fen AS fen FROM allocation_old a "
              "JOIN billing_payment p ON p.id = a.payment_id")


def _pg_function(name: str, new: str, old: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_move(new)}
    ELSIF TG_OP = 'DELETE' THEN
        {_pg_lower(old)}
    ELSE
        {_pg_move(new + " UNION ALL " + old)}
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


PG_FUNCTIONS = (_pg_function("billing_payment_balance", _PAY_NEW, _PAY_OLD)
                + _pg_function("billing_allocation_balance", _ALLOC_NEW, _ALLOC_OLD))
PG_TRIGGERS = """
CREATE TRIGGER billing_payment_balance_ins AFTER INSERT ON billing_payment
    REFERENCING NEW TABLE AS payment_new FOR EACH STATEMENT EXECUTE FUNCTION billing_payment_balance();
CREATE TRIGGER billing_payment_balance_del AFTER DELETE ON billing_payment
    REFERENCING OLD TABLE AS payment_old FOR EACH STATEMENT EXECUTE FUNCTION billing_payment_balance();
CREATE TRIGGER billing_payment_balance_upd AFTER UPDATE ON billing_payment
    REFERENCING OLD TABLE AS payment_old NEW TABLE AS payment_new
    FOR EACH STATEMENT EXECUTE FUNCTION billing_payment_balance();
CREATE TRIGGER billing_allocation_balance_ins AFTER INSERT ON billing_allocation
    REFERENCING NEW TABLE AS allocation_new FOR EACH STATEMENT EXECUTE FUNCTION billing_allocation_balance();
CREATE TRIGGER billing_allocation_balance_del AFTER DELETE ON billing_allocation
    REFERENCING OLD TABLE AS allocation_old FOR EACH STATEMENT EXECUTE FUNCTION billing_allocation_balance();
CREATE TRIGGER billing_allocation_balance_upd AFTER UPDATE ON billing_allocation
    REFERENCING OLD TABLE AS allocation_old NEW TABLE AS allocation_new
    FOR EACH STATEMENT EXECUTE FUNCTION billing_allocation_balance();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS billing_payment_balance_ins ON billing_payment;
DROP TRIGGER IF EXISTS billing_payment_balance_del ON billing_payment;
DROP TRIGGER IF EXISTS billing_payment_balance_upd ON billing_payment;
DROP TRIGGER IF EXISTS billing_allocation_balance_ins ON billing_allocation;
DROP TRIGGER IF EXISTS billing_allocation_balance_del ON billing_allocation;
DROP TRIGGER IF EXISTS billing_allocation_balance_upd ON billing_allocation;
DROP FUNCTION IF EXISTS billing_payment_balance();
DROP FUNCTION IF EXISTS billing_allocation_balance();
"""

_SQLITE_MOVE = """INSERT INTO billing_unitbalance (unit_id, project_id, prepaid_fen) {select}
    ON CONFLICT (unit_id) DO UPDATE SET prepaid_fen = prepaid_fen + excluded.prepaid_fen;"""
_P_NEW = "SELECT NEW.unit_id, NEW.project_id, NEW.amount_fen WHERE true"
_P_OLD = "SELECT OLD.unit_id, OLD.project_id, -OLD.amount_fen WHERE true"
_A_NEW = "SELECT p.unit_id, p.project_id, -NEW.amount_fen FROM billing_payment p WHERE p.id = NEW.payment_id"
_A_OLD = "SELECT p.unit_id, p.project_id, OLD.amount_fen FROM billing_payment p WHERE p.id = OLD.payment_id"


def _sqlite_trigger(name: str, event: str, table: str, *selects: str) -> str:
    body = "\n".join(_SQLITE_MOVE.format(select=s) for s in selects)
    return f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN\n{body}\nEND;"


# A deletion only lowers or raises a balance that exists: it never creates one. Entries are never deleted in
# use (the ledger is append-only); a bulk delete of everything (a test database's flush deletes table by table,
# in no fixed order) must not leave a balance behind for a unit whose entries are gone.
_P_OLD_DEL = "UPDATE billing_unitbalance SET prepaid_fen = prepaid_fen - OLD.amount_fen WHERE unit_id = OLD.unit_id;"
_A_OLD_DEL = ("UPDATE billing_unitbalance SET prepaid_fen = prepaid_fen + OLD.amount_fen "
              "WHERE unit_id = (SELECT p.unit_id FROM billing_payment p WHERE p.id = OLD.payment_id);")


def _sqlite_delete_trigger(name: str, table: str, body: str) -> str:
    return f"CREATE TRIGGER {name} AFTER DELETE ON {table} FOR EACH ROW BEGIN\n{body}\nEND;"


SQLITE_TRIGGERS = [
    _sqlite_trigger("billing_payment_balance_ins", "INSERT", "billing_payment", _P_NEW),
    _sqlite_delete_trigger("billing_payment_balance_del", "billing_payment", _P_OLD_DEL),
    _sqlite_trigger("billing_payment_balance_upd", "UPDATE OF amount_fen, unit_id", "billing_payment", _P_OLD, _P_NEW),
    _sqlite_trigger("billing_allocation_balance_ins", "INSERT", "billing_allocation", _A_NEW),
    _sqlite_delete_trigger("billing_allocation_balance_del", "billing_allocation", _A_OLD_DEL),
    _sqlite_trigger("billing_allocation_balance_upd", "UPDATE OF amount_fen, payment_id", "billing_allocation",
                    _A_OLD, _A_NEW),
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {name};" for name in (
    "billing_payment_balance_ins", "billing_payment_balance_del", "billing_payment_balance_upd",
    "billing_allocation_balance_ins", "billing_allocation_balance_del", "billing_allocation_balance_upd")]

# Existing ledgers: the balance from the entries, once.
POPULATE = """
INSERT INTO billing_unitbalance (unit_id, project_id, prepaid_fen)
SELECT unit_id, min(project_id), sum(fen) FROM (
    SELECT unit_id, project_id, amount_fen AS fen FROM billing_payment
    UNION ALL
    SELECT p.unit_id, p.project_id, -a.amount_fen FROM billing_allocation a JOIN billing_payment p ON p.id = a.payment_id
) d GROUP BY unit_id HAVING sum(fen) <> 0
"""


def install(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTIONS)
            cursor.execute(PG_TRIGGERS)
        else:
            for sql in SQLITE_TRIGGERS:
                cursor.execute(sql)
        cursor.execute(POPULATE)


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_DROP)
        else:
            for sql in SQLITE_DROP:
                cursor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0005_load_payment_by_created_at"),
        ("estate", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="UnitBalance",
            fields=[
                ("unit", models.OneToOneField(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                              primary_key=True, related_name="balance", serialize=False,
                                              to="estate.unit", verbose_name="房屋")),
                ("project", models.ForeignKey(db_constraint=False, on_delete=models.deletion.DO_NOTHING,
                                              related_name="+", to="estate.project", verbose_name="项目")),
                ("prepaid_fen", models.BigIntegerField(default=0, verbose_name="预存余额（分）")),
            ],
            options={
                "verbose_name": "预存余额",
                "verbose_name_plural": "预存余额",
                "indexes": [models.Index(condition=models.Q(("prepaid_fen", 0), _negated=True), fields=["project"],
                                         name="unitbalance_holding")],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
