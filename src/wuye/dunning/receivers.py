"""Reactions to billing's signals: a payment that clears the arrears stops the ladder at once."""

from django.dispatch import receiver

from wuye.billing.signals import arrears_reduced, arrears_reduced_many


@receiver(arrears_reduced, dispatch_uid="dunning.arrears_reduced")
def _on_arrears_reduced(sender, unit_id: int, on, **kwargs) -> None:
    from wuye.dunning.services import account_refresh

    account_refresh(unit_id=unit_id, on=on, actor_label="job:payment")


@receiver(arrears_reduced_many, dispatch_uid="dunning.arrears_reduced_many")
def _on_arrears_reduced_many(sender, units: dict, **kwargs) -> None:
    from wuye.dunning.services import accounts_refresh

    accounts_refresh(units=units, actor_label="job:payment")
