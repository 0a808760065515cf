"""Leases on work items (cases, appeals): one reviewer holds an item at a time, and a
lease that runs out returns the item to its queue without anyone cleaning up.

Model-agnostic: any model with `assignee` (FK to the user) and `claim_expires_at`
works. On PostgreSQL the next item is picked with `SELECT ... FOR UPDATE SKIP LOCKED`,
so reviewers pressing "Review next" at the same instant each get a different row
instead of queueing behind one lock; SQLite serialises writers, which gives the same
guarantee more slowly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from moderation.audit import record_event, register_verb

for _verb, _template in {
    "claim.taken": "{actor} claimed {target}",
    "claim.renewed": "{actor} renewed the claim on {target}",
    "claim.released": "{actor} released {target}",
    "claim.assigned": "{actor} assigned {target}: {reason}",
}.items():
    register_verb(_verb, _template)


class ClaimLost(Exception):
    """The caller no longer holds the item: the lease ran out and someone else took it,
    or a supervisor reassigned it."""


AuditRefs = Callable[[models.Model], dict]
ClaimStart = Callable[[models.Model, list[str]], None]


def default_refs(obj: models.Model) -> dict:
    """Tie claim audit rows to the case or appeal they concern."""
    name = obj._meta.model_name
    if name == "case":
        return {"case_ref": obj.pk}
    if name == "appeal":
        return {"appeal_ref": obj.pk}
    return {}


def claimable(now: datetime) -> Q:
    """Unclaimed, or claimed under a lease that has run out."""
    return Q(assignee__isnull=True) | Q(claim_expires_at__lte=now)


def held_by(user, now: datetime) -> Q:
    return Q(assignee=user, claim_expires_at__gt=now)


def _claim_fields(obj: models.Model, fields: list[str]) -> list[str]:
    if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
        return [*fields, "updated_at"]
    return fields


def _save_claim(obj: models.Model, fields: list[str]) -> None:
    obj.save(update_fields=_claim_fields(obj, fields))


def _lease_state(obj: models.Model) -> dict:
    return {"assignee": obj.assignee_id, "claim_expires_at": obj.claim_expires_at}


def claim_next(
    queryset: models.QuerySet,
    *,
    user,
    lease: timedelta,
    now: datetime | None = None,
    refs: AuditRefs = default_refs,
    start: ClaimStart | None = None,
) -> models.Model | None:
    """Claim the first claimable row of `queryset` in the queryset's own order.

    If the user already holds a live lease on a row of the queryset, that row is
    returned (renewed) instead, so pressing "Review next" twice does not hoard work.
    Returns None when nothing is claimable.

    `start(obj, fields)` lets the caller move the freshly claimed row (its status
    transition) in the same UPDATE as the lease: obj is locked and read under the lock,
    its lease fields are set, and `fields` names them for the caller's save. Without
    it the lease is saved on its own. Either way a claim is two reads and one UPDATE
    plus its audit rows, and no savepoint (it runs in the caller's transaction).
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        own = _lock(queryset.filter(held_by(user, now))).first()
        if own is not None:
            return _extend(own, user=user, lease=lease, now=now, refs=refs, verb="claim.renewed")
        obj = _lock(queryset.filter(claimable(now))).first()
        if obj is None:
            return None
        before = _lease_state(obj)
        obj.assignee = user
        obj.claim_expires_at = now + lease
        record_event(
            actor=user,
            verb="claim.taken",
            target=obj,
            before=before,
            after=_lease_state(obj),
            reason="previous lease expired" if before["assignee"] else "",
            **refs(obj),
        )
        fields = _claim_fields(obj, ["assignee", "claim_expires_at"])
        if start is None:
            obj.save(update_fields=fields)
        else:
            start(obj, fields)
        return obj


def _lock(queryset: models.QuerySet) -> models.QuerySet:
    if connection.vendor == "postgresql":
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.select_for_update()


def _locked(obj: models.Model) -> models.Model:
    return type(obj)._default_manager.select_for_update().get(pk=obj.pk)


def _extend(obj, *, user, lease, now, refs, verb) -> models.Model:
    obj.claim_expires_at = now + lease
    _save_claim(obj, ["claim_expires_at"])
    record_event(actor=user, verb=verb, target=obj, after={"claim_expires_at": obj.claim_expires_at}, **refs(obj))
    return obj


def renew_claim(
    obj: models.Model,
    *,
    user,
    lease: timedelta,
    now: datetime | None = None,
    refs: AuditRefs = default_refs,
) -> models.Model:
    """Push the lease out while the reviewer still works the item.

    A lapsed lease nobody else has taken is renewed too: the reviewer never left.
    """
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(obj)
        if current.assignee_id != user.pk:
            raise ClaimLost(f"{obj._meta.verbose_name.capitalize()} #{obj.pk} is no longer claimed by you.")
        _extend(current, user=user, lease=lease, now=now, refs=refs, verb="claim.renewed")
    obj.assignee_id, obj.claim_expires_at = current.assignee_id, current.claim_expires_at
    return obj


def release_claim(
    obj: models.Model,
    *,
    user,
    reason: str = "",
    force: bool = False,
    refs: AuditRefs = default_refs,
) -> models.Model:
    """Give the item back to its queue. Only the holder may, unless `force` (used when
    a decision closes the item or a supervisor reassigns it)."""
    with transaction.atomic():
        current = _locked(obj)
        if current.assignee_id is None:
            obj.assignee_id, obj.claim_expires_at = None, None
            return obj
        if current.assignee_id != user.pk and not force:
            raise ClaimLost(f"{obj._meta.verbose_name.capitalize()} #{obj.pk} is not claimed by you.")
        before = _lease_state(current)
        current.assignee = None
        current.claim_expires_at = None
        _save_claim(current, ["assignee", "claim_expires_at"])
        record_event(actor=user, verb="claim.released", target=current, before=before, reason=reason, **refs(obj))
    obj.assignee_id, obj.claim_expires_at = None, None
    return obj


def assign_claim(
    obj: models.Model,
    *,
    to_user,
    by,
    lease: timedelta,
    reason: str = "",
    now: datetime | None = None,
    refs: AuditRefs = default_refs,
) -> models.Model:
    """Hand the item to a named reviewer (a supervisor's move), replacing any lease."""
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(obj)
        before = _lease_state(current)
        current.assignee = to_user
        current.claim_expires_at = now + lease
        _save_claim(current, ["assignee", "claim_expires_at"])
        record_event(
            actor=by,
            verb="claim.assigned",
            target=current,
            before=before,
            after=_lease_state(current),
            reason=reason or f"assigned to {to_user.get_username()}",
            **refs(obj),
        )
    obj.assignee_id, obj.claim_expires_at = current.assignee_id, current.claim_expires_at
    return obj
