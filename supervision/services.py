"""Every state change of the supervision area: chain checks, QA sampling and blind second
review, settlement, golden cases, re-queueing and detector recalls. Each writes its
audit event in the same transaction."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case as DbCase
from django.db.models import Count, Min, Q, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from cases.models import Case, Decision, EnforcementAction, ReversalCause, Signal, VerdictSource
from cases.services.requeue import REQUEUE_TRANSITIONS, RequeueRefused, requeue_case  # noqa: F401
from cases.services.verdicts import current_verdicts, revise_verdicts
from moderation.audit import record_event, verify_chain
from moderation.audit_sequencer import AuditLogTampered, run_sequencer
from moderation.claims import ClaimLost, claim_next, held_by, release_claim
from moderation.jobs import enqueue
from moderation.models import Outcome, Policy, SignalSource
from moderation.transitions import transition
from supervision import permissions, selectors
from supervision.models import (
    ActionDailyCounts,
    AuditChainCheck,
    CaseDailyCounts,
    DetectorActionDailyCounts,
    DetectorDailyCounts,
    DetectorRecall,
    GoldenCase,
    QAKind,
    QASample,
    QASamplingRule,
    QAStatus,
    RecallMode,
    RecallSelection,
    RecallStatus,
    RolledUpDay,
    RollupStaleMark,
    Settlement,
    SignalDailyCounts,
)

RECALL_BATCH_SIZE = 50
QA_TRANSITIONS = {
    QAStatus.PENDING: {QAStatus.AGREED, QAStatus.DISAGREED},
    QAStatus.DISAGREED: {QAStatus.SETTLED},
}
RECALL_TRANSITIONS = {
    RecallStatus.DRAFT: {RecallStatus.QUEUED},
    RecallStatus.QUEUED: {RecallStatus.RUNNING, RecallStatus.FAILED},
    RecallStatus.RUNNING: {RecallStatus.DONE, RecallStatus.FAILED},
    RecallStatus.FAILED: {RecallStatus.RUNNING},
}


class RecallListingChanged(Exception):
    """The targets differ from the dry run the supervisor confirmed."""


def _qa_lease() -> timedelta:
    return timedelta(minutes=settings.MODERATION["CLAIM_LEASE_MINUTES"])


def _qa_refs(sample: QASample) -> dict:
    return {"case_ref": sample.case_id}


# --- audit chain ------------------------------------------------------------------------


def check_audit_chain(*, actor) -> AuditChainCheck:
    """Chain what is waiting and sign a head, walk the chain against every signed head, keep
    the result and record that the check ran (after the walk, so the new event is not part
    of what it vouches for). A sequencer that refuses (table and heads disagree) is no
    reason to skip the walk: the walk names what was done."""
    if not permissions.can_verify_chain(actor):
        raise PermissionDenied("Only a supervisor may run the audit chain check.")
    with contextlib.suppress(AuditLogTampered):
        run_sequencer()
    report = verify_chain()
    with transaction.atomic():
        check = AuditChainCheck(
            checked_by=actor,
            checked_at=timezone.now(),
            events_checked=report.checked,
            broken_at=report.broken_at,
            problem=report.problem[:200],
        )
        check.full_clean()
        check.save()
        record_event(
            actor=actor,
            verb="audit.chain_verified",
            target=check,
            after={
                "checked": report.checked,
                "broken_at": report.broken_at,
                "problem": report.problem,
                "kinds": list(report.kinds),
                "heads_checked": report.heads_checked,
                "newest_head_size": report.newest_head_size,
            },
        )
    check.report = report
    return check


# --- QA sampling rules and golden cases --------------------------------------------------


@transaction.atomic
def save_sampling_rule(*, actor, rule: QASamplingRule) -> QASamplingRule:
    """Create or change a sampling rule (built by the admin form)."""
    if not permissions.can_settle_qa(actor):
        raise PermissionDenied("Only a supervisor may change QA sampling.")
    before = {}
    if rule.pk:
        old = QASamplingRule.objects.filter(pk=rule.pk).values("queue", "policy_code", "share_percent", "is_active")
        before = old.first() or {}
    rule.full_clean()
    rule.save()
    record_event(
        actor=actor,
        verb="qa.rule_saved",
        target=rule,
        before=before,
        after={
            "queue": rule.queue_id,
            "policy_code": rule.policy_code,
            "share_percent": rule.share_percent,
            "is_active": rule.is_active,
        },
    )
    return rule


@transaction.atomic
def save_golden_case(*, actor, golden: GoldenCase) -> GoldenCase:
    """Create or change a golden case and its known answer."""
    if not permissions.can_settle_qa(actor):
        raise PermissionDenied("Only a supervisor may keep golden cases.")
    if not golden.pk:
        golden.created_by = actor
    golden.expected_outcomes = _clean_outcomes(golden.expected_outcomes, field="expected_outcomes")
    golden.full_clean()
    golden.save()
    record_event(
        actor=actor,
        verb="qa.golden_saved",
        target=golden,
        after={
            "expected_is_violation": golden.expected_is_violation,
            "expected_policy": str(golden.expected_policy) if golden.expected_policy_id else None,
            "expected_outcomes": golden.expected_outcomes,
            "is_active": golden.is_active,
        },
        case_ref=golden.case_id,
    )
    return golden


def _clean_outcomes(outcomes: Iterable[str], *, field: str) -> list[str]:
    outcomes = list(dict.fromkeys(outcomes or []))
    unknown = [o for o in outcomes if o not in Outcome.values]
    if unknown:
        raise ValidationError({field: f"Unknown outcome(s): {', '.join(unknown)}."})
    return outcomes


# --- sampling ----------------------------------------------------------------------------


def draw(decision_id: int) -> float:
    """A stable pseudo-random number in [0, 100) per decision: re-running the sampler
    (or auditing it later) gives the same draw."""
    digest = hashlib.sha256(f"qa-sample:{decision_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def sampling_share(decision: Decision, rules: Iterable[QASamplingRule]) -> int:
    """The highest share among the active rules matching the decision's queue and policy."""
    code = decision.policy.code if decision.policy_id else ""
    shares = [
        rule.share_percent
        for rule in rules
        if rule.is_active
        and (rule.queue_id is None or rule.queue_id == decision.case.queue_id)
        and (not rule.policy_code or rule.policy_code == code)
    ]
    return max(shares, default=0)


