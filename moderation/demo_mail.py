"""Mail in DEBUG (`make run`): every message is printed on the console as before and also
saved as an .eml file under `settings.DEMO_MAIL_DIR`, which the staff page
/admin/demo/mail/ lists, so a newcomer finds a writer's magic link without reading the
server log. Never used outside DEBUG: the default backend there stays the console's, and
the page answers 404."""

from __future__ import annotations

import email
import email.policy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

SHOWN = 100


def mail_dir() -> Path:
    return Path(settings.DEMO_MAIL_DIR)


def _save(email_messages) -> None:
    folder = mail_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for message in email_messages:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        (folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml").write_bytes(message.message().as_bytes())


class SavedMailBackend(ConsoleBackend):
    """Saves each message for the demo mail page, then prints it as the console backend does."""

    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        _save(email_messages)
        return super().send_messages(email_messages)


class SavedMailOnlyBackend(BaseEmailBackend):
    """Saves without printing (seeding the demo sends many notices; the console keeps the logins)."""

    def send_messages(self, email_messages):
        _save(email_messages)
        return len(email_messages)


@dataclass
class SavedMail:
    name: str
    sent_at: datetime
    to: str
    subject: str
    body: str


def _read(path: Path) -> SavedMail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",)) if message.is_multipart() else message
    stamp = datetime.strptime(path.name[:22], "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC)
    return SavedMail(
        name=path.name,
        sent_at=stamp,
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        body=part.get_content() if part is not None else "",
    )


def saved_mail(*, to: str = "", limit: int = SHOWN) -> list[SavedMail]:
    """The newest saved messages first (optionally to one address)."""
    folder = mail_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.eml"), reverse=True):
        mail = _read(path)
        if to and to.lower() not in mail.to.lower():
            continue
        found.append(mail)
        if len(found) >= limit:
            break
    return found


@require_GET
def demo_mail(request):
    """Staff page (inside the admin's login), DEBUG only: the demo's outgoing mail."""
    if not settings.DEBUG:
        raise Http404("Only in DEBUG.")
    from django.contrib import admin

    to = request.GET.get("to", "")[:254]
    context = {
        **admin.site.each_context(request),
        "title": "Demo mail",
        "mails": saved_mail(to=to),
        "to": to,
        "folder": mail_dir(),
    }
    return render(request, "admin/demo_mail.html", context)
