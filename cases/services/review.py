"""The reviewer's day: claim the next case, release/skip/escalate/assign it, decide it
(alone or in bulk), and the second person's approval or rejection.

Every function is one use case: keyword-only arguments, one transaction, the
permission check from `cases.permissions`, and its audit rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import BigIntegerField
from django.db.models.functions import Cast
from django.utils import timezone

import cases.review_audit_verbs  # noqa: F401
from cases import claim_statement, permissions, statements
from cases.models import (
    Case,
    CaseStatus,
    Decision,
    DetectorVerdict,
    Queue,
    Signal,
)
from cases.notices import write_decision_notices
from cases.services import strikes as strike_service
from cases.services import verdicts
from cases.services.enforcement import HumanGateViolation, approve_actions, reject_actions, stage_actions
from cases.services.intake import settle_reporters
from moderation import claims
from moderation.audit import record_event
from moderation.gate import protected_reasons
from moderation.models import (
    OUTCOME_RANK,
    STORY_OUTCOMES,
    AuditEvent,
    Outcome,
    Policy,
    SignalSource,
)
from moderation.platform import DEFAULT_HOLD_DAYS
from moderation.roles import is_service_user
from moderation.transitions import transition

CLAIMABLE_STATUSES = (CaseStatus.OPEN, CaseStatus.IN_REVIEW, CaseStatus.ESCALATED)
CASE_FLOW = {
    CaseStatus.OPEN: {
        CaseStatus.IN_REVIEW,
        CaseStatus.ESCALATED,
        CaseStatus.DECIDED,
        CaseStatus.DISMISSED,
        CaseStatus.AWAITING_APPROVAL,
    },
    CaseStatus.IN_REVIEW: {
        CaseStatus.OPEN,
        CaseStatus.ESCALATED,
        CaseStatus.DECIDED,
        CaseStatus.DISMISSED,
        CaseStatus.AWAITING_APPROVAL,
    },
    CaseStatus.ESCALATED: {
        CaseStatus.IN_REVIEW,
        CaseStatus.OPEN,
        CaseStatus.DECIDED,
        CaseStatus.DISMISSED,
        CaseStatus.AWAITING_APPROVAL,
    },
    CaseStatus.AWAITING_APPROVAL: {CaseStatus.DECIDED, CaseStatus.OPEN},
}
SKIP_MEMORY = timedelta(hours=1)
ESCALATION_QUEUE_SLUG = "escalations"


class ReviewError(Exception):
    """A move the reviewer should hear about in plain words (shown as a message)."""


class CaseAlreadyDecided(ReviewError):
    pass


def lease() -> timedelta:
    return timedelta(minutes=settings.MODERATION["CLAIM_LEASE_MINUTES"])


def assignment_lease() -> timedelta:
    return timedelta(hours=settings.MODERATION.get("ASSIGNMENT_LEASE_HOURS", 8))


def _refs(case) -> dict:
    return {"case_ref": case.pk}


# Claiming --------------------------------------------------------------------


def recently_skipped(*, user, now):
    """The cases the reviewer skipped in the last hour, as a subquery: the claim query
    reads them itself instead of a statement of their own. The verb is recorded on cases
    only (skip_case), so no target type is named (cases.claim_statement says why)."""
    return (
        AuditEvent.objects.filter(verb="case.skipped", actor=user, occurred_at__gte=now - SKIP_MEMORY)
        .annotate(case_pk=Cast("target_id", BigIntegerField()))
        .values("case_pk")
    )


def claimable_cases(*, queue: Queue):
    """A queue's workable cases in review order (highest priority, then oldest)."""
    return Case.objects.filter(queue=queue, status__in=CLAIMABLE_STATUSES).order_by("-priority", "opened_at", "id")


def next_case_candidates(*, user, queue: Queue, now):
    """What "Review next" picks from: the queue in review order, less what the reviewer
    skipped lately. claims.claim_next locks the first (SKIP LOCKED, LIMIT 1); the partial
    index case_claim_order_idx supplies the order, so no claim sorts the queue."""
    # The account comes along: the claim's audit rows name the case by it.
    return claimable_cases(queue=queue).exclude(pk__in=recently_skipped(user=user, now=now)).select_related("account")


