"""The back-office's periodic jobs, for RQ's cron scheduler:

    python manage.py rqcron supervision.cron      (make cron)

It lives in the top app because it schedules work from every app. Each job is safe
to overlap and re-run.
"""

from django.conf import settings
from rq import cron

from appeals.jobs import check_restorations, resume_follower_restorations_job
from cases.jobs import drain_outbox_job, notify_purge_lowered_writers_job, refresh_urgent_priorities_job
from moderation.audit_sequencer import integrate_audit_log_job
from moderation.outbox import drain_jobs_job
from supervision.jobs import (
    resume_stalled_recalls_job,
    roll_up_supervision_days_job,
    run_retention_job,
    sample_for_qa_job,
)

# Chains committed audit events and signs a head; its own queue so a long job never delays it.
cron.register(
    integrate_audit_log_job,
    "audit",
    interval=settings.AUDIT["SEQUENCER_INTERVAL_SECONDS"],
    name="integrate-audit-log",
)
cron.register(drain_outbox_job, "enforcement", interval=60, name="drain-outbox")
# Every background job that Redis never got (it was down at commit) or whose worker died.
cron.register(drain_jobs_job, "default", interval=30, name="drain-jobs")
cron.register(check_restorations, "restoration", interval=60, name="check-restorations")
cron.register(refresh_urgent_priorities_job, "default", interval=15 * 60, name="refresh-urgent-priorities")
cron.register(sample_for_qa_job, "default", interval=10 * 60, name="sample-for-qa")
cron.register(notify_purge_lowered_writers_job, "default", interval=60, name="notify-purge-lowered-writers")
cron.register(resume_follower_restorations_job, "restoration", interval=60, name="resume-follower-restorations")
cron.register(resume_stalled_recalls_job, "default", interval=5 * 60, name="resume-stalled-recalls")
# Deletes evidence, files, personal data and finished background work past the retention
# policy (supervision.retention, supervision.pruning).
cron.register(run_retention_job, "default", interval=24 * 60 * 60, name="run-retention")
# The supervisor dashboard's daily rollup (supervision.services.roll_up_supervision_days):
# a finished day is counted once, so each run recounts today's part and stale days only.
cron.register(roll_up_supervision_days_job, "default", interval=5 * 60, name="roll-up-supervision-days")
