"""Casework reacts to billing's signals: a payment may keep a promise to pay."""

from django.dispatch import receiver

from wuye.billing.signals import arrears_reduced, arrears_reduced_many
from wuye.dunning.signals import promises_broken


@receiver(arrears_reduced, dispatch_uid="casework.arrears_reduced")
def _on_arrears_reduced(sender, unit_id: int, on, **kwargs) -> None:
    from wuye.casework.services import promises_check_kept

    promises_check_kept(unit_id=unit_id, on=on)


@receiver(arrears_reduced_many, dispatch_uid="casework.arrears_reduced_many")
def _on_arrears_reduced_many(sender, units: dict, **kwargs) -> None:
    """Many units at once (a bank statement): only those with an open promise need a look (one query)."""
    from wuye.casework.models import Promise
    from wuye.casework.services import promises_check_kept

    promised = set(Promise.objects.filter(unit_id__in=list(units), hold__released_on__isnull=True)
                   .values_list("unit_id", flat=True))
    for unit_id in sorted(promised):
        promises_check_kept(unit_id=unit_id, on=units[unit_id])


@receiver(promises_broken, dispatch_uid="casework.promises_broken")
def _on_promises_broken(sender, hold_ids: list, on, **kwargs) -> None:
    """The daily run found promises broken: reclass those accounts now rather than at the hourly pass."""
    from wuye.casework.services import promises_broken_settle

    promises_broken_settle(as_of=on)