def claim_next_case(*, user, queue: Queue, now=None) -> Case | None:
    """Give the reviewer the highest-priority unclaimed case of the queue, leased.

    On PostgreSQL the claim is one statement (cases.claim_statement: the same pick,
    lease, status move and audit rows as the ORM path below, which SQLite runs); being
    one statement it is atomic without a transaction of its own."""
    if not permissions.can_work_queue(user, queue):
        raise PermissionDenied(f"Your role may not work the {queue.name} queue.")
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return claim_statement.claim_next(
            user=user,
            queue_id=queue.pk,
            claimable=CLAIMABLE_STATUSES,
            to=CaseStatus.IN_REVIEW,
            allowed=CASE_FLOW,
            lease=lease(),
            now=now,
            skip_memory=SKIP_MEMORY,
        )
    return claim_next_case_orm(user=user, queue=queue, now=now)


def claim_next_case_orm(*, user, queue: Queue, now) -> Case | None:
    """The claim through the ORM: what SQLite runs, and what the one statement is held
    to (tests/cases/test_claim_statement.py). The caller checked the permission."""
    with transaction.atomic():
        candidates = next_case_candidates(user=user, queue=queue, now=now)
        case = claims.claim_next(candidates, user=user, lease=lease(), now=now, refs=_refs, start=_starter(user))
        if case is not None:
            _start_review(case, user=user)
    return case


def claim_case(*, user, case: Case, now=None) -> Case:
    """Open one named case for review (from a list), if nobody else holds it."""
    if not permissions.can_decide(user, case):
        raise PermissionDenied("You may not review this case.")
    now = now or timezone.now()
    with transaction.atomic():
        claimed = claims.claim_next(
            Case.objects.filter(pk=case.pk, status__in=CLAIMABLE_STATUSES),
            user=user,
            lease=lease(),
            now=now,
            refs=_refs,
            start=_starter(user),
        )
        if claimed is None:
            holder = Case.objects.filter(pk=case.pk).values_list("assignee__username", flat=True).first()
            raise ReviewError(f"Case #{case.pk} is being reviewed by {holder or 'someone else'}.")
        _start_review(claimed, user=user)
    return claimed


def _starter(user):
    """The claim's status move, checked on the row the claim locked and saved in the
    claim's own UPDATE (claims.claim_next's `start`)."""

    def start(case: Case, lease_fields: list[str]) -> None:
        if case.status == CaseStatus.IN_REVIEW:
            case.save(update_fields=lease_fields)
            return
        transition(
            case,
            to=CaseStatus.IN_REVIEW,
            allowed=CASE_FLOW,
            actor=user,
            verb="case.review_started",
            case_ref=case.pk,
            locked=True,
            also_save=lease_fields,
        )

    return start


def _start_review(case: Case, *, user) -> None:
    if case.status != CaseStatus.IN_REVIEW:
        transition(
            case, to=CaseStatus.IN_REVIEW, allowed=CASE_FLOW, actor=user, verb="case.review_started", case_ref=case.pk
        )


def renew_case_claim(*, user, case: Case, now=None) -> Case:
    return claims.renew_claim(case, user=user, lease=lease(), now=now, refs=_refs)


def release_case(*, user, case: Case, reason: str = "") -> Case:
    with transaction.atomic():
        claims.release_claim(case, user=user, reason=reason, refs=_refs)
        case.status = Case.objects.values_list("status", flat=True).get(pk=case.pk)
        if case.status == CaseStatus.IN_REVIEW:
            transition(
                case,
                to=CaseStatus.OPEN,
                allowed=CASE_FLOW,
                actor=user,
                verb="case.released",
                reason=reason,
                case_ref=case.pk,
            )
    return case


