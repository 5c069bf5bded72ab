"""Each account class drives its follow-up (domain.md, "Classifying each unpaid account"): projects whose
ladders were installed before gain what new projects get from ``defaults``:

- 异地出差 (away): a call every 3 days that steers the owner to remote payment (template ``call_away``);
- 无法联系 (unreachable): the visit step's text asks to look for new contacts first (template ``find_contact``)
  — only where the step still uses the company-wide 上门沟通 template (an edited step is left alone).

Only policies that already carry the class steps (a 暂未明确 step) are touched, and each only once. The texts
are copied here (a migration must not read live code that may change). Each changed policy is audited.
"""

from django.db import migrations

LABEL = "migration:dunning.0005_class_follow_up_steps"

FIND_CONTACT = ("查找联系方式并上门", "visit",
                "联系不上业主（号码停机、空号或错号）：先查入住登记、租赁备案、装修登记、银行代扣协议等已有资料"
                "找新号码，再上门寻访（欠费 {amount}，最早 {oldest_due} 到期）。找到的新号码请补录到房屋资料；"
                "只在门口与业主本人或家人交谈，不向邻居或其他无关的人透露欠费情况。")
CALL_AWAY = ("异地业主电话", "call",
             "业主在外地：电话联系，说明不必回来也能缴费（微信、支付宝、银行转账），需要时经微信发送缴费链接，"
             "约定转账日期（欠费 {amount}，{months} 期）。")


def forwards(apps, schema_editor):
    MessageTemplate = apps.get_model("dunning", "MessageTemplate")
    Policy = apps.get_model("dunning", "Policy")
    Step = apps.get_model("dunning", "Step")
    AuditEvent = apps.get_model("accounts", "AuditEvent")

    policies = list(Policy.objects.filter(steps__account_class="undecided").distinct().order_by("pk"))
    if not policies:
        return  # a fresh database: the first run installs the new defaults
    templates = {}
    for code, (name, channel, body) in (("find_contact", FIND_CONTACT), ("call_away", CALL_AWAY)):
        templates[code], _ = MessageTemplate.objects.get_or_create(
            project=None, code=code, defaults={"name": name, "channel": channel, "body": body})
    visit = MessageTemplate.objects.filter(project=None, code="visit").first()
    has_away = set(Step.objects.filter(policy__in=policies, account_class="away").values_list("policy_id", flat=True))
    new_steps, events = [], []
    for policy in policies:
        changed = {}
        if policy.pk not in has_away:
            new_steps.append(Step(policy=policy, order=28, name="异地出差：引导远程缴费", kind="overdue", days=1,
                                  repeat_days=3, channel="call", template=templates["call_away"],
                                  assignee="collector", account_class="away"))
            changed["added"] = "异地出差：引导远程缴费"
        if visit is not None and Step.objects.filter(policy=policy, account_class="unreachable",
                                                     template=visit).update(template=templates["find_contact"]):
            changed["unreachable_template"] = "find_contact"
        if changed:
            events.append(AuditEvent(actor_label=LABEL, verb="dunning.policy_defaults", object_type="dunning.policy",
                                     object_id=str(policy.pk), object_repr=policy.name[:200],
                                     project_id=policy.project_id, after=changed,
                                     note="按分类跟进：异地出差引导远程缴费；无法联系先查找新联系方式"))
    Step.objects.bulk_create(new_steps, batch_size=1_000)
    AuditEvent.objects.bulk_create(events, batch_size=1_000)


class Migration(migrations.Migration):

    dependencies = [
        ("dunning", "0004_action_by_provider_id"),
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
