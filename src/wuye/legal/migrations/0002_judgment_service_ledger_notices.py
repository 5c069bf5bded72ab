import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('legal', '0001_cases_clocks_evidence'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='caseevent',
            name='event',
            field=models.CharField(choices=[('opened', '立案（审核）'), ('letter_drafted', '律师函草稿交律所'), ('letter_issued', '律所出具律师函'), ('letter_delivered', '律师函已送达'), ('mediation_requested', '申请调解'), ('mediation_ended', '调解结束'), ('payment_order_filed', '提交支付令申请'), ('payment_order_issued', '法院发出支付令'), ('payment_order_void', '支付令异议成立/失效'), ('lawsuit_filed', '起诉立案'), ('hearing', '开庭'), ('judgment', '判决'), ('judgment_served', '判决书送达'), ('judgment_effective', '判决生效'), ('court_mediation', '法院调解结案'), ('enforcement_filed', '申请执行'), ('closed', '结案'), ('note', '备注')], max_length=24, verbose_name='事项'),
        ),
        migrations.AddField(
            model_name='evidencepack',
            name='ledger',
            field=models.JSONField(blank=True, default=dict, help_text='证据包列出的每笔收款、每条核销的 SHA-256（payment/allocation → {id: 摘要}）；本记录组包后即封存入哈希链。', verbose_name='所列收款与核销的摘要'),
        ),
        migrations.CreateModel(
            name='DeadlineNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stage', models.CharField(choices=[('window', '进入提醒期'), ('last_day', '明日或今日届满')], max_length=10, verbose_name='提醒阶段')),
                ('text', models.CharField(max_length=300, verbose_name='内容')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='提醒时间')),
                ('read_at', models.DateTimeField(blank=True, null=True, verbose_name='已读时间')),
                ('deadline', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notices', to='legal.casedeadline', verbose_name='期限')),
                ('recipient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='legal_deadline_notices', to=settings.AUTH_USER_MODEL, verbose_name='接收人')),
            ],
            options={
                'verbose_name': '期限提醒',
                'verbose_name_plural': '期限提醒',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['recipient', 'read_at'], name='legal_notice_by_recipient')],
                'constraints': [models.UniqueConstraint(fields=('deadline', 'stage'), name='legal_deadline_notice_once')],
            },
        ),
    ]
