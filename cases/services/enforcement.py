"""Enforcement actions: staged by a decision, applied by a job through the platform
adapter, reversed the same way.

The outbox is the delivery guarantee: every action that may touch the platform gets an
`OutboxEntry` in the transaction that approves it (or asks for its reversal), and the
job is enqueued after commit. If the enqueue is lost, `drain_outbox` finds the entry.
Jobs are idempotent: an action is applied only from `approved`, reversed only from
`applied`, under a row lock, so running a job twice has the effect of once. A worker
holds a lease on the entry while it runs; a failed run is retried with exponential
backoff up to `OUTBOX_MAX_ATTEMPTS`, then gives up visibly (the admin's Retry).

Effects compose: applying or reversing an action that sets an attribute (account
status, partner status, a story's distribution, paywall or removal) reads the other
actions standing on it under the account's (story's) row lock and hands them to the
adapter, which sets what the remaining actions imply. A later decision on the same
case supersedes the earlier ones (`supersede_earlier_actions`).

The human gate is checked here (every action needs a decision by a person, approved by
a second person when it needs four eyes) and held by the database as well
(`action_needs_human_decision`, and triggers refusing decisions by service users).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
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
from moderation.jobs import enqueue, enqueue_batched
from moderation.models import STORY_OUTCOMES, Account, AuditEvent, Outcome, Story
from moderation.platform import (
    DEFAULT_HOLD_DAYS,
    PlatformAdapter,
    PlatformCommand,
    PlatformError,
    Progress,
    get_adapter,
    sharing_outcomes,
)
from moderation.roles import is_service_user
from moderation.transitions import Move, transition, transition_many

logger = logging.getLogger(__name__)

ACTION_FLOW = {
    ActionStatus.PROPOSED: {ActionStatus.APPROVED, ActionStatus.AWAITING_APPROVAL, ActionStatus.REJECTED},
    ActionStatus.AWAITING_APPROVAL: {ActionStatus.APPROVED, ActionStatus.REJECTED},
    # Rejected from approved/failed: withdrawn by a later decision before it was applied.
    ActionStatus.APPROVED: {ActionStatus.APPLIED, ActionStatus.FAILED, ActionStatus.REJECTED},
    ActionStatus.FAILED: {ActionStatus.APPROVED, ActionStatus.REJECTED},
    ActionStatus.APPLIED: {ActionStatus.REVERSED},
}


class HumanGateViolation(Exception):
    """Something tried to approve or apply an action without a person's decision."""


class ReversalNotAllowed(Exception):
    pass


# The human gate ---------------------------------------------------------------


def _is_staff_person(user, people: dict[int, bool] | None = None) -> bool:
    """`people`: answers already worked out in this chunk of actions, by user id."""
    if user is None:
        return False
    if people is not None and user.pk in people:
        return people[user.pk]
    answer = user.is_active and user.is_staff and not is_service_user(user)
    if people is not None:
        people[user.pk] = answer
    return answer


def human_gate_problem(
    decision: Decision | None,
    action: EnforcementAction | None = None,
    *,
    threshold: int | None = None,
    people: dict[int, bool] | None = None,
) -> str:
    """Why this decision (and this action of it) may not reach the platform, or '' if
    it may. The same rule the database triggers hold (cases/migrations/0004_*): the
    outcome is one the decision chose, a staff person decided, and where four eyes is
    required (`moderation.gate.protected_reasons`, or the decision says so) another
    staff person approved. `threshold` and `people` let a chunk of actions read the
    follower threshold and each person's standing once."""
    if decision is None:
        return "no decision"
    if action is not None:
        if str(action.outcome) not in [str(o) for o in decision.outcomes or []]:
            return f"{action.outcome} is not one of the outcomes of decision #{decision.pk}"
        if action.case_id != decision.case_id or action.account_id != decision.case.account_id:
            return "the action is not on the case and account of its decision"
    if not _is_staff_person(decision.decided_by, people):
        return "the decision was not made by a person"
    if decision.rejected_by_id is not None:
        return "the decision was not approved"
    if decision.needs_approval or protected_reasons(decision.case.account, decision.outcomes, threshold=threshold):
        if decision.approved_by_id is None:
            return "the decision awaits a second approval"
        if decision.approved_by_id == decision.decided_by_id or not _is_staff_person(decision.approved_by, people):
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
    wait in `awaiting_approval` when the decision needs a second person. Outcomes an
    earlier decision on the case already put in force are kept, not staged again; once
    the decision is final, what it no longer warrants is undone (supersession).
    """
    case = decision.case
    target = ActionStatus.AWAITING_APPROVAL if decision.needs_approval else ActionStatus.APPROVED
    if target == ActionStatus.APPROVED:
        assert_human_decision(decision)
    kept = kept_outcomes(decision)
    chosen = [o for o in decision.outcomes if decision.is_violation and o not in kept]
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
    if target == ActionStatus.APPROVED:
        supersede_earlier_actions(decision=decision, actor=actor)
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
    supersede_earlier_actions(decision=decision, actor=actor)
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
    enqueue_batched(jobs.apply_actions_job, action.pk, queue="enforcement", chunk=apply_per_job())
    return entry


# Applying ------------------------------------------------------------------------


class LeaseLost(Exception):
    """Another worker took this outbox entry over (our lease ran out): stop quietly."""


def _conf(name: str, default):
    return type(default)(settings.MODERATION.get(name, default))


def outbox_lease() -> timedelta:
    return timedelta(seconds=_conf("OUTBOX_LEASE_SECONDS", 300))


def max_attempts() -> int:
    return _conf("OUTBOX_MAX_ATTEMPTS", 8)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2×base, 4×base … ≤ 1 h."""
    base = _conf("OUTBOX_RETRY_BACKOFF_SECONDS", 30.0)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


