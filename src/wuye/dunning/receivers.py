"""Reactions to billing's signals: a payment that clears the arrears stops the ladder at once; and to
``common.changes``: writes of other modules mark the accounts the incremental run must decide again."""

from django.dispatch import receiver

from wuye.billing.signals import arrears_reduced, arrears_reduced_many
from wuye.common.changes import accounts_changed


@receiver(arrears_reduced, dispatch_uid="dunning.arrears_reduced")
def _on_arrears_reduced(sender, unit_id: int, on, **kwargs) -> None:
    from wuye.dunning.marks import mark_units
    from wuye.dunning.services import account_refresh

    mark_units([unit_id])
    account_refresh(unit_id=unit_id, on=on, actor_label="job:payment")


@receiver(arrears_reduced_many, dispatch_uid="dunning.arrears_reduced_many")
def _on_arrears_reduced_many(sender, units: dict, **kwargs) -> None:
    from wuye.dunning.marks import mark_units
    from wuye.dunning.services import accounts_refresh

    mark_units(units)
    accounts_refresh(units=units, actor_label="job:payment")


@receiver(accounts_changed, dispatch_uid="dunning.accounts_changed")
def _on_accounts_changed(sender, unit_ids=(), project_ids=(), everything=False, **kwargs) -> None:
    from wuye.dunning.marks import mark_everything, mark_projects, mark_units

    if everything:
        mark_everything()
    if project_ids:
        mark_projects(project_ids)
    if unit_ids:
        mark_units(unit_ids)


# The collection settings that every decision of a project reads are written through services, forms and
# the admin alike: their saves mark the project (or the unit) for the incremental run. Rare, single-row
# writes, so a model signal costs nothing; bulk paths (default ladders of a new project) need no mark — a
# project without decision state is decided in full anyway.
def _config_models():
    from wuye.dunning.models import (
        CalendarDay,
        CalendarYear,
        CollectionSettings,
        Hold,
        Policy,
        SegmentOverride,
        Step,
    )

    return CalendarDay, CalendarYear, CollectionSettings, Hold, Policy, SegmentOverride, Step


def _on_config_write(sender, instance, **kwargs) -> None:
    from wuye.dunning.marks import mark_everything, mark_projects, mark_units
    from wuye.dunning.models import CalendarDay, CalendarYear, Hold, SegmentOverride, Step

    if sender in (CalendarDay, CalendarYear):
        mark_everything()
    elif sender in (Hold, SegmentOverride):
        mark_units([instance.unit_id])
    elif sender is Step:
        mark_projects([instance.policy.project_id])
    else:  # Policy, CollectionSettings
        mark_projects([instance.project_id])


def connect_config_marks() -> None:
    from django.db.models.signals import post_delete, post_save

    for model in _config_models():
        post_save.connect(_on_config_write, sender=model, dispatch_uid=f"dunning.mark.save.{model.__name__}")
        post_delete.connect(_on_config_write, sender=model, dispatch_uid=f"dunning.mark.delete.{model.__name__}")


# The estate's rows a decision reads (the segment: a unit's type and state, its owner in force and the
# owner's flags) are written by estate's services, its API and the admin; estate sits above dunning, so
# its saves are heard here. Bulk imports mark their projects (``estate.importer``).
def _on_unit_write(sender, instance, **kwargs) -> None:
    from wuye.dunning.marks import mark_units

    mark_units([instance.pk])


def _on_occupancy_write(sender, instance, **kwargs) -> None:
    from wuye.dunning.marks import mark_units

    mark_units([instance.unit_id])


def _on_party_write(sender, instance, created=False, **kwargs) -> None:
    from wuye.dunning.marks import mark_units
    from wuye.estate.models import ContactPoint, Occupancy

    party_id = instance.party_id if sender is ContactPoint else instance.pk
    if not created or sender is ContactPoint:
        mark_units(Occupancy.objects.filter(party_id=party_id).values_list("unit_id", flat=True))


def connect_estate_marks() -> None:
    from django.db.models.signals import post_delete, post_save

    from wuye.estate.models import ContactPoint, Occupancy, Party, Unit

    post_save.connect(_on_unit_write, sender=Unit, dispatch_uid="dunning.mark.unit")
    for signal, name in ((post_save, "save"), (post_delete, "delete")):
        signal.connect(_on_occupancy_write, sender=Occupancy, dispatch_uid=f"dunning.mark.occupancy.{name}")
    post_save.connect(_on_party_write, sender=Party, dispatch_uid="dunning.mark.party")
    post_save.connect(_on_party_write, sender=ContactPoint, dispatch_uid="dunning.mark.contact")
