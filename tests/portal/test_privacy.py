"""What someone holding only a pay link may see: that unit's bill, with the owner's name and phone masked —
nothing else of the owner (other numbers, e-mail, address, WeChat id, ID number, profile notes), nothing of a
tenant, no bank account, nothing of other units. A bad link (unknown, tampered, expired, revoked) shows a plain
page on every address under it and names nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuye.portal.links import link_revoke
from wuye.portal.models import PayLink

pytestmark = pytest.mark.django_db

SECRETS = ["13800000001", "13900009999", "0571-88886666", "owner001@example.cn", "西湖区文三路 88 号 3 单元",
           "oUpF8uMuAJO_secretopenid", "330106198001011234", "租客甲", "13700007777", "6222020200112233445",
           "业主001", "老人独居，白天不在家"]


@pytest.fixture
def rich_unit(link, alice):
    """Unit 1-101 with everything the office knows about its people (none of it belongs on the link's page)."""
    from wuye.banking.services import mandate_create
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole
    from wuye.estate.models import Party
    from wuye.estate.services import contact_add, occupancy_start

    unit = link["unit"]
    owner = unit.occupancies.get(role=OccupantRole.OWNER).party
    Party.objects.filter(pk=owner.pk).update(id_number="330106198001011234", note="老人独居，白天不在家",
                                             lives_elsewhere=True)
    for kind, value in [(ContactKind.MOBILE, "13900009999"), (ContactKind.LANDLINE, "0571-88886666"),
                        (ContactKind.EMAIL, "owner001@example.cn"), (ContactKind.ADDRESS, "西湖区文三路 88 号 3 单元"),
                        (ContactKind.WECHAT, "oUpF8uMuAJO_secretopenid")]:
        contact_add(actor=alice, party=owner, kind=kind, value=value, source=ContactSource.HANDOVER)
    tenant = Party.objects.create(name="租客甲", natural_key="t:tenant")
    occupancy_start(actor=alice, unit=unit, party=tenant, role=OccupantRole.TENANT, start=dt.date(2025, 1, 1))
    contact_add(actor=alice, party=tenant, kind=ContactKind.MOBILE, value="13700007777",
                source=ContactSource.HANDOVER)
    mandate_create(actor=alice, unit=unit, payer_name="业主001", bank="工商银行", account_no="6222020200112233445",
                   signed_on=dt.date(2026, 1, 1))
    return link


def test_the_bill_page_shows_nothing_personal_beyond_the_masked_owner(client, rich_unit):
    page = client.get(rich_unit["url"]).content.decode()
    assert "138****0001" in page and "业*" in page  # the one masked phone and the masked name
    for secret in SECRETS:
        assert secret not in page, secret
    assert "1-102" not in page and "业主002" not in page


def test_bad_links_say_nothing_on_any_address_under_them(client, rich_unit, alice, arrears_estate):
    """Every page under a bad token — bill, order, order status, receipt, requests — is the same plain page."""
    from wuye.billing.choices import PaymentMethod
    from wuye.billing.services import payment_record

    payment = payment_record(actor=alice, unit=rich_unit["unit"], amount_fen=10_000, method=PaymentMethod.CASH,
                             paid_at=timezone.now())
    token = rich_unit["token"]
    paths = ["", "orders/WY20260101000000ABCDEF12/", "orders/WY20260101000000ABCDEF12/status/",
             f"receipts/{payment.pk}.pdf"]
    posts = ["pay/", "installment/", "dispute/", "preferences/"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    def check(tok: str, status: int, title: str):
        for path in paths:
            response = client.get(f"/p/{tok}/{path}")
            assert response.status_code == status and response["Content-Type"].startswith("text/html"), path
            text = response.content.decode()
            assert title in text, path
            for secret in SECRETS + ["138****0001", "1-101", "测试花园", "¥", "业*", payment.receipt_no]:
                assert secret not in text, (path, secret)
        for path in posts:
            assert client.post(f"/p/{tok}/{path}", {"provider": "wechat", "text": "x" * 10}).status_code == status

    check(tampered, 404, "链接无效")
    PayLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    check(token, 410, "链接已失效")
    PayLink.objects.update(expires_at=timezone.now() + dt.timedelta(days=1))
    link_revoke(actor=alice, link=rich_unit["row"], reason="业主换号")
    check(token, 410, "链接已失效")