class OutboxProgress:
    """Batch progress kept on the outbox entry; `advance` runs in the batch's transaction
    and renews the worker's lease, or raises `LeaseLost` (rolling the batch back) when
    another worker holds the entry now."""

    def __init__(self, entry: OutboxEntry, token: str = ""):
        self.entry_id = entry.pk
        self.cursor = entry.cursor
        self.token = token

    def _mine(self):
        rows = OutboxEntry.objects.filter(pk=self.entry_id)
        return rows.filter(lease_token=self.token) if self.token else rows

    def start(self, total: int) -> None:
        if not self._mine().update(progress_total=total, progress_done=0, leased_until=timezone.now() + outbox_lease()):
            raise LeaseLost(self.entry_id)

    def advance(self, *, done: int, cursor: int) -> None:
        updated = self._mine().update(
            progress_done=F("progress_done") + done,
            progress_total=Greatest(F("progress_total"), F("progress_done") + done),
            cursor=cursor,
            leased_until=timezone.now() + outbox_lease(),
        )
        if not updated:
            raise LeaseLost(self.entry_id)
        self.cursor = cursor


def command_for(action: EnforcementAction, *, standing: list[dict] | None = None) -> PlatformCommand:
    params = dict(action.params or {})
    if standing is not None:
        params["standing"] = standing
    return PlatformCommand(
        outcome=action.outcome,
        account_id=action.account_id,
        story_id=action.story_id,
        idempotency_key=action.idempotency_key,
        params=params,
    )


def _lock_action(action_id: int) -> EnforcementAction:
    return EnforcementAction.objects.select_for_update().get(pk=action_id)


def _lock_action_with_target(action_id: int) -> EnforcementAction:
    """Locks the action row only; its story and account come along for the audit
    row's label (`str(action)`) without a query each."""
    return (
        EnforcementAction.objects.select_related("story", "account").select_for_update(of=("self",)).get(pk=action_id)
    )


def _composes(action: EnforcementAction) -> bool:
    return bool(sharing_outcomes(action.outcome))


def _lock_target(action: EnforcementAction) -> None:
    """Serialise everything that sets one attribute: applies and reversals of actions on
    the same account (or story) take its row lock before reading what stands.

    FOR NO KEY UPDATE conflicts with itself, so applies still queue up, but not with
    the KEY SHARE a signal chunk's foreign key check takes: ingest never waits on it."""
    if action.outcome in STORY_OUTCOMES and action.story_id:
        list(Story.objects.select_for_update(no_key=True).filter(pk=action.story_id).values_list("pk"))
    else:
        list(Account.objects.select_for_update(no_key=True).filter(pk=action.account_id).values_list("pk"))


def standing_actions(action: EnforcementAction):
    """The other applied actions setting the same attribute of the same account or story."""
    rows = EnforcementAction.objects.filter(
        status=ActionStatus.APPLIED, outcome__in=sharing_outcomes(action.outcome)
    ).exclude(pk=action.pk)
    if action.outcome in STORY_OUTCOMES:
        rows = rows.filter(story_id=action.story_id)
    else:
        rows = rows.filter(account_id=action.account_id)
    return rows.order_by("applied_at", "id")


def _standing_params(action: EnforcementAction) -> list[dict]:
    return [
        {"key": a.idempotency_key, "outcome": a.outcome, "effect": _own_effect(a.effect)}
        for a in standing_actions(action).only("id", "outcome", "effect")
    ]


def _own_effect(effect: dict) -> dict:
    """What applying changed, without the remote platform's reply."""
    return {k: v for k, v in (effect or {}).items() if k != "platform"}


def _begin(action_id: int, operation: str, from_status: str) -> tuple[EnforcementAction, OutboxEntry, str] | None:
    """Lock the action, check it is in `from_status`, take the entry's lease and count
    the attempt. None when there is nothing to do or another worker holds the lease."""
    with transaction.atomic():
        action = _lock_action(action_id)
        if action.status != from_status:
            return None
        entry = OutboxEntry.objects.select_for_update().get(action=action, operation=operation)
        now = timezone.now()
        if entry.done_at or entry.gave_up_at or (entry.leased_until and entry.leased_until > now):
            return None
        entry.attempts += 1
        entry.lease_token = uuid.uuid4().hex
        entry.leased_until = now + outbox_lease()
        entry.save(update_fields=["attempts", "lease_token", "leased_until"])
        EnforcementAction.objects.filter(pk=action.pk).update(attempts=F("attempts") + 1)
        return action, entry, entry.lease_token