def _is_final(decision: Decision) -> bool:
    return decision.is_approved and decision.rejected_by_id is None


def maybe_sample_for_qa(
    *, decision: Decision, rules: Iterable[QASamplingRule] | None = None, now: datetime | None = None
) -> QASample | None:
    """Draw one final decision into the QA queue if its share says so (at most once)."""
    if rules is None:
        rules = list(QASamplingRule.objects.filter(is_active=True))
    if not _is_final(decision):
        return None
    share = sampling_share(decision, rules)
    if share <= 0 or draw(decision.pk) >= share:
        return None
    with transaction.atomic():
        if QASample.objects.filter(decision=decision).exists():
            return None
        sample = QASample(
            kind=QAKind.SAMPLED,
            case_id=decision.case_id,
            decision=decision,
            original_reviewer_id=decision.decided_by_id,
            created_at=now or timezone.now(),
        )
        sample.full_clean()
        sample.save()
        record_event(
            actor=None,
            verb="qa.sampled",
            target=sample,
            after={"decision": decision.pk, "share_percent": share},
            case_ref=decision.case_id,
        )
    return sample


def sample_recent_decisions(*, since: datetime, now: datetime | None = None) -> list[QASample]:
    """The periodic sampler (`manage.py sample_for_qa`): every final decision since
    `since` not yet drawn gets its draw; then golden cases are topped up to one per
    QA_GOLDEN_EVERY sampled decisions."""
    now = now or timezone.now()
    rules = list(QASamplingRule.objects.filter(is_active=True))
    sampled: list[QASample] = []
    if rules:
        candidates = (
            Decision.objects.filter(decided_at__gte=since, decided_at__lt=now, qa_sample__isnull=True)
            .filter(Q(needs_approval=False) | Q(approved_by__isnull=False), rejected_by__isnull=True)
            .select_related("case", "policy")
            .order_by("decided_at", "id")
        )
        for decision in candidates.iterator(chunk_size=500):
            sample = maybe_sample_for_qa(decision=decision, rules=rules, now=now)
            if sample is not None:
                sampled.append(sample)
    sampled.extend(top_up_golden_samples(now=now))
    return sampled


