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


def send_magic_link_if_known(handle: str, email: str) -> None:
    from appeals.services import deliver_magic_link

    deliver_magic_link(handle=handle, email=email)


def send_magic_link(account_id: int, url: str) -> None:
    """Kept for jobs queued before links were decided in the job."""
    from appeals.notifications import send_magic_link_email
    from moderation.models import Account

    account = Account.objects.filter(pk=account_id).first()
    if account is not None and account.email:
        send_magic_link_email(email=account.email, handle=account.handle, url=url)


def send_reversal_notice(notice_id: int) -> None:
    from appeals.notifications import send_reversal_notice_email
    from cases.models import Notice

    notice = Notice.objects.filter(pk=notice_id).first()
    if notice is not None and notice.email:
        send_reversal_notice_email(email=notice.email, subject=notice.subject, body=notice.body)


def check_restoration(appeal_id: int) -> None:
    """Runs after the reversal jobs; records completion (and emails the writer) once
    every reversal has finished. Safe to run any number of times."""
    from appeals.services import record_restoration_if_finished

    record_restoration_if_finished(appeal_id=appeal_id)
