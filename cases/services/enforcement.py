"""Enforcement actions: staged by a decision, applied by a job through the platform
adapter, reversed the same way.

The outbox is the delivery guarantee: every action that may touch the platform gets an
`OutboxEntry` in the transaction that approves it (or asks for its reversal), and the
job is enqueued after commit. If the enqueue is lost, `drain_outbox` finds the entry.
Jobs are idempotent: an action is applied only from `approved`, reversed only from
`applied`, under a row lock, so running a job twice has the effect of once.

The human gate is checked here (every action needs a decision by a person, approved by
a second person when it needs four eyes) and held by the database as well
(`action_needs_human_decision`, and triggers refusing decisions by service users).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

import cases.review_audit_verbs  # noqa: F401  (registers the verbs used below)
from cases.models import (
    ActionStatus,
    Decision,
    EnforcementAction,
    OutboxEntry,
    OutboxOperation,
    ReversalCause,
)
from moderation.audit import record_event
from moderation.gate import protected_reasons
from moderation.jobs import enqueue
from moderation.models import STORY_OUTCOMES, AuditEvent, Outcome
from moderation.platform import (
    DEFAULT_HOLD_DAYS,
    PlatformAdapter,
    PlatformCommand,
    PlatformError,
    Progress,
    get_adapter,
)
from moderation.roles import is_service_user
from moderation.transitions import transition

logger = logging.getLogger(__name__)

ACTION_FLOW = {
    ActionStatus.PROPOSED: {ActionStatus.APPROVED, ActionStatus.AWAITING_APPROVAL, ActionStatus.REJECTED},
    ActionStatus.AWAITING_APPROVAL: {ActionStatus.APPROVED, ActionStatus.REJECTED},
    ActionStatus.APPROVED: {ActionStatus.APPLIED, ActionStatus.FAILED},
    ActionStatus.FAILED: {ActionStatus.APPROVED},
    ActionStatus.APPLIED: {ActionStatus.REVERSED},
}


class HumanGateViolation(Exception):
    """Something tried to approve or apply an action without a person's decision."""


class ReversalNotAllowed(Exception):
    pass


# The human gate ---------------------------------------------------------------


def _is_staff_person(user) -> bool:
    return user is not None and user.is_active and user.is_staff and not is_service_user(user)


def human_gate_problem(decision: Decision | None, action: EnforcementAction | None = None) -> str:
    """Why this decision (and this action of it) may not reach the platform, or '' if
    it may. The same rule the database triggers hold (cases/migrations/0004_*): the
    outcome is one the decision chose, a staff person decided, and where four eyes is
    required (`moderation.gate.protected_reasons`, or the decision says so) another
    staff person approved."""
    if decision is None:
        return "no decision"
    if action is not None:
        if str(action.outcome) not in [str(o) for o in decision.outcomes or []]:
            return f"{action.outcome} is not one of the outcomes of decision #{decision.pk}"
        if action.case_id != decision.case_id or action.account_id != decision.case.account_id:
            return "the action is not on the case and account of its decision"
    if not _is_staff_person(decision.decided_by):
        return "the decision was not made by a person"
    if decision.rejected_by_id is not None:
        return "the decision was not approved"
    if decision.needs_approval or protected_reasons(decision.case.account, decision.outcomes):
        if decision.approved_by_id is None:
            return "the decision awaits a second approval"
        if decision.approved_by_id == decision.decided_by_id or not _is_staff_person(decision.approved_by):
            return "the second approval was not given by another person"
    return ""


def assert_human_decision(decision: Decision | None, action: EnforcementAction | None = None) -> None:
    problem = human_gate_problem(decision, action)
    if problem:
        raise HumanGateViolation(f"Refused: {problem}.")


# Staging actions from a decision ------------------------------------------------


def _target_story(case, outcome: str):
    return case.story if outcome in STORY_OUTCOMES else None


def _params_for(outcome: str, hold_days: int) -> tuple[dict, object]:
    if outcome == Outcome.PARTNER_EARNINGS_HOLD:
        return {"days": hold_days}, timezone.now() + timedelta(days=hold_days)
    return {}, None


