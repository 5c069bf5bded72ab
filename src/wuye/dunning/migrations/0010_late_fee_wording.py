"""The shipped texts that speak of 违约金 say it only where the contract has a late-fee clause (issue 13 item 5):
the sentence is in a bracketed part holding ``{late_fee_rate}``, which is empty when ``late_fee_per_mille = 0``,
so the part is left out (民法典 585: no threat of a charge the contract does not provide).

Only rows nobody edited are changed: the company-wide template (no project) still at version 1 with exactly a
body this project shipped. An edited text is left as its author wrote it (the dispatcher and the printed
notices drop a clause mentioning 违约金 when there is no clause anyway). A changed row gets version 2 and an
audit event. Texts are copied here (a migration must not read live code)."""

from django.db import migrations

LABEL = "migration:dunning.0010_late_fee_wording"

# code: (bodies shipped before, the new body)
CHANGES = {
    "arrears_sms": (
        ("{company}提示：{unit} 累计未缴费用 {amount}（最早一期 {oldest_due} 到期），"
         "请于 {deadline} 前缴纳，逾期按合同约定计收违约金。[咨询 {phone}。]{pay_link}",
         "{company}提示：{unit} 累计未缴费用 {amount}（最早一期 {oldest_due} 到期），"
         "请于 {deadline} 前缴纳，逾期按合同约定计收违约金。咨询 {phone}。{pay_link}"),
        "{company}提示：{unit} 累计未缴费用 {amount}（最早一期 {oldest_due} 到期），"
        "请于 {deadline} 前缴纳[，逾期按合同约定按日 {late_fee_rate} 计收违约金]。[咨询 {phone}。]{pay_link}"),
    "registered_letter": (
        ("{unit} 业主：截至 {today}，您有 {months} 期费用共 {amount} 未缴纳。"
         "请于 {deadline} 前缴清；逾期将依照物业服务合同计收违约金，并可能依法提起诉讼。",),
        "{unit} 业主：截至 {today}，您有 {months} 期费用共 {amount} 未缴纳。"
        "请于 {deadline} 前缴清。[逾期将依照物业服务合同按日 {late_fee_rate} 计收违约金。]"
        "逾期仍未缴纳的，我司可能依法提起诉讼。"),
    "notice_2": (
        ("{unit}：贵方费用 {amount} 仍未缴纳，请于 {deadline} 前缴纳，逾期将按合同计收违约金。",),
        "{unit}：贵方费用 {amount} 仍未缴纳，请于 {deadline} 前缴纳[，逾期将按合同约定按日 {late_fee_rate} 计收违约金]。"),
    "hardship_call": (
        ("困难户：电话了解近况，说明可申请分期或减免违约金（欠费 {amount}）。",),
        "困难户：电话了解近况，说明可申请分期[，合同约定的违约金（按日 {late_fee_rate}）也可申请减免]（欠费 {amount}）。"),
}


def forwards(apps, schema_editor):
    MessageTemplate = apps.get_model("dunning", "MessageTemplate")
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    events = []
    for code, (old_bodies, new_body) in CHANGES.items():
        for tpl in MessageTemplate.objects.filter(project__isnull=True, code=code, version=1, body__in=old_bodies):
            before = tpl.body
            tpl.body, tpl.version = new_body, 2
            tpl.save(update_fields=["body", "version", "updated_at"])
            events.append(AuditEvent(actor_label=LABEL, verb="dunning.template", object_type="dunning.messagetemplate",
                                     object_id=str(tpl.pk), object_repr=f"{tpl.name}（v2）",
                                     before={"body": before, "version": 1}, after={"body": new_body, "version": 2},
                                     note="违约金的提法只在合同约定违约金时出现"))
    AuditEvent.objects.bulk_create(events)


class Migration(migrations.Migration):
    dependencies = [
        ("dunning", "0009_calendar_year_confirmed"),
        ("accounts", "0002_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
