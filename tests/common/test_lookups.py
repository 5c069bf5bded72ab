"""``__in_ids``: one parameter for a long id list, same rows as ``__in``, on SQLite and PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wuye.estate.models import Unit


@pytest.mark.django_db
def test_in_ids_selects_the_same_rows_as_in_with_one_parameter(arrears_estate):
    units = list(Unit.objects.order_by("pk").values_list("pk", flat=True))
    wanted = units[::2] + [10**12]  # an id that does not exist is simply not found
    with CaptureQueriesContext(connection) as q:
        got = sorted(Unit.objects.filter(pk__in_ids=wanted).values_list("pk", flat=True))
    assert got == sorted(units[::2])
    sql = q.captured_queries[0]["sql"]
    assert len(q.captured_queries) == 1 and ("= ANY(" in sql or "json_each(" in sql)
    # through a relation (the foreign key's column) and empty lists
    project = Unit.objects.get(pk=units[0]).project_id
    assert Unit.objects.filter(project_id__in_ids=[project]).count() == Unit.objects.filter(project_id=project).count()
    assert not Unit.objects.filter(pk__in_ids=[]).exists()


def test_in_ids_refuses_anything_but_integers():
    with pytest.raises(TypeError):
        Unit.objects.filter(pk__in_ids=["1"])
    with pytest.raises(TypeError):
        Unit.objects.filter(pk__in_ids=[True])


@pytest.mark.django_db
def test_ids_wrapper_selects_the_same_rows_and_django_never_walks_the_list(arrears_estate, monkeypatch):
    """``Ids(list)`` passes the filter builder as one value: the same rows as the list, and Django's per-element
    walk (``resolve_lookup_value`` on a list) is never entered for it."""
    from django.db.models.sql import query

    from wuye.billing.models import Bill
    from wuye.common.lookups import Ids

    units = list(Unit.objects.order_by("pk").values_list("pk", flat=True))
    wanted = units[1::2]
    walked = []
    original = query.Query.resolve_lookup_value

    def spy(self, value, *args, **kwargs):
        if isinstance(value, list) and len(value) == len(wanted):
            walked.append(value)
        return original(self, value, *args, **kwargs)

    billed = set(Bill.objects.filter(unit_id__in=wanted).values_list("pk", flat=True))
    monkeypatch.setattr(query.Query, "resolve_lookup_value", spy)
    assert sorted(Unit.objects.filter(pk__in_ids=Ids(wanted)).values_list("pk", flat=True)) == wanted
    # a foreign key too (Django walks an iterable to check each element's model)
    assert billed and set(Bill.objects.filter(unit_id__in_ids=Ids(wanted)).values_list("pk", flat=True)) == billed
    assert walked == []
    assert sorted(Unit.objects.filter(pk__in_ids=wanted).values_list("pk", flat=True)) == wanted
    assert walked  # a plain list is walked (what the wrapper avoids)


def test_int_array_is_postgresql_text_of_integers_only():
    from wuye.common.lookups import Ids, int_array

    assert int_array([3, 1, 20]) == "{3,1,20}" and int_array(Ids(range(3))) == "{0,1,2}" and int_array([]) == "{}"
    for bad in (["1}", 2], [1.0], [True], ["1,2"]):  # text would reach the literal
        with pytest.raises(TypeError):
            int_array(bad)
    with pytest.raises(TypeError):
        Unit.objects.filter(pk__in_ids=Ids(["7"]))
