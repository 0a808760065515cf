"""The one way a status changes: check the move is allowed, save, audit, all atomic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import models, transaction

from moderation.audit import record_event


class TransitionNotAllowed(Exception):
    """The object is not in a state from which this move is allowed."""


def transition(
    obj: models.Model,
    *,
    to: str,
    allowed: Mapping[str, set[str] | frozenset[str]],
    actor,
    verb: str,
    field: str = "status",
    reason: str = "",
    extra_updates: Mapping[str, object] | None = None,
    case_ref: int | None = None,
    appeal_ref: int | None = None,
    locked: bool = False,
    also_save: Iterable[str] = (),
):
    """Move obj.<field> to `to` if `allowed[current]` contains it.

    Re-reads the row under a lock so two racing transitions cannot both pass the check.
    `locked=True` says the caller already holds the row lock in this transaction and
    read obj.<field> under it (a claim's SKIP LOCKED pick): the check runs on that value
    and the move costs one UPDATE, with no second lock and no savepoint. `also_save`
    names fields the caller already set on obj (and audits itself) that ride along in
    that UPDATE.
    """
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("transition(locked=True) needs the transaction that holds the row lock.")
        current = getattr(obj, field)
        check_move(obj, current, to, allowed)
        return _apply(obj, current, to, actor, verb, field, reason, extra_updates, case_ref, appeal_ref, also_save)
    with transaction.atomic():
        current = type(obj)._default_manager.select_for_update().values_list(field, flat=True).get(pk=obj.pk)
        check_move(obj, current, to, allowed)
        return _apply(obj, current, to, actor, verb, field, reason, extra_updates, case_ref, appeal_ref, also_save)


def sources(allowed: Mapping[str, set[str] | frozenset[str]], to: str) -> list[str]:
    """The states from which a move to `to` is allowed: for a statement that checks and
    makes the move itself in SQL (cases.claim_statement), with this table as its rule."""
    return sorted(state for state, targets in allowed.items() if to in targets)


def check_move(obj, current, to, allowed) -> None:
    """Raise TransitionNotAllowed unless `allowed[current]` contains `to` (obj: the
    instance or its model, for the message)."""
    if to not in allowed.get(current, ()):
        raise TransitionNotAllowed(f"{obj._meta.verbose_name} cannot go from {current!r} to {to!r}.")


def _apply(obj, current, to, actor, verb, field, reason, extra_updates, case_ref, appeal_ref, also_save):
    """Save the move and its audit row (the caller's transaction, row locked)."""
    updates = {field: to, **(extra_updates or {})}
    before = {field: current}
    for name, value in updates.items():
        setattr(obj, name, value)
    obj.save(update_fields=[*updates, *also_save])
    record_event(
        actor=actor,
        verb=verb,
        target=obj,
        before=before,
        after={name: value for name, value in updates.items() if _is_plain(value)},
        reason=reason,
        case_ref=case_ref,
        appeal_ref=appeal_ref,
    )
    return obj


def _is_plain(value) -> bool:
    return not isinstance(value, models.Model)
