"""Accounts are per debtor: an arrears episode, an action and a hold name the party (``Bill.party``) whose
periods they concern, so after a sale the seller and the buyer are each dunned for their own periods only.

Existing rows are filled in set-based: an open episode takes the party of its unit's oldest open line, a
closed one the party of the line due last on or before its first due date; an action takes its episode's
party (pre-due reminders written before this stay without one and mean the unit's liable owner). Holds
written before stay on the whole unit."""

import django.db.models.deletion
from django.db import migrations, models


BACKFILL = [
    """UPDATE dunning_episode SET party_id = (
         SELECT b.party_id FROM billing_bill b
          WHERE b.unit_id = dunning_episode.unit_id AND b.is_void = FALSE AND b.settled_fen < b.amount_fen
            AND b.late_fee_of_id IS NULL
          ORDER BY b.due_date, b.id LIMIT 1)
       WHERE party_id IS NULL AND closed_on IS NULL""",
    """UPDATE dunning_episode SET party_id = (
         SELECT b.party_id FROM billing_bill b
          WHERE b.unit_id = dunning_episode.unit_id AND b.due_date <= dunning_episode.first_due
          ORDER BY b.due_date DESC, b.id DESC LIMIT 1)
       WHERE party_id IS NULL""",
    """UPDATE dunning_action SET party_id = (
         SELECT e.party_id FROM dunning_episode e WHERE e.id = dunning_action.episode_id)
       WHERE party_id IS NULL AND episode_id IS NOT NULL""",
]


class Migration(migrations.Migration):

    dependencies = [
        ('dunning', '0005_class_follow_up_steps'),
        ('estate', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='episode',
            name='one_open_episode',
        ),
        migrations.AddField(
            model_name='action',
            name='party',
            field=models.ForeignKey(blank=True, db_index=False, help_text='本动作催告的人：只涉及其名下的账期，只发往其联系方式。', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='estate.party', verbose_name='欠费人'),
        ),
        migrations.AddField(
            model_name='episode',
            name='party',
            field=models.ForeignKey(blank=True, help_text='对哪些账期负责的人（账单行的缴费责任人）；房屋出售后买卖双方各自一个欠费周期。', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='estate.party', verbose_name='欠费人'),
        ),
        migrations.AddField(
            model_name='hold',
            name='party',
            field=models.ForeignKey(blank=True, help_text='只暂停此人名下的欠费；留空表示整户。', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='estate.party', verbose_name='欠费人'),
        ),
        migrations.AlterField(
            model_name='action',
            name='cycle',
            field=models.CharField(help_text='见 wuye.dunning.cycles：E<欠费周期>[@<日期>]、D<到期日>或事件键。', max_length=40, verbose_name='周期键'),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name='episode',
            constraint=models.UniqueConstraint(condition=models.Q(('closed_on__isnull', True)), fields=('unit', 'party'), name='one_open_episode_per_debtor'),
        ),
    ]
