"""Indexes for the supervisor dashboard's period filters and live tails."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0015_strike_only_for_a_violation'),
        ('moderation', '0015_merge_0014_audit_skip_list_idx_0014_scrub_job_errors'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['opened_at'], include=('queue', 'policy', 'policy_family', 'automated_origin'), name='case_opened_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('status__in', ['open', 'in_review', 'awaiting_approval', 'escalated'])), fields=['queue', 'sla_due_at'], name='case_open_backlog_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('status__in', ['decided', 'dismissed'])), fields=['decided_at'], include=('queue', 'opened_at', 'sla_due_at'), name='case_closed_idx'),
        ),
        migrations.AddIndex(
            model_name='decision',
            index=models.Index(fields=['decided_at'], name='decision_decided_idx'),
        ),
        migrations.AddIndex(
            model_name='enforcementaction',
            index=models.Index(fields=['applied_at'], name='action_applied_idx'),
        ),
        migrations.AddIndex(
            model_name='signal',
            index=models.Index(fields=['received_at'], include=('source',), name='signal_received_idx'),
        ),
    ]
