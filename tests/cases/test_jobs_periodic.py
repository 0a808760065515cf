"""Periodic work: priorities follow the SLA clock, and the cron schedule names every job."""

import importlib
from datetime import timedelta

import pytest
from django.utils import timezone

from cases import jobs
from moderation.models import AuditEvent
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_a_case_nearing_its_sla_rises_in_priority_without_new_signals():
    now = timezone.now()
    nearly_due = CaseFactory(opened_at=now - timedelta(hours=70), sla_due_at=now + timedelta(hours=1), priority=0)
    overdue = CaseFactory(opened_at=now - timedelta(hours=80), sla_due_at=now - timedelta(hours=2), priority=0)
    far = CaseFactory(opened_at=now, sla_due_at=now + timedelta(days=10), priority=0)
    assert jobs.refresh_urgent_priorities_job() == 2
    nearly_due.refresh_from_db()
    overdue.refresh_from_db()
    far.refresh_from_db()
    assert overdue.priority > nearly_due.priority > 0
    assert far.priority == 0, "cases far from their SLA are left for their next signal"
    assert AuditEvent.objects.filter(verb="case.priority_recomputed", case_ref=overdue.pk).exists()


def test_the_cron_schedule_registers_every_periodic_job():
    from rq import cron

    cron._job_data_registry.clear()
    importlib.reload(importlib.import_module("supervision.cron"))
    scheduled = {
        job["name"]: (job["func"].__name__, job["queue_name"], job["interval"]) for job in cron._job_data_registry
    }
    cron._job_data_registry.clear()
    assert scheduled == {
        "integrate-audit-log": ("integrate_audit_log_job", "audit", 2),
        "drain-outbox": ("drain_outbox_job", "enforcement", 60),
        "drain-jobs": ("drain_jobs_job", "default", 30),
        "check-restorations": ("check_restorations", "restoration", 60),
        "refresh-urgent-priorities": ("refresh_urgent_priorities_job", "default", 900),
        "sample-for-qa": ("sample_for_qa_job", "default", 600),
        "notify-purge-lowered-writers": ("notify_purge_lowered_writers_job", "default", 60),
        "resume-follower-restorations": ("resume_follower_restorations_job", "restoration", 60),
        "resume-stalled-recalls": ("resume_stalled_recalls_job", "default", 300),
        "run-retention": ("run_retention_job", "default", 86400),
        "roll-up-supervision-days": ("roll_up_supervision_days_job", "default", 300),
    }
