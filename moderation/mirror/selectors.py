"""Reads on the platform mirror: what the platform changed about an account while a
case or appeal on it was open, taken from the audit rows the mirror wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from moderation.models import Account, AuditEvent

NOTICED_FACTS = {"email": "Email", "partner_status": "Partner Program status"}


@dataclass(frozen=True)
class FactChange:
    field: str
    label: str
    at: datetime


def platform_fact_changes(*, account: Account, since: datetime, until: datetime | None = None) -> list[FactChange]:
    """Changes of email or Partner Program status the platform sent in [since, until],
    oldest first (one query, on the audit log's target index)."""
    rows = AuditEvent.objects.filter(
        verb="account.facts_changed",
        target_type=Account._meta.label_lower,
        target_id=str(account.pk),
        occurred_at__gte=since,
    )
    if until is not None:
        rows = rows.filter(occurred_at__lte=until)
    changes = []
    for at, before in rows.order_by("occurred_at", "id").values_list("occurred_at", "before"):
        changes.extend(FactChange(name, label, at) for name, label in NOTICED_FACTS.items() if name in before)
    return changes
