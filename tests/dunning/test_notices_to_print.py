"""Issue 17 item 7: notices to print are found by "not yet printed", each PDF has the count the page shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from wuye.accounts.models import AuditEvent
from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action

D = dt.date


@pytest.fixture
def letters(arrears_estate):
    dunning_run(as_of=D(2026, 4, 20))  # over three months: the registered letter stage
    dispatch(now=dt.datetime(2026, 4, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    return list(Action.objects.filter(channel__in=["registered", "notice"]).exclude(status="cancelled"))


def _counts(html: str) -> dict[int, int]:
    return {int(b): int(n) for b, n in
            re.findall(r'data-building="(\d+)"><td>[^<]*</td><td class="num" data-testid="count">(\d+)<', html)}


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page[^s]", pdf))


def test_unprinted_notices_are_listed_whatever_their_day_and_each_pdf_has_its_count(client, alice, letters):
    expected: dict[int, int] = {}
    for a in letters:
        expected[a.unit.building_id] = expected.get(a.unit.building_id, 0) + 1
    assert len(expected) >= 2 and max(expected.values()) > 1
    client.force_login(alice)
    html = client.get("/collection/notices/").content.decode()  # today is long after 2026-04-20
    assert "尚未打印的书面通知与挂号信" in html and _counts(html) == expected
    building, n = next(iter(expected.items()))
    assert client.get(f"/collection/notices/?building={building}&format=pdf").status_code == 403  # print by POST
    pdf = client.post("/collection/notices/", {"building": building, "format": "pdf"}).content
    assert _pages(pdf) == n
    assert Action.objects.filter(unit__building_id=building, printed_at__isnull=False).count() == n
    assert AuditEvent.objects.get(verb="dunning.notice_printed").after["count"] == n
    after = _counts(client.get("/collection/notices/").content.decode())
    assert building not in after and after == {b: c for b, c in expected.items() if b != building}
    # a second print run of the same building prints nothing new
    again = client.post("/collection/notices/", {"building": building, "format": "pdf"})
    assert again.status_code == 302 and not again.content.startswith(b"%PDF")


def test_a_day_can_be_printed_again_with_the_right_count(client, alice, letters):
    client.force_login(alice)
    building = letters[0].unit.building_id
    client.post("/collection/notices/", {"building": building, "format": "pdf"})
    html = client.get("/collection/notices/?date=2026-04-20").content.decode()
    counts = _counts(html)
    assert counts[building] == sum(1 for a in letters if a.unit.building_id == building)
    pdf = client.get(f"/collection/notices/?date=2026-04-20&building={building}&format=pdf").content
    assert _pages(pdf) == counts[building]
