"""``wuye dunning_run --workers 2`` splits the estate pass by unit id between this process and a child process
(decision 106). The outbox, the episodes and the decision state must be exactly what one process writes, day
after day (a first full run, then incremental ones); a part that fails stops the run with its error, and a
re-run completes it. The child is a real process on the test database (PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from tests.billing.test_generate_parallel import _database_url
from tests.dunning.test_crash import snapshot, wipe
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import DecisionState, Episode, ProjectDecisionState

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the parts commit on their own connections: "
                                                                 "the suite's PostgreSQL pass runs this"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]
D = dt.date
DAYS = [D(2026, 1, 16), D(2026, 1, 19), D(2026, 2, 16), D(2026, 4, 16)]


def _state():
    return (snapshot(),
            sorted(Episode.objects.values_list("unit_id", "party_id", "opened_on", "closed_on", "ladder_done_on")),
            # (the change markers are counters: the second history starts them again)
            sorted(DecisionState.objects.values_list("unit_id", "next_on", "arrears", "decided_on")),
            sorted(ProjectDecisionState.objects.values_list("project_id", "last_on")))


def _counts(r):
    return (r.accounts_in_arrears, r.accounts_decided, r.actions_created, r.held)


def test_a_pass_split_between_two_processes_writes_what_one_process_writes(arrears_estate, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", _database_url())  # the child decides on the test database
    split = []
    for day in DAYS:
        r = dunning_run(as_of=day, chunk_size=4, workers=2)
        split.append(_counts(r))
        if day == DAYS[0]:
            assert r.parts == 2 and "part2" in r.phases
    after_split = _state()
    assert after_split[0]

    wipe()
    DecisionState.objects.all().delete()
    ProjectDecisionState.objects.all().delete()
    one = [_counts(dunning_run(as_of=day, chunk_size=4)) for day in DAYS]
    assert one == split
    assert _state() == after_split


def test_a_failed_part_stops_the_run_and_a_rerun_completes_it(arrears_estate, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", _database_url().rsplit("/", 1)[0] + "/no_such_database_wuye")
    with pytest.raises(RuntimeError, match="部分进程失败"):
        dunning_run(as_of=DAYS[0], chunk_size=4, workers=2)
    half = snapshot()
    assert half  # this process's part was written

    monkeypatch.setenv("DATABASE_URL", _database_url())
    dunning_run(as_of=DAYS[0], chunk_size=4, workers=2)
    rerun = _state()
    wipe()
    DecisionState.objects.all().delete()
    ProjectDecisionState.objects.all().delete()
    dunning_run(as_of=DAYS[0], chunk_size=4)
    assert _state()[:2] == rerun[:2] and len(half) < len(rerun[0])
