"""cases/ must not import supervision/, so QA sampling listens for decisions here.

The receiver only enqueues a job (after commit) that calls the sampling service;
`manage.py sample_for_qa` stays as the catch-up for anything a lost job missed.
"""

from moderation.jobs import enqueue
from supervision import jobs


def sample_final_decision(sender, instance, created, **kwargs):
    """A decision becomes final when it is recorded without needing approval, or
    when the second person approves it."""
    if instance.rejected_by_id is not None or not instance.is_approved:
        return
    update_fields = kwargs.get("update_fields")
    if created or (update_fields and "approved_by" in update_fields):
        enqueue(jobs.sample_decision_job, instance.pk)
