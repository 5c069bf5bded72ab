"""The unit search by the last digits of a phone, or by a name, reads an index on PostgreSQL (the load test
found it reading every contact point and every party name of the estate; decision 74) and finds the same
units as before."""

from __future__ import annotations

import pytest
from django.db import connection

from wuye.estate.models import Unit
from wuye.estate.selectors import unit_search_q

pytestmark = pytest.mark.django_db


def test_it_finds_a_unit_by_the_tail_of_its_owners_phone_by_name_and_by_code(estate):
    # the estate fixture: owner n has mobile 138 + n in 8 digits, and is 业主{n:03d}
    assert list(Unit.objects.filter(unit_search_q("00000007")).values_list("code", flat=True)) == ["1-401"]
    assert list(Unit.objects.filter(unit_search_q("业主007")).values_list("code", flat=True)) == ["1-401"]
    assert list(Unit.objects.filter(unit_search_q("2-60")).order_by("code").values_list("code", flat=True)) == [
        "2-601", "2-602"]


@pytest.mark.parametrize(("model", "lookup", "index"), [
    ("ContactPoint", {"value__endswith": "0007"}, "estate_contactpoint_value_trgm"),
    ("Party", {"name__contains": "业主007"}, "estate_party_name_trgm")])
def test_the_searched_columns_have_a_trigram_index(estate, model, lookup, index):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's indexes (the PostgreSQL pass of make test runs it)")
    from django.apps import apps

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
        assert "gin_trgm_ops" in cursor.fetchone()[0]
        # as on a large table: no whole-table read, and no walk of another index filtering every row (on a
        # small test table the planner may prefer that over the trigram index, whatever the ordering)
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
    try:
        plan = apps.get_model("estate", model).objects.filter(**lookup).order_by().values("pk").explain()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_indexscan")
    assert index in plan


# --- a surname alone (decision 100) ------------------------------------------------------------------------

SURNAMES = "王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"


def test_a_surname_or_a_two_character_name_finds_names_that_start_with_it(estate, admin_user, client):
    from wuye.banking.selectors import units_search
    from wuye.estate.models import Occupancy, Party

    unit_a, unit_b = estate["units"][0], estate["units"][1]
    Occupancy.objects.filter(unit__in=[unit_a, unit_b]).update(party=Party.objects.create(name="张伟", natural_key="zw"))
    Occupancy.objects.filter(unit=unit_b).update(party=Party.objects.create(name="欧阳芳", natural_key="oyf"))
    assert list(Unit.objects.filter(unit_search_q("张")).values_list("code", flat=True)) == [unit_a.code]
    assert list(Unit.objects.filter(unit_search_q("欧阳")).values_list("code", flat=True)) == [unit_b.code]
    assert list(Unit.objects.filter(unit_search_q("张伟")).values_list("code", flat=True)) == [unit_a.code]
    assert [u["code"] for u in units_search([estate["project"].pk], "欧阳")] == [unit_b.code]
    client.force_login(admin_user)
    page = client.get("/estate/parties/", {"q": "欧阳"}).content.decode()
    assert "欧阳芳" in page and "张伟" not in page
    # the phone tail still finds the party
    assert "业主007" in client.get("/estate/parties/", {"q": "00000007"}).content.decode()


def _party_rows_read(sql: str) -> int:
    """Rows of estate_party the statement reads, from its executed plan: every scan of the table, with the
    rows its filter or recheck threw away, times its loops."""
    import json

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    total = 0

    def walk(node):
        nonlocal total
        if node.get("Relation Name") == "estate_party":
            rows = node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
            total += rows * node["Actual Loops"]
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return total