def stage_actions(*, decision: Decision, actor, hold_days: int = DEFAULT_HOLD_DAYS) -> list[EnforcementAction]:
    """Turn a decision's outcomes into actions, inside the decision's transaction.

    Proposals (from detectors or clients) for a chosen outcome are taken over by the
    decision; proposals for outcomes the reviewer did not choose are rejected. Actions
    wait in `awaiting_approval` when the decision needs a second person.
    """
    case = decision.case
    target = ActionStatus.AWAITING_APPROVAL if decision.needs_approval else ActionStatus.APPROVED
    if target == ActionStatus.APPROVED:
        assert_human_decision(decision)
    chosen = [o for o in decision.outcomes if decision.is_violation]
    proposals = list(case.actions.select_for_update().filter(status=ActionStatus.PROPOSED).order_by("id"))
    staged = []
    for outcome in chosen:
        params, ends_at = _params_for(outcome, hold_days)
        proposal = next((p for p in proposals if p.outcome == outcome), None)
        if proposal is not None:
            proposals.remove(proposal)
            transition(
                proposal,
                to=target,
                allowed=ACTION_FLOW,
                actor=actor,
                verb="action.approved" if target == ActionStatus.APPROVED else "action.awaiting_approval",
                reason=f"taken over by decision #{decision.pk}",
                extra_updates={"decision": decision, "params": {**proposal.params, **params}, "ends_at": ends_at},
                case_ref=case.pk,
            )
            action = proposal
        else:
            action = EnforcementAction(
                case=case,
                decision=decision,
                outcome=outcome,
                account=case.account,
                story=_target_story(case, outcome),
                status=target,
                params=params,
                ends_at=ends_at,
            )
            action.full_clean()
            action.save()
            record_event(
                actor=actor,
                verb="action.approved" if target == ActionStatus.APPROVED else "action.awaiting_approval",
                target=action,
                after={"status": target, "outcome": outcome, "decision": decision.pk},
                case_ref=case.pk,
            )
        if target == ActionStatus.APPROVED:
            _queue_apply(action)
        staged.append(action)
    for proposal in proposals:
        transition(
            proposal,
            to=ActionStatus.REJECTED,
            allowed=ACTION_FLOW,
            actor=actor,
            verb="action.rejected",
            reason=f"not chosen by decision #{decision.pk}",
            case_ref=case.pk,
        )
    return staged


def approve_actions(*, decision: Decision, actor) -> list[EnforcementAction]:
    """The second approval arrived: release the waiting actions to the outbox."""
    assert_human_decision(decision)
    approved = []
    for action in decision.actions.select_for_update().filter(status=ActionStatus.AWAITING_APPROVAL).order_by("id"):
        transition(
            action,
            to=ActionStatus.APPROVED,
            allowed=ACTION_FLOW,
            actor=actor,
            verb="action.approved",
            reason=f"second approval of decision #{decision.pk}",
            case_ref=decision.case_id,
        )
        _queue_apply(action)
        approved.append(action)
    return approved


def reject_actions(*, decision: Decision, actor, note: str) -> None:
    for action in decision.actions.select_for_update().filter(status=ActionStatus.AWAITING_APPROVAL):
        transition(
            action,
            to=ActionStatus.REJECTED,
            allowed=ACTION_FLOW,
            actor=actor,
            verb="action.rejected",
            reason=note,
            case_ref=decision.case_id,
        )


def _queue_apply(action: EnforcementAction) -> OutboxEntry:
    from cases import jobs

    entry, _ = OutboxEntry.objects.get_or_create(action=action, operation=OutboxOperation.APPLY)
    enqueue(jobs.apply_action_job, action.pk, queue="enforcement")
    return entry


# Applying ------------------------------------------------------------------------


class OutboxProgress:
    """Batch progress kept on the outbox entry; `advance` runs in the batch's transaction."""

    def __init__(self, entry: OutboxEntry):
        self.entry_id = entry.pk
        self.cursor = entry.cursor

    def start(self, total: int) -> None:
        OutboxEntry.objects.filter(pk=self.entry_id).update(progress_total=total, progress_done=0)

    def advance(self, *, done: int, cursor: int) -> None:
        OutboxEntry.objects.filter(pk=self.entry_id).update(
            progress_done=F("progress_done") + done,
            progress_total=Greatest(F("progress_total"), F("progress_done") + done),
            cursor=cursor,
        )
        self.cursor = cursor


def command_for(action: EnforcementAction) -> PlatformCommand:
    return PlatformCommand(
        outcome=action.outcome,
        account_id=action.account_id,
        story_id=action.story_id,
        idempotency_key=action.idempotency_key,
        params=dict(action.params or {}),
    )


def _lock_action(action_id: int) -> EnforcementAction:
    return EnforcementAction.objects.select_for_update().get(pk=action_id)


def _begin(action_id: int, operation: str, from_status: str) -> tuple[EnforcementAction, OutboxEntry] | None:
    """Lock the action, check it is in `from_status` and count the attempt."""
    with transaction.atomic():
        action = _lock_action(action_id)
        if action.status != from_status:
            return None
        entry = OutboxEntry.objects.select_for_update().get(action=action, operation=operation)
        entry.attempts += 1
        entry.save(update_fields=["attempts"])
        EnforcementAction.objects.filter(pk=action.pk).update(attempts=F("attempts") + 1)
        return action, entry


