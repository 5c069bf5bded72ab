"""The tables the daily run fills lose their database foreign keys (decision 104).

A first run over 1M units inserts ~560,000 actions, ~240,000 episodes and as many decision states; the
deferred foreign-key checks at each commit (a lookup and a row lock in the parent table per row and key) cost
the database more than all the tables' index entries together. Django's ``on_delete`` still cascades and
protects, and nothing deletes these parents outside the ORM.

PostgreSQL drops the constraints. SQLite keeps them in its schema (a dropped constraint there means
rebuilding each table once per column, and its checks cost the small SQLite estates little); the migration
state says ``db_constraint=False`` for both. The actions' assignee index becomes partial (messages have no
assignee), on both.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FIELDS = [  # (table, column) whose foreign key goes
    ("dunning_action", "assigned_to_id"), ("dunning_action", "episode_id"), ("dunning_action", "party_id"),
    ("dunning_action", "project_id"), ("dunning_action", "step_id"), ("dunning_action", "unit_id"),
    ("dunning_decisionstate", "project_id"), ("dunning_decisionstate", "unit_id"),
    ("dunning_episode", "party_id"), ("dunning_episode", "project_id"), ("dunning_episode", "unit_id"),
    ("dunning_heldaccount", "project_id"), ("dunning_heldaccount", "unit_id"),
]


def _constraints(schema_editor, table):
    with schema_editor.connection.cursor() as cursor:
        return schema_editor.connection.introspection.get_constraints(cursor, table)


def drop_foreign_keys(apps, schema_editor):
    """PostgreSQL: drop the foreign keys of FIELDS, and the full index on the actions' assignee."""
    q = schema_editor.quote_name
    if schema_editor.connection.vendor == "postgresql":
        for table, column in FIELDS:
            for name, info in _constraints(schema_editor, table).items():
                if info["foreign_key"] and info["columns"] == [column]:
                    schema_editor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
    for name, info in _constraints(schema_editor, "dunning_action").items():
        if info["index"] and not info["unique"] and info["columns"] == ["assigned_to_id"] and name != "action_by_assignee":
            schema_editor.execute(f"DROP INDEX {q(name)}")


def restore_foreign_keys(apps, schema_editor):
    """Back: the assignee's full index (the foreign keys stay dropped: a reverse migration is for development,
    and re-adding them validates every row)."""
    schema_editor.execute('CREATE INDEX "dunning_action_assigned_to_id_91a2f98d" ON "dunning_action" ("assigned_to_id")')


class Migration(migrations.Migration):

    dependencies = [
        ('dunning', '0015_shop_villa_early_visits'),
        ('estate', '0002_load_search_trigram'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='action',
                    name='assigned_to',
                    field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='执行人'),
                ),
                migrations.AlterField(
                    model_name='action',
                    name='episode',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='actions', to='dunning.episode', verbose_name='欠费周期'),
                ),
                migrations.AlterField(
                    model_name='action',
                    name='party',
                    field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, help_text='本动作催告的人：只涉及其名下的账期，只发往其联系方式。', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='estate.party', verbose_name='欠费人'),
                ),
                migrations.AlterField(
                    model_name='action',
                    name='project',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, to='estate.project', verbose_name='项目'),
                ),
                migrations.AlterField(
                    model_name='action',
                    name='step',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='actions', to='dunning.step', verbose_name='步骤'),
                ),
                migrations.AlterField(
                    model_name='action',
                    name='unit',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='actions', to='estate.unit', verbose_name='房屋'),
                ),
                migrations.AlterField(
                    model_name='decisionstate',
                    name='project',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='estate.project', verbose_name='项目'),
                ),
                migrations.AlterField(
                    model_name='decisionstate',
                    name='unit',
                    field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='estate.unit', verbose_name='房屋'),
                ),
                migrations.AlterField(
                    model_name='episode',
                    name='party',
                    field=models.ForeignKey(blank=True, db_constraint=False, help_text='对哪些账期负责的人（账单行的缴费责任人）；房屋出售后买卖双方各自一个欠费周期。', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='estate.party', verbose_name='欠费人'),
                ),
                migrations.AlterField(
                    model_name='episode',
                    name='project',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, to='estate.project', verbose_name='项目'),
                ),
                migrations.AlterField(
                    model_name='episode',
                    name='unit',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='episodes', to='estate.unit', verbose_name='房屋'),
                ),
                migrations.AlterField(
                    model_name='heldaccount',
                    name='project',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, to='estate.project', verbose_name='项目'),
                ),
                migrations.AlterField(
                    model_name='heldaccount',
                    name='unit',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='estate.unit', verbose_name='房屋'),
                ),
            ],
            database_operations=[migrations.RunPython(drop_foreign_keys, restore_foreign_keys)],
        ),
        migrations.AddIndex(
            model_name='action',
            index=models.Index(condition=models.Q(('assigned_to__isnull', False)), fields=['assigned_to'], name='action_by_assignee'),
        ),
    ]