def _release_lease(entry: OutboxEntry, **updates) -> None:
    OutboxEntry.objects.filter(pk=entry.pk).update(leased_until=None, lease_token="", **updates)


def _run_on_platform(
    *,
    action_id: int,
    operation: str,
    from_status: str,
    call: Callable[[PlatformAdapter, PlatformCommand, EnforcementAction, Progress | None], dict],
    finish: Callable[[EnforcementAction, OutboxEntry, dict], EnforcementAction],
    on_error: Callable[[OutboxEntry, PlatformError], EnforcementAction],
) -> EnforcementAction:
    """The skeleton apply and reverse share.

    A single change (a status, a story field, a hold) runs in one transaction that
    locks the account or story, reads the other actions standing on the same attribute,
    calls the adapter and records the new state, so two actions on one attribute are
    never applied or reversed from a stale view of each other. A batched one (purges,
    restorations) runs outside it, each batch committing its own progress, and the
    state is recorded after, under the row lock, only if nobody got there first."""
    started = _begin(action_id, operation, from_status)
    if started is None:
        return EnforcementAction.objects.get(pk=action_id)
    action, entry, token = started
    adapter = get_adapter()
    try:
        if not adapter.is_batched(action.outcome):
            with transaction.atomic():
                if _composes(action):
                    _lock_target(action)
                action = _lock_action_with_target(action_id)
                if action.status != from_status:
                    _release_lease(entry)
                    return action
                standing = _standing_params(action) if _composes(action) else None
                return finish(action, entry, call(adapter, command_for(action, standing=standing), action, None))
        result = call(adapter, command_for(action), action, OutboxProgress(entry, token))
    except PlatformError as exc:
        return on_error(entry, exc)
    except LeaseLost:
        logger.warning("outbox entry %s was taken over by another worker", entry.pk)
        return EnforcementAction.objects.get(pk=action_id)
    except Exception as exc:
        _crashed(entry, token, exc)
        raise
    with transaction.atomic():
        action = _lock_action(action_id)
        if action.status != from_status:
            _release_lease(entry)
            return action
        return finish(action, entry, result)


def _crashed(entry: OutboxEntry, token: str, exc: Exception) -> None:
    """The run broke off (a bug, a timeout, a lost database): hand the lease back and
    let the drain try again after the backoff; batches already committed stay done."""
    now = timezone.now()
    try:
        attempts = OutboxEntry.objects.values_list("attempts", flat=True).get(pk=entry.pk)
        OutboxEntry.objects.filter(pk=entry.pk, lease_token=token).update(
            leased_until=None,
            lease_token="",
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + retry_delay(attempts),
        )
    except DatabaseError:
        # The database itself is what broke: the lease runs out and the drain takes over.
        logger.exception("could not hand back the lease of outbox entry %s", entry.pk)


def _failed_attempt(entry: OutboxEntry, exc: PlatformError) -> bool:
    """Record a failed attempt: schedule the next one with backoff, or give up (a refusal,
    or the last attempt). Returns True when it gave up."""
    error = str(exc)[:2000]
    with transaction.atomic():
        locked = OutboxEntry.objects.select_for_update().get(pk=entry.pk)
        now = timezone.now()
        gave_up = not exc.retryable or locked.attempts >= max_attempts()
        locked.last_error = error
        locked.leased_until = None
        locked.lease_token = ""
        locked.next_attempt_at = None if gave_up else now + retry_delay(locked.attempts)
        locked.gave_up_at = now if gave_up else None
        locked.save(update_fields=["last_error", "leased_until", "lease_token", "next_attempt_at", "gave_up_at"])
        EnforcementAction.objects.filter(pk=locked.action_id).update(last_error=error)
        if not gave_up:
            record_event(
                actor=None,
                verb="action.attempt_failed",
                target=locked.action,
                after={"operation": locked.operation, "attempt": locked.attempts, "next_attempt_at": _iso(locked)},
                reason=error,
                case_ref=locked.action.case_id,
            )
    return gave_up


def _iso(entry: OutboxEntry) -> str | None:
    return entry.next_attempt_at.isoformat() if entry.next_attempt_at else None


@dataclass
class ApplyChunk:
    """What a chunk of actions to apply shares, read once for the chunk: the actions
    with their decisions and deciders, the follower threshold of the four-eyes rule,
    and whether each decider or approver is a staff person. Each action still runs on
    its own under its lease and row locks; the database triggers check the gate again
    when it turns `applied`."""

    actions: dict[int, EnforcementAction]
    threshold: int
    people: dict[int, bool] = field(default_factory=dict)


