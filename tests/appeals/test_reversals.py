"""Each kind of reversal restores exactly what the action removed and nothing else;
running it twice, or again after a crash, gives the same result."""

import pytest
from django.utils import timezone

from appeals import selectors, services
from appeals.models import Appeal, AppealStatus
from cases.models import ActionStatus, Notice, OutboxEntry, OutboxOperation, ReversalCause
from moderation.models import Account, Follow
from moderation.platform import LocalPlatformAdapter
from tests.appeals.factories import active_followers, applied_action, purge_followers_of
from tests.factories import AccountFactory, FollowFactory, StoryFactory, appeals_reviewer, supervisor

pytestmark = pytest.mark.django_db

STATEMENT = "These accounts are my readers from the writing group; I know them."


def overturn(action, reviewer, run_on_commit, *, outcome=AppealStatus.OVERTURNED, **picks):
    appeal = services.file_appeal(
        account=action.account, action=action, writer_statement=STATEMENT, contact_email="w@example.com"
    )
    services.claim_next_appeal(user=reviewer)
    with run_on_commit():
        services.decide_appeal(appeal=appeal, actor=reviewer, outcome=outcome, statement="Restored.", **picks)
    appeal.refresh_from_db()
    return appeal


@pytest.mark.parametrize(
    ("outcome", "field", "before"),
    [
        ("paywall.remove", "is_paywalled", True),
        ("story.remove", "is_removed", False),
        ("distribution.network_only", "distribution", "general"),
        ("distribution.no_boost", "distribution", "general"),
    ],
)
def test_story_reversals_restore_the_story_field_only(outcome, field, before, reviewer, run_on_commit):
    story = StoryFactory(is_paywalled=True)
    sibling = StoryFactory(author=story.author, is_paywalled=True)
    action = applied_action(outcome, story=story)
    story.refresh_from_db()
    assert getattr(story, field) != before
    overturn(action, reviewer, run_on_commit)
    story.refresh_from_db()
    sibling.refresh_from_db()
    assert getattr(story, field) == before
    assert (sibling.is_paywalled, sibling.is_removed, sibling.distribution) == (True, False, "general")


@pytest.mark.parametrize("outcome", ["account.suspend", "account.restrict"])
def test_account_status_reversal(outcome, reviewer, run_on_commit):
    account = AccountFactory()
    action = applied_action(outcome, account=account)
    account.refresh_from_db()
    assert account.status != "active"
    appeal = overturn(action, reviewer, run_on_commit)
    account.refresh_from_db()
    assert account.status == "active"
    lines = selectors.writer_status(appeal).restored
    assert lines == [selectors.RESTORED_TEXT[outcome]]


def test_partner_reinstated_and_held_earnings_released(writer, partner_actions, reviewer, run_on_commit):
    revoke, hold = partner_actions
    enrolled = Account.objects.get(pk=writer.pk).partner_enrolled_at
    other_hold_owner = AccountFactory(partner=True)
    other = applied_action("partner.earnings_hold", account=other_hold_owner)
    appeal = overturn(revoke, reviewer, run_on_commit)
    writer.refresh_from_db()
    assert writer.partner_status == "active" and writer.partner_enrolled_at == enrolled
    assert writer.partner_revoked_at is None
    assert writer.earnings_holds.get().released_at is not None
    assert other_hold_owner.earnings_holds.get().released_at is None
    other.refresh_from_db()
    assert other.status == ActionStatus.APPLIED
    assert selectors.writer_status(appeal).restored == ["Partner Program reinstated, held earnings released"]


def follower_appeal(writer):
    return services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement=STATEMENT,
        contact_email=writer.email,
    )


def decide_followers(appeal, reviewer, run_on_commit, *, outcome, reinstate=()):
    services.claim_next_appeal(user=reviewer)
    ids = list(appeal.follower_reviews.filter(follower__in=reinstate).values_list("pk", flat=True))
    with run_on_commit():
        services.decide_appeal(
            appeal=appeal, actor=reviewer, outcome=outcome, statement="We checked them.", followers_to_reinstate=ids
        )
    appeal.refresh_from_db()
    return appeal


def test_reinstating_genuine_followers_restores_all_their_edges_and_only_theirs(writer, reviewer, run_on_commit):
    purge = purge_followers_of(writer, genuine=2, fake=2, extra_edges=3)
    unrelated = FollowFactory(followee=writer)  # never purged: must stay as it is
    appeal = follower_appeal(writer)
    appeal = decide_followers(
        appeal, reviewer, run_on_commit, outcome=AppealStatus.PARTIALLY_OVERTURNED, reinstate=purge.genuine
    )
    genuine_ids = {f.pk for f in purge.genuine}
    fake_ids = {f.pk for f in purge.fake}
    assert active_followers(writer) == genuine_ids | {unrelated.follower_id}
    # Every edge the genuine accounts lost comes back, not only the ones to the appellant.
    assert genuine_ids <= active_followers(purge.bystander)
    assert not fake_ids & active_followers(purge.bystander)
    assert not Follow.objects.filter(follower__in=genuine_ids, is_active=False).exists()
    assert Follow.objects.filter(follower__in=fake_ids, is_active=True).count() == 0
    for f in purge.genuine:
        f.refresh_from_db()
        assert f.status == "active"
        assert purge.purge_actions[f.pk].__class__.objects.get(pk=purge.purge_actions[f.pk].pk).reversal_cause == (
            ReversalCause.APPEAL
        )
    for f in purge.fake:
        f.refresh_from_db()
        assert f.status == "suspended"
    writer.refresh_from_db()
    purge.bystander.refresh_from_db()
    # Counts were 4 before the purge, 0 after it; the two genuine followers count again.
    assert writer.follower_count == 2
    assert purge.bystander.follower_count == 2
    assert appeal.status == AppealStatus.PARTIALLY_OVERTURNED
    verdicts = dict(appeal.follower_reviews.values_list("follower_id", "verdict"))
    assert verdicts == {**dict.fromkeys(genuine_ids, "reinstate"), **dict.fromkeys(fake_ids, "keep_purged")}
    assert selectors.writer_status(appeal).restored == ["2 followers restored"]


