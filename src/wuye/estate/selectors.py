"""Read queries for the estate. Every list a user sees goes through these, so scoping is in one place."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import BigIntegerField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast
from django.http import Http404

from wuye.accounts.models import User
from wuye.accounts.selectors import project_scope_q, unit_scope_q
from wuye.estate.choices import ContactKind, OccupantRole
from wuye.estate.models import Building, ContactPoint, Occupancy, Party, Project, Unit

# Natural order of units on lists: by building (creation order), entrance, floor, room number.
UNIT_ORDER = ("project_id", "building_id", "entrance", "floor", "number", "id")


def projects_visible(user: User) -> QuerySet[Project]:
    return Project.objects.filter(project_scope_q(user))


def buildings_visible(user: User) -> QuerySet[Building]:
    if getattr(user, "territory_bound", False):
        return Building.objects.filter(pk__in=user.territories.values("building_id")).select_related("project")
    return Building.objects.filter(project_scope_q(user, "project__")).select_related("project")


def current_occupancy_q(on: dt.date | None = None, prefix: str = "") -> Q:
    """Occupancy rows in force on ``on`` (today when None: open-ended rows)."""
    if on is None:
        return Q(**{f"{prefix}end__isnull": True})
    return Q(**{f"{prefix}start__lte": on}) & (
        Q(**{f"{prefix}end__isnull": True}) | Q(**{f"{prefix}end__gte": on})
    )


def units_visible(user: User) -> QuerySet[Unit]:
    """Units ``user`` may see, annotated with the current owner's name and id (one query, no N+1)."""
    owner = Occupancy.objects.filter(current_occupancy_q(), unit=OuterRef("pk"), role=OccupantRole.OWNER).order_by(
        "-start", "-id"
    )
    return (
        Unit.objects.filter(unit_scope_q(user))
        .select_related("project", "building")
        .annotate(owner_name=Subquery(owner.values("party__name")[:1]), owner_id=Subquery(owner.values("party_id")[:1]))
    )


# trigrams need three characters: a shorter fragment anywhere in a name can only be found by reading every name
NAME_FRAGMENT_MIN = 3


def name_search_q(text: str, field: str = "name") -> Q:
    """A name search an index serves on PostgreSQL (decision 100): three characters or more anywhere in the name
    (the trigram index, decision 74); one or two characters at the start of the name — a surname (张, 欧阳) or a
    whole two-character name (王芳) — read through the name's btree index, where ``LIKE '%张%'`` would read
    every party of the estate."""
    text = text.strip()
    if len(text) >= NAME_FRAGMENT_MIN:
        return Q(**{f"{field}__contains": text})
    return Q(**{f"{field}__startswith": text})


def phone_tail(text: str) -> str:
    """The digits to look for at the end of phone numbers: only for four digits or more, typed alone."""
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    return digits if len(digits) >= 4 and len(digits) == len(text.strip()) else ""


def party_search_q(text: str) -> Q:
    """Parties by name (see ``name_search_q``) or by the last digits of a phone number."""
    text = text.strip()
    if not text:
        return Q()
    q = name_search_q(text)
    if digits := phone_tail(text):
        q |= Q(pk__in=ContactPoint.objects.filter(value__endswith=digits).values("party_id"))
    return q


def code_search_q(text: str, field: str = "code") -> Q:
    """Units whose code (or room number: ``field``) contains ``text`` (three characters or more), or starts
    with it (one or two), whatever the case: ``UPPER(code) LIKE``, which the trigram indexes on ``upper(code)``
    and ``upper(number)`` serve on PostgreSQL (decision 170) — two characters anywhere hold no trigram."""
    text = text.strip()
    lookup = "icontains" if len(text) >= NAME_FRAGMENT_MIN else "istartswith"
    return Q(**{f"{field}__{lookup}": text})


# a search limited to this many projects or fewer probes the code and room-number indexes once per project
PROJECT_PROBES_MAX = 4


def _probe_by_project(ids: list[int]) -> bool:
    """Whether the code and room-number probes go project by project: for a few projects holding a small part
    of the estate (under a quarter of its units, as PostgreSQL's statistics count them; the count of the
    projects' units stops there). A project that is most of the estate (a company of one estate) is searched
    as the estate is: its ``project_id`` entry in the index would be nearly every unit."""
    if not ids or len(ids) > PROJECT_PROBES_MAX:
        return False
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'estate_unit'::regclass")
        row = cursor.fetchone()
    cap = int(max(row[0] if row else 0, 0)) // 4
    return cap == 0 or Unit.objects.filter(project_id__in=ids).order_by().values("pk")[:cap].count() < cap


