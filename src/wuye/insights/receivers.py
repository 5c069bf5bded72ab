"""What the provisional snapshot of the month in progress must recompute (decision 177).

Every write of an input of the figures announces itself through ``common.changes`` (the same announcements the
incremental daily run hears: ledger lines, payments, allocations, adjustments, bill runs, imports). Here they
become ``LiveChange`` rows in the writer's transaction: one per unit, project or "everything". A unit that moves
to another building or floor is heard through the unit's own save. Territories are not heard: the refresh
compares them with what it assigned last time (a small table, written through forms, the admin and services).
"""

from __future__ import annotations

from django.db import connection
from django.dispatch import receiver

from wuye.common.changes import accounts_changed

BATCH = 5000


def changes_record(*, unit_ids=(), building_ids=(), project_ids=(), everything: bool = False) -> None:
    """Append the changes to ``LiveChange`` (plain inserts: the refresh deletes the rows it read by id, so a
    row written while it runs is kept for the next one)."""
    from wuye.insights.models import LiveChange

    table = connection.ops.quote_name(LiveChange._meta.db_table)
    rows = ([(None, None, None, True)] if everything else []) \
        + [(None, None, int(p), False) for p in sorted(set(project_ids))] \
        + [(None, int(b), None, False) for b in sorted(set(building_ids))] \
        + [(int(u), None, None, False) for u in sorted(set(unit_ids))]
    if not rows:
        return
    with connection.cursor() as cur:
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            cur.execute(f"INSERT INTO {table} (unit_id, building_id, project_id, everything) VALUES "
                        + ", ".join(["(%s, %s, %s, %s)"] * len(batch)), [v for row in batch for v in row])


@receiver(accounts_changed, dispatch_uid="insights.accounts_changed")
def _on_accounts_changed(sender, unit_ids=(), project_ids=(), everything=False, **kwargs) -> None:
    changes_record(unit_ids=unit_ids, project_ids=project_ids, everything=everything)


def _on_unit_moving(sender, instance, raw=False, **kwargs) -> None:
    """A unit whose project, building or floor changes: both its old and its new building are recomputed (its
    rows move, and its floor may have another collector)."""
    from wuye.estate.models import Unit

    if raw or instance.pk is None:
        return
    old = Unit.objects.filter(pk=instance.pk).values_list("project_id", "building_id", "floor").first()
    if old is None or old == (instance.project_id, instance.building_id, instance.floor):
        return
    changes_record(building_ids=[old[1], instance.building_id])


def connect_estate_changes() -> None:
    from django.db.models.signals import pre_save

    from wuye.estate.models import Unit

    pre_save.connect(_on_unit_moving, sender=Unit, dispatch_uid="insights.unit_moving")