def top_up_golden_samples(*, now: datetime | None = None) -> list[QASample]:
    every = settings.MODERATION.get("QA_GOLDEN_EVERY", 10)
    wanted = QASample.objects.filter(kind=QAKind.SAMPLED).count() // every if every else 0
    missing = wanted - QASample.objects.filter(kind=QAKind.GOLDEN).count()
    goldens = list(GoldenCase.objects.filter(is_active=True).order_by("id"))
    if missing <= 0 or not goldens:
        return []
    used = dict(
        QASample.objects.filter(kind=QAKind.GOLDEN)
        .values("golden")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("golden", "n")
    )
    mixed = []
    for _ in range(missing):
        golden = min(goldens, key=lambda g: (used.get(g.pk, 0), g.pk))
        mixed.append(mix_in_golden_case(golden=golden, actor=None, now=now))
        used[golden.pk] = used.get(golden.pk, 0) + 1
    return mixed


@transaction.atomic
def mix_in_golden_case(*, golden: GoldenCase, actor, now: datetime | None = None) -> QASample:
    """Put a golden case into the QA queue; reviewers cannot tell it from a sampled one."""
    if actor is not None and not permissions.can_settle_qa(actor):
        raise PermissionDenied("Only a supervisor may mix golden cases in.")
    if not golden.is_active:
        raise ValidationError("This golden case is retired.")
    first = golden.case.decisions.order_by("decided_at", "id").values_list("decided_by", flat=True).first()
    sample = QASample(
        kind=QAKind.GOLDEN,
        case_id=golden.case_id,
        golden=golden,
        original_reviewer_id=first,
        created_at=now or timezone.now(),
    )
    sample.full_clean()
    sample.save()
    record_event(actor=actor, verb="qa.golden_mixed_in", target=sample, case_ref=golden.case_id)
    return sample


# --- blind second review -------------------------------------------------------------------


def claim_next_qa_sample(*, user, now: datetime | None = None) -> QASample | None:
    if not permissions.can_qa_review(user):
        raise PermissionDenied("Only reviewers give blind second decisions.")
    return claim_next(selectors.qa_queue_for(user), user=user, lease=_qa_lease(), now=now, refs=_qa_refs)


def release_qa_sample(*, sample: QASample, user) -> QASample:
    return release_claim(sample, user=user, refs=_qa_refs)


def _answer(sample: QASample) -> tuple[bool, str | None, list[str]]:
    """The first answer the QA reviewer is compared with: the decision, or the golden one."""
    if sample.kind == QAKind.GOLDEN:
        golden = sample.golden
        code = golden.expected_policy.code if golden.expected_policy_id else None
        return golden.expected_is_violation, code, list(golden.expected_outcomes)
    decision = sample.decision
    return decision.is_violation, decision.policy.code if decision.policy_id else None, list(decision.outcomes)


def answers_agree(first: tuple[bool, str | None, list[str]], second: tuple[bool, str | None, list[str]]) -> bool:
    """Same verdict and, for a violation, the same policy. Outcomes may differ (a milder
    outcome is a reviewer's right); the supervisor sees them when settling."""
    if first[0] != second[0]:
        return False
    return not first[0] or first[1] == second[1]


@transaction.atomic
def submit_qa_review(
    *,
    sample: QASample,
    user,
    is_violation: bool,
    policy: Policy | None,
    outcomes: Iterable[str],
    note: str = "",
    now: datetime | None = None,
) -> QASample:
    """Record the blind second decision; an agreement closes the sample, a disagreement
    goes to a supervisor."""
    now = now or timezone.now()
    # Lock the sample row alone: PostgreSQL refuses FOR UPDATE across the nullable joins.
    sample = QASample.objects.select_for_update().get(pk=sample.pk)
    if not permissions.can_qa_review_sample(user, sample):
        raise PermissionDenied("You took part in this decision, or may not give second decisions.")
    if sample.status != QAStatus.PENDING:
        raise ValidationError("This sample has already been reviewed.")
    if not QASample.objects.filter(held_by(user, now), pk=sample.pk).exists() and sample.assignee_id not in (
        None,
        user.pk,
    ):
        raise ClaimLost("Someone else holds this QA sample.")
    if is_violation and policy is None:
        raise ValidationError({"policy": "Name the policy that was broken."})
    outcomes = _clean_outcomes(outcomes, field="outcomes") if is_violation else []
    code = policy.code if (is_violation and policy) else None
    agrees = answers_agree(_answer(sample), (is_violation, code, outcomes))
    transition(
        sample,
        to=QAStatus.AGREED if agrees else QAStatus.DISAGREED,
        allowed=QA_TRANSITIONS,
        actor=user,
        verb="qa.reviewed",
        reason=note,
        extra_updates={
            "qa_reviewer": user,
            "qa_is_violation": is_violation,
            "qa_policy": policy if is_violation else None,
            "qa_outcomes": outcomes,
            "qa_note": note,
            "qa_decided_at": now,
            "agrees": agrees,
            "assignee": None,
            "claim_expires_at": None,
        },
        case_ref=sample.case_id,
    )
    return sample


