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
