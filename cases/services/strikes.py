"""Strike use cases: check a decision against the catalogue's escalation, record what
was proposed and chosen, issue the strike when the decision takes effect, void it when
the decision is overturned, reversed or superseded.

Every function runs in the caller's transaction (wrapped in `transaction.atomic`) and
writes its audit rows there. The account row is locked (`select_for_update`) before
strikes are counted or issued, so two decisions on one account at once see each
other's strikes in order and escalate consistently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases.selectors.strikes import Proposal, propose
from cases.strikes import Strike, StrikeProposal
from moderation.audit import record_event, register_verb
from moderation.models import Account

for _verb, _template in {
    "strike.issued": "{actor}'s decision put {target} on record",
    "strike.voided": "{actor} voided {target}: {reason}",
    "strike.proposal_recorded": "{actor} decided with the escalation proposal in view: {target}",
    "strike.proposal_overridden": "{actor} chose milder than the escalation proposal: {target} ({reason})",
}.items():
    register_verb(_verb, _template)


def _lock_account(account_id: int) -> Account:
    return Account.objects.select_for_update().get(pk=account_id)


@transaction.atomic
def check_escalation(*, case, is_violation: bool, policy, outcomes, override_reason: str, now: datetime):
    """Before a decision is recorded: the catalogue's proposal for this account (counted
    under the account's row lock) and the rule that a milder choice needs a reason.
    Returns the proposal, or None when nothing is proposed (no violation)."""
    if not is_violation or policy is None:
        return None
    _lock_account(case.account_id)
    proposal = propose(account_id=case.account_id, policy=policy, now=now, exclude_case_id=case.pk)
    if proposal.is_milder(outcomes) and not (override_reason or "").strip():
        raise ValidationError(
            {
                "override_reason": (
                    f"The catalogue's escalation proposes {', '.join(proposal.step_outcomes)} "
                    f"({proposal.live_count} live strike{'s' if proposal.live_count != 1 else ''} in "
                    f"{policy.family}); say why you choose a milder outcome."
                )
            }
        )
    return proposal


@transaction.atomic
def record_proposal(*, decision, proposal: Proposal | None, override_reason: str, actor) -> StrikeProposal | None:
    """Keep what was proposed next to what was chosen; a milder choice is audited as an override."""
    if proposal is None:
        return None
    chosen = list(decision.outcomes)
    milder = proposal.is_milder(chosen)
    record = StrikeProposal(
        decision=decision,
        policy=proposal.policy,
        live_strikes=proposal.live_count,
        counted_strike_ids=[s.pk for s in proposal.counted],
        step=proposal.step,
        proposed_outcomes=proposal.outcomes,
        chosen_outcomes=chosen,
        followed=proposal.is_followed(chosen),
        is_milder=milder,
        override_reason=(override_reason or "").strip(),
        created_at=decision.decided_at,
    )
    record.full_clean()
    record.save()
    record_event(
        actor=actor,
        verb="strike.proposal_overridden" if milder else "strike.proposal_recorded",
        target=record,
        after={
            "live_strikes": record.live_strikes,
            "step": record.step,
            "proposed": record.proposed_outcomes,
            "chosen": record.chosen_outcomes,
            "followed": record.followed,
        },
        reason=record.override_reason,
        case_ref=decision.case_id,
    )
    return record


@transaction.atomic
def settle_strikes(*, decision, actor, now: datetime | None = None) -> Strike | None:
    """A decision takes effect (decided without a second person, or approved): earlier
    decisions on the same case are superseded, so their strikes stop counting; a
    violation under a rule that gives strikes records one. Running it twice issues once."""
    now = now or timezone.now()
    case = decision.case
    _lock_account(case.account_id)
    earlier = Strike.objects.filter(case_id=case.pk, voided_at__isnull=True).exclude(decision_id=decision.pk)
    for strike in earlier.select_for_update():
        _void(strike, actor=actor, reason=f"Superseded by decision #{decision.pk} on re-review", now=now)
    policy = decision.policy
    if not decision.is_violation or policy is None or policy.strike_days == 0:
        return None
    existing = Strike.objects.filter(decision=decision).first()
    if existing is not None:
        return existing
    strike = Strike(
        account_id=case.account_id,
        case=case,
        decision=decision,
        policy=policy,
        family=policy.family,
        severity=policy.severity,
        issued_at=now,
        expires_at=now + timedelta(days=policy.strike_days),
    )
    strike.full_clean()
    strike.save()
    record_event(
        actor=actor,
        verb="strike.issued",
        target=strike,
        after={
            "policy": policy.code,
            "version": policy.version,
            "severity": strike.severity,
            "expires_at": strike.expires_at.isoformat(),
        },
        case_ref=case.pk,
    )
    return strike


def _void(strike: Strike, *, actor, reason: str, now: datetime, appeal_ref: int | None = None) -> Strike:
    strike.voided_at = now
    strike.voided_by = actor if getattr(actor, "pk", None) else None
    strike.void_reason = reason
    strike.save(update_fields=["voided_at", "voided_by", "void_reason"])
    record_event(
        actor=actor,
        verb="strike.voided",
        target=strike,
        before={"voided": False},
        after={"voided": True, "decision": strike.decision_id},
        reason=reason,
        case_ref=strike.case_id,
        appeal_ref=appeal_ref,
    )
    return strike


@transaction.atomic
def void_decision_strike(
    *, decision_id: int, actor, reason: str, appeal_ref: int | None = None, now: datetime | None = None
) -> Strike | None:
    """The decision no longer stands (overturned on appeal, reversed): its strike stops
    counting. The row stays, voided, with its audit row. Idempotent."""
    now = now or timezone.now()
    strike = Strike.objects.filter(decision_id=decision_id).first()
    if strike is None:
        return None
    _lock_account(strike.account_id)
    strike = Strike.objects.select_for_update().get(pk=strike.pk)
    if strike.voided_at is not None:
        return strike
    return _void(strike, actor=actor, reason=reason, now=now, appeal_ref=appeal_ref)


@transaction.atomic
def void_strikes_of_reversed_decisions(
    *, actions: Iterable, actor, reason: str, appeal_ref: int | None = None
) -> list[Strike]:
    """After a bulk reversal (recall, supervisor correction): a decision none of whose
    measures still stands no longer counts against the writer."""
    from cases.models import ActionStatus, EnforcementAction

    voided = []
    decision_ids = sorted({a.decision_id for a in actions if a.decision_id})
    standing = set(
        EnforcementAction.objects.filter(decision_id__in=decision_ids, reversal_cause="")
        .exclude(status__in=[ActionStatus.REVERSED, ActionStatus.REJECTED])
        .values_list("decision_id", flat=True)
    )
    for decision_id in decision_ids:
        if decision_id in standing:
            continue
        strike = void_decision_strike(decision_id=decision_id, actor=actor, reason=reason, appeal_ref=appeal_ref)
        if strike is not None:
            voided.append(strike)
    return voided
