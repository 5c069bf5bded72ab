"""业主信用等级 on the small ledger (WUYE_CREDIT_MIN_LINES = 2 so two lines make a record):

as of 2026-02-28 — U1: January and February settled by their due dates (prepaid) → A; U2: February paid on
02-20, after its due date → B; U3: January settled on 02-10 (late), February overdue 13 days → B; U4: January
overdue 44 days → C. Two broken promises make U1's owner C. As of 2026-09-01 U4's February (half open since
02-15, 198 days) → D. The owner sees their own grade on their own link; the manager sees counts only."""

from __future__ import annotations

import datetime as dt

import pytest

from wuye.insights.credit import credits, distribution

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_record(settings):
    settings.WUYE_CREDIT_MIN_LINES = 2


def _owners(small_ledger):
    from wuye.estate.selectors import liable_party_ids

    ids = liable_party_ids([u.pk for u in small_ledger["units"].values()], dt.date(2026, 2, 28))
    return {name: ids[u.pk] for name, u in small_ledger["units"].items()}


def test_grades_as_of_two_dates(small_ledger):
    owner = _owners(small_ledger)
    graded = credits(today=dt.date(2026, 2, 28))
    assert {name: graded[pid].grade for name, pid in owner.items()} == {"U1": "A", "U2": "B", "U3": "B", "U4": "C"}
    assert (graded[owner["U3"]].late, graded[owner["U3"]].overdue) == (1, 1)
    assert distribution(today=dt.date(2026, 2, 28), project_ids=None) == {"A": 1, "B": 2, "C": 1, "D": 0}
    assert credits(today=dt.date(2026, 9, 1), party_ids=[owner["U4"]])[owner["U4"]].grade == "D"


def test_two_broken_promises_make_c(small_ledger, bob):
    from wuye.casework.models import Promise
    from wuye.casework.services import contact_record
    from wuye.dunning.models import Hold

    owner = _owners(small_ledger)
    for day in (3, 10):
        c = contact_record(actor=bob, unit=small_ledger["units"]["U1"], channel="call", outcome="promised",
                           on=dt.date(2026, 2, day), promised_on=dt.date(2026, 2, day + 2), amount_fen=100)
        Hold.objects.filter(pk=Promise.objects.get(contact=c).hold_id).update(outcome="broken",
                                                                              released_on=dt.date(2026, 2, day + 3))
    assert credits(today=dt.date(2026, 2, 28))[owner["U1"]].grade == "C"


def test_the_owner_sees_their_own_grade_and_the_rules_on_their_link(small_ledger, client, alice):
    from wuye.portal.links import link_create

    _, token = link_create(unit=small_ledger["units"]["U1"], actor=alice)
    page = client.get(f"/p/{token}/").content.decode()
    assert 'data-testid="credit"' in page and "信用等级" in page and "绝不会因此停止或降低任何服务" in page


def test_the_manager_sees_counts_only(small_ledger, client, alice):
    client.force_login(alice)
    page = client.get("/insights/credit/").content.decode()
    assert "信用等级分布" in page and "业主业主U1" not in page and "业主U1" not in page
    data = client.get("/api/v1/insights/credit/").json()
    assert set(data["distribution"]) == {"A", "B", "C", "D"}
