"""The owner portal's dispute path (decision 208): on a sold unit the seller's link (bound to the seller) raising a
dispute that names no line disputes the seller's lines only; the buyer's keep their late fee."""

import datetime as dt

from wuye.billing.models import Bill, BillDispute
from wuye.billing.services import bill_generate


def test_the_sellers_link_disputing_no_named_line_does_not_dispute_the_buyers_lines(arrears_estate, unit, alice):
    from wuye.estate.models import Party
    from wuye.estate.services import occupancy_start
    from wuye.portal.links import link_create
    from wuye.portal.services import dispute_raise

    seller_id = Bill.objects.filter(unit=unit).first().party_id
    buyer = Party.objects.create(name="买受人", kind="person")
    occupancy_start(actor=alice, unit=unit, party=buyer, role="owner", start=dt.date(2026, 8, 1))
    bill_generate(actor=alice, project=arrears_estate["project"], period=dt.date(2026, 8, 1))
    buyer_lines = set(Bill.objects.filter(unit=unit, party=buyer).values_list("pk", flat=True))
    assert buyer_lines
    link, _token = link_create(unit=unit, party=seller_id, actor=alice)
    request = dispute_raise(link=link, bill_ids=[], text="物业服务不到位，拒绝缴纳", reason="service")
    assert request.dispute is not None
    disputed = set(BillDispute.objects.values_list("bill_id", flat=True))
    assert disputed, "nothing disputed"
    assert not disputed & buyer_lines, f"{len(disputed & buyer_lines)} of the buyer's lines disputed by the seller"
