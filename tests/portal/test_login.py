"""Owners log in with their phone number and an SMS code: the code flow, expiry, single use, wrong tries,
rate limits per number and per address (in the database), and the same answer for an unknown number."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.estate.choices import OccupantRole
from wuye.estate.models import Party
from wuye.estate.services import occupancy_start
from wuye.portal import login as owner_login
from wuye.portal.models import LoginCode, OwnerSession, PayLink, Throttle

pytestmark = pytest.mark.django_db

PHONE = "13800000001"  # the owner of 1-101


@pytest.fixture
def sms(settings, tmp_path):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    path = tmp_path / "outbox" / "sms.jsonl"

    def sent() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return sent


def code_of(message: dict) -> str:
    import re

    return re.search(r"\d{6}", message["body"]).group()


def ask(client, phone=PHONE, ip="10.0.0.1"):
    return client.post("/p/login/", {"phone": phone}, REMOTE_ADDR=ip)


def enter(client, code, ip="10.0.0.1"):
    return client.post("/p/login/code/", {"code": code}, REMOTE_ADDR=ip)


def age(seconds: int) -> None:
    """Move every rate-limit row and code back in time (the clock cannot be stopped here)."""
    delta = dt.timedelta(seconds=seconds)
    for row in Throttle.objects.all():
        Throttle.objects.filter(pk=row.pk).update(at=row.at - delta)
    for row in LoginCode.objects.all():
        LoginCode.objects.filter(pk=row.pk).update(created_at=row.created_at - delta,
                                                   expires_at=row.expires_at - delta)


def test_an_owner_logs_in_with_a_code_and_sees_the_bill(client, arrears_estate, sms):
    r = ask(client, " +86 138-0000-0001 ")
    assert r.status_code == 302 and r.url == "/p/login/code/"
    [message] = sms()
    assert message["to"] == PHONE and "5 分钟内有效" in message["body"] and message["sign"] == "物业服务中心"
    code = code_of(message)
    row = LoginCode.objects.get()
    assert code not in (row.code_hash, row.phone_hash) and PHONE not in row.phone_hash  # only keyed hashes
    page = client.get("/p/login/code/").content.decode()
    assert "138****0001" in page and PHONE not in page
    r = enter(client, code)
    assert r.status_code == 302 and r.url == "/p/login/units/"
    r = client.get("/p/login/units/")  # one unit: it opens at once
    assert r.status_code == 302 and r.url.startswith("/p/")
    bill = client.get(r.url)
    text = bill.content.decode()
    assert bill.status_code == 200 and "1-101" in text and 'data-testid="open-amount"' in text
    assert 'data-testid="owner-login-bar"' in text
    link = PayLink.objects.get()
    session = OwnerSession.objects.get()
    assert link.unit == arrears_estate["units"][0] and link.expires_at == session.expires_at
    assert dt.timedelta(minutes=29) < session.expires_at - timezone.now() <= dt.timedelta(minutes=30)
    assert AuditEvent.objects.filter(verb="portal.login", actor_label=f"portal:sms:{session.pk}").exists()
    # the code was used once
    client.post("/p/logout/")
    assert PayLink.objects.get().revoked_at is not None and client.get(r.url).status_code == 410
    age(61)
    assert ask(client).status_code == 302  # a new session needs a new code …
    r = enter(client, code)  # … the old one is spent
    assert r.status_code == 400 and "验证码不正确或已失效" in r.content.decode()
    assert enter(client, code_of(sms()[-1])).status_code == 302


def test_several_units_give_a_chooser(client, arrears_estate, sms, alice):
    party = Party.objects.get(contacts__value=PHONE)
    second = arrears_estate["units"][5]
    occupancy_start(actor=alice, unit=second, party=party, role=OccupantRole.OWNER, start=dt.date(2024, 1, 1))
    ask(client)
    enter(client, code_of(sms()[0]))
    page = client.get("/p/login/units/").content.decode()
    assert 'data-testid="unit-1-101"' in page and f'data-testid="unit-{second.code}"' in page
    r = client.post("/p/login/units/", {"unit": second.pk})
    assert second.code in client.get(r.url).content.decode()
    other = arrears_estate["units"][1]  # somebody else's
    assert client.post("/p/login/units/", {"unit": other.pk}).status_code == 404


def test_an_unknown_number_gets_the_same_answer_and_no_sms(client, arrears_estate, sms):
    known, unknown = ask(client, PHONE, ip="10.0.0.1"), ask(client, "13912345678", ip="10.0.0.2")
    assert known.status_code == unknown.status_code == 302 and known.url == unknown.url
    a = client.get("/p/login/code/").content.decode()
    assert "139****5678" in a
    assert [m["to"] for m in sms()] == [PHONE]
    assert enter(client, "123456", ip="10.0.0.2").status_code == 400
    # the same limits apply to an unknown number
    again = ask(client, "13912345678", ip="10.0.0.2")
    assert again.status_code == 400 and "秒后再试" in again.content.decode()
    assert ask(client, "12345", ip="10.0.0.2").status_code == 400
    assert "手机号码：请输入 11 位手机号码。" in ask(client, "12345", ip="10.0.0.3").content.decode()


def test_a_code_expires_after_five_minutes(client, arrears_estate, sms):
    ask(client)
    code = code_of(sms()[0])
    age(5 * 60 + 1)
    r = enter(client, code)
    assert r.status_code == 400 and "验证码不正确或已失效" in r.content.decode()
    assert not OwnerSession.objects.exists()


def test_five_wrong_tries_kill_the_code(client, arrears_estate, sms):
    ask(client)
    code = code_of(sms()[0])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert enter(client, wrong).status_code == 400
    r = enter(client, code)  # the right code, too late
    assert r.status_code == 400 and not OwnerSession.objects.exists()
    assert LoginCode.objects.get().attempts == 5
    assert "6 位数字" in enter(client, "12ab").content.decode()


def test_codes_are_rate_limited_per_number_in_the_database(client, arrears_estate, sms):
    assert ask(client).status_code == 302
    r = ask(client, ip="10.9.9.9")  # another address does not help within the minute
    assert r.status_code == 400 and "秒后再试" in r.content.decode()
    assert len(sms()) == 1
    for n in range(2, 6):  # one a minute: five in the hour
        age(61)
        assert ask(client).status_code == 302, n
    age(61)
    r = ask(client)
    assert r.status_code == 400 and "分钟后再试" in r.content.decode()
    assert len(sms()) == 5
    age(3600)
    assert ask(client).status_code == 302 and len(sms()) == 6
    # the limit lives in the database, not in one process's memory
    from django.core.cache import cache

    cache.clear()
    assert ask(client).status_code == 400


def test_codes_are_rate_limited_per_address(client, arrears_estate, sms):
    for n in range(10):
        assert ask(client, f"1391234{n:04d}", ip="10.1.1.1").status_code == 302
    r = ask(client, "13912349999", ip="10.1.1.1")
    assert r.status_code == 400 and "再试" in r.content.decode()
    assert ask(client, "13912349999", ip="10.1.1.2").status_code == 302


def test_code_checks_are_rate_limited_per_address(client, arrears_estate, sms):
    ask(client)
    for _ in range(20):
        client.post("/p/login/code/", {"code": "000000"}, REMOTE_ADDR="10.2.2.2")
    r = client.post("/p/login/code/", {"code": code_of(sms()[0])}, REMOTE_ADDR="10.2.2.2")
    assert r.status_code == 400 and "再试" in r.content.decode()


def test_a_session_lasts_thirty_minutes(client, arrears_estate, sms):
    ask(client)
    enter(client, code_of(sms()[0]))
    url = client.get("/p/login/units/").url
    OwnerSession.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    PayLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(url).status_code == 410
    assert client.get("/p/login/units/").url == "/p/login/"


def test_parallel_guesses_cannot_exceed_five(arrears_estate, sms):
    key, masked = owner_login.code_request(raw_phone=PHONE, ip="10.3.3.3")
    LoginCode.objects.update(attempts=5)
    code = code_of(sms()[0])
    with pytest.raises(Exception, match="验证码不正确"):
        owner_login.code_verify(key=key, masked=masked, code=code, ip="10.3.3.3")
