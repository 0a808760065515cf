"""Background work of the supervision area: thin wrappers that load by id and call a service."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone


def run_detector_recall_job(recall_id: int) -> None:
    from supervision.services import run_detector_recall

    run_detector_recall(recall_id=recall_id)


def resume_stalled_recalls_job() -> int:
    """Periodic (supervision/cron.py): recalls whose worker died carry on."""
    from supervision.services import resume_stalled_recalls

    return len(resume_stalled_recalls())


def sample_for_qa_job(since_hours: int = 48) -> int:
    """Schedule every few minutes (cron or rq-scheduler); safe to overlap and re-run."""
    from supervision.services import sample_recent_decisions

    return len(sample_recent_decisions(since=timezone.now() - timedelta(hours=since_hours)))


def sample_decision_job(decision_id: int) -> None:
    from cases.models import Decision
    from supervision.services import maybe_sample_for_qa

    decision = Decision.objects.select_related("case", "policy").filter(pk=decision_id).first()
    if decision is not None:
        maybe_sample_for_qa(decision=decision)


def run_retention_job() -> dict:
    """Daily (supervision/cron.py): delete what the retention policy says is past its
    time. Idempotent; a rerun finds nothing."""
    from supervision.retention import run_retention

    return run_retention().purged


def roll_up_supervision_days_job() -> int:
    """Every few minutes (supervision/cron.py): the dashboard's daily rollup, today up to
    ROLLUP_LAG ago and any day a late write made stale. Safe to overlap and re-run."""
    from supervision.services import roll_up_supervision_days

    return len(roll_up_supervision_days().days)