def _actions_to_apply():
    return EnforcementAction.objects.select_related(
        "decision__decided_by", "decision__approved_by", "decision__case__account", "story", "account"
    )


def load_apply_chunk(*, action_ids: list[int]) -> ApplyChunk:
    from moderation.gate import four_eyes_follower_threshold

    return ApplyChunk(
        actions=_actions_to_apply().in_bulk(action_ids), threshold=four_eyes_follower_threshold(), people={}
    )


def apply_action(*, action_id: int, chunk: ApplyChunk | None = None) -> EnforcementAction:
    """Job body: put one approved action on the platform (`approved → applied`, or
    `failed` once the outbox gives up). `chunk`: the batch job's shared reads."""
    action = chunk.actions.get(action_id) if chunk is not None else None
    if action is None:
        action = _actions_to_apply().get(pk=action_id)
    if action.status != ActionStatus.APPROVED:
        return action
    gate = {"threshold": chunk.threshold, "people": chunk.people} if chunk is not None else {}
    problem = human_gate_problem(action.decision, action, **gate)
    if problem:
        return _mark_failed(action_id, None, f"refused by the human gate: {problem}")
    label = _decision_label(action)
    return _run_on_platform(
        action_id=action_id,
        operation=OutboxOperation.APPLY,
        from_status=ActionStatus.APPROVED,
        call=lambda adapter, command, action, progress: adapter.apply(command, progress=progress),
        finish=lambda locked, entry, effect: _mark_applied(locked, entry, effect, label=label),
        on_error=_apply_failed,
    )


# Applying in bulk ----------------------------------------------------------------


def apply_per_job() -> int:
    """Actions handed to one `apply_actions_job` (by the drain and per transaction)."""
    return _conf("OUTBOX_APPLY_PER_JOB", 500)


def apply_per_commit() -> int:
    """Actions a batch job applies in one transaction."""
    return _conf("OUTBOX_APPLY_PER_COMMIT", 100)


def apply_actions(*, action_ids: list[int]) -> list[EnforcementAction]:
    """Job body of a batch (`apply_actions_job`): put many approved actions on the
    platform at a cost per group of actions, not per action. Returns the ones applied.

    One transaction leases every due apply entry of the batch (`SKIP LOCKED`: an entry
    or action another worker or a decision holds right now is left to it, or to the
    drain), each entry with its own attempt charged and the batch's lease token. Then
    the actions go out `apply_per_commit()` at a time, each group in one transaction:
    row locks on the accounts and stories they set, then on the actions and their
    entries (still `approved`, still under our token), the actions standing on the same
    attributes read once, the adapter's `apply_many`, and the moves to `applied` with
    their audit rows and finished entries written set-based. A worker dying mid-batch
    loses only the group it was in: groups committed before are applied and done, the
    rest keep their leases until they run out and the drain sends them again one by
    one. A refusal by the platform is that action's failed attempt alone; any other
    error in a group has its actions tried one at a time, so only the one that breaks
    hands its lease back with backoff. Purges (batched outcomes) and actions the human
    gate refuses take the one-at-a-time path (`apply_action`)."""
    chunk = load_apply_chunk(action_ids=action_ids)
    adapter = get_adapter()
    applied, grouped = [], []
    for action_id in dict.fromkeys(action_ids):
        action = chunk.actions.get(action_id)
        if action is None or action.status != ActionStatus.APPROVED:
            continue
        refused = human_gate_problem(action.decision, action, threshold=chunk.threshold, people=chunk.people)
        if refused or adapter.is_batched(action.outcome):
            action = apply_action(action_id=action_id, chunk=chunk)
            if action.status == ActionStatus.APPLIED:
                applied.append(action)
            continue
        grouped.append(action_id)
    token = uuid.uuid4().hex
    leased = _lease_batch(grouped, token)
    if len(leased) < len(grouped):
        logger.info("%s of %s actions were held elsewhere and are left to it", len(grouped) - len(leased), len(grouped))
    size = apply_per_commit()
    for start in range(0, len(leased), size):
        group = [chunk.actions[pk] for pk in leased[start : start + size]]
        applied += _apply_group_or_each(group, token, adapter, leased[start + size :])
    return applied


def _lease_batch(action_ids: list[int], token: str) -> list[int]:
    """Lease the due apply entries of these actions under one token and charge each an
    attempt (on the entry and the action, as `_begin` does one at a time). Locks the
    actions before their entries, the order every other writer of both keeps. Returns
    the leased action ids in id order."""
    if not action_ids:
        return []
    now = timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    with transaction.atomic():
        approved = EnforcementAction.objects.select_for_update(skip_locked=True).filter(
            pk__in=action_ids, status=ActionStatus.APPROVED
        )
        locked = list(approved.order_by("pk").values_list("pk", flat=True))
        entries = list(
            OutboxEntry.objects.select_for_update(skip_locked=True)
            .filter(free, action_id__in=locked, operation=OutboxOperation.APPLY, done_at=None, gave_up_at=None)
            .order_by("action_id")
            .values_list("pk", "action_id")
        )
        if not entries:
            return []
        OutboxEntry.objects.filter(pk__in=[pk for pk, _ in entries]).update(
            attempts=F("attempts") + 1, lease_token=token, leased_until=now + outbox_lease()
        )
        leased = [action_id for _, action_id in entries]
        EnforcementAction.objects.filter(pk__in=leased).update(attempts=F("attempts") + 1)
    return leased


