"""Personal data inside audit rows, sealed under a per-writer key (crypto-shredding).

An audit row is hashed into the chain and never changes, yet some rows must mention a
writer's personal data (an email the platform changed). Such values go into
`before`/`after` sealed: `{"sealed": "fernet", "key": <WriterKey id>, "token": ...}`.
Retention later destroys the writer's key (`shred_keys`): the row and its hash stay
exactly as they were, the chain still verifies, and the value reads "[erased]".

    record_event(..., after={"email": sealed(account, account.email)})
    reveal(event.after["email"])  ->  "writer@example.com" or "[erased]"

Sealing happens before `record_event` is called; the audit log itself knows nothing
of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from django.db import IntegrityError, transaction
from django.utils import timezone

from moderation.models import Account, WriterKey

ERASED = "[erased]"
SEAL = "fernet"


def is_sealed(value) -> bool:
    return isinstance(value, dict) and value.get("sealed") == SEAL and "key" in value and "token" in value


def live_key(account: Account, *, now: datetime | None = None) -> WriterKey:
    """The account's key, made on first use (a race to make it is settled by the
    one-live-key constraint: the loser reads the winner's)."""
    now = now or timezone.now()
    key = WriterKey.objects.filter(account=account, shredded_at__isnull=True).first()
    if key is None:
        try:
            with transaction.atomic():
                key = WriterKey.objects.create(
                    account=account, key=Fernet.generate_key().decode(), created_at=now, last_used_at=now
                )
        except IntegrityError:
            key = WriterKey.objects.get(account=account, shredded_at__isnull=True)
    elif key.last_used_at < now:
        WriterKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def live_keys(accounts: Iterable[Account], *, now: datetime | None = None) -> dict[int, WriterKey]:
    """Live keys of many accounts (account id → key), made where missing: a few queries
    for a whole mirror batch."""
    now = now or timezone.now()
    wanted = {a.pk: a for a in accounts}
    found = {k.account_id: k for k in WriterKey.objects.filter(account_id__in=wanted, shredded_at__isnull=True)}
    WriterKey.objects.filter(pk__in=[k.pk for k in found.values()]).update(last_used_at=now)
    for account_id, account in wanted.items():
        if account_id not in found:
            found[account_id] = live_key(account, now=now)
    return found


def seal_with(key: WriterKey, value):
    """`value` (any JSON value) encrypted under `key`. Empty values carry no personal
    data and stay as they are."""
    if value is None or value == "":
        return value
    token = Fernet(key.key.encode()).encrypt(json.dumps(value).encode()).decode()
    return {"sealed": SEAL, "key": key.pk, "token": token}


def sealed(account: Account, value):
    """`value` encrypted under the account's key, for an audit row's before/after."""
    if value is None or value == "":
        return value
    return seal_with(live_key(account), value)


def reveal(value, *, keys: dict[int, WriterKey] | None = None):
    """The plain value of a sealed one ("[erased]" once its key is shredded); any other
    value as it is. `keys` (id → WriterKey) saves a query per value in lists."""
    if not is_sealed(value):
        return value
    key = (keys or {}).get(value["key"]) or WriterKey.objects.filter(pk=value["key"]).first()
    if key is None or not key.key:
        return ERASED
    try:
        return json.loads(Fernet(key.key.encode()).decrypt(value["token"].encode()))
    except (InvalidToken, ValueError):
        return ERASED


def reveal_all(data: dict | None) -> dict:
    """A before/after dict with each sealed value revealed (one query for its keys)."""
    data = data or {}
    ids = {v["key"] for v in data.values() if is_sealed(v)}
    keys = {k.pk: k for k in WriterKey.objects.filter(pk__in=ids)} if ids else {}
    return {name: reveal(v, keys=keys) for name, v in data.items()}


def shred_keys(keys: Iterable[WriterKey], *, now: datetime) -> int:
    """Destroy keys: every value sealed under them becomes unreadable for good. Callers
    (supervision.retention) audit it; this runs in their transaction."""
    ids = [k.pk for k in keys]
    return WriterKey.objects.filter(pk__in=ids, shredded_at__isnull=True).update(key="", shredded_at=now)
