"""Reminder pay links (``pay_links_for``): unguessable without the server's secrets, and the same all day.

The dispatcher renders a message again after a crash and the text (and its content hash) must not change, so
the day's link must be shown again; yet nobody may compute an owner's link from the site key, the unit and the
day (the old token was exactly that HMAC — with the shipped default key, anyone could open any bill).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from wuye.accounts.models import AuditEvent
from wuye.portal.links import link_revoke, pay_links_for, seed_token, token_hash
from wuye.portal.models import PayLink

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 1)
LABEL = "dunning:dispatch"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.WUYE_PAY_NOTIFY_BASE = "https://wy.example.com"
    settings.SECRET_KEY = "a-real-site-key-" + "x" * 40


def _token(url: str) -> str:
    return url.removeprefix("https://wy.example.com/p/").rstrip("/")


def _old_day_token(unit_id: int, day: dt.date) -> str:
    """How the token used to be made: HMAC(site key, unit, day)."""
    digest = salted_hmac("wuye.portal.paylink", f"{unit_id}:{day.isoformat()}", algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def test_the_same_day_gives_the_same_url_and_a_new_day_a_new_one(arrears_estate, client):
    units = [u.pk for u in arrears_estate["units"][:3]]
    first = pay_links_for(units, issued_on=DAY, created_by_label=LABEL)
    # the dispatcher crashed after rendering; the re-render asks again, in a "new process" (nothing cached)
    again = pay_links_for(list(reversed(units)), issued_on=DAY, created_by_label=LABEL)
    assert first == again and set(first) == set(units)
    assert PayLink.objects.count() == 3  # nothing made twice
    assert AuditEvent.objects.filter(verb="paylink.create_many").count() == 1
    tomorrow = pay_links_for(units, issued_on=DAY + dt.timedelta(days=1), created_by_label=LABEL)
    assert set(tomorrow.values()).isdisjoint(first.values())
    page = client.get(first[units[0]].removeprefix("https://wy.example.com"))
    assert page.status_code == 200 and "1-101" in page.content.decode()


def test_a_link_cannot_be_computed_from_the_site_key_the_unit_and_the_day(arrears_estate, client, settings):
    unit = arrears_estate["units"][0]
    url = pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk]
    token = _token(url)
    assert len(token) == 16
    # the old formula, with the key in hand, opens nothing
    assert token != _old_day_token(unit.pk, DAY)
    assert client.get(f"/p/{_old_day_token(unit.pk, DAY)}/").status_code == 404
    # the token is not a function of (key, unit, party, day): the same request on another database (here:
    # the row gone and made again) gives another token
    PayLink.objects.all().delete()
    other = pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk]
    assert other != url
    assert client.get(url.removeprefix("https://wy.example.com")).status_code == 404


def test_the_database_alone_does_not_give_the_token(arrears_estate, settings):
    """A copy of the table (hash and seed) without the site key gives no working token."""
    unit = arrears_estate["units"][0]
    token = _token(pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk])
    row = PayLink.objects.get()
    stored = " ".join(str(v) for v in PayLink.objects.values_list().get())
    assert token not in stored and row.token_hash == token_hash(token)
    assert seed_token(row.token_seed, "some-other-key-" + "y" * 40) != token
    assert hashlib.sha256(row.token_seed.encode()).hexdigest() != row.token_hash


def test_a_revoked_link_is_never_handed_out_again(arrears_estate, alice, client):
    unit = arrears_estate["units"][0]
    url = pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk]
    link_revoke(actor=alice, link=PayLink.objects.get(), reason="短信发错了号码")
    assert pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL) == {}
    assert PayLink.objects.count() == 1  # and no replacement made the same day
    assert client.get(url.removeprefix("https://wy.example.com")).status_code == 410
    fresh = pay_links_for([unit.pk], issued_on=DAY + dt.timedelta(days=1), created_by_label=LABEL)[unit.pk]
    assert fresh != url


def test_a_concurrent_dispatcher_that_made_the_link_first_wins(arrears_estate):
    """Two dispatchers asking at once insert with ON CONFLICT DO NOTHING and both read back the one row."""
    from wuye.portal import links

    unit = arrears_estate["units"][0]
    real_insert = links.insert_rows_ignore_conflicts

    def twin_first(model, fields, rows):
        rows = list(rows)
        # the other dispatcher commits its own row (another seed) just before ours
        theirs = [tuple("their-seed-0000000000" if f == "token_seed" else
                        token_hash(seed_token("their-seed-0000000000")) if f == "token_hash" else v
                        for f, v in zip(fields, row, strict=True)) for row in rows]
        real_insert(model, fields, theirs)
        return real_insert(model, fields, rows)

    links.insert_rows_ignore_conflicts = twin_first
    try:
        url = pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk]
    finally:
        links.insert_rows_ignore_conflicts = real_insert
    assert _token(url) == seed_token("their-seed-0000000000")
    assert PayLink.objects.get().token_seed == "their-seed-0000000000"


def test_a_rotated_site_key_still_shows_the_days_link_through_the_fallbacks(arrears_estate, settings):
    unit = arrears_estate["units"][0]
    url = pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk]
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "the-new-site-key-" + "z" * 40
    assert pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL) == {}  # cannot be shown: left out
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert pay_links_for([unit.pk], issued_on=DAY, created_by_label=LABEL)[unit.pk] == url


def test_links_for_a_whole_batch_take_a_few_queries(arrears_estate, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    units = [u.pk for u in arrears_estate["units"]]
    with CaptureQueriesContext(connection) as two:
        pay_links_for([units[0], units[-1]], issued_on=DAY - dt.timedelta(days=1), created_by_label=LABEL)
    with CaptureQueriesContext(connection) as all_of_them:
        made = pay_links_for(units, issued_on=DAY, created_by_label=LABEL)
    assert len(made) == len(units) == 36
    # the same statements for 2 links or 36 (on PostgreSQL the bulk insert is five: a COPY through a temp table)
    assert len(all_of_them) == len(two) <= 12
    with django_assert_max_num_queries(3):  # the liable parties (2) and the day's links
        assert pay_links_for(units, issued_on=DAY, created_by_label=LABEL) == made
    # the dispatcher knows each unit's project and liable party already: one query
    known = {row.pk: (row.project_id, None) for row in arrears_estate["units"]}
    parties = dict(PayLink.objects.values_list("unit_id", "party_id"))
    known = {u: (p, parties[u]) for u, (p, _) in known.items()}
    with django_assert_max_num_queries(1):
        assert pay_links_for(units, issued_on=DAY, created_by_label=LABEL, known_units=known) == made


def test_old_reminder_links_made_under_the_shipped_default_key_are_revoked_by_the_migration(
        arrears_estate, settings):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("wuye.portal.migrations.0006_paylink_party_day_seed_order_scope_refund")
    unit = arrears_estate["units"][0]
    today = timezone.localdate()

    def old_row(key_name):
        token = _old_day_token(unit.pk, today)
        return PayLink.objects.create(token_hash=token_hash(token), project_id=unit.project_id, unit=unit,
                                      created_by_label="dunning:dispatch",
                                      expires_at=timezone.now() + dt.timedelta(days=30))

    settings.SECRET_KEY = "a-real-site-key-" + "x" * 40
    kept = old_row("real")
    migration.revoke_computable_day_links(apps, None)
    kept.refresh_from_db()
    assert kept.revoked_at is None  # under a real key it was as unguessable as a random one
    PayLink.objects.all().delete()
    settings.SECRET_KEY = migration.SHIPPED_DEFAULT_KEY
    doomed = old_row("default")
    by_hand = PayLink.objects.create(token_hash=token_hash("a-random-token16"), project_id=unit.project_id,
                                     unit=unit, created_by_label="dunning:dispatch",
                                     expires_at=timezone.now() + dt.timedelta(days=30))
    migration.revoke_computable_day_links(apps, None)
    doomed.refresh_from_db()
    by_hand.refresh_from_db()
    assert doomed.revoked_at is not None and "默认站点密钥" in doomed.revoke_reason
    assert by_hand.revoked_at is None