def test_full_overturn_of_a_follower_appeal_reinstates_everyone(writer, reviewer, run_on_commit):
    purge = purge_followers_of(writer, genuine=1, fake=2)
    appeal = decide_followers(follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.OVERTURNED)
    assert active_followers(writer) == {f.pk for f in purge.genuine + purge.fake}
    assert appeal.restored_summary["followers"]["restored"] == 3


def test_upheld_follower_appeal_restores_nothing(writer, reviewer, run_on_commit):
    purge_followers_of(writer, genuine=1, fake=1)
    appeal = decide_followers(follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.UPHELD)
    assert active_followers(writer) == set()
    assert selectors.writer_status(appeal).restored == []


def test_restoring_twice_has_the_effect_of_once(writer, reviewer, run_on_commit):
    from cases.services.enforcement import request_reversal, reverse_action

    purge = purge_followers_of(writer, genuine=1, fake=0, extra_edges=3)
    decide_followers(follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.OVERTURNED)
    counts = dict(Account.objects.values_list("pk", "follower_count"))
    action = purge.purge_actions[purge.genuine[0].pk]
    with run_on_commit():
        request_reversal(action=action, actor=reviewer, reason="again")
        reverse_action(action_id=action.pk)
    assert dict(Account.objects.values_list("pk", "follower_count")) == counts
    assert OutboxEntry.objects.filter(action=action, operation=OutboxOperation.REVERSE).count() == 1


def test_restoration_resumes_after_a_crash_with_the_same_result(writer, reviewer, run_on_commit, monkeypatch):
    from cases.services.enforcement import OutboxProgress, reverse_action

    purge = purge_followers_of(writer, genuine=1, fake=0, extra_edges=5)
    follower = purge.genuine[0]
    action = purge.purge_actions[follower.pk]
    lost = set(Follow.objects.filter(removed_by=action.idempotency_key).values_list("pk", flat=True))
    assert len(lost) == 6

    original = LocalPlatformAdapter.restore_follows
    monkeypatch.setattr(
        LocalPlatformAdapter, "restore_follows", lambda self, **kw: original(self, **{**kw, "batch_size": 2})
    )
    real_advance = OutboxProgress.advance
    calls = {"n": 0}

    def crash_on_second_batch(self, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_advance(self, **kw)

    monkeypatch.setattr(OutboxProgress, "advance", crash_on_second_batch)
    appeal = decide_followers(follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.OVERTURNED)
    entry = OutboxEntry.objects.get(action=action, operation=OutboxOperation.REVERSE)
    assert entry.done_at is None and (entry.progress_total, entry.progress_done) == (6, 2)
    status = selectors.writer_status(appeal)
    assert status.restoring and status.percent < 100
    assert status.restored == ["Restoring 1 follower"]

    monkeypatch.setattr(OutboxProgress, "advance", real_advance)
    reverse_action(action_id=action.pk)
    entry.refresh_from_db()
    assert entry.done_at is not None and entry.progress_done == 6
    # The count is the whole restoration's, not the resumed run's four.
    action.refresh_from_db()
    assert action.effect["reversal"]["restored_edges"] == 6
    assert set(Follow.objects.filter(pk__in=lost, is_active=True).values_list("pk", flat=True)) == lost
    # No edge counted twice across the crash: every followee is back to its one follower.
    assert list(Account.objects.filter(follower_edges__pk__in=lost).values_list("follower_count", flat=True)) == [1] * 6
    assert services.record_restoration_if_finished(appeal_id=appeal.pk)
    appeal.refresh_from_db()
    assert selectors.writer_status(appeal).restored == ["1 follower restored"]


def test_reverse_actions_in_bulk_notifies_each_writer_once(run_on_commit):
    from django.core import mail

    a, b = AccountFactory(), AccountFactory()
    story_a1, story_a2 = StoryFactory(author=a, is_paywalled=True), StoryFactory(author=a, is_paywalled=True)
    actions = [
        applied_action("paywall.remove", story=story_a1),
        applied_action("paywall.remove", story=story_a2),
        applied_action("account.restrict", account=b),
    ]
    boss = supervisor()
    with run_on_commit():
        entries = services.reverse_actions(
            actions=actions,
            actor=boss,
            reason="ai-text-classifier 2.3.0 recalled",
            writer_statement="A detector we use made mistakes; we have undone what it caused.",
            cause=ReversalCause.RECALL,
        )
    assert len(entries) == 3
    for action in actions:
        action.refresh_from_db()
        assert action.status == ActionStatus.REVERSED and action.reversal_cause == ReversalCause.RECALL
    assert Notice.objects.filter(subject="We reversed an action on your account").count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([a.email, b.email])
    assert Appeal.objects.count() == 0


def test_appeal_reversal_counts_against_the_reviewer_who_decided(paywall_action, run_on_commit):
    overturn(paywall_action, appeals_reviewer(), run_on_commit)
    paywall_action.refresh_from_db()
    assert paywall_action.reversal_cause == ReversalCause.APPEAL
    assert paywall_action.decision.decided_by is not None
