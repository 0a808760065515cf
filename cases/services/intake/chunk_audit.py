"""The audit rows of a chunk of signals: case.opened, one signals.received per case
(and per account for signals that joined no case), then each proposal."""

from __future__ import annotations

from cases.models import Signal
from moderation.audit import record_events


def audit_chunk(
    *, actor, touched: list, signals: list[tuple[int, Signal, list[str]]], ignored: dict[int, dict]
) -> None:
    """One signals.received row per case (and per account for signals that joined no
    case) naming every signal, after the case.opened row and before the proposals; then
    one account.facts_ignored row per account whose facts signals tried to change. All
    of them appended in one multi-row statement (in that order), however many cases."""
    refreshed = {id(signal): changes for _, signal, changes in signals}
    events: list[dict] = []
    for state in touched:
        events.extend(_case_events(state, refreshed))
    caseless: dict[int, list[Signal]] = {}
    for _, signal, _ in signals:
        if signal.case_id is None:
            caseless.setdefault(signal.account_id, []).append(signal)
    for batch in caseless.values():
        muted = [s.pk for s in batch if s.set_aside]
        events.append(
            {
                "verb": "signals.received",
                "target": batch[0].account,
                "after": {"case": None, "signals": _listed(batch, refreshed)},
                "reason": "reporter is muted" if muted else "",
            }
        )
    events.extend(_ignored_events(signals, ignored))
    record_events(actor=actor, events=events)


def _ignored_events(signals: list[tuple[int, Signal, list[str]]], ignored: dict[int, dict]) -> list[dict]:
    """The attempt to change platform facts through signals, with the values tried:
    one row per account."""
    per_account: dict[int, tuple] = {}
    for i, signal, _ in signals:
        if ignored.get(i):
            account, attempts = per_account.setdefault(signal.account_id, (signal.account, []))
            attempts.append({"signal": signal.pk, "story": signal.story_id, "ignored": ignored[i]})
    return [
        {
            "verb": "account.facts_ignored",
            "target": account,
            "after": {"fields": sorted({name for a in attempts for name in a["ignored"]}), "attempts": attempts},
            "reason": "platform facts come only from the platform",
        }
        for account, attempts in per_account.values()
    ]


def _listed(batch: list[Signal], refreshed: dict) -> list[dict]:
    return [
        {"id": s.pk, "source": s.source, "set_aside": s.set_aside, "mirror_refreshed": refreshed[id(s)]} for s in batch
    ]


def _case_events(state, refreshed: dict) -> list[dict]:
    case = state.case
    events = []
    if state.opened is not None:
        events.append({"verb": "case.opened", "target": case, "after": state.opened, "case_ref": case.pk})
    cleared = state.was_automated and not case.automated_origin
    events.append(
        {
            "verb": "signals.received",
            "target": case,
            "before": {"automated_origin": True} if cleared else None,
            "after": {
                "case": case.pk,
                "signals": _listed(state.signals, refreshed),
                "attached": state.attached,
                "priority": case.priority,
                "automated_origin": case.automated_origin,
            },
            "case_ref": case.pk,
        }
    )
    for action in state.proposals:
        events.append(
            {
                "verb": "case.action_proposed",
                "target": action,
                "after": {"outcome": action.outcome, "signal": action.proposed_by_signal_id, "status": action.status},
                "case_ref": case.pk,
            }
        )
    return events