@transaction.atomic
def settle_qa_disagreement(
    *, sample: QASample, actor, settlement: str, note: str, requeue: bool = False, now: datetime | None = None
) -> QASample:
    """A supervisor decides which answer was right. When the first decision was wrong,
    the case may be sent back for a fresh human decision.

    "QA reviewer was right" is the final word on the detectors: their marks on the first
    decision (unless a later decision superseded them) follow the QA answer (right when
    it found a violation). "Neither" tells us only that both were wrong, so the marks
    wait for the fresh decision a re-queue asks for."""
    if not permissions.can_settle_qa(actor):
        raise PermissionDenied("Only a supervisor settles QA disagreements.")
    if settlement not in Settlement.values:
        raise ValidationError({"settlement": "Choose who was right."})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why, for the reviewers' feedback."})
    if requeue and settlement == Settlement.FIRST_RIGHT:
        raise ValidationError({"requeue": "The first decision stands; there is nothing to review again."})
    now = now or timezone.now()
    transition(
        sample,
        to=QAStatus.SETTLED,
        allowed=QA_TRANSITIONS,
        actor=actor,
        verb="qa.settled",
        reason=Settlement(settlement).label,
        extra_updates={"settled_by": actor, "settlement": settlement, "settlement_note": note, "settled_at": now},
        case_ref=sample.case_id,
    )
    if settlement == Settlement.SECOND_RIGHT and sample.kind == QAKind.SAMPLED:
        revise_verdicts(
            verdicts=current_verdicts().filter(decision_id=sample.decision_id),
            correct=bool(sample.qa_is_violation),
            source=VerdictSource.QA,
            actor=actor,
            reason=f"QA #{sample.pk} settled: {Settlement(settlement).label}",
            now=now,
        )
    if requeue:
        requeue_case(case=sample.case, actor=actor, reason=f"QA #{sample.pk}: {note}", now=now)
    return sample


# --- re-queueing for fresh human review ---------------------------------------------------------


# `requeue_case` and `RequeueRefused` live in cases.services.requeue (appeals use them
# too); imported above so callers of this module keep working.


# --- detector recall --------------------------------------------------------------------------


def _check_recaller(actor) -> None:
    if not permissions.can_recall_detector(actor):
        raise PermissionDenied("Only a supervisor may recall a detector.")


def draft_detector_recall(
    *, actor, name: str, version: str, mode: str, selection: str, now: datetime | None = None
) -> DetectorRecall:
    """Start (or restart) the supervisor's draft plan for one detector version: the mode
    and the picks the selection implies (everything, only the disputed, or nothing), which
    the supervisor then adjusts page by page. Changes nothing on the platform."""
    from supervision import recall_plans

    _check_recaller(actor)
    if mode not in RecallMode.values:
        raise ValidationError({"mode": "Choose re-queue or reverse."})
    if selection not in RecallSelection.values:
        raise ValidationError({"selection": "Choose what to start the plan from."})
    picks = recall_plans.selection_ids(name=name, version=version, mode=mode, selection=selection)
    with transaction.atomic():
        recall = (
            DetectorRecall.objects.select_for_update()
            .filter(requested_by=actor, detector_name=name, detector_version=version, status=RecallStatus.DRAFT)
            .first()
        )
        if recall is None:
            recall = DetectorRecall(
                detector_name=name,
                detector_version=version,
                requested_by=actor,
                status=RecallStatus.DRAFT,
                created_at=now or timezone.now(),
            )
        recall.mode = mode
        recall.selection = selection
        recall.picked_ids = picks
        recall.full_clean(exclude=["reason"], validate_constraints=False)
        recall.save()
        record_event(
            actor=actor,
            verb="recall.drafted",
            target=recall,
            after={"detector": f"{name} {version}", "mode": mode, "selection": selection, "picked": len(picks)},
        )
    return recall


