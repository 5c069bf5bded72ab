"""The 商铺与别墅 ladder visits from the first month (seed 003: 重点跟进，安排人员长期上门; decision 113): projects
installed before get what new projects get from ``defaults`` — the ladder's 上门沟通 step (from 3 months,
every 21 days) becomes 专人上门跟进 (from 30 days overdue, every 14 days).

Only a step still as shipped is changed (the shipped name, channel, 3 months, every 21 days, no day threshold);
a step a manager edited is left alone. Each changed policy is audited, and its project is decided in full by
the next run (its units' next decision days were computed for the old step)."""

from django.db import migrations
from django.db.models import F

LABEL = "migration:dunning.0015_shop_villa_early_visits"


def forwards(apps, schema_editor):
    Step = apps.get_model("dunning", "Step")
    ProjectDecisionState = apps.get_model("dunning", "ProjectDecisionState")
    AuditEvent = apps.get_model("accounts", "AuditEvent")

    steps = list(Step.objects.filter(policy__segment="shop_villa", policy__valid_from__isnull=True,
                                     name="上门沟通", channel="visit", kind="overdue", months=3, days=None,
                                     repeat_days=21).select_related("policy").order_by("pk"))
    if not steps:
        return
    before = {"name": "上门沟通", "days": None, "months": 3, "repeat_days": 21}
    after = {"name": "专人上门跟进", "days": 30, "months": None, "repeat_days": 14}
    Step.objects.filter(pk__in=[s.pk for s in steps]).update(**after)
    AuditEvent.objects.bulk_create([
        AuditEvent(actor_label=LABEL, verb="dunning.policy_defaults", object_type="dunning.policy",
                   object_id=str(s.policy_id), object_repr=s.policy.name[:200], project_id=s.policy.project_id,
                   before=before, after=after, note="商铺与别墅：逾期满 30 天起每两周专人上门跟进")
        for s in steps], batch_size=1_000)
    ProjectDecisionState.objects.filter(project_id__in={s.policy.project_id for s in steps}).update(
        mark=F("mark") + 1)


class Migration(migrations.Migration):

    dependencies = [
        ("dunning", "0014_risk"),
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
