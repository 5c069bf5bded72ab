"""A unit sold mid-arrears: each billing period belongs to the party liable then (``Bill.party``). The seller's
link shows and pays only the seller's periods; the buyer's link never shows the seller's debt, name, periods
or payments (个人信息保护法), and money paid through a link stays within its party's lines (民法典 560)."""

from __future__ import annotations

import datetime as dt

import pytest

from wuye.billing.models import Allocation, Bill, Payment
from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
from wuye.estate.models import Occupancy, Party
from wuye.portal.choices import NotificationResult, OrderStatus
from wuye.portal.links import link_create, pay_links_for
from wuye.portal.models import PaymentNotification, PaymentOrder

from .conftest import post_wechat, wechat_notification

pytestmark = pytest.mark.django_db

MONTH_FEN = 17_900  # 1-101: 89.50 m² × ¥2.00


@pytest.fixture
def sold(alice, billed_estate):
    """1-101 billed January–July 2026: 业主001 owned it until 30 April, 买家甲 from 1 May; nobody paid."""
    from wuye.billing.services import bill_generate
    from wuye.estate.services import contact_add, occupancy_start

    unit = billed_estate["units"][0]
    seller = Occupancy.objects.get(unit=unit, role=OccupantRole.OWNER).party
    buyer = Party.objects.create(name="买家甲", natural_key="t:buyer")
    contact_add(actor=alice, party=buyer, kind=ContactKind.MOBILE, value="13900000099",
                source=ContactSource.HANDOVER, is_primary=True)
    occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=dt.date(2026, 5, 1))
    for month in range(1, 8):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    assert set(Bill.objects.filter(unit=unit, period_start__lt=dt.date(2026, 5, 1))
               .values_list("party_id", flat=True)) == {seller.pk}
    assert set(Bill.objects.filter(unit=unit, period_start__gte=dt.date(2026, 5, 1))
               .values_list("party_id", flat=True)) == {buyer.pk}
    return {"unit": unit, "seller": seller, "buyer": buyer}


def _links(sold):
    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    urls = pay_links_for([(unit.pk, seller.pk), (unit.pk, buyer.pk), unit.pk], issued_on=dt.date(2026, 12, 1),
                         created_by_label="dunning:dispatch")
    path = lambda url: url.split("://", 1)[1].split("/", 1)[1]  # noqa: E731
    return {"seller": "/" + path(urls[(unit.pk, seller.pk)]), "buyer": "/" + path(urls[(unit.pk, buyer.pk)]),
            "plain": "/" + path(urls[unit.pk])}


SELLER_MONTHS = ["2026年1月", "2026年2月", "2026年3月", "2026年4月"]
BUYER_MONTHS = ["2026年5月", "2026年6月", "2026年7月"]


def test_the_sellers_link_shows_only_the_sellers_periods_and_name(client, sold):
    links = _links(sold)
    page = client.get(links["seller"]).content.decode()
    assert all(m in page for m in SELLER_MONTHS) and not any(m in page for m in BUYER_MONTHS)
    assert "¥716.00" in page  # 4 × ¥179.00
    assert "业*" in page and "买*" not in page and "139****0099" not in page


def test_the_buyers_link_never_shows_the_sellers_debt(client, sold):
    links = _links(sold)
    for key in ("buyer", "plain"):  # a plain unit id means the party liable today: the buyer
        page = client.get(links[key]).content.decode()
        assert all(m in page for m in BUYER_MONTHS) and not any(m in page for m in SELLER_MONTHS)
        assert "¥537.00" in page and "¥716.00" not in page and "¥1,253.00" not in page
        assert "买*" in page and "139****0099" in page and "业*" not in page and "138****0001" not in page
    assert links["buyer"] == links["plain"]  # the same (unit, party, day): one link


def test_paying_through_the_sellers_link_settles_only_the_sellers_periods(client, wechat, keys, sold, alice):
    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    links = _links(sold)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=S"})
    response = client.post(links["seller"] + "pay/", {"provider": "wechat"})
    assert response.status_code == 302
    order = PaymentOrder.objects.get()
    assert order.amount_fen == 4 * MONTH_FEN and order.party == seller
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    assert post_wechat(client, headers, body).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    paid = set(Allocation.objects.filter(payment=order.payment).values_list("bill__party_id", flat=True))
    assert paid == {seller.pk}
    assert not Bill.objects.filter(unit=unit, party=seller, settled_fen__lt=MONTH_FEN).exists()
    assert list(Bill.objects.filter(unit=unit, party=buyer).values_list("settled_fen", flat=True)) == [0, 0, 0]
    # the buyer sees neither the seller's payment nor its receipt
    buyer_page = client.get(links["buyer"]).content.decode()
    assert order.payment.receipt_no not in buyer_page and "暂无缴费记录" in buyer_page
    assert client.get(f"{links['buyer']}receipts/{order.payment_id}.pdf").status_code == 404
    assert client.get(f"{links['buyer']}orders/{order.out_trade_no}/").status_code == 404
    seller_page = client.get(links["seller"]).content.decode()
    assert order.payment.receipt_no in seller_page or "收据" in seller_page
    assert client.get(f"{links['seller']}receipts/{order.payment_id}.pdf").status_code == 200


