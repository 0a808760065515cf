"""Emails to writers about their appeal. Built from the writer-facing status only, so
they can never carry internal notes or staff names."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appeals.models import Appeal
from appeals.selectors import writer_status
from moderation.i18n import in_writer_language

SUBJECTS = {
    "submitted": gettext_lazy("We received your appeal"),
    "in_review": gettext_lazy("Your appeal is being reviewed"),
    "decided": gettext_lazy("A decision on your appeal"),
    "restored": gettext_lazy("Your restoration is complete"),
}


def status_url(appeal: Appeal) -> str:
    return settings.SITE_URL + reverse("appeals:status", args=[appeal.tracking_token])


def send_status_email(appeal: Appeal, event: str) -> None:
    """In the appellant's language (jobs run outside any request)."""
    with in_writer_language(appeal.account):
        context = {"appeal": appeal, "status": writer_status(appeal), "event": event, "status_url": status_url(appeal)}
        body = render_to_string("writer/email/appeal_status.txt", context)
        subject = f"{SUBJECTS[event]} ({context['status'].reference})"
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [appeal.contact_email])


def magic_link_message(*, email: str, handle: str, url: str, account=None, language: str = "") -> EmailMessage:
    """In the account's language, else in `language` (the browser's, when the writer asked)."""
    with in_writer_language(account, fallback=language):
        body = render_to_string("writer/email/magic_link.txt", {"handle": handle, "url": url})
        subject = _("Your link to appeal a decision")
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [email])


def send_magic_link_email(*, email: str, handle: str, url: str, account=None) -> None:
    magic_link_message(email=email, handle=handle, url=url, account=account).send()


def send_reversal_notice_email(*, email: str, subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
