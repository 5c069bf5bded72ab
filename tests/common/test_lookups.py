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
