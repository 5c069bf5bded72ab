"""The manager's daily debrief: per collector, the day's contacts, promises made, kept and broken, money received
for their territory and the hard cases — in a fixed number of queries."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import connection
from django.test.utils import CaptureQueriesContext

from wuye.accounts.services import territory_assign
from wuye.billing.services import payment_record
from wuye.casework import services
from wuye.casework.selectors import debrief
from wuye.estate.models import ContactPoint

from .conftest import D, run

SH = ZoneInfo("Asia/Shanghai")


def test_the_debrief_shows_each_collectors_day_with_hard_cases(arrears_estate, bob_territory, erin, alice, client):
    units = arrears_estate["units"]
    run(D(2026, 1, 16))
    # the day before: bob's promise for 1-201, due on the 19th
    services.promise_make(actor=bob_territory, unit=units[2], promised_on=D(2026, 1, 19), amount_fen=17_900,
                          on=D(2026, 1, 17))
    with CaptureQueriesContext(connection) as one:
        debrief(user=alice, day=D(2026, 1, 20))
    territory_assign(actor=alice, user=erin, building=arrears_estate["buildings"][1])
    day = D(2026, 1, 20)
    run(D(2026, 1, 20))  # the promise of the 19th is broken on the 20th
    services.contact_record(actor=bob_territory, unit=units[0], channel="call", outcome="no_answer", on=day)
    services.contact_record(actor=bob_territory, unit=units[0], channel="call", outcome="promised",
                            promised_on=D(2026, 1, 22), amount_fen=17_900, on=day)
    phone = ContactPoint.objects.get(party__occupancies__unit=units[1], kind="mobile")
    services.contact_record(actor=bob_territory, unit=units[1], channel="call", outcome="dead_number",
                            contact_point=phone, on=day, note="提示空号")
    services.contact_record(actor=erin, unit=units[12], channel="visit", outcome="refused", reason="service",
                            note="电梯坏了半年", on=day)
    services.contact_record(actor=erin, unit=units[13], channel="call", outcome="away", on=day)
    # money on the day: bob's promise kept by 1-101, and a payment in erin's building
    payment_record(actor=alice, unit=units[0], amount_fen=17_900, method="cash",
                   paid_at=dt.datetime(2026, 1, 20, 15, tzinfo=SH))
    payment_record(actor=alice, unit=units[14], amount_fen=50_000, method="cash",
                   paid_at=dt.datetime(2026, 1, 20, 9, tzinfo=SH))
    payment_record(actor=alice, unit=units[15], amount_fen=10_000, method="cash",  # the next day: not counted
                   paid_at=dt.datetime(2026, 1, 21, 0, 30, tzinfo=SH))

    with CaptureQueriesContext(connection) as two:
        rows = {r.collector.username: r for r in debrief(user=alice, day=day)}
    assert len(two.captured_queries) == len(one.captured_queries)  # fixed, whatever the number of collectors
    bob, erin_row = rows["bob"], rows["erin"]
    assert (bob.contacts, bob.reached, bob.promises_made, bob.promised_fen) == (3, 1, 1, 17_900)
    assert (bob.promises_kept, bob.promises_broken, bob.collected_fen) == (1, 1, 17_900)
    assert [(c.code, c.what) for c in bob.hard_cases] == [(units[1].code, "空号/错号"), (units[2].code, "承诺失约")]
    assert (erin_row.contacts, erin_row.reached, erin_row.promises_made, erin_row.collected_fen) == (2, 2, 0, 50_000)
    assert [(c.code, c.what, c.note) for c in erin_row.hard_cases] == [
        (units[12].code, "拒绝缴费（服务质量）", "电梯坏了半年")]

    client.force_login(alice)
    page = client.get("/casework/desk/debrief/?date=2026-01-20").content.decode()
    for text in ('data-testid="debrief-bob"', 'data-testid="debrief-erin"', "¥179.00", "¥500.00", "承诺失约",
                 "空号/错号", "拒绝缴费（服务质量）：电梯坏了半年"):
        assert text in page, text
    client.force_login(bob_territory)
    assert client.get("/casework/desk/debrief/").status_code == 403