def test_a_surname_search_reads_the_names_that_start_with_it_not_every_party(estate, admin_user, client):
    """On PostgreSQL with 20,000 owners, 200 of them 张: the unit list, the party list and the bank review's
    unit search by 张 or 张伟 read a few hundred party rows through an index — ``LIKE '%张%'`` (no trigram in
    one character) read all 20,000."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans (the PostgreSQL pass of make test runs it)")
    from django.test.utils import CaptureQueriesContext

    from wuye.banking.selectors import units_search
    from wuye.estate.models import Occupancy, Party

    n = 20_000
    building = estate["buildings"][0]
    names = [("张" if i % 100 == 0 else SURNAMES[i % len(SURNAMES)]) + "伟" * (1 + i % 2) + f"{i}" for i in range(n)]
    parties = Party.objects.bulk_create(Party(name=name, natural_key=f"bulk:{i}") for i, name in enumerate(names))
    units = Unit.objects.bulk_create(
        Unit(project=estate["project"], building=building, floor=9, number=f"X{i}", code=f"X-{i}",
             property_type="low_rise", area=90) for i in range(n))
    Occupancy.objects.bulk_create(Occupancy(unit=u, party=p, role="owner", start="2020-01-01")
                                  for u, p in zip(units, parties, strict=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE estate_party; ANALYZE estate_unit; ANALYZE estate_occupancy")
    client.force_login(admin_user)

    for text in ("张", "张伟"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/estate/parties/", {"q": text}).status_code == 200
            assert client.get("/estate/units/", {"q": text}).status_code == 200
            found = units_search([estate["project"].pk], text)
        assert len(found) == 20  # the page's limit: there are 200 张
        searches = [q["sql"] for q in captured.captured_queries
                    if q["sql"].lstrip().upper().startswith("SELECT") and "LIKE" in q["sql"] and "estate_party" in q["sql"]]
        assert len(searches) >= 4, searches  # the party list (count and page), the unit list, the bank search
        for sql in searches:
            assert _party_rows_read(sql) <= 2 * n // 100, sql


# --- the unit list's search over the whole estate (decision 170) -------------------------------------------


def _codes(text: str, qs=None) -> list[str]:
    return sorted((qs if qs is not None else Unit.objects.all()).filter(unit_search_q(text))
                  .values_list("code", flat=True))


def test_the_unit_search_finds_codes_names_and_phone_tails_within_the_users_projects(estate, alice, make_user,
                                                                                     client):
    """Exact and partial codes (any case), room numbers, current owners' and tenants' names, a phone number or
    its last digits — and a manager of another project finds only that project's units for the same words."""
    import datetime as dt
    from decimal import Decimal

    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole, PropertyType
    from wuye.estate.models import Building, Occupancy, Party, Project
    from wuye.estate.services import contact_add, occupancy_start

    assert _codes("2-601") == ["2-601"]
    assert _codes("2-60") == ["2-601", "2-602"]
    assert _codes("601") == ["1-601", "2-601", "3-601"]  # 3-601 is unsold: found by its code all the same
    assert _codes("601") == _codes(" 601 ")
    assert _codes("3-6") == ["3-601", "3-602"] and _codes("3-") == [f"3-{f}0{k}" for f in range(1, 7) for k in (1, 2)]
    assert _codes("业主007") == ["1-401"] and _codes("主007") == ["1-401"]
    assert len(_codes("业主")) == 30 and _codes("主0") == []  # two characters: the start of a name
    assert _codes("00000007") == ["1-401"] and _codes("13800000007") == ["1-401"]
    # another project with the same codes and a lower-case one; a tenant; an owner who sold
    t2 = Project.objects.create(code="T2", name="别的小区", city="杭州")
    b2 = Building.objects.create(project=t2, code="1", name="1幢", floors=6)
    other = Unit.objects.create(project=t2, building=b2, floor=1, number="101", code="1-101",
                                property_type=PropertyType.LOW_RISE, area=Decimal("90"))
    Unit.objects.create(project=t2, building=b2, floor=12, number="1203", code="a-1203",
                        property_type=PropertyType.LOW_RISE, area=Decimal("90"))
    tenant = Party.objects.create(name="租户欧阳娜", natural_key="t2:tenant")
    occupancy_start(actor=alice, unit=other, party=tenant, role=OccupantRole.TENANT, start=dt.date(2025, 1, 1))
    contact_add(actor=alice, party=tenant, kind=ContactKind.MOBILE, value="13912345678",
                source=ContactSource.HANDOVER, is_primary=True)
    assert _codes("A-12") == ["a-1203"] and _codes("a-1203") == ["a-1203"]
    assert _codes("1-101") == ["1-101", "1-101"]
    assert _codes("欧阳娜") == ["1-101"] and _codes("5678") == ["1-101"]
    Occupancy.objects.filter(party=tenant).update(end=dt.date(2025, 6, 30))  # moved out: no longer found
    assert _codes("欧阳娜") == [] and _codes("5678") == []

    manager = make_user("jingli2", "manager", is_staff=True)
    manager.projects.add(t2)
    client.force_login(manager)
    page = client.get("/estate/units/", {"q": "1-101"}).content.decode()
    assert f'href="/estate/units/{other.pk}/"' in page
    assert f'href="/estate/units/{estate["units"][0].pk}/"' not in page
    assert "data-unit-code=" not in client.get("/estate/units/", {"q": "业主001"}).content.decode()
    api = client.get("/api/v1/units/", {"q": "1-101"}).json()
    assert [u["id"] for u in api.get("results", api)] == [other.pk]
    client.force_login(alice)  # company-wide: both projects
    page = client.get("/estate/units/", {"q": "1-101"}).content.decode()
    assert f'href="/estate/units/{other.pk}/"' in page and f'href="/estate/units/{estate["units"][0].pk}/"' in page


