"""The audit log: one row per state change, written in the changing transaction,
chained by SHA-256 so an edited, inserted or deleted row breaks the chain.

Verbs are registered once with a human template (as Sentry's audit registry does),
so old rows stay explainable after the code moves on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 7_177_001


class AuditLogIsAppendOnly(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    def bulk_update(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def bulk_create(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events are written one by one through record_event().")


VERBS: dict[str, str] = {}


def register_verb(verb: str, template: str) -> None:
    """Template placeholders: {actor}, {target}, {reason}."""
    VERBS[verb] = template


for _verb, _template in {
    "policy.version_published": "{actor} published {target}",
    "account.status_changed": "{actor} changed the status of {target}",
    "role.assigned": "{actor} changed the roles of {target}",
    "api_client.created": "{actor} created API client {target}",
    "api_client.key_issued": "{actor} issued a key for {target}",
    "api_client.key_revoked": "{actor} revoked a key of {target}",
    "demo.seeded": "{actor} seeded demo data",
}.items():
    register_verb(_verb, _template)


def describe(event) -> str:
    template = VERBS.get(event.verb, "{actor} did " + event.verb + " on {target}")
    return template.format(actor=event.actor_label, target=event.target_label or event.target_id, reason=event.reason)


def _plain(value: Any) -> Any:
    """JSON-safe copy, so what is hashed is exactly what is stored and read back."""
    return json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder, sort_keys=True))


def compute_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps({"prev": prev_hash, **fields}, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(payload.encode()).hexdigest()


def _hashed_fields(event) -> dict[str, Any]:
    return {
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "verb": event.verb,
        "target_type": event.target_type,
        "target_id": str(event.target_id),
        "target_label": event.target_label,
        "case_ref": event.case_ref,
        "appeal_ref": event.appeal_ref,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }


def actor_label_for(actor) -> str:
    if actor is None:
        return "system"
    client = getattr(actor, "api_client", None) if actor.pk else None
    if client is not None:
        return f"api-client:{client.name}"
    return actor.get_username()


def record_event(
    *,
    actor,
    verb: str,
    target: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    case_ref: int | None = None,
    appeal_ref: int | None = None,
):
    """Append one event. Must run inside the transaction that makes the change."""
    from moderation.models import AuditEvent

    if verb not in VERBS:
        raise ValueError(f"Unregistered audit verb {verb!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("record_event() must run inside the transaction that makes the change.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label_for(actor),
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        case_ref=case_ref,
        appeal_ref=appeal_ref,
        before=_plain(before),
        after=_plain(after),
        reason=reason,
        prev_hash=last or GENESIS_HASH,
    )
    event.hash = compute_hash(event.prev_hash, _hashed_fields(event))
    event.save()
    return event


def record_events(*, actor, events: list[dict], batch_size: int = 1000) -> int:
    """Append many events at once (bulk mirror updates): one lock, one read of the chain's
    end and bulk inserts, chained exactly as record_event would chain them one by one.
    Each dict holds record_event's keyword arguments except actor."""
    from moderation.models import AuditEvent

    if not events:
        return 0
    if not connection.in_atomic_block:
        raise RuntimeError("record_events() must run inside the transaction that makes the change.")
    unknown = {e["verb"] for e in events} - set(VERBS)
    if unknown:
        raise ValueError(f"Unregistered audit verbs {sorted(unknown)!r}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    prev_hash = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH
    now, label = timezone.now(), actor_label_for(actor)
    rows = []
    for spec in events:
        target = spec["target"]
        event = AuditEvent(
            occurred_at=now,
            actor=actor if actor is not None and actor.pk else None,
            actor_label=label,
            verb=spec["verb"],
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
            target_label=str(target)[:200],
            case_ref=spec.get("case_ref"),
            appeal_ref=spec.get("appeal_ref"),
            before=_plain(spec.get("before")),
            after=_plain(spec.get("after")),
            reason=spec.get("reason", ""),
            prev_hash=prev_hash,
        )
        event.hash = prev_hash = compute_hash(event.prev_hash, _hashed_fields(event))
        rows.append(event)
    # The queryset refuses bulk_create so nobody skips the chain; this is the chain.
    models.QuerySet.bulk_create(AuditEvent.objects.all(), rows, batch_size=batch_size)
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order; name the first event whose link does not hold."""
    from moderation.models import AuditEvent

    prev_hash = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != prev_hash:
            return ChainReport(checked, event.pk, "previous event missing or changed (prev_hash mismatch)")
        if compute_hash(event.prev_hash, _hashed_fields(event)) != event.hash:
            return ChainReport(checked, event.pk, "event content changed (hash mismatch)")
        prev_hash = event.hash
        checked += 1
    return ChainReport(checked)
