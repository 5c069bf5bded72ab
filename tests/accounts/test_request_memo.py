"""A user's scope is read once per request (wuye.common.memo, decision 198): within a request the second read
costs no query, a change of the user's projects or territories within the request is seen at once, and outside
a request (jobs, commands) every read goes to the database as before."""

from __future__ import annotations

import pytest

from wuye.accounts.selectors import project_scope_q, scope_project_ids, unit_scope_q
from wuye.common.memo import request_memo

pytestmark = pytest.mark.django_db


def test_within_a_request_the_assigned_projects_are_read_once_and_a_change_is_seen(
        alice, estate, django_assert_num_queries):
    from wuye.estate.models import Project

    other = Project.objects.create(code="Z9", name="另一个项目")
    alice.projects.set([estate["project"]])
    with request_memo():
        with django_assert_num_queries(1):
            assert scope_project_ids(alice) == [estate["project"].pk]
            project_scope_q(alice)
            unit_scope_q(alice, "unit__")
        alice.projects.add(other)  # m2m_changed empties the memo
        assert scope_project_ids(alice) == sorted([estate["project"].pk, other.pk])
    with django_assert_num_queries(2):  # outside a request: every call reads
        scope_project_ids(alice)
        scope_project_ids(alice)


def test_within_a_request_a_collectors_territories_are_read_once_and_a_change_is_seen(
        alice, bob, estate, django_assert_num_queries):
    from wuye.accounts.models import Territory
    from wuye.estate.models import Unit

    first, second = estate["buildings"][0], estate["buildings"][1]
    Territory.objects.create(user=bob, project=estate["project"], building=first)
    with request_memo():
        with django_assert_num_queries(1):
            q = unit_scope_q(bob)
            assert scope_project_ids(bob) == [estate["project"].pk]
        assert set(Unit.objects.filter(q).values_list("building_id", flat=True)) == {first.pk}
        Territory.objects.create(user=bob, project=estate["project"], building=second)  # post_save empties it
        assert set(Unit.objects.filter(unit_scope_q(bob)).values_list("building_id", flat=True)) == {
            first.pk, second.pk}
        Territory.objects.filter(user=bob, building=second).get().delete()
        assert set(Unit.objects.filter(unit_scope_q(bob)).values_list("building_id", flat=True)) == {first.pk}