def skip_case(*, user, case: Case, reason: str) -> Case:
    """Put the case back and do not hand it to this reviewer again for a while."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why you skip this case."})
    with transaction.atomic():
        release_case(user=user, case=case, reason=reason)
        record_event(actor=user, verb="case.skipped", target=case, reason=reason, case_ref=case.pk)
    return case


def escalation_queue() -> Queue:
    queue = Queue.objects.filter(slug=ESCALATION_QUEUE_SLUG).first() or Queue.objects.filter(is_escalation=True).first()
    if queue is None:
        raise ReviewError("No escalation queue is configured.")
    return queue


def escalate_case(*, user, case: Case, reason: str) -> Case:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why you escalate this case."})
    if not permissions.can_decide(user, case):
        raise PermissionDenied("You may not escalate this case.")
    target = escalation_queue()
    with transaction.atomic():
        claims.release_claim(case, user=user, reason=reason, force=True, refs=_refs)
        transition(
            case,
            to=CaseStatus.ESCALATED,
            allowed={**CASE_FLOW, CaseStatus.ESCALATED: {CaseStatus.ESCALATED}},
            actor=user,
            verb="case.escalated",
            reason=reason,
            extra_updates={"queue": target, "sla_due_at": timezone.now() + target.sla},
            case_ref=case.pk,
        )
    return case


def assign_case(*, case: Case, assignee, by, now=None) -> Case:
    """A senior moderator or supervisor hands a case to a named reviewer."""
    if not permissions.can_assign(by):
        raise PermissionDenied("You may not assign cases.")
    if not permissions.can_decide(assignee, case):
        raise ValidationError({"assignee": f"{assignee.get_username()} may not work the {case.queue.name} queue."})
    with transaction.atomic():
        claims.assign_claim(
            case,
            to_user=assignee,
            by=by,
            lease=assignment_lease(),
            now=now,
            reason=f"assigned to {assignee.get_username()}",
            refs=_refs,
        )
        _start_review(case, user=by)
    return case


# Deciding --------------------------------------------------------------------


@dataclass
class DecisionInput:
    is_violation: bool
    policy: Policy | None
    outcomes: list[str]
    rationale: str
    statement: str
    detector_marks: dict[int, bool] = field(default_factory=dict)
    hold_days: int = DEFAULT_HOLD_DAYS
    override_reason: str = ""


def is_repeat_offender(case: Case, policy: Policy) -> bool:
    return (
        Decision.objects.filter(case__account_id=case.account_id, is_violation=True, policy__code=policy.code)
        .exclude(case=case)
        .filter(rejected_by__isnull=True)
        .exists()
    )


def outcome_ceiling(case: Case, policy: Policy, *, repeat: bool | None = None) -> int:
    """The harshest rank a reviewer may pick alone: the default, or the repeat
    outcomes when the account already broke this rule (`repeat`, when a list read it)."""
    outcomes = list(policy.default_outcomes)
    if is_repeat_offender(case, policy) if repeat is None else repeat:
        outcomes += list(policy.repeat_outcomes)
    return max((OUTCOME_RANK[Outcome(o)] for o in outcomes), default=0)


def four_eyes_reasons(
    case: Case,
    policy: Policy | None,
    outcomes: Iterable[str],
    *,
    repeat: bool | None = None,
    threshold: int | None = None,
) -> list[str]:
    """Why this decision needs a second person (empty: it does not). The protected
    cases (`moderation.gate.protected_reasons`) are held by the database as well;
    harsher-than-default is the services' own, stricter rule. A list passes `repeat`
    and `threshold` it read once for all its rows."""
    outcomes = [Outcome(o) for o in outcomes]
    if not outcomes or policy is None:
        return []
    reasons = protected_reasons(case.account, outcomes, threshold=threshold)
    ceiling = outcome_ceiling(case, policy, repeat=repeat)
    harsher = sorted(o.label for o in outcomes if OUTCOME_RANK[o] > ceiling)
    if harsher:
        reasons.insert(
            1 if reasons and reasons[0].startswith("severe") else 0,
            "harsher than the policy's default: " + ", ".join(harsher),
        )
    return reasons


def detector_signals(case: Case) -> list[Signal]:
    return list(case.signals.filter(source=SignalSource.DETECTOR).order_by("id"))


def validate_decision(case: Case, data: DecisionInput) -> None:
    errors: dict[str, list[str]] = {}
    if not (data.rationale or "").strip():
        errors.setdefault("rationale", []).append("Write the internal rationale.")
    if data.is_violation:
        if data.policy is None:
            errors.setdefault("policy", []).append("Choose the rule that was broken.")
        if not data.outcomes:
            errors.setdefault("outcomes", []).append("Choose at least one outcome.")
        if not (data.statement or "").strip():
            errors.setdefault("statement", []).append("Write the statement of reasons the writer will read.")
        if data.policy is not None:
            allowed = set(data.policy.allowed_outcomes)
            bad = [o for o in data.outcomes if o not in allowed]
            if bad:
                errors.setdefault("outcomes", []).append(
                    f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not allowed under {data.policy.code}."
                )
        if case.story_id is None and any(o in STORY_OUTCOMES for o in data.outcomes):
            errors.setdefault("outcomes", []).append("Story outcomes need a case about a story.")
        if not 1 <= data.hold_days <= 365:
            errors.setdefault("hold_days", []).append("An earnings hold lasts 1 to 365 days.")
    missing = [s.pk for s in detector_signals(case) if s.pk not in data.detector_marks]
    if missing:
        errors.setdefault("detector_marks", []).append(
            f"Mark every detector signal right or wrong (missing: {', '.join(f'#{m}' for m in missing)})."
        )
    if errors:
        raise ValidationError(errors)


def _already_decided_message(case: Case) -> str:
    decision = case.decisions.select_related("decided_by").order_by("-decided_at").first()
    if decision is None:
        return f"Case #{case.pk} is {case.get_status_display().lower()}."
    return (
        f"Case #{case.pk} was already decided by {decision.decided_by.get_username()} "
        f"at {timezone.localtime(decision.decided_at):%H:%M:%S}. Nothing was applied twice."
    )


def decide_case(
    *,
    case: Case,
    user,
    data: DecisionInput,
    handling_seconds: int | None = None,
    is_bulk: bool = False,
) -> Decision:
    """Record a reviewer's decision and stage its actions in one transaction.

    The reviewer must hold the case's claim (a bulk decision claims each case itself).
    Severe or unusually harsh outcomes, and any outcome on a big or Partner Program
    account, wait for a second person; everything else is approved at once.
    """
    if is_service_user(user):
        raise HumanGateViolation("Refused: a service client can propose outcomes but never decide.")
    if not permissions.can_work_queue(user, case.queue):
        raise PermissionDenied("You may not decide cases in this queue.")
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Case.objects.select_for_update(of=("self",)).select_related("account", "story", "queue").get(pk=case.pk)
        )
        if locked.status not in CLAIMABLE_STATUSES:
            raise CaseAlreadyDecided(_already_decided_message(locked))
        if is_bulk:
            if locked.assignee_id not in (None, user.pk) and locked.claim_expires_at > now:
                raise ReviewError(f"Case #{locked.pk} is being reviewed by {locked.assignee.get_username()}.")
        elif locked.assignee_id != user.pk:
            raise ReviewError(f"You no longer hold case #{locked.pk}: claim it again before deciding.")
        validate_decision(locked, data)
        proposal = strike_service.check_escalation(
            case=locked,
            is_violation=data.is_violation,
            policy=data.policy,
            outcomes=data.outcomes,
            override_reason=data.override_reason,
            now=now,
        )
        reasons = four_eyes_reasons(locked, data.policy, data.outcomes) if data.is_violation else []
        decision = Decision(
            case=locked,
            decided_by=user,
            is_violation=data.is_violation,
            policy=data.policy if data.is_violation else (data.policy or locked.policy),
            outcomes=[str(o) for o in data.outcomes] if data.is_violation else [],
            rationale=data.rationale.strip(),
            statement=(data.statement or "").strip() if data.is_violation else "",
            needs_approval=bool(reasons),
            is_bulk=is_bulk,
            decided_at=now,
            handling_seconds=handling_seconds,
        )
        decision.full_clean()
        decision.save()
        record_event(
            actor=user,
            verb="decision.recorded",
            target=decision,
            after={
                "is_violation": decision.is_violation,
                "policy": decision.policy.code if decision.policy else None,
                "outcomes": decision.outcomes,
                "needs_approval": decision.needs_approval,
                "is_bulk": is_bulk,
            },
            reason="; ".join(reasons),
            case_ref=locked.pk,
        )
        strike_service.record_proposal(
            decision=decision, proposal=proposal, override_reason=data.override_reason, actor=user
        )
        for signal in detector_signals(locked):
            DetectorVerdict.objects.create(
                decision=decision,
                signal=signal,
                detector_name=signal.detector_name,
                detector_version=signal.detector_version,
                was_correct=bool(data.detector_marks[signal.pk]),
            )
        verdicts.supersede_earlier_verdicts(decision=decision, actor=user, now=now)
        stage_actions(decision=decision, actor=user, hold_days=data.hold_days)
        if decision.needs_approval:
            to, verb = CaseStatus.AWAITING_APPROVAL, "case.awaiting_approval"
        elif decision.is_violation:
            to, verb = CaseStatus.DECIDED, "case.decided"
        else:
            to, verb = CaseStatus.DISMISSED, "case.dismissed"
        updates = {"assignee": None, "claim_expires_at": None}
        if to != CaseStatus.AWAITING_APPROVAL:
            updates["decided_at"] = now
        if decision.policy is not None:
            updates["policy"] = decision.policy
        transition(locked, to=to, allowed=CASE_FLOW, actor=user, verb=verb, extra_updates=updates, case_ref=locked.pk)
        if not decision.needs_approval:
            strike_service.settle_strikes(decision=decision, actor=user, now=now)
            write_decision_notices(decision=decision, actor=user)
            settle_reporters(case=locked, upheld=decision.is_violation, actor=user)
    case.status = locked.status
    return decision


def approve_decision(*, decision: Decision, approver) -> Decision:
    """The second person approves: the actions go to the outbox and the notices out."""
    if is_service_user(approver):
        raise HumanGateViolation("Refused: a service client can never approve.")
    with transaction.atomic():
        decision = Decision.objects.select_for_update().select_related("case", "decided_by").get(pk=decision.pk)
        if not permissions.can_approve(approver, decision):
            if decision.approved_by_id or decision.rejected_by_id:
                raise CaseAlreadyDecided(f"Decision #{decision.pk} was already settled by someone else.")
            if decision.decided_by_id == approver.pk:
                raise PermissionDenied("Four eyes: someone other than the decider must approve.")
            raise PermissionDenied("Only a senior moderator may approve this decision.")
        now = timezone.now()
        decision.approved_by = approver
        decision.approved_at = now
        decision.save(update_fields=["approved_by", "approved_at"])
        record_event(
            actor=approver,
            verb="decision.approved",
            target=decision,
            after={"approved_by": approver.get_username(), "decided_by": decision.decided_by.get_username()},
            case_ref=decision.case_id,
        )
        approve_actions(decision=decision, actor=approver)
        transition(
            decision.case,
            to=CaseStatus.DECIDED,
            allowed=CASE_FLOW,
            actor=approver,
            verb="case.decided",
            extra_updates={"decided_at": now},
            case_ref=decision.case_id,
        )
        strike_service.settle_strikes(decision=decision, actor=approver, now=now)
        write_decision_notices(decision=decision, actor=approver)
        settle_reporters(case=decision.case, upheld=True, actor=approver)
    return decision


def reject_decision(*, decision: Decision, approver, note: str) -> Decision:
    """The second person disagrees: nothing is applied and the case goes back to its queue."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why you do not approve, for the decider."})
    with transaction.atomic():
        decision = Decision.objects.select_for_update().select_related("case").get(pk=decision.pk)
        if not permissions.can_approve(approver, decision):
            if decision.approved_by_id or decision.rejected_by_id:
                raise CaseAlreadyDecided(f"Decision #{decision.pk} was already settled by someone else.")
            raise PermissionDenied("Only a senior moderator other than the decider may reject this decision.")
        decision.rejected_by = approver
        decision.rejection_note = note
        decision.save(update_fields=["rejected_by", "rejection_note"])
        record_event(actor=approver, verb="decision.rejected", target=decision, reason=note, case_ref=decision.case_id)
        reject_actions(decision=decision, actor=approver, note=note)
        transition(
            decision.case,
            to=CaseStatus.OPEN,
            allowed=CASE_FLOW,
            actor=approver,
            verb="case.reopened",
            reason=note,
            case_ref=decision.case_id,
        )
    return decision


