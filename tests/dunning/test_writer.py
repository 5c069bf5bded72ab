"""The daily run writes each chunk on a second connection while it decides the next (PostgreSQL, outside a
caller's transaction). The outbox must be the one an inline run writes, and a run killed half-way and
run again must still equal one clean run."""

import datetime as dt
import random
import threading

import pytest
from django.db import connection, transaction

from tests.dunning.test_crash import Killed, snapshot, wipe
from wuye.dunning import engine
from wuye.dunning.engine import dunning_run

pytestmark = pytest.mark.django_db(transaction=True)

D = dt.date
DAYS = [D(2026, 1, 16), D(2026, 1, 19), D(2026, 4, 16)]


@pytest.fixture
def threads_that_wrote(monkeypatch):
    seen: list[str] = []
    real = engine._write_chunk

    def observed(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_write_chunk", observed)
    return seen


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":  # the suite's PostgreSQL pass runs these
        pytest.skip("the writer thread runs on PostgreSQL only (SQLite writes inline)")


def test_the_writer_thread_writes_the_outbox_an_inline_run_writes(postgres_only, arrears_estate, threads_that_wrote):
    for day in DAYS:
        dunning_run(as_of=day, chunk_size=5)
    threaded = snapshot()
    assert threaded and set(threads_that_wrote) == {"dunning-writer"}

    wipe()
    threads_that_wrote.clear()
    for day in DAYS:
        with transaction.atomic():  # inside a caller's transaction the run writes inline
            dunning_run(as_of=day, chunk_size=5)
    assert set(threads_that_wrote) == {threading.current_thread().name}
    assert snapshot() == threaded


@pytest.mark.parametrize("seed", [1, 2])
def test_a_killed_threaded_run_and_a_rerun_equal_one_clean_run(postgres_only, arrears_estate, seed):
    rng = random.Random(seed)
    for day in DAYS[:2]:
        dunning_run(as_of=day, chunk_size=5)

    after = rng.randint(1, 7)

    def hook(n):
        if n >= after:
            raise Killed(f"killed after chunk {n}")

    engine.FAULT_HOOK = hook
    try:
        with pytest.raises(Killed):
            dunning_run(as_of=DAYS[2], chunk_size=5)
    finally:
        engine.FAULT_HOOK = None
    dunning_run(as_of=DAYS[2], chunk_size=5)
    crashed = snapshot()

    wipe()
    for day in DAYS:
        dunning_run(as_of=day, chunk_size=7)
    assert snapshot() == crashed


def test_a_failed_write_stops_the_run_with_its_error(postgres_only, arrears_estate, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine, "_write_chunk", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        dunning_run(as_of=DAYS[0], chunk_size=5)
