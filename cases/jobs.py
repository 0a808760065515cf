"""Background jobs of the review side. Each takes ids only and calls one service."""

from __future__ import annotations


def apply_action_job(action_id: int, chunk=None) -> None:
    from cases.services.enforcement import apply_action
    from moderation.jobs import enqueue
    from moderation.models import Outcome

    action = apply_action(action_id=action_id, chunk=chunk)
    if action.outcome == Outcome.FOLLOWERS_PURGE and action.status == "applied":
        # The writers it lowered are told once the wave settles (cron catches up too).
        enqueue(notify_purge_lowered_writers_job, key="notify-purge-lowered-writers")


def apply_actions_job(action_ids: list[int]) -> int:
    """Many approved actions in one job (enqueued per transaction in chunks, and by the
    outbox drain): leased together, applied a group per transaction, each action still
    with its own entry, attempt and audit row (see `apply_actions`). Returns how many
    were applied."""
    from cases.services.enforcement import apply_actions
    from moderation.jobs import enqueue
    from moderation.models import Outcome

    applied = apply_actions(action_ids=action_ids)
    if any(action.outcome == Outcome.FOLLOWERS_PURGE for action in applied):
        enqueue(notify_purge_lowered_writers_job, key="notify-purge-lowered-writers")
    return len(applied)


def notify_purge_lowered_writers_job() -> int:
    """Periodic (supervision/cron.py) and after each purge: see cases.notices."""
    from cases.notices import notify_writers_of_purges

    return len(notify_writers_of_purges())


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
