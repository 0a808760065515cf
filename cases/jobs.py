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
