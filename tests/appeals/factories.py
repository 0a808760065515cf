"""Appeal-side test data: actions applied through the real enforcement path (outbox +
local platform adapter), the notices writers receive, and purges of follower accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cases.models import ActionStatus, Notice, OutboxEntry, OutboxOperation
from moderation.gate import protected_reasons
from moderation.models import Account, Follow, Outcome
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    EnforcementActionFactory,
    FollowFactory,
    SignalFactory,
    moderator,
    policy,
    senior_moderator,
)


def apply(action):
    """Put an approved action on the platform the way the enforcement job does."""
    from cases.services.enforcement import apply_action

    OutboxEntry.objects.get_or_create(action=action, operation=OutboxOperation.APPLY)
    applied = apply_action(action_id=action.pk)
    assert applied.status == ActionStatus.APPLIED, applied.last_error
    return applied


def decision_for(account, *, story=None, code="ai.paywalled_generated", decided_by=None, approver=None, **kw):
    case = CaseFactory(
        account=account,
        story=story,
        policy_family=code.split(".")[0],
        policy=policy(code),
        status="decided",
        decided_at=timezone.now(),
    )
    # The database ties actions to their decision: every outcome a test applies under
    # this decision must be one of its outcomes, approved by a second person if need be.
    kw.setdefault("outcomes", list(policy(code).allowed_outcomes))
    if approver is None and protected_reasons(account, kw["outcomes"]):
        approver = senior_moderator()
    extra = {}
    if approver is not None:
        extra = {"needs_approval": True, "approved_by": approver, "approved_at": timezone.now()}
    return DecisionFactory(case=case, decided_by=decided_by or moderator(), policy=policy(code), **extra, **kw)


def applied_action(outcome, *, account=None, story=None, decision=None, **kw):
    account = account or (story.author if story else AccountFactory())
    decision = decision or decision_for(account, story=story, outcomes=[outcome], **kw)
    action = EnforcementActionFactory(
        decision=decision, case=decision.case, account=account, story=story, outcome=outcome
    )
    return apply(action)


def notice_for(decision, *, sent_at=None) -> Notice:
    sent_at = sent_at or timezone.now()
    return Notice.objects.create(
        case=decision.case,
        decision=decision,
        recipient_kind=Notice.Recipient.WRITER,
        account=decision.case.account,
        email=decision.case.account.email,
        subject="Decision on your story",
        body="We removed your story from the paywall.",
        appeal_deadline=sent_at + timedelta(days=183),
        sent_at=sent_at,
    )


@dataclass
class Purge:
    writer: Account
    genuine: list[Account]
    fake: list[Account]
    purge_actions: dict[int, object]  # follower id -> purge action
    suspensions: dict[int, object]
    bystander: Account  # another writer the purged accounts followed
    decider: object
    approver: object


def purge_followers_of(writer, *, genuine=2, fake=2, extra_edges=2, decider=None, approver=None) -> Purge:
    """Accounts following `writer` (and others) purged as fake, each by its own case:
    a suspension and a followers.purge, decided with four eyes."""
    decider = decider or moderator()
    approver = approver or senior_moderator()
    bystander = AccountFactory()
    others = [bystander] + [AccountFactory() for _ in range(extra_edges - 1)]
    now = timezone.now()
    made = {"genuine": [], "fake": []}
    for kind, count in (("genuine", genuine), ("fake", fake)):
        for _ in range(count):
            if kind == "genuine":
                f = AccountFactory(joined_at=now - timedelta(days=800), story_count=12, reads_last_30_days=40)
            else:
                f = AccountFactory(joined_at=now - timedelta(days=5), story_count=0, reads_last_30_days=0, email="")
            for target in [writer, *others]:
                FollowFactory(follower=f, followee=target)
            made[kind].append(f)
    Account.objects.filter(pk__in=[writer.pk, *[o.pk for o in others]]).update(follower_count=genuine + fake)
    purges, suspensions = {}, {}
    for f in made["genuine"] + made["fake"]:
        decision = decision_for(f, code="engagement.ring", decided_by=decider, approver=approver)
        SignalFactory(
            account=f,
            case=decision.case,
            source="detector",
            detector_name="follow-spam-detector",
            detector_version="1.4.0",
            score=0.97 if f in made["fake"] else 0.91,
            policy=policy("engagement.ring"),
        )
        with transaction.atomic():
            suspensions[f.pk] = applied_action(Outcome.ACCOUNT_SUSPEND, account=f, decision=decision)
            purges[f.pk] = applied_action(Outcome.FOLLOWERS_PURGE, account=f, decision=decision)
    return Purge(writer, made["genuine"], made["fake"], purges, suspensions, bystander, decider, approver)


def active_followers(account) -> set[int]:
    return set(Follow.objects.filter(followee=account, is_active=True).values_list("follower_id", flat=True))
