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
