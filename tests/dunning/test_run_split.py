"""How a daily run is cut into parts and what each part reads (decision 107).

The bounds of the parts are chosen before any account is read, from the open lines of the units to decide, so
each part (this process and its children) reads only the accounts of its own unit range; and the run keeps
Python's cyclic collector paused while it decides (it found nothing and took 18 % of the time)."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from django.db import connection

from wuye.billing.selectors import account_summaries
from wuye.common.memory import collector_paused
from wuye.dunning import engine
from wuye.dunning.engine import Writer, _part_ranges, _within, dunning_run
from wuye.estate.models import Project

D = dt.date


def test_the_collector_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner block does not turn it back on
    assert gc.isenabled()

    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_the_collector_is_restored_when_the_block_raises():
    with pytest.raises(ValueError), collector_paused():
        raise ValueError
    assert gc.isenabled()


@pytest.mark.django_db
def test_the_run_decides_with_the_collector_paused(arrears_estate, monkeypatch):
    seen = []
    decide = engine.decide

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return decide(*args, **kwargs)

    monkeypatch.setattr(engine, "decide", spy)
    r = dunning_run(as_of=D(2026, 3, 16))
    assert r.actions_created and seen and not any(seen)
    assert gc.isenabled()


@pytest.mark.django_db
def test_a_unit_range_reads_exactly_the_accounts_of_its_units(arrears_estate):
    day = D(2026, 3, 16)
    every = list(account_summaries(as_of=day, only_overdue=False))
    ids = sorted({s.unit_id for s in every})
    assert len(ids) >= 4
    for low, high in [(None, ids[1]), (ids[1], ids[-1]), (ids[-1], None), (ids[1], ids[1]), (None, None)]:
        part = list(account_summaries(as_of=day, only_overdue=False, unit_range=(low, high)))
        assert part == [s for s in every if _within(s.unit_id, (low, high))]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parts run only on PostgreSQL (threaded writer)")
@pytest.mark.django_db(transaction=True)
def test_the_parts_split_the_units_to_decide_evenly(arrears_estate):
    writer = Writer()
    assert writer.threaded
    full = sorted(Project.objects.values_list("pk", flat=True))
    units = sorted({s.unit_id for s in account_summaries(as_of=D(2026, 3, 16), only_overdue=False)})
    for workers in (2, 3):
        ranges = _part_ranges(workers, full, [], writer)
        assert len(ranges) == workers
        assert ranges[0][0] is None and ranges[-1][1] is None
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # contiguous, no gap
        sizes = [sum(_within(u, r) for u in units) for r in ranges]
        assert sum(sizes) == len(units)
        assert min(sizes) >= len(units) // workers - 1  # every unit has the same lines: an even split

    # one worker, or nothing to decide: one part over everything
    assert _part_ranges(1, full, [], writer) == [(None, None)]
    assert _part_ranges(None, [], [], writer) == [(None, None)]
    # only incremental units: cut by their own order, no read
    marked = units[:10]
    two = _part_ranges(2, [], marked, writer)
    assert [sum(_within(u, r) for u in marked) for r in two] == [5, 5]


@pytest.mark.django_db
def test_without_a_threaded_writer_there_is_one_part(arrears_estate):
    full = sorted(Project.objects.values_list("pk", flat=True))
    writer = Writer()  # inside the test's transaction (and on SQLite) the writer is never threaded
    assert not writer.threaded
    assert _part_ranges(4, full, [1, 2, 3], writer) == [(None, None)]
