"""Kill the daily run at a random point and run it again: the outbox equals one clean run's."""

import datetime as dt
import random

import pytest

from wuye.dunning import engine
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, ActionEvent, Episode, HeldAccount, Run

D = dt.date


class Killed(Exception):
    pass


def snapshot():
    return sorted(Action.objects.values_list("unit_id", "step_id", "cycle", "channel", "status", "stage",
                                             "not_before", "out_id", "assigned_to_id", "episode__opened_on"))


def wipe():
    ActionEvent.objects.all().delete()
    Action.objects.all().delete()
    Episode.objects.all().delete()
    HeldAccount.objects.all().delete()
    Run.objects.all().delete()


@pytest.fixture
def killer():
    def arm(after: int):
        def hook(n):
            if n >= after:
                raise Killed(f"killed after chunk {n}")
        engine.FAULT_HOOK = hook
    yield arm
    engine.FAULT_HOOK = None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_run_and_a_rerun_equal_one_clean_run(arrears_estate, killer, seed):
    rng = random.Random(seed)
    days = [D(2026, 1, 16), D(2026, 1, 19), D(2026, 4, 16)]
    # history before the crash day: two clean days
    for day in days[:2]:
        dunning_run(as_of=day, chunk_size=5)
    before = snapshot()
    # crash day: killed after a random chunk (36 accounts in chunks of 5 → 8 chunks)
    killer(rng.randint(1, 7))
    with pytest.raises(Killed):
        dunning_run(as_of=days[2], chunk_size=5)
    partial = snapshot()
    assert before != partial  # it did write something before dying
    engine.FAULT_HOOK = None
    dunning_run(as_of=days[2], chunk_size=5)
    crashed = snapshot()

    wipe()
    for day in days:
        dunning_run(as_of=day, chunk_size=7)  # a different chunking, too
    assert snapshot() == crashed
