"""Huey tasks of the billing app: thin wrappers that take ids and call billing."""

from huey.contrib.djhuey import db_task


@db_task()
def arrears_reduced_many_send(items: list) -> None:
    """Tell dunning and casework that these units' arrears went down (after a bulk posting committed)."""
    from wuye.billing.bulk import notify_arrears_reduced

    notify_arrears_reduced([(int(u), str(d)) for u, d in items])
