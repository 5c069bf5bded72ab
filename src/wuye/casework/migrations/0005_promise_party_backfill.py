"""Promises recorded before ``Promise.party`` existed name nobody, so their breaks count against no owner.
Fill ``party`` with the party liable for the unit on the day the promise was made: the owner in force then
(the latest to start when records overlap), else the project's developer (unsold units) — the rule of
``wuye.estate.selectors.liable_party_ids``, replicated here on the historical models because a migration must
not import live code that may change later. Set-based: two reads for any number of promises, then one update
per party (in chunks). Each filled promise gets an audit event naming the migration. Promises for which nobody
was liable stay empty. Reversing leaves the data as it is (the values are correct either way).
"""

from __future__ import annotations

from collections import defaultdict

from django.db import migrations

CHUNK = 500
LABEL = "migration:casework.0005_promise_party_backfill"


def liable_on(occupancies: list[tuple], on) -> int | None:
    """The party of the owner occupancy in force on ``on`` that started last (rows sorted by start, id)."""
    party = None
    for start, end, party_id in occupancies:
        if start <= on and (end is None or end >= on):
            party = party_id  # later rows overwrite earlier ones
    return party


def backfill(apps, schema_editor) -> None:
    Promise = apps.get_model("casework", "Promise")
    Occupancy = apps.get_model("estate", "Occupancy")
    Unit = apps.get_model("estate", "Unit")
    AuditEvent = apps.get_model("accounts", "AuditEvent")

    todo = list(Promise.objects.filter(party__isnull=True).order_by("pk")
                .values_list("pk", "unit_id", "made_on", "project_id"))
    if not todo:
        return
    unit_ids = sorted({u for _, u, _, _ in todo})
    owners: dict[int, list[tuple]] = defaultdict(list)
    developer: dict[int, int] = {}
    for i in range(0, len(unit_ids), CHUNK):
        chunk = unit_ids[i:i + CHUNK]
        for unit_id, start, end, party_id in (Occupancy.objects.filter(unit_id__in=chunk, role="owner")
                                              .order_by("start", "id")
                                              .values_list("unit_id", "start", "end", "party_id")):
            owners[unit_id].append((start, end, party_id))
        developer.update(Unit.objects.filter(pk__in=chunk, project__developer__isnull=False)
                         .values_list("pk", "project__developer_id"))

    by_party: dict[int, list[int]] = defaultdict(list)
    events = []
    for pk, unit_id, made_on, project_id in todo:
        party_id = liable_on(owners.get(unit_id, []), made_on) or developer.get(unit_id)
        if party_id is None:
            continue
        by_party[party_id].append(pk)
        events.append(AuditEvent(
            actor_label=LABEL, verb="casework.promise_party_backfill", object_type="casework.promise",
            object_id=str(pk), object_repr=f"承诺 {pk}", project_id=project_id, before={"party": None},
            after={"party": party_id, "made_on": made_on.isoformat()},
            note="补填承诺人：承诺当天的缴费责任人"))
    for party_id, pks in by_party.items():
        for i in range(0, len(pks), CHUNK):
            Promise.objects.filter(pk__in=pks[i:i + CHUNK], party__isnull=True).update(party_id=party_id)
    AuditEvent.objects.bulk_create(events, batch_size=1_000)


class Migration(migrations.Migration):

    dependencies = [
        ("casework", "0004_dispute_bill_ids_dispute_source"),
        ("estate", "0001_initial"),
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
