"""Two daily runs started together (two cron entries, two servers) write what one run writes.

On PostgreSQL a run takes the ids of the episodes it opens from the sequence and inserts them with the chunk's
actions (decision 105); when another run opened the same debtor's episode first, the actions must name that
one. Two *processes* run the same day on one database; the outbox must equal one clean run's, each debtor
must have one open episode, and every action must name an episode that exists and belongs to its debtor."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, connections

from tests.dunning.test_crash import snapshot, wipe
from tests.dunning.test_dispatch_processes import _child_env
from tests.processes import race, read_back
from wuye.dunning import engine
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, DecisionState, Episode, ProjectDecisionState

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DAY = dt.date(2026, 1, 16)

CHILD = r"""
import datetime as dt, json, os, sys, time
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from wuye.dunning.engine import dunning_run

work = Path(sys.argv[1]); me = sys.argv[2]
(work / f"ready-{me}").touch()
while not (work / "go").exists():
    time.sleep(0.005)
r = dunning_run(as_of=dt.date(2026, 1, 16), chunk_size=2)
print(json.dumps({"actions": r.actions_created, "arrears": r.accounts_in_arrears}))
"""


def _consistent() -> None:
    open_eps = {(e.unit_id, e.party_id): e.pk for e in Episode.objects.filter(closed_on__isnull=True)}
    assert len(open_eps) == Episode.objects.filter(closed_on__isnull=True).count()
    for unit, party, episode in Action.objects.exclude(episode=None).values_list("unit_id", "party_id", "episode_id"):
        assert open_eps.get((unit, party)) == episode, (unit, party, episode)


@pytest.mark.parametrize("variant", ["sqlite", "postgresql"])
def test_two_runs_started_together_write_one_runs_outbox(variant, arrears_estate, tmp_path):
    if (connection.vendor == "postgresql") != (variant == "postgresql"):
        pytest.skip(f"{variant}: runs when the suite runs on {'PostgreSQL' if variant == 'postgresql' else 'SQLite'}")
    env, sqlite_path = _child_env(tmp_path, variant)
    connections.close_all()
    root = Path(__file__).resolve().parents[2]
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n)], cwd=root, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    reports = race(children, tmp_path, range(2), timeout=300)
    read_back(sqlite_path)  # what the children wrote, into the test database
    raced = snapshot()
    assert raced and sum(r["actions"] for r in reports) == len(raced), reports
    _consistent()

    wipe()
    DecisionState.objects.all().delete()
    ProjectDecisionState.objects.all().delete()
    dunning_run(as_of=DAY, chunk_size=2)
    assert snapshot() == raced


def test_an_episode_another_run_opened_first_is_the_one_the_actions_name(arrears_estate, monkeypatch):
    """The writer's side of the race, made certain: between reserving the ids and writing the chunk, the
    debtors' episodes are opened by someone else."""
    if connection.vendor != "postgresql":
        pytest.skip("ids are reserved from the sequence on PostgreSQL only (SQLite inserts and reads back)")
    real = engine._write_chunk
    taken: list[int] = []

    def first_someone_else(*args, episodes=(), **kwargs):
        for row in episodes[:3]:  # another run's episode of the same debtor, opened the same day
            taken.append(Episode.objects.create(**dict(zip(engine.EPISODE_FIELDS[1:], row[1:], strict=True))).pk)
        return real(*args, episodes=episodes, **kwargs)

    monkeypatch.setattr(engine, "_write_chunk", first_someone_else)
    result = dunning_run(as_of=DAY, chunk_size=5)
    assert result.actions_created and taken
    _consistent()
    assert set(Action.objects.filter(episode_id__in=taken).values_list("episode_id", flat=True)) == set(taken)