def _run_on_platform(
    *,
    action_id: int,
    operation: str,
    from_status: str,
    call: Callable[[PlatformAdapter, PlatformCommand, EnforcementAction, Progress | None], dict],
    finish: Callable[[EnforcementAction, OutboxEntry, dict], EnforcementAction],
    on_error: Callable[[OutboxEntry, PlatformError], EnforcementAction],
) -> EnforcementAction:
    """The skeleton apply and reverse share. An adapter that only writes this database
    runs inside the transaction that records the new state; a remote or batched one
    runs outside it (its batches commit their own progress) and the state is recorded
    after, under the row lock, only if nobody got there first."""
    started = _begin(action_id, operation, from_status)
    if started is None:
        return EnforcementAction.objects.get(pk=action_id)
    action, entry = started
    adapter = get_adapter()
    command = command_for(action)
    try:
        if adapter.transactional and not adapter.is_batched(action.outcome):
            with transaction.atomic():
                action = _lock_action(action_id)
                if action.status != from_status:
                    return action
                return finish(action, entry, call(adapter, command, action, None))
        result = call(adapter, command, action, OutboxProgress(entry))
    except PlatformError as exc:
        return on_error(entry, exc)
    with transaction.atomic():
        action = _lock_action(action_id)
        if action.status != from_status:
            return action
        return finish(action, entry, result)


def apply_action(*, action_id: int) -> EnforcementAction:
    """Job body: put one approved action on the platform (`approved → applied | failed`)."""
    action = EnforcementAction.objects.select_related(
        "decision__decided_by", "decision__approved_by", "decision__case__account"
    ).get(pk=action_id)
    if action.status != ActionStatus.APPROVED:
        return action
    problem = human_gate_problem(action.decision, action)
    if problem:
        return _mark_failed(action_id, None, f"refused by the human gate: {problem}")
    return _run_on_platform(
        action_id=action_id,
        operation=OutboxOperation.APPLY,
        from_status=ActionStatus.APPROVED,
        call=lambda adapter, command, action, progress: adapter.apply(command, progress=progress),
        finish=_mark_applied,
        on_error=lambda entry, exc: _mark_failed(action_id, entry, str(exc)),
    )


def _decision_label(action: EnforcementAction) -> str:
    decision = action.decision
    label = f"decision #{decision.pk} by {decision.decided_by.get_username()}"
    if decision.approved_by_id:
        label += f", approved by {decision.approved_by.get_username()}"
    return label


def _mark_applied(action: EnforcementAction, entry: OutboxEntry, effect: dict) -> EnforcementAction:
    now = timezone.now()
    transition(
        action,
        to=ActionStatus.APPLIED,
        allowed=ACTION_FLOW,
        actor=None,
        verb="action.applied",
        reason=_decision_label(action),
        extra_updates={"applied_at": now, "effect": effect, "last_error": ""},
        case_ref=action.case_id,
    )
    OutboxEntry.objects.filter(pk=entry.pk).update(done_at=now, last_error="")
    return action


def _mark_failed(action_id: int, entry: OutboxEntry | None, error: str) -> EnforcementAction:
    logger.warning("action %s failed: %s", action_id, error)
    with transaction.atomic():
        action = _lock_action(action_id)
        if action.status != ActionStatus.APPROVED:
            return action
        transition(
            action,
            to=ActionStatus.FAILED,
            allowed=ACTION_FLOW,
            actor=None,
            verb="action.failed",
            reason=error[:2000],
            extra_updates={"last_error": error[:2000]},
            case_ref=action.case_id,
        )
        if entry is not None:
            OutboxEntry.objects.filter(pk=entry.pk).update(gave_up_at=timezone.now(), last_error=error[:2000])
    return action


def retry_action(*, action: EnforcementAction, actor) -> EnforcementAction:
    """An operator sends a failed action back through the outbox."""
    if is_service_user(actor):
        raise HumanGateViolation("Refused: a service client cannot retry actions.")
    with transaction.atomic():
        transition(
            action,
            to=ActionStatus.APPROVED,
            allowed=ACTION_FLOW,
            actor=actor,
            verb="action.retried",
            reason=action.last_error,
            case_ref=action.case_id,
        )
        OutboxEntry.objects.filter(action=action, operation=OutboxOperation.APPLY).update(
            gave_up_at=None, next_attempt_at=None
        )
        _queue_apply(action)
    return action


# Reversing -------------------------------------------------------------------


