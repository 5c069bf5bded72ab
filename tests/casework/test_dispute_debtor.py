"""On a sold unit the contact form lists only the contacted debtor's lines, and a dispute raised in a contact
covers that debtor's lines only: named or by default, the other debtor's lines keep their late fee."""

import datetime as dt

from wuye.billing.models import Bill, BillDispute
from wuye.billing.services import bill_generate


def _sold(arrears_estate, unit, alice):
    from wuye.estate.models import Party
    from wuye.estate.services import occupancy_start

    seller_id = Bill.objects.filter(unit=unit).first().party_id
    buyer = Party.objects.create(name="买受人", kind="person")
    occupancy_start(actor=alice, unit=unit, party=buyer, role="owner", start=dt.date(2026, 8, 1))
    bill_generate(actor=alice, project=arrears_estate["project"], period=dt.date(2026, 8, 1))
    assert Bill.objects.get(unit=unit, period_start=dt.date(2026, 8, 1)).party_id == buyer.pk
    return seller_id, buyer


def test_the_api_refuses_a_line_of_another_debtor(arrears_estate, unit, bob_territory, alice):
    from rest_framework.test import APIClient

    seller_id, buyer = _sold(arrears_estate, unit, alice)
    seller_line = Bill.objects.filter(unit=unit, party_id=seller_id).order_by("period_start").first()
    api = APIClient()
    api.force_authenticate(bob_territory)
    r = api.post("/api/v1/contacts/", {"unit": unit.pk, "channel": "call", "outcome": "refused",
                                       "reason": "service", "bill_ids": [seller_line.pk]}, format="json")
    # the contact is with the buyer (the current owner, a debtor): the seller's line is not the buyer's to dispute
    assert r.status_code == 400, (r.status_code, list(BillDispute.objects.values_list("bill_id", flat=True)))


def test_the_form_with_none_ticked_disputes_only_the_listed_debtors_lines(arrears_estate, unit, bob_territory,
                                                                           alice, client):
    seller_id, buyer = _sold(arrears_estate, unit, alice)
    client.force_login(bob_territory)
    url = f"/casework/units/{unit.pk}/contact/?party={buyer.pk}"
    html = client.get(url).content.decode()
    seller_lines = list(Bill.objects.filter(unit=unit, party_id=seller_id).values_list("pk", flat=True))
    assert not any(f'name="bill_ids" value="{pk}"' in html for pk in seller_lines)  # only the buyer's are listed
    r = client.post(url, {"channel": "call", "outcome": "dispute", "reason": "shared_utilities", "note": "x",
                          "party": buyer.pk})
    assert r.status_code == 302
    disputed = set(BillDispute.objects.values_list("bill_id", flat=True))
    assert not disputed & set(seller_lines), f"{len(disputed & set(seller_lines))} of the seller's lines disputed"
