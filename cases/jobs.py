"""Background jobs of the review side. Each takes ids only and calls one service."""

from __future__ import annotations


def apply_action_job(action_id: int) -> None:
    from cases.services.enforcement import apply_action

    apply_action(action_id=action_id)


def reverse_action_job(action_id: int) -> None:
    from cases.services.enforcement import reverse_action

    reverse_action(action_id=action_id)


def send_notice_job(notice_id: int) -> None:
    from cases.notices import email_notice

    email_notice(notice_id=notice_id)


def drain_outbox_job() -> int:
    from cases.services.enforcement import drain_outbox

    return drain_outbox()


def refresh_urgent_priorities_job() -> int:
    """Periodic (see supervision/cron.py): priority has a term for time left to the SLA,
    which new signals alone would never move."""
    from cases.models import Case
    from cases.priority import URGENCY_HORIZON_HOURS
    from cases.selectors.review import cases_nearing_sla
    from cases.services.intake import recompute_priority

    ids = list(cases_nearing_sla(horizon_hours=URGENCY_HORIZON_HOURS).values_list("id", flat=True))
    for case_id in ids:
        recompute_priority(case=Case(pk=case_id))
    return len(ids)
