"""Reactions to billing's signals: a payment that clears the arrears stops the ladder at once."""

from django.dispatch import receiver

from wuye.billing.signals import arrears_reduced


@receiver(arrears_reduced, dispatch_uid="dunning.arrears_reduced")
def _on_arrears_reduced(sender, unit_id: int, on, **kwargs) -> None:
    from wuye.dunning.services import account_refresh

    account_refresh(unit_id=unit_id, on=on, actor_label="job:payment")
