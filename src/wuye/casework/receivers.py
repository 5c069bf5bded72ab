"""Casework reacts to billing's signals: a payment may keep a promise to pay."""

from django.dispatch import receiver

from wuye.billing.signals import arrears_reduced


@receiver(arrears_reduced, dispatch_uid="casework.arrears_reduced")
def _on_arrears_reduced(sender, unit_id: int, on, **kwargs) -> None:
    from wuye.casework.services import promises_check_kept

    promises_check_kept(unit_id=unit_id, on=on)
