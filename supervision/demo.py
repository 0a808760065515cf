"""Demo step, after the other apps' steps: a few weeks of decided detector cases (through
the intake and review services, then moved back in time) in which a new release of the
AI-text detector flags genuine writers, plus a QA sampling rule, a golden case and a few
blind second reviews, so the supervision pages have something to show after `make run`.
Safe to run twice; does nothing when the other demo steps left no cases."""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.models import Case, CaseStatus, Decision, DetectorVerdict, EnforcementAction, Signal
from moderation.models import ApiClient, Policy, SignalSource, Story, StoryKind
from moderation.roles import Role
from supervision import services
from supervision.models import GoldenCase, QASample, QASamplingRule, QAStatus

DEMO_SHARE_PERCENT = 25


def _mark_detector_signals(rng: random.Random) -> int:
    """Decisions made without marks get one per detector signal: right when the reviewer
    found a violation."""
    unmarked = (
        Signal.objects.filter(source=SignalSource.DETECTOR, case__decisions__isnull=False)
        .exclude(Exists(DetectorVerdict.objects.filter(signal=OuterRef("pk"))))
        .select_related("case")
        .distinct()
        .order_by("id")
    )
    made = 0
    for signal in unmarked[:2000]:
        decision = signal.case.decisions.order_by("-decided_at", "-id").first()
        if decision is None:
            continue
        DetectorVerdict.objects.create(
            decision=decision,
            signal=signal,
            detector_name=signal.detector_name,
            detector_version=signal.detector_version,
            was_correct=decision.is_violation,
        )
        made += 1
    return made


BAD_RELEASE = "2.4.0"
GOOD_RELEASE = "2.3.0"
DETECTOR = "ai-text-classifier"
HISTORY_MARK = "Demo history:"


def _decide_as(case: Case, user, *, violation: bool, approver) -> Decision:
    """Claim and decide one case as a reviewer would, marking its detector signals."""
    from cases.services import review

    policy = Policy.objects.current().get(code="ai.paywalled_generated") if violation else None
    review.claim_case(user=user, case=case)
    decision = review.decide_case(
        case=case,
        user=user,
        data=review.DecisionInput(
            is_violation=violation,
            policy=policy,
            outcomes=["paywall.remove"] if violation else [],
            rationale=f"{HISTORY_MARK} {'generated text, no disclosure' if violation else 'the writer’s own voice'}",
            statement=review.render_statement(policy.statement_template, case, policy) if policy else "",
            detector_marks={s.pk: violation for s in case.signals.filter(source=SignalSource.DETECTOR)},
            override_reason=f"{HISTORY_MARK} the paywall removal is enough; no Partner Program revocation yet",
        ),
        handling_seconds=180 + case.pk % 7 * 60,
    )
    if decision.needs_approval:
        review.approve_decision(decision=decision, approver=approver)
    return decision


def _move_back(case: Case, decision: Decision, *, opened, took: timedelta) -> None:
    """Place a demo decision in the past so the weekly trends have weeks to show."""
    decided = opened + took
    Signal.objects.filter(case=case).update(observed_at=opened, received_at=opened)
    Case.objects.filter(pk=case.pk).update(opened_at=opened, sla_due_at=opened + case.queue.sla, decided_at=decided)
    Decision.objects.filter(pk=decision.pk).update(decided_at=decided)
    EnforcementAction.objects.filter(decision=decision, applied_at__isnull=False).update(applied_at=decided)


