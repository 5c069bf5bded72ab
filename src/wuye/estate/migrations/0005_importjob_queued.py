from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('estate', '0004_unit_code_trigram'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='queued_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='排队时间'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='requeued',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='重新排队次数'),
        ),
    ]