def test_chosen_periods_of_the_seller_are_paid_and_nothing_spills_onto_the_buyer(client, wechat, keys, sold):
    unit = sold["unit"]
    links = _links(sold)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=S"})
    march = Bill.objects.get(unit=unit, period_start=dt.date(2026, 3, 1))
    client.post(links["seller"] + "pay/", {"provider": "wechat", "period": [str(march.pk)], "scope": "chosen"})
    order = PaymentOrder.objects.get()
    assert order.amount_fen == MONTH_FEN and order.bill_ids == [march.pk]
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    post_wechat(client, headers, body)
    march.refresh_from_db()
    assert march.settled_fen == MONTH_FEN
    assert Bill.objects.filter(unit=unit, settled_fen__gt=0).count() == 1


def test_a_link_cannot_pay_or_dispute_another_partys_lines(client, wechat, sold):
    unit, buyer = sold["unit"], sold["buyer"]
    links = _links(sold)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=S"})
    may = Bill.objects.get(unit=unit, party=buyer, period_start=dt.date(2026, 5, 1))
    response = client.post(links["seller"] + "pay/", {"provider": "wechat", "period": [str(may.pk)],
                                                      "scope": "chosen"}, follow=True)
    assert "未能发起支付" in response.content.decode() and not PaymentOrder.objects.exists()
    response = client.post(links["seller"] + "dispute/", {"period": [str(may.pk)], "text": "这不是我的账单"},
                           follow=True)
    assert "不属于该房屋" in response.content.decode()


def test_a_former_owner_does_not_set_the_new_owners_contact_preferences(client, sold):
    links = _links(sold)
    seller_page = client.get(links["seller"]).content.decode()
    assert "联系偏好" not in seller_page
    response = client.post(links["seller"] + "preferences/", {"opt_out": "1"}, follow=True)
    assert "由该房屋的现业主设置" in response.content.decode()
    assert "联系偏好" in client.get(links["buyer"]).content.decode()


def test_money_the_sellers_lines_can_no_longer_take_is_parked_not_posted_to_the_buyer(client, wechat, keys, sold,
                                                                                       alice):
    """The seller paid at the desk while the online payment was under way: the online money may not pay the
    buyer's periods; finance gets it with the order named."""
    from wuye.billing.services import payment_record

    unit, seller, buyer = sold["unit"], sold["seller"], sold["buyer"]
    links = _links(sold)
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=S"})
    client.post(links["seller"] + "pay/", {"provider": "wechat"})
    order = PaymentOrder.objects.get()
    seller_lines = list(Bill.objects.filter(unit=unit, party=seller).values_list("pk", flat=True))
    payment_record(actor=alice, unit=unit, amount_fen=MONTH_FEN, method="cash", bill_ids=seller_lines[:1])
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    assert post_wechat(client, headers, body).status_code == 200
    order.refresh_from_db()
    note = PaymentNotification.objects.get()
    assert order.status == OrderStatus.PARKED and order.payment is None
    assert note.result == NotificationResult.PARKED_ERROR and order.out_trade_no in note.detail
    assert Payment.objects.count() == 1  # only the desk payment
    assert not Bill.objects.filter(unit=unit, party=buyer, settled_fen__gt=0).exists()


def test_an_old_link_without_a_party_still_shows_the_whole_unit(client, sold):
    from wuye.portal.models import PayLink

    row, token = link_create(unit=sold["unit"], actor_label="test")
    PayLink.objects.filter(pk=row.pk).update(party=None)
    page = client.get(f"/p/{token}/").content.decode()
    assert all(m in page for m in SELLER_MONTHS + BUYER_MONTHS) and "¥1,253.00" in page


def test_a_link_made_by_hand_is_for_the_party_liable_today(sold, alice):
    row, _ = link_create(unit=sold["unit"], actor=alice)
    assert row.party == sold["buyer"]
    row, _ = link_create(unit=sold["unit"], actor=alice, party=sold["seller"])
    assert row.party == sold["seller"]
