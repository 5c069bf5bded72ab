"""Data migrations of dunning, run on the historical models of their own migration state."""

import importlib

from django.db import connection
from django.db.migrations.loader import MigrationLoader

from wuye.accounts.models import AuditEvent
from wuye.dunning.defaults import policies_install_defaults
from wuye.dunning.models import MessageTemplate, Policy, Step

NAME = "0005_class_follow_up_steps"


def test_ladders_installed_before_gain_the_away_call_and_the_find_contact_visit(estate):
    migration = importlib.import_module(f"wuye.dunning.migrations.{NAME}")
    apps = MigrationLoader(connection).project_state(("dunning", NAME)).apps
    policies_install_defaults(estate["project"])
    # the ladders as the earlier defaults installed them
    visit = MessageTemplate.objects.get(project=None, code="visit")
    Step.objects.filter(account_class="away").delete()
    Step.objects.filter(account_class="unreachable").update(template=visit)
    MessageTemplate.objects.filter(code__in=["call_away", "find_contact"]).delete()
    # one project edited its unreachable step's text: it stays
    edited = Policy.objects.filter(project=estate["project"], steps__account_class="unreachable").first()
    own = MessageTemplate.objects.create(project=estate["project"], code="visit_own", name="自定", channel="visit",
                                         body="上门：{amount}")
    Step.objects.filter(policy=edited, account_class="unreachable").update(template=own)
    with_class_steps = set(Policy.objects.filter(steps__account_class="undecided").values_list("pk", flat=True))
    assert with_class_steps

    migration.forwards(apps, None)

    away = Step.objects.filter(account_class="away")
    assert sorted(away.values_list("policy_id", flat=True)) == sorted(with_class_steps)  # one each
    assert {(s.channel, s.repeat_days, s.assignee, s.template.code) for s in away} == {
        ("call", 3, "collector", "call_away")}
    unreachable = Step.objects.filter(account_class="unreachable").select_related("template")
    assert {s.template.code for s in unreachable if s.policy_id != edited.pk} == {"find_contact"}
    assert {s.template.code for s in unreachable if s.policy_id == edited.pk} == {"visit_own"}
    events = AuditEvent.objects.filter(verb="dunning.policy_defaults")
    assert events.count() == len(with_class_steps) and all(e.actor_label.startswith("migration:") for e in events)
    # once only
    migration.forwards(apps, None)
    assert Step.objects.filter(account_class="away").count() == len(with_class_steps)
    assert AuditEvent.objects.filter(verb="dunning.policy_defaults").count() == len(with_class_steps)


def test_shop_and_villa_ladders_installed_before_visit_from_the_first_month(estate, alice):
    from wuye.dunning.models import ProjectDecisionState

    name = "0015_shop_villa_early_visits"
    migration = importlib.import_module(f"wuye.dunning.migrations.{name}")
    apps = MigrationLoader(connection).project_state(("dunning", name)).apps
    project = estate["project"]
    policies_install_defaults(project)
    shop = Policy.objects.get(project=project, segment="shop_villa")
    # the ladder as the earlier defaults installed it
    Step.objects.filter(policy=shop, name="专人上门跟进").update(name="上门沟通", days=None, months=3, repeat_days=21)
    ProjectDecisionState.objects.create(project=project, mark=4, seen=4)
    standard = {(s.name, s.days, s.months, s.repeat_days) for s in Step.objects.filter(
        policy__project=project, policy__segment="", channel="visit")}

    migration.forwards(apps, None)

    visit = Step.objects.get(policy=shop, channel="visit", account_class="")
    assert (visit.name, visit.days, visit.months, visit.repeat_days) == ("专人上门跟进", 30, None, 14)
    assert {(s.name, s.days, s.months, s.repeat_days) for s in Step.objects.filter(
        policy__project=project, policy__segment="", channel="visit")} == standard  # other ladders untouched
    state = ProjectDecisionState.objects.get(project=project)
    assert state.mark != state.seen  # the next run decides the project in full
    event = AuditEvent.objects.get(verb="dunning.policy_defaults", object_id=str(shop.pk))
    assert event.before["months"] == 3 and event.after["days"] == 30
    # an edited step stays as the manager left it, and the migration runs once
    Step.objects.filter(pk=visit.pk).update(name="上门沟通", days=None, months=3, repeat_days=30)
    migration.forwards(apps, None)
    visit.refresh_from_db()
    assert (visit.days, visit.months, visit.repeat_days) == (None, 3, 30)
    assert AuditEvent.objects.filter(verb="dunning.policy_defaults").count() == 1