def unit_ids_matching(text: str, project_ids=None, names_within: Q | None = None) -> QuerySet:
    """The ids of the units a search finds, as one subquery: a union of what each index finds — units by code,
    units by room number (see ``code_search_q``), units whose current owner or tenant is named so (``name_search_q``),
    and units whose current owner or tenant has a phone ending in the digits typed (``phone_tail``). Each part
    reads its own index; an ``OR`` of these tests over the units read every unit in scope (1M for a manager of
    the whole estate), because no index serves an ``OR`` of subqueries (decision 170).

    ``project_ids`` (None: the whole estate) limits every part to those projects' units (decision 180): a desk's
    search of one project probed the estate-wide trigram indexes and read every unit of the estate whose code
    shares the typed trigrams (``1-101`` is in every project) before the scope threw them away. Limited to a few
    projects that are a small part of the estate (``_probe_by_project``), the code and room-number parts are
    asked once per project of the indexes that lead with the project (estate.0006), which give only that
    project's candidates; otherwise they are asked of the whole estate as in decision 170. Names are found in
    the projects and at most ``NAME_MATCHES_MAX`` of them (``_name_unit_ids``, decision 203); phone tails
    estate-wide as before (their index knows no project): the caller's scope keeps their units."""
    text = text.strip()
    occupancies = Occupancy.objects.filter(current_occupancy_q())
    if project_ids is None:
        scopes = [Q()]
    else:
        ids = sorted(set(project_ids))
        # one probe per project: ``project_id = <bigint>`` is what the index's leading btree_gin column serves
        # (not ``IN``, nor a plain integer literal, which PostgreSQL types as int4: estate.0006)
        scopes = ([Q(project_id=Cast(Value(pid), BigIntegerField())) for pid in ids] if _probe_by_project(ids)
                  else [Q()])
    parts = [Unit.objects.filter(scope, code_search_q(text, field)).order_by().values("pk")
             for scope in scopes for field in ("code", "number")]
    parts.append(Unit.objects.filter(pk__in=_name_unit_ids(text, project_ids, names_within)).order_by().values("pk"))
    if digits := phone_tail(text):
        phones = ContactPoint.objects.filter(kind__in=[ContactKind.MOBILE, ContactKind.LANDLINE],
                                             value__endswith=digits).order_by().values("party_id")
        parts.append(occupancies.filter(party_id__in=phones).order_by().values("unit_id"))
    return parts[0].union(*parts[1:])


# a search finds at most this many units by their occupants' names: a surname alone (王) is the name of one
# person in fifteen — 70,000 at 1M units — and a desk wants the few it can scroll through (decision 203)
NAME_MATCHES_MAX = 200


def _name_scope(text: str, project_ids=None, names_within: Q | None = None) -> QuerySet:
    names = Occupancy.objects.filter(current_occupancy_q(), name_search_q(text, "party__name"))
    if project_ids is not None:
        names = names.filter(unit__project_id__in=sorted(set(project_ids)))
    if names_within is not None:  # a collector's territories (``unit_scope_q(user, "unit__")``)
        names = names.filter(names_within)
    return names.order_by().values("unit_id")


def _name_unit_ids(text: str, project_ids=None, names_within: Q | None = None) -> QuerySet:
    """The ids of at most ``NAME_MATCHES_MAX`` units whose current owner or tenant is named so (``name_search_q``),
    in ``project_ids`` when given — the projects tested in the same statement and the LIMIT applied there, before
    anything reaches Python (decision 203). Unbounded, 王 read every 王 of the estate to keep a cashier's
    project's few."""
    return _name_scope(text, project_ids, names_within)[:NAME_MATCHES_MAX]


def name_matches_capped(text: str, project_ids=None, names_within: Q | None = None) -> bool:
    """Whether the search's name part reached ``NAME_MATCHES_MAX`` (the page then asks for a longer name): one
    statement reading at most one row more than the cap."""
    text = text.strip()
    if not text or phone_tail(text):
        return False
    return _name_scope(text, project_ids, names_within)[:NAME_MATCHES_MAX + 1].count() > NAME_MATCHES_MAX


