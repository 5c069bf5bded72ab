"""Signed pay links: the unit's bill and nothing more; expired, revoked, unknown and guessed links refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuye.portal.links import link_revoke, pay_link_for, token_hash
from wuye.portal.models import PayLink

pytestmark = pytest.mark.django_db


def test_it_shows_the_units_bill_with_late_fee_and_masked_contact(client, link):
    response = client.get(link["url"])
    page = response.content.decode()
    assert response.status_code == 200
    assert "1-101" in page and "测试花园" in page
    assert "违约金计至今日" in page and "违约金是怎么算的" in page and "‰" in page
    assert "2026年1月" in page and "2026年7月" in page and "物业服务费" in page
    assert "138****0001" in page and "13800000001" not in page
    assert "业*" in page and "业主001" not in page  # the owner's name masked
    assert "1-102" not in page and "业主002" not in page  # no other unit
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    assert PayLink.objects.get().use_count == 1


def test_only_the_hash_of_the_token_is_stored(link):
    row = PayLink.objects.get()
    assert row.token_hash == token_hash(link["token"]) and link["token"] not in row.token_hash
    assert len(link["token"]) == 16


def test_an_expired_link_is_gone_and_says_nothing_about_the_unit(client, link):
    PayLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(link["url"])
    page = response.content.decode()
    assert response.status_code == 410 and "链接已失效" in page
    assert "1-101" not in page and "¥" not in page and "测试花园" not in page
    assert client.post(f"/p/{link['token']}/pay/", {"provider": "wechat"}).status_code == 410


def test_a_revoked_link_is_gone(client, link, alice):
    link_revoke(actor=alice, link=link["row"], reason="业主更换了手机号")
    assert client.get(link["url"]).status_code == 410


def test_an_unknown_or_tampered_token_is_not_found(client, link):
    tampered = link["token"][:-1] + ("A" if link["token"][-1] != "A" else "B")
    response = client.get(f"/p/{tampered}/")
    assert response.status_code == 404 and "链接无效" in response.content.decode()
    assert "1-101" not in response.content.decode()


def test_guessing_tokens_is_slowed_down(client, link):
    for i in range(20):
        assert client.get(f"/p/guess{i:08d}/").status_code == 404
    assert client.get(f"/p/guess{99:08d}/").status_code == 429
    assert client.get(link["url"]).status_code == 429  # even a good link waits, from that address
    # the count is in the database, shared by every process (a per-process cache was not)
    from django.core.cache import cache

    from wuye.portal.models import Throttle

    cache.clear()
    assert client.get(link["url"]).status_code == 429
    assert Throttle.objects.filter(scope="link_guess").count() == 20
    assert client.get(link["url"], REMOTE_ADDR="10.8.8.8").status_code == 200  # another address is not slowed
    import datetime as dt

    Throttle.objects.update(at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # ten minutes later
    assert client.get(link["url"]).status_code == 200


def test_pay_link_for_gives_a_short_absolute_url_that_opens_the_bill(client, arrears_estate, settings):
    settings.WUYE_PAY_NOTIFY_BASE = "https://wy.example.com"
    unit = arrears_estate["units"][1]
    url = pay_link_for(unit, created_by_label="dunning:dispatch", ttl_days=10)
    assert url.startswith("https://wy.example.com/p/") and len(url) < 50
    link = PayLink.objects.get()
    assert link.unit == unit and link.created_by_label == "dunning:dispatch" and link.party is not None
    assert dt.timedelta(days=9) < link.expires_at - timezone.now() <= dt.timedelta(days=10)
    path = url.removeprefix("https://wy.example.com")
    assert "1-102" in client.get(path).content.decode()


def test_a_receipt_of_another_unit_is_not_found(client, link, alice, arrears_estate):
    from wuye.billing.services import payment_record

    other = payment_record(actor=alice, unit=arrears_estate["units"][1], amount_fen=1000, method="cash")
    mine = payment_record(actor=alice, unit=link["unit"], amount_fen=1000, method="cash")
    assert client.get(f"/p/{link['token']}/receipts/{other.pk}.pdf").status_code == 404
    ok = client.get(f"/p/{link['token']}/receipts/{mine.pk}.pdf")
    assert ok.status_code == 200 and ok.content.startswith(b"%PDF")
    assert mine.receipt_no in client.get(link["url"]).content.decode() or "收据" in client.get(link["url"]).content.decode()


def test_staff_make_and_revoke_a_link_from_the_payments_page(client, alice, arrears_estate):
    client.force_login(alice)
    response = client.post("/portal-admin/links/", {"project": arrears_estate["project"].pk, "unit_code": "2-301"},
                           follow=True)
    page = response.content.decode()
    assert "生成缴费链接" in page and "/p/" in page
    link = PayLink.objects.get()
    assert link.unit.code == "2-301" and link.created_by == alice
    client.post(f"/portal-admin/links/{link.pk}/revoke/", {"reason": "测试撤销"})
    link.refresh_from_db()
    assert link.revoked_by == alice and link.revoke_reason == "测试撤销"
