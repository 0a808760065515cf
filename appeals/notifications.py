"""Emails to writers about their appeal. Built from the writer-facing status only, so
they can never carry internal notes or staff names."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from appeals.models import Appeal
from appeals.selectors import writer_status

SUBJECTS = {
    "submitted": "We received your appeal",
    "in_review": "Your appeal is being reviewed",
    "decided": "A decision on your appeal",
    "restored": "Your restoration is complete",
}


def status_url(appeal: Appeal) -> str:
    return settings.SITE_URL + reverse("appeals:status", args=[appeal.tracking_token])


def send_status_email(appeal: Appeal, event: str) -> None:
    context = {"appeal": appeal, "status": writer_status(appeal), "event": event, "status_url": status_url(appeal)}
    body = render_to_string("writer/email/appeal_status.txt", context)
    send_mail(
        f"{SUBJECTS[event]} ({context['status'].reference})",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [appeal.contact_email],
    )


def magic_link_message(*, email: str, handle: str, url: str) -> EmailMessage:
    body = render_to_string("writer/email/magic_link.txt", {"handle": handle, "url": url})
    return EmailMessage("Your link to appeal a decision", body, settings.DEFAULT_FROM_EMAIL, [email])


def send_magic_link_email(*, email: str, handle: str, url: str) -> None:
    magic_link_message(email=email, handle=handle, url=url).send()


def send_reversal_notice_email(*, email: str, subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
