"""The one way a status changes: check the move is allowed, save, audit, all atomic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.db import models, transaction

from moderation.audit import record_event, record_events


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


@dataclass(frozen=True)
class Move:
    """One object's move in `transition_many`: what one `transition` call takes."""

    obj: models.Model
    extra_updates: Mapping[str, object] = dataclass_field(default_factory=dict)
    reason: str = ""
    case_ref: int | None = None
    appeal_ref: int | None = None


def transition_many(
    moves: Sequence[Move],
    *,
    to: str,
    allowed: Mapping[str, set[str] | frozenset[str]],
    actor,
    verb: str,
    field: str = "status",
) -> list[models.Model]:
    """`transition(..., locked=True)` for many rows of one model (a chunk of actions):
    the caller holds every row's lock in this transaction and read each obj.<field>
    under it. Every move is checked before anything is written; then the rows go out in
    one `UPDATE … FROM (VALUES …)` per few hundred and the audit rows in one multi-row
    insert, each row saying what `transition` would have said. Every move updates the
    same fields, written as held in memory (no auto_now)."""
    from moderation.mirror.bulk import update_rows

    if not moves:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transition_many() needs the transaction that holds the row locks.")
    names = list(moves[0].extra_updates)
    for move in moves:
        check_move(move.obj, getattr(move.obj, field), to, allowed)
        if list(move.extra_updates) != names:
            raise ValueError("transition_many() needs every move to update the same fields.")
    events = []
    for move in moves:
        before = {field: getattr(move.obj, field)}
        updates = {field: to, **move.extra_updates}
        for name, value in updates.items():
            setattr(move.obj, name, value)
        events.append(
            {
                "verb": verb,
                "target": move.obj,
                "before": before,
                "after": {name: value for name, value in updates.items() if _is_plain(value)},
                "reason": move.reason,
                "case_ref": move.case_ref,
                "appeal_ref": move.appeal_ref,
            }
        )
    objs = [move.obj for move in moves]
    update_rows(type(objs[0]), objs, [field, *names])
    record_events(actor=actor, events=events)
    return objs


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