def pick_recall_targets(*, recall: DetectorRecall, actor, shown_ids: Iterable[int], picked_ids: Iterable[int]):
    """Save the checkboxes of one page of the draft: of the ids shown on that page, the
    ticked ones are in the plan and the others are not; other pages keep their picks."""
    from supervision import recall_plans

    _check_recaller(actor)
    with transaction.atomic():
        recall = DetectorRecall.objects.select_for_update().get(pk=recall.pk)
        if recall.status != RecallStatus.DRAFT or recall.requested_by_id != actor.pk:
            raise PermissionDenied("Only the supervisor's own draft plan can be changed.")
        shown = set(shown_ids)
        eligible = set(
            recall_plans.eligible_ids(name=recall.detector_name, version=recall.detector_version, mode=recall.mode)
        )
        ticked = set(picked_ids) & shown & eligible
        recall.picked_ids = sorted((set(recall.picked_ids) - shown) | ticked)
        recall.save(update_fields=["picked_ids"])
    return recall


def confirm_detector_recall(
    *, recall: DetectorRecall, actor, reason: str, writer_statement: str = "", fingerprint: str
) -> DetectorRecall:
    """Freeze the draft's targets as the supervisor saw them and start the job. If what
    the plan resolves to changed since (new decisions, reversals), refuse: the
    supervisor confirms again on the new plan."""
    from supervision import recall_plans

    _check_recaller(actor)
    reason = (reason or "").strip()
    writer_statement = (writer_statement or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for the recall."})
    with transaction.atomic():
        recall = DetectorRecall.objects.select_for_update().get(pk=recall.pk)
        if recall.status != RecallStatus.DRAFT or recall.requested_by_id != actor.pk:
            raise PermissionDenied("Only the supervisor's own draft plan can be confirmed.")
        if recall.mode == RecallMode.REVERSE and not writer_statement:
            raise ValidationError({"writer_statement": "Write what the writers will read in their notice."})
        targets = recall_plans.plan_targets(recall)
        if targets.fingerprint != fingerprint:
            raise RecallListingChanged("The cases and actions changed since your dry run. Review the new listing.")
        if not targets.ids:
            raise ValidationError({"confirm": "The plan is empty: pick at least one case or action."})
        return _freeze(recall, actor=actor, targets=targets.ids, reason=reason, writer_statement=writer_statement)


def _freeze(recall: DetectorRecall, *, actor, targets: list[int], reason: str, writer_statement: str):
    from supervision import jobs

    transition(
        recall,
        to=RecallStatus.QUEUED,
        allowed=RECALL_TRANSITIONS,
        actor=actor,
        verb="recall.started",
        reason=reason,
        extra_updates={
            "reason": reason,
            "writer_statement": writer_statement if recall.mode == RecallMode.REVERSE else "",
            "case_ids": targets if recall.mode == RecallMode.REQUEUE else [],
            "action_ids": targets if recall.mode == RecallMode.REVERSE else [],
            "progress_total": len(targets),
            "progress_done": 0,
            "picked_ids": [],
        },
    )
    enqueue(jobs.run_detector_recall_job, recall.pk)
    return recall


def start_detector_recall(
    *,
    actor,
    name: str,
    version: str,
    mode: str,
    reason: str,
    writer_statement: str = "",
    fingerprint: str,
    now: datetime | None = None,
) -> DetectorRecall:
    """Recall everything the version touched in one go (the "all" plan), frozen from the
    listing the supervisor saw; refused if that listing changed since."""
    _check_recaller(actor)
    if mode not in RecallMode.values:
        raise ValidationError({"mode": "Choose re-queue or reverse."})
    with transaction.atomic():
        listing = selectors.recall_listing(name=name, version=version)
        if listing.fingerprint(mode) != fingerprint:
            raise RecallListingChanged("The cases and actions changed since your dry run. Review the new listing.")
        recall = draft_detector_recall(
            actor=actor, name=name, version=version, mode=mode, selection=RecallSelection.ALL, now=now
        )
        from supervision import recall_plans

        return _freeze(
            recall,
            actor=actor,
            targets=recall_plans.plan_targets(recall).ids,
            reason=(reason or "").strip(),
            writer_statement=(writer_statement or "").strip(),
        )


def resume_detector_recall(*, recall: DetectorRecall, actor) -> DetectorRecall:
    """A supervisor restarts a recall that failed or stalled (its worker died). Running
    it again is safe: each batch is one transaction under the recall's row lock."""
    from supervision import jobs

    _check_recaller(actor)
    with transaction.atomic():
        recall = DetectorRecall.objects.select_for_update().get(pk=recall.pk)
        if recall.status not in (RecallStatus.QUEUED, RecallStatus.RUNNING, RecallStatus.FAILED):
            raise ValidationError(f"This recall is {recall.get_status_display().lower()}; there is nothing to resume.")
        record_event(
            actor=actor,
            verb="recall.resumed",
            target=recall,
            after={"status": recall.status, "progress_done": recall.progress_done},
        )
        enqueue(jobs.run_detector_recall_job, recall.pk)
    return recall


def resume_stalled_recalls(*, stall: timedelta = timedelta(minutes=10), now: datetime | None = None) -> list[int]:
    """The periodic catch-up: recalls queued or running with no finished batch for
    `stall` (a lost enqueue, a killed worker) are enqueued again."""
    from supervision import jobs

    now = now or timezone.now()
    cutoff = now - stall
    stalled = list(
        DetectorRecall.objects.filter(
            Q(status=RecallStatus.QUEUED, created_at__lte=cutoff)
            | Q(status=RecallStatus.RUNNING, last_progress_at__lte=cutoff)
            | Q(status=RecallStatus.RUNNING, last_progress_at__isnull=True, started_at__lte=cutoff)
        ).values_list("pk", flat=True)
    )
    for pk in stalled:
        enqueue(jobs.run_detector_recall_job, pk)
    return stalled


def run_detector_recall(*, recall_id: int, batch_size: int | None = None) -> DetectorRecall:
    """Job body. Works through the frozen targets in batches, each one transaction
    holding the recall's row lock, so a second runner waits and then carries on where
    the first stopped, and a run killed mid-batch leaves nothing of that batch behind.
    Reverse-mode batches never split an account, so each account gets one notice."""
    with transaction.atomic():
        recall = DetectorRecall.objects.select_for_update().get(pk=recall_id)
        if recall.status in (RecallStatus.QUEUED, RecallStatus.FAILED):
            transition(
                recall,
                to=RecallStatus.RUNNING,
                allowed=RECALL_TRANSITIONS,
                actor=recall.requested_by,
                verb="recall.running",
                extra_updates={"started_at": recall.started_at or timezone.now(), "last_error": ""},
            )
        elif recall.status != RecallStatus.RUNNING:
            return recall
    try:
        while True:
            with transaction.atomic():
                recall = DetectorRecall.objects.select_for_update().get(pk=recall_id)
                targets = recall.case_ids if recall.mode == RecallMode.REQUEUE else recall.action_ids
                if recall.status != RecallStatus.RUNNING or recall.progress_done >= len(targets):
                    break
                batch = _next_batch(recall, targets, batch_size or RECALL_BATCH_SIZE)
                skipped = (
                    _requeue_batch(recall, batch)
                    if recall.mode == RecallMode.REQUEUE
                    else _reverse_batch(recall, batch)
                )
                recall.progress_done += len(batch)
                recall.skipped = [*recall.skipped, *skipped]
                recall.last_progress_at = timezone.now()
                recall.save(update_fields=["progress_done", "skipped", "last_progress_at"])
    except Exception as exc:
        with transaction.atomic():
            transition(
                recall,
                to=RecallStatus.FAILED,
                allowed=RECALL_TRANSITIONS,
                actor=recall.requested_by,
                verb="recall.failed",
                reason=str(exc)[:500],
                extra_updates={"last_error": str(exc)[:2000]},
            )
        raise
    with transaction.atomic():
        recall = DetectorRecall.objects.select_for_update().get(pk=recall_id)
        if recall.status != RecallStatus.RUNNING:
            return recall
        return transition(
            recall,
            to=RecallStatus.DONE,
            allowed=RECALL_TRANSITIONS,
            actor=recall.requested_by,
            verb="recall.finished",
            reason=recall.reason,
            extra_updates={"finished_at": timezone.now()},
        )


def _next_batch(recall: DetectorRecall, targets: list[int], size: int) -> list[int]:
    """The next `size` targets, extended in reverse mode to the end of the last account's
    actions (the frozen order groups each account's actions together)."""
    start = recall.progress_done
    end = min(start + size, len(targets))
    if recall.mode != RecallMode.REVERSE:
        return targets[start:end]
    while end < len(targets):
        window = targets[end - 1 : end + size]
        accounts = dict(EnforcementAction.objects.filter(pk__in=window).values_list("pk", "account_id"))
        last = accounts[targets[end - 1]]
        extended = end
        while extended < end - 1 + len(window) and accounts.get(targets[extended]) == last:
            extended += 1
        if extended == end:
            break
        end = extended
    return targets[start:end]


def _requeue_batch(recall: DetectorRecall, case_ids: list[int]) -> list[dict]:
    skipped = []
    reason = f"Recall of {recall.detector_name} {recall.detector_version}: {recall.reason}"
    for case in Case.objects.filter(pk__in=case_ids).order_by("id"):
        try:
            requeue_case(case=case, actor=recall.requested_by, reason=reason)
        except RequeueRefused as exc:
            skipped.append({"case": case.pk, "why": str(exc)})
    return skipped


def _reverse_batch(recall: DetectorRecall, action_ids: list[int]) -> list[dict]:
    from appeals.services import reverse_actions

    actions = list(EnforcementAction.objects.filter(pk__in=action_ids).order_by("account_id", "id"))
    skipped = [
        {"action": a.pk, "why": f"{a.get_status_display()}, no longer applied"}
        for a in actions
        if a.status != "applied"
    ]
    reverse_actions(
        actions=[a for a in actions if a.status == "applied"],
        actor=recall.requested_by,
        reason=f"Recall of {recall.detector_name} {recall.detector_version}: {recall.reason}",
        writer_statement=recall.writer_statement,
        cause=ReversalCause.RECALL,
        notice_key=f"recall-{recall.pk}",
    )
    return skipped


# --- the dashboard's daily rollup ---------------------------------------------------------

# The rollup counts up to this long before it runs. The triggers mark writes to facts
# older than a minute, so a write they did not mark has committed by the time a run
# counts its fact, unless its transaction stayed open for the rest of this lag.
ROLLUP_LAG = timedelta(minutes=15)
ROLLUP_DAYS_PER_TRANSACTION = 31
ROLLUP_HISTORY = timedelta(days=120)


@dataclass
class RollupRun:
    """What a run counted: (day, through) pairs, and the stale marks it cleared."""

    days: list[tuple[date, datetime]] = field(default_factory=list)
    stale_marks: int = 0


def _upsert(model, queryset, columns: list[str], constraint: str, totals: list[str]) -> None:
    """INSERT INTO model (columns) SELECT … ON CONFLICT ON CONSTRAINT … DO UPDATE: the
    grouped rows never come back to Python, and a run overlapping another overwrites it
    instead of failing on the key."""
    sql, params = queryset.query.sql_with_params()
    quote = connection.ops.quote_name
    table, names = quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in totals)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM ({sql}) AS grouped "  # noqa: S608 (meta, ORM SQL)
            f"ON CONFLICT ON CONSTRAINT {quote(constraint)} DO UPDATE SET {updates}",
            params,
        )


