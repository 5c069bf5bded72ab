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
