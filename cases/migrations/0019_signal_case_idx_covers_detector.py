"""The case's index on signals covers what the dashboard's detector count and the rollup
trigger read (it replaces the foreign key's plain index; built before that one is dropped)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0018_dashboard_closed_by_queue_idx'),
        ('moderation', '0015_merge_0014_audit_skip_list_idx_0014_scrub_job_errors'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='signal',
            index=models.Index(fields=['case', 'source', 'detector_name', 'detector_version'], name='signal_case_idx'),
        ),
        migrations.AlterField(
            model_name='signal',
            name='case',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='signals', to='cases.case'),
        ),
    ]
