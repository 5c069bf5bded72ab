"""A collector records a dead number of the debtor of an unsold unit in their own territory — the developer, which
also holds a unit elsewhere as a registered owner (a shop it kept, in another collector's building). The party
scope check of the contact services (decision 202) took the developer for a stranger and refused the record."""

import datetime as dt

from wuye.accounts.services import territory_assign
from wuye.casework.services import contact_record
from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
from wuye.estate.services import contact_add, occupancy_start


def test_a_collector_may_flag_the_developers_dead_number_on_an_unsold_unit_of_their_territory(
        billed_estate, alice, bob):
    dev = billed_estate["developer"]
    b2, b3 = billed_estate["buildings"][1], billed_estate["buildings"][2]
    territory_assign(actor=alice, user=bob, building=b3)  # bob answers for building 3 (floors 4-6 unsold)
    unsold = next(u for u in billed_estate["units"] if u.building_id == b3.pk and u.floor >= 4)
    elsewhere = next(u for u in billed_estate["units"] if u.building_id == b2.pk)
    # the developer kept a unit of building 2 (not bob's) as its registered owner
    occupancy_start(actor=alice, unit=elsewhere, party=dev, role=OccupantRole.OWNER, start=dt.date(2025, 1, 1))
    phone = contact_add(actor=alice, party=dev, kind=ContactKind.MOBILE, value="13900000001",
                        source=ContactSource.HANDOVER, is_primary=True)
    attempt = contact_record(actor=bob, unit=unsold, channel="call", outcome="dead_number", contact_point=phone,
                             party_id=dev.pk)
    assert attempt.pk
