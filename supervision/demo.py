"""Demo step: reviewer marks on detector signals, a QA sampling rule, a golden case and a
few blind second reviews, so the supervision pages have something to show after
`make run`. Runs after the other apps' steps; safe to run twice."""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.models import CaseStatus, Decision, DetectorVerdict, Signal
from moderation.models import Policy, SignalSource
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


def seed_supervision_demo(rng: random.Random) -> list[str]:
    if not Decision.objects.exists():
        return ["Supervision: no decisions in the demo data yet, so no QA samples or marks."]
    User = get_user_model()
    supervisor = User.objects.filter(username="supervisor", groups__name=Role.SUPERVISOR).first()
    if supervisor is None:
        return ["Supervision: no supervisor login, skipped."]
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
    for reviewer in reviewers:
        for _ in range(3):
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
        f"Supervision: {marks} detector marks added, {len(sampled)} decisions drawn into QA, "
        f"{answered} blind second reviews given, {waiting} disagreement(s) for the supervisor to settle."
    ]