def _roll_up(days: list[tuple[date, datetime]], *, now: datetime) -> int:
    """Recount each (day, through) from the live tables, in one transaction; returns the
    stale marks it cleared. The marks are read first and deleted by id: a write
    committing meanwhile leaves a mark this run did not read, so its day stays stale
    until the next run."""
    tz = timezone.get_default_timezone()
    spans = selectors.merged_spans((selectors.day_start(day), through) for day, through in days)
    only = [day for day, _ in days]
    with transaction.atomic():
        marks = list(RollupStaleMark.objects.filter(day__in=only).values_list("pk", flat=True))
        for model in (
            CaseDailyCounts,
            DetectorDailyCounts,
            SignalDailyCounts,
            ActionDailyCounts,
            DetectorActionDailyCounts,
        ):
            model.objects.filter(day__in=only).delete()
        _upsert(
            CaseDailyCounts,
            Case.objects.filter(selectors.in_spans("opened_at", spans))
            .annotate(day=TruncDate("opened_at", tzinfo=tz))
            .values("day", "queue_id", "policy_id", "policy_family", "automated_origin")
            .annotate(cases=Count("opened_at"))
            .order_by(),
            ["day", "queue_id", "policy_id", "policy_family", "automated_origin", "cases"],
            "case_daily_counts_key",
            ["cases"],
        )
        _upsert(
            DetectorDailyCounts,
            Signal.objects.filter(selectors.in_spans("case__opened_at", spans), source=SignalSource.DETECTOR)
            .values("detector_name", "detector_version", day=TruncDate("case__opened_at", tzinfo=tz))
            .annotate(cases=Count("case", distinct=True))
            .order_by(),
            ["day", "detector_name", "detector_version", "cases"],
            "detector_daily_counts_key",
            ["cases"],
        )
        _upsert(
            SignalDailyCounts,
            Signal.objects.filter(selectors.in_spans("received_at", spans))
            .values("source", day=TruncDate("received_at", tzinfo=tz))
            .annotate(signals=Count("received_at"))
            .order_by(),
            ["day", "source", "signals"],
            "signal_daily_counts_key",
            ["signals"],
        )
        applied = EnforcementAction.objects.filter(selectors.in_spans("applied_at", spans))
        _upsert(
            ActionDailyCounts,
            applied.annotate(
                day=TruncDate("applied_at", tzinfo=tz),
                automated=DbCase(When(selectors.automated_action(), then=Value(True)), default=Value(False)),
            )
            .values("day", "automated")
            .annotate(actions=Count("id"))
            .order_by(),
            ["day", "automated", "actions"],
            "action_daily_counts_key",
            ["actions"],
        )
        _upsert(
            DetectorActionDailyCounts,
            selectors.detector_actions_applied(applied, day=TruncDate("applied_at", tzinfo=tz)),
            ["day", "detector_name", "detector_version", "applied", "overturned"],
            "detector_action_daily_counts_key",
            ["applied", "overturned"],
        )
        RolledUpDay.objects.bulk_create(
            [RolledUpDay(day=day, through=through, rolled_at=now) for day, through in days],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["through", "rolled_at"],
        )
        RollupStaleMark.objects.filter(pk__in=marks).delete()
    return len(marks)


