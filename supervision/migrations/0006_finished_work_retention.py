"""Finished background work (jobs, enforcement outbox entries) becomes a retention kind,
kept 30 days after it finished (supervision.pruning)."""

import django.core.validators
from django.db import migrations, models


def seed_rule(apps, schema_editor):
    RetentionRule = apps.get_model("supervision", "RetentionRule")
    RetentionRule.objects.get_or_create(kind="finished_work", defaults={"keep_days_after_last_activity": 30})


def drop_rule(apps, schema_editor):
    apps.get_model("supervision", "RetentionRule").objects.filter(kind="finished_work").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('supervision', '0005_retention'),
    ]

    operations = [
        migrations.AlterField(
            model_name='retentionrule',
            name='keep_days_after_last_activity',
            field=models.PositiveIntegerField(help_text='Days kept after the appeal window closes, counted from the last decision or appeal (finished background work: days after it finished; no appeal window).', validators=[django.core.validators.MaxValueValidator(3650)]),
        ),
        migrations.AlterField(
            model_name='retentionrule',
            name='kind',
            field=models.CharField(choices=[('evidence', 'Evidence (bodies, data and files)'), ('snapshot', 'Content snapshots'), ('appeal_file', 'Appeal files'), ('personal_data', "Writers' personal data"), ('finished_work', 'Finished background work (jobs, outbox entries)')], max_length=16, unique=True),
        ),
        migrations.RunPython(seed_rule, drop_rule),
    ]
