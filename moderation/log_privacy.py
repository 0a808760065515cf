"""Log lines leave the database's protections: they go to stdout, files and log shippers
that people outside trust and safety read. A failing job's traceback or an SMTP refusal
can carry a writer's email address in its message, so every handler blanks them, as the
job errors the admin shows are blanked (moderation.outbox.scrub_error). No Django
imports: logging is configured before the apps load."""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")
_FORMATTER = logging.Formatter()


def has_email_address(text: str) -> bool:
    return bool(_EMAIL.search(text))


def blank_email_addresses(text: str) -> str:
    return _EMAIL.sub("[email]", text)


class BlankEmailAddresses(logging.Filter):
    """Renders the message and traceback once, blanked, and drops the raw exception so
    no handler after this one can render it again unblanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = blank_email_addresses(record.getMessage()), ()
        if record.exc_info:
            record.exc_text = record.exc_text or _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = blank_email_addresses(record.exc_text)
        if record.stack_info:
            record.stack_info = blank_email_addresses(record.stack_info)
        return True
