"""Issue 14 item 5: the staff login is throttled per account and per address (django-axes), says so in
Chinese, and each lock-out is an audit event."""

from __future__ import annotations

import pytest

from wuye.accounts.models import AuditEvent


def _login(client, username, password, ip="192.0.2.10"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.WUYE_LOGIN_FAILURES_PER_ACCOUNT = settings.AXES_FAILURE_LIMIT = 5
    settings.WUYE_LOGIN_FAILURES_PER_IP = 12


def test_the_reported_attack_stops_at_the_account_limit(client, alice):
    codes = [_login(client, "alice", "wrong-password").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]  # the fifth failure locks
    locked = _login(client, "alice", "pw-12345678")  # the right password no longer works
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "登录失败次数过多" in page and "15 分钟" in page
    assert "_auth_user_id" not in client.session
    # from another address too: the account is locked, not only the pair
    assert _login(client, "alice", "pw-12345678", ip="198.51.100.7").status_code == 429
    event = AuditEvent.objects.get(verb="login.locked", ip="192.0.2.10")  # once, however often it is tried
    assert event.actor_label == "login:alice" and "锁定" in event.note


def test_one_address_trying_many_accounts_is_locked_too(client, make_user, alice):
    for n in range(12):
        _login(client, f"nobody{n}", "wrong")
    assert _login(client, "alice", "pw-12345678").status_code == 429
    assert AuditEvent.objects.filter(verb="login.locked").exists()
    # a colleague behind another address still logs in
    assert _login(client, "alice", "pw-12345678", ip="198.51.100.9").status_code == 302


def test_a_few_typos_do_not_lock_and_a_success_clears_them(client, alice):
    for _ in range(4):
        _login(client, "alice", "typo")
    assert _login(client, "alice", "pw-12345678").status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "alice", "typo")
    assert _login(client, "alice", "pw-12345678").status_code == 302
    assert not AuditEvent.objects.filter(verb="login.locked").exists()


def test_the_lock_ends_after_the_cool_off(client, alice, settings):
    import datetime as dt

    from axes.models import AccessAttempt

    for _ in range(5):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "pw-12345678").status_code == 429
    AccessAttempt.objects.update(attempt_time=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert _login(client, "alice", "pw-12345678").status_code == 302
