from wuye.dunning.models import Action


def actions_of(unit, **filters):
    return list(Action.objects.filter(unit=unit, **filters).select_related("step").order_by("decided_on", "pk"))


def names(unit, **filters):
    return [(a.decided_on, a.step.name) for a in actions_of(unit, **filters)]


CST = __import__("datetime").timezone(__import__("datetime").timedelta(hours=8))


def dispatch_on(day, hour=10):
    """Send (or turn into tasks) what is due on ``day`` at ``hour`` China time."""
    import datetime as dt

    from wuye.dunning.dispatch import dispatch

    return dispatch(now=dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=CST))


def sign_written(actor, unit, on, signer="业主本人", relation="本人"):
    """Close the open notice/registered-letter tasks of ``unit`` as signed for on ``on`` (the receipt stub):
    the demand is then delivered and names the periods it was sent for."""
    from wuye.dunning.models import Task
    from wuye.dunning.services import task_close

    tasks = list(Task.objects.filter(unit=unit, status="open", kind__in=["notice", "registered"]))
    for task in tasks:
        task_close(actor=actor, task=task, note="", signed_by=signer, relation=relation, signed_on=on)
    return tasks
