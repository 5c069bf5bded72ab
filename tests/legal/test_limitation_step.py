"""The ladder's 时效保全 step end to end: the daily run sends an itemised written demand naming exactly the periods
whose limitation period runs out within 90 days, its delivery restarts those clocks (and only those), and the next
period coming near gets its own demand later, without the one already reset."""

from __future__ import annotations

import datetime as dt

from tests.legal.conftest import SH
from wuye.dunning import cycles
from wuye.dunning.dispatch import dispatch, receipt_record
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action
from wuye.legal.clocks import limitation_clocks

D = dt.date


def _limitation_demands(unit):
    return list(Action.objects.filter(unit=unit).order_by("pk").filter(cycle__contains=":L@"))


def _expiries(unit, as_of):
    return {lc.period_start: lc.expiry for lc in limitation_clocks(as_of=as_of, unit_ids=[unit.pk])}


def test_the_limitation_step_names_the_expiring_periods_and_its_delivery_resets_them(arrears_estate, alice):
    from wuye.dunning.models import CalendarYear

    unit = arrears_estate["units"][0]
    # the run and the dispatcher contact nobody on a day no calendar covers: 2028 is confirmed as entered (with
    # no holiday in November, as in the official schedules)
    CalendarYear.objects.create(year=2028, note="测试", confirmed_by=alice)
    # January 2026 (due 15 January) runs out on 2029-01-16: within 90 days of 2028-11-01; February (2029-02-16)
    # is not yet
    assert _expiries(unit, D(2028, 11, 1))[D(2026, 1, 1)] == D(2029, 1, 16)
    dunning_run(as_of=D(2028, 11, 1))
    demands = _limitation_demands(unit)
    assert len(demands) == 1
    demand = demands[0]
    assert cycles.kind_of(demand.cycle) == cycles.Kind.LIMITATION
    assert demand.channel == "registered" and demand.periods == ["2026-01-01"]

    dispatch(now=dt.datetime(2028, 11, 1, 10, 0, tzinfo=SH))
    demand.refresh_from_db()
    assert demand.status == "sent"
    # the printed letter's itemised table lists the period it demands, and only that one
    from wuye.dunning.notices import figure_rows, figures_for

    rows, _widths = figure_rows(figures_for([demand], D(2028, 11, 1))[demand.pk])
    assert [r[0] for r in rows[1:-1]] == ["2026-01"]
    # the EMS comes back signed for on 5 November: January's clock restarts, February's does not move
    receipt_record(out_id=demand.out_id, delivered=True, at=dt.datetime(2028, 11, 5, 11, 0, tzinfo=SH),
                   detail="EMS 签收", actor_label="user:test")
    after = _expiries(unit, D(2028, 11, 10))
    assert after[D(2026, 1, 1)] >= D(2031, 11, 5)
    assert after[D(2026, 2, 1)] == D(2029, 2, 16)

    from wuye.legal.selectors import expiring_periods

    assert not any(u == unit.pk for u, _party in expiring_periods(as_of=D(2028, 11, 10), within_days=90))
    # in December February's clock is within 90 days (and the stage letter of 1 November, still not signed for,
    # has stopped holding written demands back after 30 days): a demand of its own, January no longer in it
    dunning_run(as_of=D(2028, 12, 5))
    demands = _limitation_demands(unit)
    assert len(demands) == 2 and demands[1].periods == ["2026-02-01"]
