"""News that something an account's collection decision depends on was written.

The collection engine (``dunning``) decides incrementally: each day it decides only the accounts whose
inputs changed or whose next decision date has come. Modules above it in the flow (estate, billing) cannot
import it, so their writes announce themselves here and dunning's receiver marks the accounts, set-based, in
the writer's transaction (``dunning.marks``). Call these from every service or bulk path that writes what a
decision reads — ledger lines, payments, allocations, adjustments, occupancy, unit state, party flags,
contact preferences. Marking too much costs a little time; marking too little makes the run miss a change.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

# kwargs: unit_ids (list[int]) — units whose accounts may decide differently;
#         project_ids (list[int]) — projects whose every account may (their next run is a full one);
#         everything (bool) — every project (a calendar change)
accounts_changed = Signal()


def units_changed(unit_ids: Iterable[int]) -> None:
    ids = sorted({int(u) for u in unit_ids if u is not None})
    if ids:
        accounts_changed.send(sender=None, unit_ids=ids, project_ids=[], everything=False)


def projects_changed(project_ids: Iterable[int]) -> None:
    ids = sorted({int(p) for p in project_ids if p is not None})
    if ids:
        accounts_changed.send(sender=None, unit_ids=[], project_ids=ids, everything=False)


def everything_changed() -> None:
    accounts_changed.send(sender=None, unit_ids=[], project_ids=[], everything=True)
