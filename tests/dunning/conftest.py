from wuye.dunning.models import Action


def actions_of(unit, **filters):
    return list(Action.objects.filter(unit=unit, **filters).select_related("step").order_by("decided_on", "pk"))


def names(unit, **filters):
    return [(a.decided_on, a.step.name) for a in actions_of(unit, **filters)]
