"""Demo decisions on the intake demo's cases, so the review, approval and appeal
screens have something to show: a follower purge of a fake account (approved by a
senior moderator, so applied), a ring member's suspension waiting for approval, an
applied story measure and a dismissal. Safe to run twice; does nothing without cases."""

from __future__ import annotations

import random

from django.contrib.auth import get_user_model

from cases.models import Case, CaseStatus, Decision
from cases.services import review
from moderation.models import Outcome, Policy, SignalSource

DEMO_MARK = "Demo:"


def _decide(case, user, *, code, outcomes, rationale, violation=True):
    policy = Policy.objects.current().get(code=code) if code else None
    review.claim_case(user=user, case=case)
    marks = {s.pk: violation for s in case.signals.filter(source=SignalSource.DETECTOR)}
    return review.decide_case(
        case=case,
        user=user,
        data=review.DecisionInput(
            is_violation=violation,
            policy=policy,
            outcomes=outcomes,
            rationale=f"{DEMO_MARK} {rationale}",
            statement=review.render_statement(policy.statement_template, case, policy) if policy else "",
            detector_marks=marks,
        ),
    )


def seed_demo_decisions(rng: random.Random) -> list[str]:
    if Decision.objects.filter(rationale__startswith=DEMO_MARK).exists():
        return ["Review demo: decisions already present."]
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["moderator", "moderator2", "senior"])}
    open_cases = Case.objects.filter(status=CaseStatus.OPEN).select_related("account", "story").order_by("id")
    if len(users) < 3 or not open_cases.exists():
        return []
    lines = []
    fake = open_cases.filter(account__platform_id__startswith="fake").first()
    if fake is not None:
        decision = _decide(
            fake,
            users["moderator"],
            code="engagement.bulk_interactions",
            outcomes=[Outcome.FOLLOWERS_PURGE, Outcome.ACCOUNT_SUSPEND],
            rationale="Account is 6 days old, reads nothing, followed 60 writers within minutes.",
        )
        review.approve_decision(decision=decision, approver=users["senior"])
        lines.append(f"Review demo: purged the follows of fake account @{fake.account.handle} (case #{fake.pk}).")
    ring = open_cases.filter(account__platform_id__startswith="ring", policy_family="engagement").first()
    if ring is not None:
        _decide(
            ring,
            users["moderator2"],
            code="engagement.ring",
            outcomes=[Outcome.ACCOUNT_SUSPEND],
            rationale="Core member of the clap circle: reciprocal claps with 29 accounts every day.",
        )
        lines.append(f"Review demo: suspension of @{ring.account.handle} waits for senior approval (case #{ring.pk}).")
    mild = (
        open_cases.filter(story__isnull=False, policy_family="ai", account__partner_status="not_enrolled")
        .exclude(account__platform_id__startswith="ring")
        .first()
    )
    if mild is not None:
        _decide(
            mild,
            users["moderator"],
            code="ai.undisclosed_generated",
            outcomes=[Outcome.DISTRIBUTION_NETWORK_ONLY],
            rationale="Generic generated text, no disclosure in the first two paragraphs.",
        )
        lines.append(f"Review demo: case #{mild.pk} decided, story limited to network-only distribution.")
    dismiss = open_cases.filter(story__isnull=False).exclude(account__platform_id__startswith="fake").first()
    if dismiss is not None:
        _decide(
            dismiss,
            users["moderator2"],
            code=None,
            outcomes=[],
            rationale="Personal voice and specific detail; the reports are not borne out.",
            violation=False,
        )
        lines.append(f"Review demo: case #{dismiss.pk} closed with no violation.")
    return lines