def _rows_read(sql: str, relation: str) -> tuple[int, str]:
    """Rows of ``relation`` the statement reads, from its executed plan (every scan of the table, with the rows
    its filter or recheck threw away, times its loops), and the plan's index names — planned as on a large
    table: no whole-table read where an index can serve (on 20,000 rows the planner may still prefer reading
    the table to a trigram index; at 1M it does not)."""
    import json

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
        finally:
            cursor.execute("RESET enable_seqscan")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    total, indexes = 0, []

    def walk(node):
        nonlocal total
        if node.get("Relation Name") == relation:
            rows = node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
            total += rows * node["Actual Loops"]
        if node.get("Index Name"):
            indexes.append(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return total, " ".join(indexes)


def _x_units(estate, building, n: int) -> None:
    """``n`` units ``X-00000`` … in ``building`` of the test estate's project, each with an owner (住户00000 …)
    and a mobile (13900000000 …), and statistics as on a large table."""
    from wuye.estate.models import ContactPoint, Occupancy, Party

    units = Unit.objects.bulk_create(
        Unit(project=estate["project"], building=building, floor=9, number=f"{i:05d}", code=f"X-{i:05d}",
             property_type="low_rise", area=90) for i in range(n))
    parties = Party.objects.bulk_create(Party(name=f"住户{i:05d}", natural_key=f"bulk:{i}") for i in range(n))
    Occupancy.objects.bulk_create(Occupancy(unit=u, party=p, role="owner", start="2020-01-01")
                                  for u, p in zip(units, parties, strict=True))
    ContactPoint.objects.bulk_create(ContactPoint(party=p, kind="mobile", value=f"139{i:08d}")
                                     for i, p in enumerate(parties))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE estate_unit; ANALYZE estate_party; ANALYZE estate_occupancy; "
                       "ANALYZE estate_contactpoint")


