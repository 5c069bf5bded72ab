"""Two shipped talking points get wording that states their lawful meaning plainly (the guardrails of issue 13):
fee levels are explained with the published fee standard and the aggregated annual 收支公示; after a theft the
owner is advised to report it to the police, and the property company is not the insurer.

A row is updated only while it still holds the text we shipped; a point a manager edited is left as it is."""

from django.db import migrations

OLD = {
    "reason-fee-level": "收费标准是按物业服务合同和备案价格执行的，合同和收费公示可以在服务中心查看；"
                        "如果对标准有意见，可以通过业主大会提出。",
    "reason-theft": "发生这样的事我们也很抱歉。我们会配合派出所调取记录、说明当班情况；责任怎么认定按调查结果来。",
}
NEW = {
    "reason-fee-level": "收费标准是按物业服务合同和备案价格执行的，合同、收费标准和小区年度收支公示都可以在服务中心查看；"
                        "如果对标准有意见，可以通过业主大会提出。",
    "reason-theft": "发生这样的事我们也很抱歉。建议您尽快向派出所报案，我们会配合调取监控和值班记录、说明当班情况。"
                    "物业公司不是保险人，责任怎么认定按调查结果和合同约定来；物业费的事和这件事分开处理。",
}


def forward(apps, schema_editor):
    TalkingPoint = apps.get_model("casework", "TalkingPoint")
    for code, new in NEW.items():
        TalkingPoint.objects.filter(code=code, body=OLD[code]).update(body=new)


def backward(apps, schema_editor):
    TalkingPoint = apps.get_model("casework", "TalkingPoint")
    for code, old in OLD.items():
        TalkingPoint.objects.filter(code=code, body=NEW[code]).update(body=old)


class Migration(migrations.Migration):
    dependencies = [("casework", "0005_promise_party_backfill")]
    operations = [migrations.RunPython(forward, backward)]