def days_to_roll_up(
    *, now: datetime, since: date | None = None, everything: bool = False
) -> list[tuple[date, datetime]]:
    """(day, through) for each day from `since` (default: the first case or signal, or
    ROLLUP_HISTORY ago if that is earlier) to today that is not rolled up to its end, was
    marked stale, or (with `everything`) any. `through` is the day's end, or ROLLUP_LAG
    before `now` for today."""
    cutoff = now - ROLLUP_LAG
    last = selectors.local_day(cutoff)
    if since is None:
        firsts = [
            Case.objects.aggregate(first=Min("opened_at"))["first"],
            Signal.objects.aggregate(first=Min("received_at"))["first"],
        ]
        # Empty days are rolled up too (as zeros), back far enough for the default period
        # and its trend window, so the page never counts live what has no rows.
        since = min([selectors.local_day(f) for f in firsts if f is not None] + [last - ROLLUP_HISTORY])
    wanted = {since + timedelta(days=n) for n in range((last - since).days + 1)}
    if not everything:
        wanted -= {
            day
            for day, through in RolledUpDay.objects.filter(day__gte=since, day__lte=last).values_list("day", "through")
            if through >= selectors.day_end(day)
        }
        wanted |= set(RollupStaleMark.objects.filter(day__lte=last).values_list("day", flat=True))
    return [(day, min(selectors.day_end(day), cutoff)) for day in sorted(wanted)]


def roll_up_supervision_days(
    *, now: datetime | None = None, since: date | None = None, everything: bool = False
) -> RollupRun:
    """Fill the dashboard's daily rollup: days not rolled up to their end yet (today up to
    ROLLUP_LAG ago) and days a later write marked stale (supervision 0007's triggers), a
    month per transaction. Every few minutes from supervision/cron.py; a finished day is
    counted once, so a run recounts only today and stale days. Safe to overlap and re-run.
    Off PostgreSQL no triggers keep it fresh, so it does nothing (the dashboard counts live)."""
    run = RollupRun()
    if not selectors.rollup_in_use():
        return run
    now = now or timezone.now()
    days = days_to_roll_up(now=now, since=since, everything=everything)
    for start in range(0, len(days), ROLLUP_DAYS_PER_TRANSACTION):
        chunk = days[start : start + ROLLUP_DAYS_PER_TRANSACTION]
        run.stale_marks += _roll_up(chunk, now=now)
        run.days += chunk
    return run