def test_the_unit_lists_search_over_the_whole_estate_reads_indexes_not_every_unit(estate, admin_user, client):
    """On PostgreSQL with 20,000 units: the unit list searched by a code, a room number, a name or a phone tail
    as a user of the whole estate reads the units found through the trigram indexes, its count included — the
    ``OR`` of ``code LIKE`` and ``EXISTS`` over owners and phones read all 20,000 units (1M at 1M units)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans (the PostgreSQL pass of make test runs it)")
    from django.test.utils import CaptureQueriesContext


    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'estate_unit_code_trgm'")
        assert "upper((code)::text) gin_trgm_ops" in cursor.fetchone()[0]
    n = 20_000
    building = estate["buildings"][0]
    _x_units(estate, building, n)
    client.force_login(admin_user)
    for text, found in (("X-01234", 1), ("x-0123", 10), ("01234", 1), ("住户01234", 1), ("00001234", 1),
                        ("2-601", 1)):
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/estate/units/", {"q": text})
        assert page.status_code == 200
        assert page.content.decode().count("data-unit-code=") == found, text
        searches = [q["sql"] for q in captured.captured_queries
                    if q["sql"].lstrip().upper().startswith("SELECT") and "LIKE" in q["sql"]
                    and "estate_unit" in q["sql"]]
        assert len(searches) >= 2, searches  # the count and the page
        for sql in searches:
            read, indexes = _rows_read(sql, "estate_unit")
            assert read <= 50, (text, read, sql)
            if text.upper().startswith("X-"):
                assert "estate_unit_code_trgm" in indexes and "estate_unit_number_trgm" in indexes, (text, indexes)


# --- a search limited to some projects (decision 180) ------------------------------------------------------


def _big_neighbour(estate, n: int = 20_000):
    """Another project of ``n`` units whose codes look like the test estate's (``1-00001`` … ``1-19999``: half of
    them hold ``1-1``), with an owner each, and statistics as on a large table."""
    from wuye.estate.models import Building, Occupancy, Party, Project

    other = Project.objects.create(code="BIG", name="大项目", city="杭州")
    building = Building.objects.create(project=other, code="1", name="1幢", floors=30)
    units = Unit.objects.bulk_create(
        Unit(project=other, building=building, floor=1 + i % 30, number=f"{i:05d}", code=f"1-{i:05d}",
             property_type="low_rise", area=90) for i in range(n))
    parties = Party.objects.bulk_create(Party(name=f"邻居{i:05d}", natural_key=f"big:{i}") for i in range(n))
    Occupancy.objects.bulk_create(Occupancy(unit=u, party=p, role="owner", start="2020-01-01")
                                  for u, p in zip(units, parties, strict=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE estate_unit; ANALYZE estate_party; ANALYZE estate_occupancy")
    return other


def test_a_search_limited_to_one_project_reads_that_projects_units_not_the_estates(estate, make_user, client):
    """On PostgreSQL, beside a project of 20,000 units with codes like its own: the desk's search of its
    own project (30 units) for ``1-1`` reads at most a few hundred unit rows, counted over the page and its
    count — the estate-wide trigram probes read the 20,000 candidates of the other project and threw them away
    after (decision 180) — and finds the same units as the estate-wide search limited afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans (the PostgreSQL pass of make test runs it)")
    from django.test.utils import CaptureQueriesContext

    other = _big_neighbour(estate)
    cashier = make_user("chuna", "finance")
    cashier.projects.add(estate["project"])
    client.force_login(cashier)
    for text in ("1-1", "1-601", "601", "业主007"):
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/estate/units/", {"q": text})
        assert page.status_code == 200
        expected = _codes(text, Unit.objects.filter(project=estate["project"]))
        assert page.content.decode().count("data-unit-code=") == len(expected), text
        searches = [q["sql"] for q in captured.captured_queries
                    if q["sql"].lstrip().upper().startswith("SELECT") and "LIKE" in q["sql"]
                    and "estate_unit" in q["sql"]]
        assert len(searches) >= 2, searches  # the count and the page
        for sql in searches:
            read, _ = _rows_read(sql, "estate_unit")
            assert read <= 200, (text, read, sql)
    # a manager of the whole estate who picks the small project is limited the same way; the big one still works
    client.force_login(make_user("jingli9", "manager", is_staff=True))
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/estate/units/", {"q": "1-1", "project": estate["project"].pk})
    assert page.status_code == 200 and page.content.decode().count("data-unit-code=") == 2  # 1-101, 1-102
    for sql in [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"] and "estate_unit" in q["sql"]]:
        assert _rows_read(sql, "estate_unit")[0] <= 200, sql
    api = client.get("/api/v1/units/", {"q": "1-0012", "project": other.pk}).json()
    assert sorted(u["code"] for u in api.get("results", api)) == [f"1-0012{k}" for k in range(10)]


def test_the_bank_reviews_unit_search_reads_indexes_not_every_unit_of_its_projects(estate):
    """On PostgreSQL with 20,000 units in the bank account's project: the review page's unit search by a code,
    a room number, an owner's name or a phone's tail reads the units found through the indexes —
    ``code ILIKE … OR pk IN (owners named …)`` read all 20,000 units of the project (decision 180)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans (the PostgreSQL pass of make test runs it)")
    from django.test.utils import CaptureQueriesContext

    from wuye.banking.selectors import units_search
    from wuye.estate.models import Building

    n = 20_000
    building = Building.objects.create(project=estate["project"], code="X", name="X幢", floors=30)
    _x_units(estate, building, n)
    for text, codes in (("X-01234", ["X-01234"]), ("x-0123", [f"X-0123{k}" for k in range(10)]),
                        ("住户01234", ["X-01234"]), ("00001234", ["X-01234"]), ("2-601", ["2-601"])):
        with CaptureQueriesContext(connection) as captured:
            found = units_search([estate["project"].pk], text)
        assert [u["code"] for u in found] == codes, text
        if codes == ["X-01234"]:
            assert found[0]["names"] == "住户01234"
        searches = [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"]]
        assert searches, captured.captured_queries
        for sql in searches:
            read, _ = _rows_read(sql, "estate_unit")
            assert read <= 100, (text, read, sql)


# --- a surname alone within the user's projects, and at most NAME_MATCHES_MAX by name (decision 203) ----------


def _wangs(estate, n: int):
    """Another project of ``n`` units whose owners are all 王 (王00000 …), with statistics as on a large table;
    and three 王 in the test estate's project (building 1's first three units)."""
    from wuye.estate.models import Building, Occupancy, Party, Project

    other = Project.objects.create(code="WANG", name="王家苑", city="杭州")
    building = Building.objects.create(project=other, code="1", name="1幢", floors=30)
    units = Unit.objects.bulk_create(
        Unit(project=other, building=building, floor=1 + i % 30, number=f"{i:05d}", code=f"W-{i:05d}",
             property_type="low_rise", area=90) for i in range(n))
    parties = Party.objects.bulk_create(Party(name=f"王{i:05d}", natural_key=f"wang:{i}") for i in range(n))
    Occupancy.objects.bulk_create(Occupancy(unit=u, party=p, role="owner", start="2020-01-01")
                                  for u, p in zip(units, parties, strict=True))
    mine = estate["units"][:3]
    for k, unit in enumerate(mine):
        Party.objects.filter(occupancies__unit=unit).update(name=f"王本项目{k}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE estate_unit; ANALYZE estate_party; ANALYZE estate_occupancy")
    return other, sorted(u.code for u in mine)


def _page_codes(page) -> list[str]:
    import re

    return sorted(re.findall(r'data-unit-code="([^"]+)"', page.content.decode()))


def test_a_surname_finds_the_users_projects_units_and_at_most_the_cap_by_name(estate, make_user, admin_user,
                                                                              bob_territory, client, monkeypatch):
    """A cashier of one project searching 王 beside a project of 王: their project's three 王, found within their
    project; by name at most ``NAME_MATCHES_MAX`` units, with a note asking for a longer name when the cap is
    reached (the whole estate's 王 were the bound before); a collector's cap counts their territory's."""
    from wuye.estate import selectors

    other, mine = _wangs(estate, 60)
    cashier = make_user("chuna", "finance")
    cashier.projects.add(estate["project"])
    client.force_login(cashier)
    page = client.get("/estate/units/", {"q": "王"})
    assert _page_codes(page) == mine and 'data-testid="name-capped"' not in page.content.decode()

    monkeypatch.setattr(selectors, "NAME_MATCHES_MAX", 2)
    page = client.get("/estate/units/", {"q": "王"})
    assert len(_page_codes(page)) == 2 and set(_page_codes(page)) <= set(mine)
    assert "只列出了其中 2 人的房屋" in page.content.decode()
    client.force_login(admin_user)  # the whole estate: the cap still holds
    page = client.get("/estate/units/", {"q": "王"})
    assert len(_page_codes(page)) == 2 and 'data-testid="name-capped"' in page.content.decode()
    assert len(_page_codes(client.get("/estate/units/", {"q": "王", "project": other.pk}))) == 2
    assert _page_codes(client.get("/estate/units/", {"q": "王本项目1"})) == [mine[1]]  # a longer name: no cap
    # a collector whose territory (building 1) holds the three: the cap counts theirs, not the project's
    monkeypatch.setattr(selectors, "NAME_MATCHES_MAX", 3)
    client.force_login(bob_territory)
    assert _page_codes(client.get("/estate/units/", {"q": "王"})) == mine


def test_a_surname_search_in_a_small_project_reads_that_project_not_the_estates_names(estate, make_user, client):
    """On PostgreSQL beside a project of 20,000 王: a cashier of the test estate's project (36 units) searching 王
    reads a few hundred party and unit rows over the page and its count, and the cap's check — the name part
    read all 20,000 王 of the estate and kept the project's three after (decision 203); a search of the whole
    estate stops at the cap (LIMIT in the statement)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans (the PostgreSQL pass of make test runs it)")
    from django.test.utils import CaptureQueriesContext

    from wuye.estate.selectors import NAME_MATCHES_MAX

    n = 20_000
    _, mine = _wangs(estate, n)
    cashier = make_user("chuna", "finance")
    cashier.projects.add(estate["project"])
    client.force_login(cashier)
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/estate/units/", {"q": "王"})
    assert _page_codes(page) == mine
    searches = [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"] and "estate_party" in q["sql"]]
    assert len(searches) >= 3, searches  # the count, the page, the cap's check
    for sql in searches:
        assert _party_rows_read(sql) <= 200, sql
        assert _rows_read(sql, "estate_unit")[0] <= 400, sql
    client.force_login(make_user("jingli9", "manager", is_staff=True))  # the whole estate
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/estate/units/", {"q": "王"})
    assert len(_page_codes(page)) == 50 and 'data-testid="name-capped"' in page.content.decode()
    searches = [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"] and "estate_party" in q["sql"]]
    for sql in searches:
        assert _party_rows_read(sql) <= 3 * NAME_MATCHES_MAX, sql