def _seed_history(rng: random.Random, users: dict) -> list[str]:
    """Six weeks of the good release (mostly right) and two of the bad one (mostly
    wrong, on genuine writers' paywalled stories)."""
    from cases.services.intake import SignalIn, ingest_signal

    if Decision.objects.filter(rationale__startswith=HISTORY_MARK).exists():
        return []
    client = ApiClient.objects.filter(name=DETECTOR).first()
    if client is None:
        return []
    policy = Policy.objects.current().get(code="ai.paywalled_generated")
    now = timezone.now()
    genuine = list(
        Story.objects.filter(kind=StoryKind.STORY, is_paywalled=True, cases__isnull=True)
        .exclude(body__startswith="In today's fast-paced world")
        .order_by("platform_id")[:10]
    )
    cases_made = 0
    for n, story in enumerate(genuine):
        opened = now - timedelta(days=13 - n, hours=rng.randint(1, 12))
        ingest_signal(
            client=client,
            item=SignalIn(
                idempotency_key=f"demo-history-{story.platform_id}",
                source=SignalSource.DETECTOR,
                account=story.author.platform_id,
                story=story.platform_id,
                policy=policy,
                detector_name=DETECTOR,
                detector_version=BAD_RELEASE,
                score=round(rng.uniform(0.72, 0.9), 2),
                proposed_outcomes=["paywall.remove"],
                payload={"threshold": 0.7},
            ),
            now=opened,
        )
        case = Case.objects.filter(story=story, status=CaseStatus.OPEN).first()
        if case is None:
            continue
        wrong = n % 5 != 0  # four in five were genuine writers
        reviewer = users["moderator"] if n % 2 else users["moderator2"]
        # The statement cites when the signals came: date them before deciding.
        Signal.objects.filter(case=case).update(observed_at=opened, received_at=opened)
        decision = _decide_as(case, reviewer, violation=not wrong, approver=users["senior"])
        _move_back(case, decision, opened=opened, took=timedelta(hours=rng.randint(3, 40)))
        cases_made += 1
    good = list(
        Case.objects.filter(status=CaseStatus.OPEN, signals__detector_version=GOOD_RELEASE)
        .distinct()
        .order_by("id")[:12]
    )
    for n, case in enumerate(good):
        opened = now - timedelta(days=42 - n * 3, hours=rng.randint(1, 12))
        reviewer = users["moderator2"] if n % 3 else users["moderator"]
        # The statement cites when the signals came: date them before deciding.
        Signal.objects.filter(case=case).update(observed_at=opened, received_at=opened)
        decision = _decide_as(case, reviewer, violation=n != 4, approver=users["senior"])
        _move_back(case, decision, opened=opened, took=timedelta(hours=rng.randint(2, 30)))
        cases_made += 1
    return [f"Supervision: {cases_made} decided detector cases over six weeks; {DETECTOR} {BAD_RELEASE} looks bad."]


def seed_supervision_demo(rng: random.Random) -> list[str]:
    if not Decision.objects.exists():
        return ["Supervision: no decisions in the demo data yet, so no QA samples or marks."]
    User = get_user_model()
    supervisor = User.objects.filter(username="supervisor", groups__name=Role.SUPERVISOR).first()
    if supervisor is None:
        return ["Supervision: no supervisor login, skipped."]
    users = {u.username: u for u in User.objects.filter(username__in=["moderator", "moderator2", "senior"])}
    notes = _seed_history(rng, users) if len(users) == 3 else []
    marks = _mark_detector_signals(rng)

    if not QASamplingRule.objects.filter(is_active=True).exists():
        services.save_sampling_rule(
            actor=supervisor, rule=QASamplingRule(share_percent=DEMO_SHARE_PERCENT, is_active=True)
        )
    if not GoldenCase.objects.exists():
        decision = (
            Decision.objects.filter(case__status=CaseStatus.DECIDED, is_violation=True, policy__isnull=False)
            .select_related("policy")
            .order_by("id")
            .first()
        )
        if decision is not None:
            services.save_golden_case(
                actor=supervisor,
                golden=GoldenCase(
                    case=decision.case,
                    expected_is_violation=True,
                    expected_policy=decision.policy,
                    expected_outcomes=list(decision.outcomes),
                    note="Clear-cut example used to calibrate second reviewers.",
                ),
            )
    now = timezone.now()
    sampled = services.sample_recent_decisions(since=now - timedelta(days=365), now=now)

    reviewers = list(User.objects.filter(username__in=["moderator2", "moderator", "senior"]).order_by("username"))
    answered = 0
    if QASample.objects.filter(qa_note="Demo second review.").exists():
        reviewers = []
    for reviewer in reviewers:
        for _ in range(1):  # leave some samples for moderators to try
            sample = services.claim_next_qa_sample(user=reviewer, now=now)
            if sample is None:
                break
            sample = QASample.objects.select_related("decision__policy", "golden__expected_policy").get(pk=sample.pk)
            first = services._answer(sample)
            is_violation, policy_code, outcomes = first
            if rng.random() < 0.3:
                is_violation = not is_violation
                policy_code = policy_code or (sample.case.policy.code if sample.case.policy_id else None)
                outcomes = []
            policy = Policy.objects.current().filter(code=policy_code).first() if is_violation else None
            if is_violation and policy is None:
                services.release_qa_sample(sample=sample, user=reviewer)
                break
            services.submit_qa_review(
                sample=sample,
                user=reviewer,
                is_violation=is_violation,
                policy=policy,
                outcomes=outcomes,
                note="Demo second review.",
                now=now,
            )
            answered += 1
    waiting = QASample.objects.filter(status=QAStatus.DISAGREED).count()
    return [
        *notes,
        f"Supervision: {marks} detector marks added, {len(sampled)} decisions drawn into QA, "
        f"{answered} blind second reviews given, {waiting} disagreement(s) for the supervisor to settle.",
    ]
