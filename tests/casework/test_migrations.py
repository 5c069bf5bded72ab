"""Data migrations of casework, run on the historical models of their own migration state."""

import importlib

from django.db import connection
from django.db.migrations.loader import MigrationLoader

from wuye.accounts.models import AuditEvent
from wuye.casework import services
from wuye.casework.models import Promise
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Occupancy, Party
from wuye.estate.services import occupancy_end, occupancy_start

from .conftest import D, run

BACKFILL = "0005_promise_party_backfill"


def historical_apps(name: str):
    """The app registry as that migration sees it (the models of its state, not today's)."""
    return MigrationLoader(connection).project_state(("casework", name)).apps


def test_promises_without_a_party_get_the_owner_liable_on_the_day_they_were_made(arrears_estate, bob_territory,
                                                                                 alice):
    migration = importlib.import_module(f"wuye.casework.migrations.{BACKFILL}")
    units = arrears_estate["units"]
    sold, unsold = units[0], units[-1]  # 1-101 (an owner); 3-602 (unsold: the developer owes)
    seller = Party.objects.get(occupancies__unit=sold)
    run(D(2026, 1, 16))
    alice_unsold = services.promise_make(actor=alice, unit=unsold, promised_on=D(2026, 1, 25), on=D(2026, 1, 17))
    before_sale = services.promise_make(actor=bob_territory, unit=sold, promised_on=D(2026, 1, 25),
                                        on=D(2026, 1, 17))
    # the unit is sold on 1 February; the buyer promises on 5 February
    occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=sold, party=seller), end=D(2026, 1, 31))
    buyer = Party.objects.create(name="新业主", natural_key="t:buyer")
    occupancy_start(actor=alice, unit=sold, party=buyer, role=OccupantRole.OWNER, start=D(2026, 2, 1))
    after_sale = services.promise_make(actor=bob_territory, unit=sold, promised_on=D(2026, 2, 20),
                                       on=D(2026, 2, 5))
    # what promise_make records today: the debtor of the periods owed — every overdue line is the seller's, so
    # the promise is too (accounts are per debtor); the backfill below, written before that, took the owner
    # liable on the day
    assert (before_sale.party, after_sale.party) == (seller, seller)
    # promises recorded before the field existed: nobody named
    Promise.objects.update(party=None)
    n_events = AuditEvent.objects.count()

    migration.backfill(historical_apps(BACKFILL), None)

    got = dict(Promise.objects.values_list("pk", "party_id"))
    assert got == {before_sale.pk: seller.pk, after_sale.pk: buyer.pk,
                   alice_unsold.pk: arrears_estate["developer"].pk}
    events = AuditEvent.objects.filter(verb="casework.promise_party_backfill").order_by("object_id")
    assert AuditEvent.objects.count() == n_events + 3
    assert {(e.object_id, e.after["party"]) for e in events} == {(str(k), v) for k, v in got.items()}
    assert all(e.actor_label.startswith("migration:") and e.before == {"party": None} for e in events)
    # a promise that already names someone is left alone, and a second pass finds nothing to do
    migration.backfill(historical_apps(BACKFILL), None)
    assert AuditEvent.objects.count() == n_events + 3


DISPUTE_BACKFILL = "0008_dispute_bill_intervals_backfill"


def test_disputes_recorded_before_lines_carried_their_days_get_them(arrears_estate, bob_territory, alice):
    """Open disputes → open intervals from the day raised on the lines named, or on every line owing that day;
    resolved ones → intervals closed on the resolution day; a line marked disputed with no dispute (demo history)
    → an open interval from that day. ``disputed_since`` follows the open intervals. Idempotent."""
    import datetime as dt

    from django.utils import timezone

    from wuye.billing.models import Bill, BillDispute
    from wuye.billing.services import payment_record

    migration = importlib.import_module(f"wuye.casework.migrations.{DISPUTE_BACKFILL}")
    u1, u2, u3 = arrears_estate["units"][:3]
    for bill in Bill.objects.all():  # each line written on the first day of its period, as the monthly run does
        Bill.objects.filter(pk=bill.pk).update(created_at=dt.datetime.combine(
            bill.period_start, dt.time(8), tzinfo=timezone.get_current_timezone()))
    bills = {u.pk: list(Bill.objects.filter(unit=u).order_by("period_start")) for u in (u1, u2, u3)}
    payment_record(actor=alice, unit=u1, amount_fen=bills[u1.pk][0].amount_fen, method="cash",
                   paid_at=dt.datetime.combine(D(2026, 3, 1), dt.time(9), tzinfo=timezone.get_current_timezone()))
    staff = services.dispute_open(actor=bob_territory, unit=u1, reason="service", description="电梯坏了",
                                  on=D(2026, 3, 10))
    owner, _ = services.dispute_open_for_owner(unit=u2, reason="fee_level", description="二月面积不对",
                                               bill_ids=[bills[u2.pk][1].pk], actor_label="portal:link:9",
                                               on=D(2026, 3, 2))
    services.dispute_resolve(actor=alice, dispute=owner, note="已解释", on=D(2026, 4, 20))
    # before the migration: no intervals, nothing marked but a demo line of 1-201
    BillDispute.objects.all().delete()
    Bill.objects.update(disputed_since=None)
    Bill.objects.filter(pk=bills[u3.pk][0].pk).update(disputed_since=D(2026, 2, 1))
    n_events = AuditEvent.objects.count()

    migration.backfill(MigrationLoader(connection).project_state(("casework", DISPUTE_BACKFILL)).apps, None)

    got = sorted(BillDispute.objects.values_list("bill_id", "dispute_ref", "starts_on", "ends_on"))
    # 1-101: January was paid on 1 March; February and March were written and owing on 10 March; April on
    # were not written yet
    assert got == sorted([
        (bills[u1.pk][1].pk, staff.pk, D(2026, 3, 10), None), (bills[u1.pk][2].pk, staff.pk, D(2026, 3, 10), None),
        (bills[u2.pk][1].pk, owner.pk, D(2026, 3, 2), D(2026, 4, 20)),
        (bills[u3.pk][0].pk, None, D(2026, 2, 1), None)])
    assert dict(Bill.objects.filter(disputed_since__isnull=False).values_list("pk", "disputed_since")) == {
        bills[u1.pk][1].pk: D(2026, 3, 10), bills[u1.pk][2].pk: D(2026, 3, 10), bills[u3.pk][0].pk: D(2026, 2, 1)}
    events = list(AuditEvent.objects.filter(verb="billing.dispute_backfill").order_by("pk"))
    assert AuditEvent.objects.count() == n_events + 3
    assert [(e.object_id, e.after["dispute"], e.after["bills"]) for e in events] == [
        (str(u1.pk), staff.pk, [bills[u1.pk][1].pk, bills[u1.pk][2].pk]),
        (str(u2.pk), owner.pk, [bills[u2.pk][1].pk]),
        (str(u3.pk), None, [bills[u3.pk][0].pk])]
    assert all(e.actor_label == migration.LABEL for e in events)
    # a second pass finds nothing to do
    migration.backfill(MigrationLoader(connection).project_state(("casework", DISPUTE_BACKFILL)).apps, None)
    assert BillDispute.objects.count() == 4 and AuditEvent.objects.count() == n_events + 3