# Bulk ------------------------------------------------------------------------


@dataclass
class BulkResult:
    decisions: list[Decision] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


STATEMENT_PLACEHOLDERS = tuple(statements.PLACEHOLDERS)


def statement_template_error(template: str) -> str | None:
    """Why a statement template cannot be filled in, or None (see `cases.statements`)."""
    return statements.template_error(template)


def render_statement(template: str, case: Case, policy: Policy | None, *, signals=None) -> str:
    """The facts paragraph of a statement: the template filled with the case's facts
    (`signals` from `statement_signals`, read once when filling one case's many templates)."""
    return statements.render_facts(template, case, policy, signals)


def statement_signals(case: Case) -> list:
    """The signals a statement counts, read once for all of one case's previews."""
    return statements.case_signals(case)


def bulk_decide(
    *,
    cases: Iterable[Case],
    user,
    is_violation: bool,
    policy: Policy | None,
    outcomes: list[str],
    rationale: str,
    statement_template: str,
    detectors_correct: bool,
    hold_days: int = DEFAULT_HOLD_DAYS,
) -> BulkResult:
    """Decide many cases alike (a ring): each case gets its own decision, actions,
    statement, notices and audit rows; one case failing does not stop the rest."""
    result = BulkResult()
    for case in cases:
        data = DecisionInput(
            is_violation=is_violation,
            policy=policy,
            outcomes=outcomes,
            rationale=rationale,
            statement=render_statement(statement_template, case, policy),
            detector_marks={s.pk: detectors_correct for s in detector_signals(case)},
            hold_days=hold_days,
        )
        try:
            result.decisions.append(decide_case(case=case, user=user, data=data, is_bulk=True))
        except ValidationError as exc:
            result.skipped.append((case.pk, "; ".join(m for msgs in exc.message_dict.values() for m in msgs)))
        except (ReviewError, PermissionDenied) as exc:
            result.skipped.append((case.pk, str(exc)))
    return result
