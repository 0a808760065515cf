"""Signed, time-limited magic links that let a writer reach the appeal form without a
back-office login. The payload carries a digest of the email on file, so a link stops
working once the platform changes that email."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core import signing

MAGIC_LINK_SALT = "appeals.magic-link"
MAGIC_LINK_MAX_AGE = timedelta(hours=24)


class InvalidLink(Exception):
    """The link was tampered with, has expired or no longer matches the account."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def make_magic_token(account) -> str:
    return signing.dumps({"a": account.pk, "e": _email_digest(account.email)}, salt=MAGIC_LINK_SALT)


def read_magic_token(token: str, *, max_age: timedelta = MAGIC_LINK_MAX_AGE):
    """Return the account the link was made for, or raise InvalidLink."""
    from moderation.models import Account

    try:
        payload = signing.loads(token, salt=MAGIC_LINK_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidLink("This link has expired.", expired=True)
    except signing.BadSignature:
        raise InvalidLink("This link is not valid.")
    account = Account.objects.filter(pk=payload.get("a")).first() if isinstance(payload, dict) else None
    if account is None or not account.email or _email_digest(account.email) != payload.get("e"):
        raise InvalidLink("This link is not valid.")
    return account