def request_reversal(
    *,
    action: EnforcementAction,
    actor,
    reason: str,
    cause: str = ReversalCause.APPEAL,
    appeal_ref: int | None = None,
) -> OutboxEntry:
    """Ask for an applied action to be undone, in the caller's transaction; the job
    runs after commit. Asking twice returns the same entry."""
    from cases import jobs

    if is_service_user(actor):
        raise HumanGateViolation("Refused: a service client cannot reverse actions.")
    with transaction.atomic():
        locked = _lock_action(action.pk)
        existing = OutboxEntry.objects.filter(action=locked, operation=OutboxOperation.REVERSE).first()
        if existing is not None:
            return existing
        if locked.status != ActionStatus.APPLIED:
            raise ReversalNotAllowed(
                f"Action #{locked.pk} is {locked.get_status_display().lower()}, so there is nothing to reverse."
            )
        entry = OutboxEntry.objects.create(action=locked, operation=OutboxOperation.REVERSE)
        locked.reversal_cause = cause
        locked.save(update_fields=["reversal_cause"])
        action.reversal_cause = cause
        record_event(
            actor=actor,
            verb="action.reversal_requested",
            target=locked,
            after={"cause": cause},
            reason=reason,
            case_ref=locked.case_id,
            appeal_ref=appeal_ref,
        )
        enqueue(jobs.reverse_action_job, locked.pk, queue="enforcement")
    return entry


def _reversal_request(action: EnforcementAction) -> AuditEvent | None:
    return (
        AuditEvent.objects.filter(
            verb="action.reversal_requested", target_type="cases.enforcementaction", target_id=str(action.pk)
        )
        .select_related("actor")
        .order_by("-id")
        .first()
    )


def reverse_action(*, action_id: int) -> EnforcementAction:
    """Job body: restore exactly what the action's `effect` says (`applied → reversed`)."""
    return _run_on_platform(
        action_id=action_id,
        operation=OutboxOperation.REVERSE,
        from_status=ActionStatus.APPLIED,
        call=lambda adapter, command, action, progress: adapter.reverse(command, action.effect, progress=progress),
        finish=_mark_reversed,
        on_error=lambda entry, exc: _reversal_failed(action_id, entry, exc),
    )


def _reversal_failed(action_id: int, entry: OutboxEntry, exc: PlatformError) -> EnforcementAction:
    OutboxEntry.objects.filter(pk=entry.pk).update(last_error=str(exc)[:2000], gave_up_at=timezone.now())
    logger.warning("reversal of action %s failed: %s", action_id, exc)
    return EnforcementAction.objects.get(pk=action_id)


def _mark_reversed(action: EnforcementAction, entry: OutboxEntry, result: dict) -> EnforcementAction:
    request = _reversal_request(action)
    now = timezone.now()
    transition(
        action,
        to=ActionStatus.REVERSED,
        allowed=ACTION_FLOW,
        actor=request.actor if request else None,
        verb="action.reversed",
        reason=request.reason if request else "",
        extra_updates={"reversed_at": now, "effect": {**action.effect, "reversal": result}},
        case_ref=action.case_id,
        appeal_ref=request.appeal_ref if request else None,
    )
    OutboxEntry.objects.filter(pk=entry.pk).update(done_at=now, last_error="", gave_up_at=None)
    return action


def retry_reversal(*, action: EnforcementAction, actor) -> None:
    from cases import jobs

    with transaction.atomic():
        updated = OutboxEntry.objects.filter(
            action=action, operation=OutboxOperation.REVERSE, done_at__isnull=True
        ).update(gave_up_at=None)
        if updated:
            record_event(actor=actor, verb="action.retried", target=action, reason="reversal", case_ref=action.case_id)
            enqueue(jobs.reverse_action_job, action.pk, queue="enforcement")


# The outbox drain ------------------------------------------------------------


def drain_outbox(*, older_than: timedelta = timedelta(seconds=60), now=None, limit: int = 500) -> int:
    """Re-enqueue entries whose job never ran (lost enqueue, worker crash). Entries
    that gave up stay put until an operator retries them."""
    from cases import jobs

    now = now or timezone.now()
    pending = (
        OutboxEntry.objects.filter(done_at__isnull=True, gave_up_at__isnull=True, created_at__lte=now - older_than)
        .select_related("action")
        .order_by("id")[:limit]
    )
    count = 0
    for entry in pending:
        if entry.operation == OutboxOperation.APPLY and entry.action.status == ActionStatus.APPROVED:
            enqueue(jobs.apply_action_job, entry.action_id, queue="enforcement")
            count += 1
        elif entry.operation == OutboxOperation.REVERSE and entry.action.status == ActionStatus.APPLIED:
            enqueue(jobs.reverse_action_job, entry.action_id, queue="enforcement")
            count += 1
    return count
