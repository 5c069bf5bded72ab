"""The synthetic-estate generator (``wuye seed``): deterministic, valid, and shaped like a real estate."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from wuye.accounts.models import AuditEvent
from wuye.estate.choices import DEAD_VALIDITIES
from wuye.estate.importer import LANDLINE_RE, MOBILE_RE, USCC_RE, resident_id_valid
from wuye.estate.models import Building, ContactPoint, Occupancy, Party, Project, Unit, UnitStateChange
from wuye.estate.synthetic import uscc_check

# The generator commits through raw SQL (COPY / executemany) inside its own transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed", stdout=out, **options)
    return out.getvalue()


def fingerprint() -> list[tuple]:
    owners = {
        o.unit_id: o.party.name
        for o in Occupancy.objects.filter(role="owner", end__isnull=True).select_related("party")
    }
    units = sorted(
        (u.project.code, u.code, str(u.area), u.state, str(u.delivered_on), owners.get(u.id, ""))
        for u in Unit.objects.select_related("project")
    )
    parties = sorted(Party.objects.values_list("natural_key", "name", "is_investor", "lives_elsewhere"))
    contacts = sorted(ContactPoint.objects.values_list("party__natural_key", "kind", "value", "validity",
                                                       "is_primary"))
    return [units, parties, contacts]


def test_same_seed_gives_the_same_estate():
    seed(units=300, seed=7)
    first = fingerprint()
    assert len(first[0]) == 300
    call_command("flush", interactive=False)
    seed(units=300, seed=7)
    assert fingerprint() == first


def test_output_counts_and_audit():
    out = seed(units=300, seed=7)
    assert "房屋：300" in out and "用时" in out
    event = AuditEvent.objects.get(verb="estate.seed")
    assert event.actor_label == "seed"
    assert event.after["units"] == 300
    assert event.after["parties"] == Party.objects.count()
    assert event.after["contacts"] == ContactPoint.objects.count()


def test_same_seed_twice_is_refused_and_another_seed_appends():
    seed(units=300, seed=7)
    with pytest.raises(CommandError, match="已有同编码的项目"):
        seed(units=300, seed=7)
    assert Unit.objects.count() == 300
    seed(units=200, seed=8)
    assert Unit.objects.count() == 500
    assert not set(Project.objects.filter(code__startswith="S7-").values_list("code", flat=True)) & set(
        Project.objects.filter(code__startswith="S8-").values_list("code", flat=True))
    # The id sequences were moved past the keys the generator assigned itself.
    project = Project.objects.create(code="NEW", name="新项目")
    assert project.pk > Project.objects.exclude(pk=project.pk).order_by("-pk").first().pk
    party = Party.objects.create(name="张三", natural_key="n:张三")
    assert party.pk == max(Party.objects.values_list("pk", flat=True))


def test_identity_numbers_are_valid_and_unique():
    seed(units=300, seed=7)
    persons = list(Party.objects.filter(kind="person").values_list("id_number", "natural_key"))
    assert len(persons) > 250
    for id_number, key in persons:
        assert resident_id_valid(id_number), id_number
        assert key == f"id:{id_number}"
    for uscc, key in Party.objects.filter(kind="company").values_list("id_number", "natural_key"):
        assert USCC_RE.match(uscc) and uscc[-1] == uscc_check(uscc[:17]), uscc
        assert key.startswith("dev:") or key == f"id:{uscc}"


def test_contacts_have_one_primary_and_some_are_dead():
    seed(units=300, seed=7)
    primaries = Party.objects.annotate(
        n=Count("contacts"), primary=Count("contacts", filter=Q(contacts__is_primary=True)))
    assert primaries.filter(n=0).count() == 0
    assert set(primaries.values_list("primary", flat=True)) == {1}
    assert ContactPoint.objects.exclude(source="seed").count() == 0
    dead = ContactPoint.objects.filter(validity__in=DEAD_VALIDITIES)
    assert dead.exists()
    assert not dead.filter(last_verified__isnull=True).exists()
    for value in ContactPoint.objects.filter(kind="mobile").values_list("value", flat=True):
        assert MOBILE_RE.match(value), value
    for value in ContactPoint.objects.filter(kind="landline").values_list("value", flat=True):
        assert LANDLINE_RE.match(value), value
    for value in ContactPoint.objects.filter(kind="wechat").values_list("value", flat=True):
        assert len(value) == 28 and value.startswith("o"), value


def test_unsold_units_fall_to_the_developer():
    seed(units=300, seed=7)
    unsold = Unit.objects.exclude(occupancies__role="owner", occupancies__end__isnull=True)
    assert unsold.exists()
    for unit in unsold.select_related("project__developer"):
        assert unit.state == "vacant"
        developer = unit.project.developer
        assert developer is not None and developer.is_developer
        assert developer.natural_key == f"dev:{unit.project.code}"


def test_occupancy_and_state_history_hang_together():
    seed(units=1200, seed=11)
    assert not Unit.objects.filter(state_changes__isnull=True).exists()
    # The newest state row of every unit is its current state.
    latest = {}
    for unit_id, state in UnitStateChange.objects.order_by("unit_id", "since", "id").values_list("unit_id", "state"):
        latest[unit_id] = state
    assert all(latest[u] == s for u, s in Unit.objects.values_list("id", "state"))
    # At most one current owner and one current tenant per unit; rented units have a tenant.
    current = Counter(Occupancy.objects.filter(end__isnull=True).values_list("unit_id", "role"))
    assert max(current.values()) == 1
    rented = set(Unit.objects.filter(state="rented").values_list("id", flat=True))
    assert rented and rented == {u for (u, role) in current if role == "tenant"}
    assert Occupancy.objects.filter(role="tenant", end__isnull=False).exists()  # tenant churn
    # Investors own 2–3 vacant units (at most one per project may be left with a single unit).
    for party in Party.objects.filter(is_investor=True):
        units = Unit.objects.filter(occupancies__party=party, occupancies__role="owner")
        assert set(units.values_list("state", flat=True)) == {"vacant"}
        assert 1 <= units.count() <= 3
    assert Party.objects.filter(is_investor=True).annotate(n=Count("occupancies")).filter(n__gte=2).exists()
    assert Unit.objects.filter(state_changes__isnull=False).annotate(n=Count("state_changes")).filter(
        n__gte=2).exists()
    areas = {t: (lo, hi) for t, lo, hi in [("parking", 12, 15), ("shop", 30, 200), ("low_rise", 60, 160),
                                           ("mid_rise", 60, 160), ("high_rise", 60, 160)]}
    for ptype, (lo, hi) in areas.items():
        for area in Unit.objects.filter(property_type=ptype).values_list("area", flat=True):
            assert lo <= area <= hi, (ptype, area)


def test_demo_builds_three_fixed_projects():
    seed(demo=True)
    projects = {p.code: p for p in Project.objects.all()}
    assert set(projects) == {"DEMO-CH", "DEMO-JX", "DEMO-JR"}
    assert projects["DEMO-CH"].name == "翠湖花园" and projects["DEMO-CH"].kind == "residential"
    assert projects["DEMO-JX"].name == "锦绣家园" and projects["DEMO-JX"].kind == "residential"
    assert projects["DEMO-JR"].name == "金融中心大厦" and projects["DEMO-JR"].kind == "office"
    assert 1400 <= Unit.objects.count() <= 1600
    assert {"1", "2"} <= set(Building.objects.filter(project__code="DEMO-CH").values_list("code", flat=True))
    assert Unit.objects.filter(project__code="DEMO-JR", property_type="office").count() > 200
    tenants = Party.objects.filter(kind="company", occupancies__role="tenant",
                                   occupancies__unit__project__code="DEMO-JR").distinct()
    assert tenants.exists()
    assert not tenants.filter(designated_signer__isnull=True).exists()
    for tenant in tenants.select_related("designated_signer"):
        signer = tenant.designated_signer
        assert signer.kind == "person" and signer.contacts.filter(kind="mobile", is_primary=True).exists()
