"""The reviewer's side: the queue order, claims, the conflict-of-interest rule, the three
outcomes, their audit rows and the writer's emails."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from appeals import permissions, services
from appeals.models import Appeal, AppealStatus
from cases.models import ActionStatus, ReversalCause
from moderation.models import AuditEvent
from tests.appeals.factories import applied_action, decision_for, purge_followers_of
from tests.factories import AccountFactory, StoryFactory, appeals_reviewer, moderator, senior_moderator

pytestmark = pytest.mark.django_db

STATEMENT = "I wrote this myself, here is how, and here are my drafts."


def file(action, *, minutes_ago=0):
    appeal = services.file_appeal(
        account=action.account,
        action=action,
        writer_statement=STATEMENT,
        contact_email=action.account.email,
        now=timezone.now() - timedelta(minutes=minutes_ago),
    )
    return appeal


def test_queue_puts_money_at_stake_first_then_oldest(reviewer):
    old_story = file(applied_action("story.remove", story=StoryFactory()), minutes_ago=90)
    new_money = file(applied_action("partner.revoke", account=AccountFactory(partner=True)), minutes_ago=5)
    old_money = file(applied_action("partner.earnings_hold", account=AccountFactory(partner=True)), minutes_ago=60)
    claimed = [services.claim_next_appeal(user=appeals_reviewer()) for _ in range(3)]
    assert claimed == [old_money, new_money, old_story]
    assert services.claim_next_appeal(user=reviewer) is None


def test_claiming_starts_the_review_and_emails_the_writer(paywall_action, reviewer, run_on_commit):
    appeal = file(paywall_action)
    with run_on_commit():
        claimed = services.claim_next_appeal(user=reviewer)
    assert claimed == appeal
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.IN_REVIEW and appeal.assignee == reviewer
    verbs = list(AuditEvent.objects.filter(appeal_ref=appeal.pk).order_by("id").values_list("verb", flat=True))
    assert verbs == ["appeal.submitted", "claim.taken", "appeal.review_started"]
    assert [m.subject.split(" (")[0] for m in mail.outbox] == ["Your appeal is being reviewed"]
    # The same reviewer pressing again gets the same appeal back, not a second one.
    assert services.claim_next_appeal(user=reviewer) == appeal


def test_expired_lease_returns_the_appeal_to_the_queue(paywall_action, reviewer):
    appeal = file(paywall_action)
    services.claim_next_appeal(user=reviewer)
    other = appeals_reviewer()
    assert services.claim_next_appeal(user=other) is None
    later = timezone.now() + timedelta(hours=2)
    assert services.claim_next_appeal(user=other, now=later) == appeal


def test_only_appeals_reviewers_claim(paywall_action):
    file(paywall_action)
    with pytest.raises(PermissionDenied):
        services.claim_next_appeal(user=moderator())


def test_neither_decider_nor_four_eyes_approver_may_claim_or_decide():
    decider, approver = moderator(), senior_moderator()
    # Give both the appeals role too: the rule must hold even for people who have it.
    from django.contrib.auth.models import Group

    for user in (decider, approver):
        user.groups.add(Group.objects.get(name="appeals_reviewer"))
    account = AccountFactory(partner=True)
    decision = decision_for(account, code="engagement.ring", decided_by=decider, approver=approver)
    appeal = file(applied_action("partner.revoke", account=account, decision=decision))
    for user in (decider, approver):
        user = type(user).objects.get(pk=user.pk)
        assert permissions.is_conflicted(user, appeal)
        assert not permissions.can_claim(user, appeal)
        assert services.claim_next_appeal(user=user) is None
        with pytest.raises(PermissionDenied):
            services.claim_appeal(appeal=appeal, user=user)
    # Even holding a claim (a supervisor assigned it), a conflicted user cannot decide.
    Appeal.objects.filter(pk=appeal.pk).update(
        status=AppealStatus.IN_REVIEW, assignee=decider, claim_expires_at=timezone.now() + timedelta(minutes=10)
    )
    appeal.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.decide_appeal(appeal=appeal, actor=decider, outcome=AppealStatus.OVERTURNED, statement="Sorry.")
    assert not AuditEvent.objects.filter(verb__startswith="appeal.overturned").exists()


def test_deciders_of_a_purge_cannot_review_the_follower_appeal(writer):
    purge = purge_followers_of(writer, genuine=1, fake=1)
    appeal = services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement=STATEMENT,
        contact_email=writer.email,
    )
    from django.contrib.auth.models import Group

    purge.decider.groups.add(Group.objects.get(name="appeals_reviewer"))
    decider = type(purge.decider).objects.get(pk=purge.decider.pk)
    assert services.claim_next_appeal(user=decider) is None
    assert services.claim_next_appeal(user=appeals_reviewer()) == appeal


def test_a_decision_needs_the_live_claim(paywall_action, reviewer):
    appeal = file(paywall_action)
    with pytest.raises(PermissionDenied):
        services.decide_appeal(appeal=appeal, actor=reviewer, outcome=AppealStatus.UPHELD, statement="No.")
    services.claim_next_appeal(user=reviewer)
    with pytest.raises(PermissionDenied):
        services.decide_appeal(
            appeal=appeal,
            actor=reviewer,
            outcome=AppealStatus.UPHELD,
            statement="No.",
            now=timezone.now() + timedelta(hours=3),
        )


def test_upheld_changes_nothing_on_the_platform(paywall_action, reviewer, run_on_commit):
    appeal = file(paywall_action)
    services.claim_next_appeal(user=reviewer)
    with run_on_commit():
        services.decide_appeal(
            appeal=appeal, actor=reviewer, outcome=AppealStatus.UPHELD, statement="We checked again.", internal_note="n"
        )
    appeal.refresh_from_db()
    paywall_action.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD and appeal.decided_by == reviewer and appeal.assignee is None
    assert paywall_action.status == ActionStatus.APPLIED
    assert not paywall_action.story.is_paywalled
    event = AuditEvent.objects.get(verb="appeal.upheld")
    assert event.before == {"status": "in_review"} and event.appeal_ref == appeal.pk
    assert [m.subject.split(" (")[0] for m in mail.outbox] == ["A decision on your appeal"]


def test_overturn_reverses_with_cause_appeal_and_tells_the_writer(paywall_action, reviewer, run_on_commit):
    appeal = file(paywall_action)
    services.claim_next_appeal(user=reviewer)
    with run_on_commit():
        services.decide_appeal(
            appeal=appeal, actor=reviewer, outcome=AppealStatus.OVERTURNED, statement="You were right; restored."
        )
    paywall_action.refresh_from_db()
    assert paywall_action.status == ActionStatus.REVERSED
    assert paywall_action.reversal_cause == ReversalCause.APPEAL
    assert paywall_action.story.is_paywalled
    request = AuditEvent.objects.get(verb="action.reversal_requested")
    assert request.appeal_ref == appeal.pk and request.actor == reviewer
    subjects = [m.subject.split(" (")[0] for m in mail.outbox]
    assert subjects == ["A decision on your appeal", "Your restoration is complete"]
    assert "Story back behind the paywall" in mail.outbox[-1].body
    appeal.refresh_from_db()
    assert appeal.restored_summary["completed_at"]


def test_partial_overturn_reverses_only_the_chosen_actions(writer, partner_actions, reviewer, run_on_commit):
    revoke, hold = partner_actions
    appeal = file(revoke)
    services.claim_next_appeal(user=reviewer)
    with pytest.raises(ValidationError):
        services.decide_appeal(
            appeal=appeal, actor=reviewer, outcome=AppealStatus.PARTIALLY_OVERTURNED, statement="Partly."
        )
    with pytest.raises(ValidationError):
        services.decide_appeal(
            appeal=appeal,
            actor=reviewer,
            outcome=AppealStatus.PARTIALLY_OVERTURNED,
            statement="Partly.",
            actions_to_reverse=[revoke.pk, hold.pk],
        )
    with run_on_commit():
        services.decide_appeal(
            appeal=appeal,
            actor=reviewer,
            outcome=AppealStatus.PARTIALLY_OVERTURNED,
            statement="We release the held earnings; the Partner Program removal stands.",
            actions_to_reverse=[hold.pk],
        )
    revoke.refresh_from_db()
    hold.refresh_from_db()
    writer.refresh_from_db()
    assert (revoke.status, hold.status) == (ActionStatus.APPLIED, ActionStatus.REVERSED)
    assert writer.partner_status == "revoked"
    assert writer.earnings_holds.get().released_at is not None


def test_statement_is_required(paywall_action, reviewer):
    appeal = file(paywall_action)
    services.claim_next_appeal(user=reviewer)
    with pytest.raises(ValidationError) as exc:
        services.decide_appeal(appeal=appeal, actor=reviewer, outcome=AppealStatus.UPHELD, statement="  ")
    assert "statement" in exc.value.message_dict
