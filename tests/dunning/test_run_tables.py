"""The tables the daily run fills have no database foreign keys (decision 104): the deferred checks cost a
first run over a large estate more than every index. Django's ``on_delete`` must still hold for them: a
ladder step, an arrears episode or a debtor that actions name cannot be deleted."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import ProtectedError

from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, DecisionState, Episode, Step
from wuye.estate.models import Party

pytestmark = pytest.mark.django_db

RUN_TABLES = ["dunning_action", "dunning_episode", "dunning_decisionstate", "dunning_heldaccount"]


def _foreign_keys(table: str) -> list[tuple[str, list[str]]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return sorted((name, info["columns"]) for name, info in found.items() if info["foreign_key"])


def test_postgresql_writes_the_run_tables_without_foreign_key_checks():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps the constraints in its schema (see the migration); the PostgreSQL pass checks")
    assert {table: _foreign_keys(table) for table in RUN_TABLES} == {table: [] for table in RUN_TABLES}
    # the assignee is indexed only where set (calls and visits; messages have none)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'dunning_action' "
                       "AND indexdef LIKE '%%assigned_to_id%%'")
        defs = [row[0] for row in cursor.fetchall()]
    assert len(defs) == 1 and "WHERE (assigned_to_id IS NOT NULL)" in defs[0]


def test_on_delete_still_protects(arrears_estate):
    dunning_run(as_of=dt.date(2026, 1, 16))
    action = Action.objects.exclude(party=None).exclude(episode=None).first()
    assert action is not None
    before = Action.objects.count()

    # a step that acted, the episode and the debtor an action names are kept: the actions are evidence
    with pytest.raises(ProtectedError):
        Step.objects.filter(pk=action.step_id).delete()
    with pytest.raises(ProtectedError):
        Episode.objects.filter(pk=action.episode_id).delete()
    with pytest.raises(ProtectedError):
        Party.objects.filter(pk=action.party_id).delete()
    assert Step.objects.filter(pk=action.step_id).exists() and Episode.objects.filter(pk=action.episode_id).exists()
    assert Action.objects.count() == before
    assert DecisionState.objects.filter(unit_id=action.unit_id).exists()
