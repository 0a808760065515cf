"""Background work for appeals: jobs take ids, load objects and call a service."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def send_appeal_email(appeal_id: int, event: str) -> None:
    from appeals.models import Appeal
    from appeals.notifications import send_status_email

    appeal = Appeal.objects.filter(pk=appeal_id).first()
    if appeal is not None:
        send_status_email(appeal, event)


def send_magic_link_request(request_id: int) -> None:
    """What the writer typed is read from the `MagicLinkRequest` row, never carried in
    the job's arguments; the job signs and renders for everyone and sends only on a
    match (appeals.services.deliver_magic_link)."""
    from appeals.services import deliver_requested_magic_link

    deliver_requested_magic_link(request_id=request_id)


def send_magic_link(account_id: int) -> None:
    """Builds the link here, never in the job's arguments: anyone reading the queue
    (the RQ console, Redis) would otherwise hold a working sign-in link."""
    from django.conf import settings
    from django.urls import reverse

    from appeals.notifications import send_magic_link_email
    from appeals.tokens import make_magic_token
    from moderation.models import Account

    account = Account.objects.filter(pk=account_id).first()
    if account is not None and account.email:
        url = settings.SITE_URL + reverse("appeals:start_form", args=[make_magic_token(account)])
        send_magic_link_email(email=account.email, handle=account.handle, url=url, account=account)


def send_reversal_notice(notice_id: int) -> None:
    """Marked sent only once the backend accepted it (cases.notices.deliver_notice)."""
    from appeals.notifications import send_reversal_notice_email
    from cases.notices import deliver_notice

    deliver_notice(
        notice_id=notice_id,
        send=lambda n: send_reversal_notice_email(email=n.email, subject=n.subject, body=n.body),
    )


def check_restoration(appeal_id: int) -> None:
    """Runs after the reversal jobs; records completion (and emails the writer) once
    every reversal has finished. Safe to run any number of times."""
    from appeals.services import record_restoration_if_finished

    record_restoration_if_finished(appeal_id=appeal_id)


def restore_follower_edges(appeal_id: int) -> None:
    """The appellant's follows back from the followers judged genuine; resumable."""
    from appeals.services import run_follower_restorations

    run_follower_restorations(appeal_id=appeal_id)


def resume_follower_restorations_job() -> int:
    """Periodic (supervision/cron.py): re-enqueue restorations a lost job left pending."""
    from appeals.services import resume_follower_restorations

    return resume_follower_restorations()


def check_restorations() -> int:
    """Periodic (supervision/cron.py): finish every decided appeal whose last reversal
    has landed, whatever order the jobs ran in (a check queued before a slow or retried
    reversal finds it unfinished and would never look again). Completion is recorded
    under the appeal's row lock, so the writer is emailed once."""
    from appeals.selectors import appeals_awaiting_restoration
    from appeals.services import record_restoration_if_finished

    completed = 0
    for appeal_id in appeals_awaiting_restoration().values_list("id", flat=True)[:500]:
        completed += record_restoration_if_finished(appeal_id=appeal_id)
    return completed