def unit_search_q(text: str, project_ids=None, names_within: Q | None = None) -> Q:
    """Search by unit code/number (see ``code_search_q``), owner or tenant name (see ``name_search_q``), or a
    phone number (exact digits or tail): the units whose id the search's union finds (``unit_ids_matching``),
    in ``project_ids`` only when given (a user's projects, the project chosen: decision 180)."""
    text = text.strip()
    if not text:
        return Q()
    return Q(pk__in=unit_ids_matching(text, project_ids, names_within))


def unit_visible_or_404(user: User, pk: int) -> Unit:
    """The unit if ``user`` may see it; 404 otherwise (outside a territory looks like no unit at all)."""
    unit = units_visible(user).filter(pk=pk).first()
    if unit is None:
        raise Http404("房屋不存在或不在您的责任区内。")
    return unit


def parties_visible(user: User) -> QuerySet[Party]:
    """Parties linked (now or in the past) to a unit the user may see."""
    scope = unit_scope_q(user, "unit__")
    if scope == Q():
        return Party.objects.all()
    return Party.objects.filter(Exists(Occupancy.objects.filter(scope, party=OuterRef("pk"))))


def contacts_visible(user: User) -> QuerySet[ContactPoint]:
    scope = unit_scope_q(user, "unit__")
    qs = ContactPoint.objects.select_related("party")
    if scope == Q():
        return qs
    return qs.filter(Exists(Occupancy.objects.filter(scope, party=OuterRef("party_id"))))


def liable_party_ids(unit_ids: list[int], on: dt.date) -> dict[int, int]:
    """unit id → id of the party who owes its fees on ``on``: the owner in force (the latest to start, if
    records overlap), else the project's developer for unsold units. Two queries for any number of units;
    units with neither are left out.

    A tenant who agreed to pay is asked first in practice, but the owner stays liable (物业管理条例 41).
    """
    owners: dict[int, int] = dict(
        Occupancy.objects.filter(current_occupancy_q(on), unit_id__in_ids=unit_ids, role=OccupantRole.OWNER)
        .order_by("start", "id").values_list("unit_id", "party_id"))  # later rows overwrite earlier ones
    rest = [u for u in unit_ids if u not in owners]
    if rest:
        for u, developer in (Unit.objects.filter(pk__in_ids=rest, project__developer__isnull=False)
                             .values_list("pk", "project__developer_id")):
            owners[u] = developer
    return owners


def designated_signers(party_ids) -> dict[int, tuple[str, str]]:
    """party id → (the name of its designated signer 指定负责人, the signer's best live mobile or ""), for the
    parties of ``party_ids`` that named one — the person an office tenant's bills and written notices are
    handed to. Two queries for any number of parties; parties without a signer are left out."""
    from wuye.estate.choices import DEAD_VALIDITIES

    ids = sorted({p for p in party_ids if p is not None})
    if not ids:
        return {}
    rows = list(Party.objects.filter(pk__in_ids=ids, designated_signer__isnull=False)
                .values_list("pk", "designated_signer_id", "designated_signer__name"))
    if not rows:
        return {}
    phones: dict[int, str] = {}
    for signer, value in (ContactPoint.objects.filter(party_id__in_ids=sorted({r[1] for r in rows}),
                                                      kind=ContactKind.MOBILE)
                          .exclude(validity__in=list(DEAD_VALIDITIES))
                          .order_by("-is_primary", "pk").values_list("party_id", "value")):
        phones.setdefault(signer, value)
    return {party: (name, phones.get(signer, "")) for party, signer, name in rows}


def liable_parties_of(unit_ids: list[int], on: dt.date) -> dict[int, Party]:
    """unit id → the liable party (see ``liable_party_ids``), as Party rows: three queries in all."""
    ids = liable_party_ids(unit_ids, on)
    parties = Party.objects.in_bulk(set(ids.values()))
    return {u: parties[p] for u, p in ids.items() if p in parties}


def liable_party(unit: Unit, on: dt.date) -> Party | None:
    """Who owes the fees of ``unit`` on ``on`` (see ``liable_party_ids``)."""
    return liable_parties_of([unit.pk], on).get(unit.pk)


def import_jobs_visible(user: User):
    """Import jobs ``user`` may see: every job for company-wide staff (no project assignment) and superusers;
    otherwise the jobs they uploaded (a job names no project until it is read, and its error report quotes
    the file's rows)."""
    from wuye.estate.models import ImportJob

    qs = ImportJob.objects.select_related("created_by")
    if user.is_superuser or (not getattr(user, "territory_bound", False) and not user.projects.exists()):
        return qs
    return qs.filter(created_by=user)