def _apply_group_or_each(group, token, adapter, rest: list[int]) -> list[EnforcementAction]:
    try:
        return _apply_group(group, token, adapter, rest)
    except Exception as exc:
        if len(group) == 1:
            return _broke_off(group[0], token, exc)
        logger.warning("a group of %s actions broke off; trying them one at a time", len(group), exc_info=True)
    applied = []
    for action in group:
        try:
            applied += _apply_group([action], token, adapter, [])
        except Exception as exc:
            applied += _broke_off(action, token, exc)
    return applied


def _broke_off(action: EnforcementAction, token: str, exc: Exception) -> list:
    """`_crashed` for an action of a batch: its lease goes back with backoff."""
    logger.error("applying action %s broke off; its outbox entry retries it", action.pk, exc_info=exc)
    entry = OutboxEntry.objects.filter(action_id=action.pk, operation=OutboxOperation.APPLY).only("pk").first()
    if entry is not None:
        _crashed(entry, token, exc)
    return []


def _apply_group(group: list[EnforcementAction], token: str, adapter, rest: list[int]) -> list[EnforcementAction]:
    """One transaction: lock, apply and record a group of leased actions (`apply_actions`).
    Actions that set the same attribute of one account or story go in rounds, so each
    round reads what the earlier ones left standing."""
    with transaction.atomic():
        _lock_targets(group)
        mine = set(
            EnforcementAction.objects.select_for_update()
            .filter(pk__in=[a.pk for a in group], status=ActionStatus.APPROVED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        entries = dict(
            OutboxEntry.objects.select_for_update()
            .filter(action_id__in=mine, operation=OutboxOperation.APPLY, lease_token=token, done_at=None)
            .filter(gave_up_at=None)
            .order_by("action_id")
            .values_list("action_id", "pk")
        )
        lost = mine - set(entries)
        if lost:
            logger.warning("outbox entries of actions %s were taken over by another worker", sorted(lost))
        todo = [a for a in group if a.pk in entries]
        applied, refused = [], []
        while todo:
            round_, todo = _one_per_attribute(todo)
            standing = _standing_many(round_)
            commands = [command_for(a, standing=standing.get(a.pk)) for a in round_]
            answers = adapter.apply_many(commands)
            done = []
            for action, answer in zip(round_, answers, strict=True):
                (refused if isinstance(answer, PlatformError) else done).append((action, answer))
            applied += _mark_applied_many(done)
        now = timezone.now()
        OutboxEntry.objects.filter(pk__in=[entries[a.pk] for a in applied]).update(
            done_at=now, last_error="", next_attempt_at=None, leased_until=None, lease_token=""
        )
        for action, exc in refused:
            _apply_failed(OutboxEntry(pk=entries[action.pk], action_id=action.pk), exc)
        if rest:
            # The rest of the batch is still ours: keep its lease from running out meanwhile.
            OutboxEntry.objects.filter(action_id__in=rest, operation=OutboxOperation.APPLY, lease_token=token).update(
                leased_until=now + outbox_lease()
            )
    return applied


def _target_key(action: EnforcementAction) -> tuple | None:
    """The attribute an action sets and the row it sets it on (None: it composes with none)."""
    if not _composes(action):
        return None
    if action.outcome in STORY_OUTCOMES:
        return (frozenset(sharing_outcomes(action.outcome)), "story", action.story_id)
    return (frozenset(sharing_outcomes(action.outcome)), "account", action.account_id)


def _one_per_attribute(actions: list[EnforcementAction]) -> tuple[list, list]:
    """Split off a round in which no two actions set the same attribute of one row."""
    round_, later, seen = [], [], set()
    for action in actions:
        key = _target_key(action)
        if key is not None and key in seen:
            later.append(action)
            continue
        if key is not None:
            seen.add(key)
        round_.append(action)
    return round_, later


def _lock_targets(actions: list[EnforcementAction]) -> None:
    """`_lock_target` for a group: the accounts, then the stories, each in id order."""
    accounts = {a.account_id for a in actions if _composes(a) and a.outcome not in STORY_OUTCOMES}
    stories = {a.story_id for a in actions if _composes(a) and a.outcome in STORY_OUTCOMES and a.story_id}
    if accounts:
        list(Account.objects.select_for_update(no_key=True).filter(pk__in=accounts).order_by("pk").values_list("pk"))
    if stories:
        list(Story.objects.select_for_update(no_key=True).filter(pk__in=stories).order_by("pk").values_list("pk"))


def _standing_many(actions: list[EnforcementAction]) -> dict[int, list[dict]]:
    """`_standing_params` for many actions in one query (composing ones only)."""
    keys = {a.pk: _target_key(a) for a in actions}
    keys = {pk: key for pk, key in keys.items() if key is not None}
    if not keys:
        return {}
    targets: dict[tuple, set] = {}
    for outcomes, kind, target in keys.values():
        targets.setdefault((outcomes, kind), set()).add(target)
    # One term per attribute (a few), not per action: rows of targets no action asked for
    # are dropped below by their key.
    wanted = Q(pk__in=[])
    for (outcomes, kind), ids in targets.items():
        wanted |= Q(outcome__in=outcomes, **{f"{kind}_id__in": ids})
    by_key: dict[tuple, list] = {}
    rows = EnforcementAction.objects.filter(wanted, status=ActionStatus.APPLIED).order_by("applied_at", "id")
    for row in rows.only("id", "outcome", "effect", "account_id", "story_id"):
        by_key.setdefault(_target_key(row), []).append(row)
    return {
        pk: [
            {"key": s.idempotency_key, "outcome": s.outcome, "effect": _own_effect(s.effect)}
            for s in by_key.get(key, [])
            if s.pk != pk
        ]
        for pk, key in keys.items()
    }


def _mark_applied_many(done: list[tuple[EnforcementAction, dict]]) -> list[EnforcementAction]:
    """`_mark_applied` for a round: the moves to `applied` and their audit rows, set-based."""
    now = timezone.now()
    moves = [
        Move(
            obj=action,
            extra_updates={"applied_at": now, "effect": effect, "last_error": ""},
            reason=_decision_label(action),
            case_ref=action.case_id,
        )
        for action, effect in done
    ]
    return transition_many(moves, to=ActionStatus.APPLIED, allowed=ACTION_FLOW, actor=None, verb="action.applied")


def _apply_failed(entry: OutboxEntry, exc: PlatformError) -> EnforcementAction:
    logger.warning("applying action %s failed: %s", entry.action_id, exc)
    if _failed_attempt(entry, exc):
        return _mark_failed(entry.action_id, None, str(exc))
    return EnforcementAction.objects.get(pk=entry.action_id)


def _decision_label(action: EnforcementAction) -> str:
    decision = action.decision
    label = f"decision #{decision.pk} by {decision.decided_by.get_username()}"
    if decision.approved_by_id:
        label += f", approved by {decision.approved_by.get_username()}"
    return label


def _mark_applied(action: EnforcementAction, entry: OutboxEntry, effect: dict, *, label: str) -> EnforcementAction:
    """Runs in the transaction that locked the action and read it `approved`
    (`_run_on_platform`), so the move needs no second lock."""
    now = timezone.now()
    transition(
        action,
        to=ActionStatus.APPLIED,
        allowed=ACTION_FLOW,
        actor=None,
        verb="action.applied",
        reason=label,
        extra_updates={"applied_at": now, "effect": effect, "last_error": ""},
        case_ref=action.case_id,
        locked=True,
    )
    _release_lease(entry, done_at=now, last_error="", next_attempt_at=None)
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
        OutboxEntry.objects.filter(action=action, operation=OutboxOperation.APPLY, gave_up_at__isnull=True).update(
            gave_up_at=timezone.now(), last_error=error[:2000], leased_until=None, lease_token=""
        )
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
            gave_up_at=None, next_attempt_at=None, attempts=0, leased_until=None, lease_token=""
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
    runs after commit. Asking twice returns the same entry; asking again after the
    outbox gave up on it revives it (a fresh round of attempts)."""
    from cases import jobs

    if is_service_user(actor):
        raise HumanGateViolation("Refused: a service client cannot reverse actions.")
    with transaction.atomic():
        locked = _lock_action(action.pk)
        existing = OutboxEntry.objects.select_for_update().filter(action=locked, operation=OutboxOperation.REVERSE)
        existing = existing.first()
        if existing is not None:
            if existing.gave_up_at and not existing.done_at and locked.status == ActionStatus.APPLIED:
                return _revive_reversal(locked, existing, actor=actor, reason=reason, appeal_ref=appeal_ref)
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
        enqueue(jobs.reverse_action_job, locked.pk, queue="enforcement", durable=False)
    return entry


def _revive_reversal(action: EnforcementAction, entry: OutboxEntry, *, actor, reason: str, appeal_ref=None):
    from cases import jobs

    before = {"gave_up_at": entry.gave_up_at.isoformat(), "attempts": entry.attempts, "error": entry.last_error}
    entry.gave_up_at = None
    entry.next_attempt_at = None
    entry.attempts = 0
    entry.leased_until = None
    entry.lease_token = ""
    entry.save(update_fields=["gave_up_at", "next_attempt_at", "attempts", "leased_until", "lease_token"])
    record_event(
        actor=actor,
        verb="action.reversal_retried",
        target=action,
        before=before,
        after={"attempts": 0},
        reason=reason,
        case_ref=action.case_id,
        appeal_ref=appeal_ref,
    )
    enqueue(jobs.reverse_action_job, action.pk, queue="enforcement", durable=False)
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
    """Job body: undo what the action's `effect` says, given the actions still standing
    on the same attribute (`applied → reversed`)."""
    return _run_on_platform(
        action_id=action_id,
        operation=OutboxOperation.REVERSE,
        from_status=ActionStatus.APPLIED,
        call=lambda adapter, command, action, progress: adapter.reverse(command, action.effect, progress=progress),
        finish=_mark_reversed,
        on_error=_reversal_failed,
    )


def _reversal_failed(entry: OutboxEntry, exc: PlatformError) -> EnforcementAction:
    logger.warning("reversal of action %s failed: %s", entry.action_id, exc)
    if _failed_attempt(entry, exc):
        _record_reversal_gave_up(entry.action_id, str(exc))
    return EnforcementAction.objects.get(pk=entry.action_id)


def _record_reversal_gave_up(action_id: int, error: str) -> None:
    with transaction.atomic():
        action = EnforcementAction.objects.get(pk=action_id)
        record_event(
            actor=None,
            verb="action.reversal_failed",
            target=action,
            after={"gave_up": True},
            reason=error[:2000],
            case_ref=action.case_id,
        )


def _mark_reversed(action: EnforcementAction, entry: OutboxEntry, result: dict) -> EnforcementAction:
    request = _reversal_request(action)
    now = timezone.now()
    if "restored_edges" in result:
        # A resumed restoration reports only its own run; the entry counted every batch.
        total = OutboxEntry.objects.values_list("progress_done", flat=True).get(pk=entry.pk)
        result = {**result, "restored_edges": total}
    transition(
        action,
        to=ActionStatus.REVERSED,
        allowed=ACTION_FLOW,
        actor=request.actor if request else None,
        verb="action.reversed",
        reason=request.reason if request else "",
        extra_updates={"reversed_at": now, "effect": {**action.effect, "reversal": result}, "last_error": ""},
        case_ref=action.case_id,
        appeal_ref=request.appeal_ref if request else None,
    )
    _release_lease(entry, done_at=now, last_error="", gave_up_at=None, next_attempt_at=None)
    return action


def retry_reversal(*, action: EnforcementAction, actor) -> OutboxEntry | None:
    """An operator sends a failed reversal back through the outbox."""
    entry = OutboxEntry.objects.filter(action=action, operation=OutboxOperation.REVERSE).first()
    if entry is None:
        return None
    return retry_outbox_entry(entry=entry, actor=actor)


def retry_outbox_entry(*, entry: OutboxEntry, actor) -> OutboxEntry | None:
    """The admin's Retry: a given-up (or waiting) apply or reversal gets a fresh round of
    attempts now. Returns None when there was nothing to retry."""
    from cases import jobs

    if is_service_user(actor):
        raise HumanGateViolation("Refused: a service client cannot retry actions.")
    with transaction.atomic():
        action = _lock_action(entry.action_id)
        entry = OutboxEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.done_at or (entry.leased_until and entry.leased_until > timezone.now()):
            return None
        if entry.operation == OutboxOperation.APPLY:
            if action.status == ActionStatus.FAILED:
                retry_action(action=action, actor=actor)
                return entry
            if action.status != ActionStatus.APPROVED:
                return None
            OutboxEntry.objects.filter(pk=entry.pk).update(gave_up_at=None, next_attempt_at=None, attempts=0)
            record_event(actor=actor, verb="action.retried", target=action, reason="apply", case_ref=action.case_id)
            enqueue(jobs.apply_action_job, action.pk, queue="enforcement", durable=False)
            return entry
        if action.status != ActionStatus.APPLIED:
            return None
        return _revive_reversal(action, entry, actor=actor, reason="retried by an operator")


# Supersession ------------------------------------------------------------------


@dataclass
class Supersession:
    reversed: list[EnforcementAction] = field(default_factory=list)
    withdrawn: list[EnforcementAction] = field(default_factory=list)
    kept: list[EnforcementAction] = field(default_factory=list)


STANDING_STATUSES = (ActionStatus.APPROVED, ActionStatus.APPLIED, ActionStatus.FAILED)


def earlier_standing_actions(decision: Decision):
    """Actions of earlier decisions on the decision's case that are on the platform or
    on their way there."""
    return (
        EnforcementAction.objects.filter(case_id=decision.case_id, status__in=STANDING_STATUSES)
        .exclude(decision_id=decision.pk)
        .exclude(decision__isnull=True)
    )


def kept_outcomes(decision: Decision) -> set[str]:
    """Outcomes the new decision shares with what earlier decisions put in force: they
    stay as they are and are not applied a second time."""
    chosen = set(decision.outcomes) if decision.is_violation else set()
    return chosen & set(earlier_standing_actions(decision).values_list("outcome", flat=True))


def supersede_earlier_actions(*, decision: Decision, actor) -> Supersession:
    """A final decision on a re-opened case replaces the earlier ones: what they put in
    force and the new decision does not warrant is reversed through the outbox (cause
    `superseded`), or withdrawn when not applied yet; the writer hears once what was
    undone. Runs in the decision's transaction."""
    from cases.notices import write_supersession_notice

    assert_human_decision(decision)
    chosen = set(decision.outcomes) if decision.is_violation else set()
    result = Supersession()
    for action in earlier_standing_actions(decision).select_for_update().order_by("id"):
        if action.outcome in chosen:
            result.kept.append(action)
        elif action.status == ActionStatus.APPLIED:
            request_reversal(
                action=action,
                actor=actor,
                reason=f"Superseded by decision #{decision.pk} on re-review",
                cause=ReversalCause.SUPERSEDED,
            )
            result.reversed.append(action)
        else:
            transition(
                action,
                to=ActionStatus.REJECTED,
                allowed=ACTION_FLOW,
                actor=actor,
                verb="action.withdrawn",
                reason=f"superseded by decision #{decision.pk} before it was applied",
                case_ref=action.case_id,
            )
            OutboxEntry.objects.filter(action=action, operation=OutboxOperation.APPLY, done_at__isnull=True).update(
                done_at=timezone.now(), last_error="withdrawn: superseded", leased_until=None, lease_token=""
            )
            result.withdrawn.append(action)
    if result.reversed or result.withdrawn:
        record_event(
            actor=actor,
            verb="decision.superseded_earlier",
            target=decision,
            after={
                "reversed": [a.pk for a in result.reversed],
                "withdrawn": [a.pk for a in result.withdrawn],
                "kept": [a.pk for a in result.kept],
            },
            case_ref=decision.case_id,
        )
        write_supersession_notice(
            decision=decision, undone=result.reversed + result.withdrawn, kept=result.kept, actor=actor
        )
    return result


# The outbox drain ------------------------------------------------------------


def drain_outbox(*, older_than: timedelta = timedelta(seconds=60), now=None, limit: int = 10_000) -> int:
    """Send due entries to the workers: new ones whose enqueue may have been lost (older
    than `older_than`), failed ones whose backoff ran out, and ones whose worker died
    (lease expired). An entry a live worker holds is never handed out twice; one that
    used up its attempts gives up (a failed action, or a failed reversal the admin can
    retry). Applies go out `apply_per_job()` to a job; one whose worker died holding it
    (a lease left to run out) goes out alone, so an action that kills its worker does
    not charge the actions batched with it an attempt each time."""
    from cases import jobs

    now = now or timezone.now()
    due = Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - older_than)
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    # Tuples, not models: a drain after a bulk approval reads ten thousand rows.
    pending = (
        OutboxEntry.objects.filter(due & free, done_at__isnull=True, gave_up_at__isnull=True)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "operation", "action_id", "action__status", "attempts", "lease_token")[:limit]
    )
    sent, failed, applies, alone, reversals = [], [], [], [], []
    for pk, operation, action_id, status, attempts, lease_token in pending:
        apply_due = operation == OutboxOperation.APPLY and status == ActionStatus.APPROVED
        reverse_due = operation == OutboxOperation.REVERSE and status == ActionStatus.APPLIED
        if not (apply_due or reverse_due):
            if operation == OutboxOperation.APPLY and status == ActionStatus.FAILED:
                failed.append(pk)  # failed before entries gave up with it: show it as such
            continue
        if attempts >= max_attempts():
            _give_up_crashed(OutboxEntry.objects.get(pk=pk))
            continue
        if not apply_due:
            reversals.append(action_id)
        else:
            (alone if lease_token else applies).append(action_id)
        sent.append(pk)
    # Not sent again before the job has had time to start (a lost job is sent again then).
    # Written before the hand-over: a worker leasing these entries must not find them
    # locked by this statement (it skips locked entries).
    OutboxEntry.objects.filter(pk__in=sent).update(next_attempt_at=now + older_than)
    OutboxEntry.objects.filter(pk__in=failed).update(gave_up_at=now)
    size = apply_per_job()
    batches = [[action_id] for action_id in alone] + [applies[i : i + size] for i in range(0, len(applies), size)]
    for batch in batches:
        enqueue(jobs.apply_actions_job, batch, queue="enforcement", durable=False)
    for action_id in reversals:
        enqueue(jobs.reverse_action_job, action_id, queue="enforcement", durable=False)
    return len(sent)


def _give_up_crashed(entry: OutboxEntry) -> None:
    """Every attempt started and none finished (the worker died each time)."""
    error = entry.last_error or f"no attempt finished after {entry.attempts} tries"
    if entry.operation == OutboxOperation.APPLY:
        _mark_failed(entry.action_id, entry, error)
        return
    with transaction.atomic():
        if OutboxEntry.objects.filter(pk=entry.pk, gave_up_at__isnull=True, done_at__isnull=True).update(
            gave_up_at=timezone.now(), last_error=error, leased_until=None, lease_token=""
        ):
            _record_reversal_gave_up(entry.action_id, error)
