"""Ladders installed before this release gain what new projects get from ``defaults``:

- 异地出差 (away): called daily instead of every 3 days (seed 001) — only where the step still repeats every
  3 days under its shipped name (an edited step is left alone);
- an SMS when an owner's prepaid money has run out (event ``prepaid_out``, seed 001);
- 时效保全: an itemised written demand for periods about to become time-barred (event ``limitation``), on
  every ladder that refers to a law firm;
- office ladders: EMS to the contact address when a notice could not be handed to anyone (event
  ``signer_unreachable``, seed 004);
- the year-end campaign ladder: a registered letter at 40 days, so its referral at 60 days rests on a
  written demand.

Each changed policy is audited. Texts are copied here (a migration must not read live code)."""

from django.db import migrations, models

LABEL = "migration:dunning.0007_ladder_events_and_demands"

TEMPLATES = {
    "prepaid_out": ("预存款用完提醒", "sms", "",
                    "{company}提示：{unit} 的预存物业费已用完，本期尚有 {amount_due} 未缴，缴费截止日 {due_date}。"
                    "如需继续预存，可到服务中心或在线缴纳。{pay_link}"),
    "ems_signer": ("书面通知改寄 EMS", "registered", "缴费通知（邮寄）",
                   "{unit}：贵方 {months} 期费用共 {amount} 已逾期。书面通知未能当面送交贵方指定负责人，"
                   "现以 EMS 寄至贵方联系地址，请于 {deadline} 前缴纳。[咨询 {phone}。]"),
    "limitation_demand": ("逐期书面催告（时效保全）", "registered", "缴费催告函",
                          "{unit} 业主：截至 {today}，下列账期的费用仍未缴纳，合计 {amount}（明细见附页）。"
                          "请于 {deadline} 前缴清。[咨询 {phone}。]"),
}
YEAR_END_NAME = "年末专项（从严）"


def forwards(apps, schema_editor):
    MessageTemplate = apps.get_model("dunning", "MessageTemplate")
    Policy = apps.get_model("dunning", "Policy")
    Step = apps.get_model("dunning", "Step")
    AuditEvent = apps.get_model("accounts", "AuditEvent")

    policies = list(Policy.objects.select_related("project").order_by("pk"))
    if not policies:
        return  # a fresh database: the first run installs the new defaults
    templates = {}
    for code, (name, channel, subject, body) in TEMPLATES.items():
        templates[code], _ = MessageTemplate.objects.get_or_create(
            project=None, code=code, defaults={"name": name, "channel": channel, "subject": subject, "body": body})
    registered = MessageTemplate.objects.filter(project=None, code="registered_letter").first()
    steps = {}
    for st in Step.objects.filter(policy__in=policies):
        steps.setdefault(st.policy_id, []).append(st)
    new_steps, events = [], []
    for policy in policies:
        mine = steps.get(policy.pk, [])
        events_of = {st.event for st in mine if st.kind == "event"}
        changed = {}
        for st in mine:
            if st.account_class == "away" and st.repeat_days == 3 and st.name == "异地出差：引导远程缴费":
                st.repeat_days = 1
                st.save(update_fields=["repeat_days"])
                changed["away_repeat_days"] = [3, 1]
        if any(st.event == "promise_due" for st in mine) and "prepaid_out" not in events_of:
            new_steps.append(Step(policy=policy, order=93, name="预存款用完提醒", kind="event",
                                  event="prepaid_out", channel="sms", template=templates["prepaid_out"],
                                  assignee="system"))
            changed["added_prepaid_out"] = True
        if any(st.channel == "referral" for st in mine) and "limitation" not in events_of:
            new_steps.append(Step(policy=policy, order=95, name="时效保全：逐期书面催告", kind="event",
                                  event="limitation", channel="registered",
                                  template=templates["limitation_demand"], assignee="collector"))
            changed["added_limitation"] = True
        office = policy.segment == "office" or policy.project.kind == "office"
        if office and any(st.channel == "notice" and st.kind == "overdue" for st in mine) \
                and "signer_unreachable" not in events_of:
            new_steps.append(Step(policy=policy, order=94, name="无人签收改寄 EMS", kind="event",
                                  event="signer_unreachable", channel="registered",
                                  template=templates["ems_signer"], assignee="collector"))
            changed["added_signer_ems"] = True
        if policy.name == YEAR_END_NAME and registered is not None and not any(
                st.channel in ("notice", "registered") and st.kind == "overdue" for st in mine):
            new_steps.append(Step(policy=policy, order=35, name="逾期 40 天挂号信催告", kind="overdue", days=40,
                                  channel="registered", template=registered, assignee="collector"))
            changed["added_written_demand"] = True
        if changed:
            events.append(AuditEvent(actor_label=LABEL, verb="dunning.policy_defaults", object_type="dunning.policy",
                                     object_id=str(policy.pk), object_repr=policy.name[:200],
                                     project_id=policy.project_id, after=changed,
                                     note="异地出差每日电话；预存款用完提醒；时效保全；写字楼无人签收改寄 EMS；"
                                          "年末专项转介前的书面催告"))
    Step.objects.bulk_create(new_steps, batch_size=1_000)
    AuditEvent.objects.bulk_create(events, batch_size=1_000)


class Migration(migrations.Migration):

    dependencies = [
        ("dunning", "0006_debtor_per_party"),
        ("accounts", "0002_initial"),
        ("estate", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="step",
            name="event",
            field=models.CharField(blank=True, choices=[
                ("promise_due", "承诺缴费日前一天"), ("promise_broken", "承诺失约"), ("installment_missed", "分期违约"),
                ("prepaid_out", "预存款已用完"), ("signer_unreachable", "指定签收人无法送达（写字楼）"),
                ("limitation", "诉讼时效即将届满（时效保全）")], max_length=20, verbose_name="事件"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
