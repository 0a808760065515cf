"""Each kind of reversal restores exactly what the action removed and nothing else;
running it twice, or again after a crash, gives the same result."""

import pytest
from django.utils import timezone

from appeals import selectors, services
from appeals.models import Appeal, AppealStatus, FollowerRestoration
from cases.models import ActionStatus, Notice, OutboxEntry, OutboxOperation, ReversalCause
from moderation.models import Account, AuditEvent, Follow
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


def test_a_follower_appeal_restores_only_the_appellants_edges_from_the_genuine_accounts(
    writer, reviewer, run_on_commit
):
    purge = purge_followers_of(writer, genuine=2, fake=2, extra_edges=3)
    unrelated = FollowFactory(followee=writer)  # never purged: must stay as it is
    others_before = {a: active_followers(a) for a in [purge.bystander]}
    appeal = decide_followers(
        follower_appeal(writer),
        reviewer,
        run_on_commit,
        outcome=AppealStatus.PARTIALLY_OVERTURNED,
        reinstate=purge.genuine,
    )
    genuine_ids = {f.pk for f in purge.genuine}
    fake_ids = {f.pk for f in purge.fake}
    assert active_followers(writer) == genuine_ids | {unrelated.follower_id}
    # Other writers' edges from the same accounts stay removed: the appeal was not theirs.
    assert active_followers(purge.bystander) == others_before[purge.bystander] == set()
    assert Follow.objects.filter(follower__in=genuine_ids, is_active=False).count() == 2 * 3
    assert Follow.objects.filter(follower__in=fake_ids, is_active=True).count() == 0
    for f in purge.genuine + purge.fake:
        f.refresh_from_db()
        assert f.status == "suspended"  # nobody's own suspension is lifted silently
        purge.purge_actions[f.pk].refresh_from_db()
        purge.suspensions[f.pk].refresh_from_db()
        assert purge.purge_actions[f.pk].status == purge.suspensions[f.pk].status == ActionStatus.APPLIED
    writer.refresh_from_db()
    purge.bystander.refresh_from_db()
    assert (writer.follower_count, purge.bystander.follower_count) == (2, 0)
    assert appeal.status == AppealStatus.PARTIALLY_OVERTURNED
    reviews = {r.follower_id: (r.verdict, r.consequence) for r in appeal.follower_reviews.all()}
    assert reviews == {
        **dict.fromkeys(genuine_ids, ("reinstate", "requeue")),
        **dict.fromkeys(fake_ids, ("keep_purged", "")),
    }
    restorations = list(appeal.restorations.order_by("follower_id"))
    assert [(r.follower_id, r.status, r.progress_done) for r in restorations] == [
        (f, "done", 1) for f in sorted(genuine_ids)
    ]
    assert selectors.writer_status(appeal).restored == ["2 followers restored"]
    assert appeal.restored_summary["followers"]["restored"] == 2


def test_judging_a_follower_genuine_sends_its_own_case_back_to_review(writer, reviewer, run_on_commit):
    from cases.models import Case

    purge = purge_followers_of(writer, genuine=1, fake=1)
    genuine = purge.genuine[0]
    appeal = decide_followers(
        follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.PARTIALLY_OVERTURNED, reinstate=[genuine]
    )
    genuine_case = purge.purge_actions[genuine.pk].case
    fake_case = purge.purge_actions[purge.fake[0].pk].case
    statuses = dict(Case.objects.filter(pk__in=[genuine_case.pk, fake_case.pk]).values_list("pk", "status"))
    assert statuses == {genuine_case.pk: "open", fake_case.pk: "decided"}
    event = AuditEvent.objects.get(verb="case.requeued_for_review")
    assert (event.case_ref, event.actor) == (genuine_case.pk, reviewer)
    assert f"@{genuine.handle} judged a genuine reader" in event.reason
    assert appeal.restored_summary["requeued_case_ids"] == [genuine_case.pk]
    # No notice to the re-queued account yet: nothing about it changed.
    assert not Notice.objects.filter(account=genuine).exists()


def test_reversing_a_genuine_followers_own_actions_touches_exactly_that_account(writer, reviewer, run_on_commit):
    purge = purge_followers_of(writer, genuine=2, fake=1, extra_edges=3)
    chosen, other_genuine = purge.genuine
    appeal = follower_appeal(writer)
    services.claim_next_appeal(user=reviewer)
    reviews = dict(appeal.follower_reviews.values_list("follower_id", "pk"))
    with run_on_commit():
        services.decide_appeal(
            appeal=appeal,
            actor=reviewer,
            outcome=AppealStatus.PARTIALLY_OVERTURNED,
            statement="Two of them are real readers.",
            followers_to_reinstate=[reviews[chosen.pk], reviews[other_genuine.pk]],
            reverse_followers=[reviews[chosen.pk]],
        )
    appeal.refresh_from_db()
    chosen.refresh_from_db()
    other_genuine.refresh_from_db()
    assert chosen.status == "active"
    assert other_genuine.status == "suspended"
    # The chosen account's follows come back everywhere; the other genuine one only to the appellant.
    assert Follow.objects.filter(follower=chosen, is_active=False).count() == 0
    assert set(Follow.objects.filter(follower=other_genuine, is_active=True).values_list("followee", flat=True)) == {
        writer.pk
    }
    for action in (purge.purge_actions[chosen.pk], purge.suspensions[chosen.pk]):
        action.refresh_from_db()
        assert (action.status, action.reversal_cause) == (ActionStatus.REVERSED, ReversalCause.APPEAL)
    for f in [other_genuine, *purge.fake]:
        for action in (purge.purge_actions[f.pk], purge.suspensions[f.pk]):
            action.refresh_from_db()
            assert action.status == ActionStatus.APPLIED
    notice = Notice.objects.get(account=chosen)
    assert notice.key == f"appeal-{appeal.pk}-reinstated-{chosen.pk}"
    assert "Account suspension lifted" in notice.body and "Your follows restored" in notice.body
    assert writer.handle not in notice.body  # never another writer's data
    assert not Notice.objects.filter(account__in=[other_genuine, *purge.fake]).exists()
    assert appeal.restored_summary["reinstated_account_ids"] == [chosen.pk]
    # The writer's page speaks only of the writer's own followers.
    assert selectors.writer_status(appeal).restored == ["2 followers restored"]


def test_restoring_twice_has_the_effect_of_once(writer, reviewer, run_on_commit):
    purge = purge_followers_of(writer, genuine=1, fake=0, extra_edges=3)
    appeal = decide_followers(follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.OVERTURNED)
    counts = dict(Account.objects.values_list("pk", "follower_count"))
    restoration = appeal.restorations.get()
    FollowerRestoration.objects.filter(pk=restoration.pk).update(status="pending", done_at=None)
    with run_on_commit():
        services.run_follower_restorations(appeal_id=appeal.pk)
    assert dict(Account.objects.values_list("pk", "follower_count")) == counts
    restoration.refresh_from_db()
    assert (restoration.status, restoration.progress_done) == ("done", 1)
    assert active_followers(writer) == {purge.genuine[0].pk}


def test_an_edge_restoration_resumes_after_a_crash_with_exact_counts(writer, reviewer, run_on_commit, monkeypatch):
    purge = purge_followers_of(writer, genuine=2, fake=0, extra_edges=2)
    real_advance = services.RestorationProgress.advance
    calls = {"n": 0}

    def crash_on_second_restoration(self, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_advance(self, **kw)

    monkeypatch.setattr(services.RestorationProgress, "advance", crash_on_second_restoration)
    # The job dies on the second follower (inline jobs log the error and carry on).
    decide_followers(follower_appeal(writer), reviewer, run_on_commit, outcome=AppealStatus.OVERTURNED)
    appeal = Appeal.objects.get()
    assert appeal.status == AppealStatus.OVERTURNED
    assert sorted(appeal.restorations.values_list("status", flat=True)) == ["done", "pending"]
    status = selectors.writer_status(appeal)
    assert status.restoring and status.restored == ["Restoring 2 followers"]
    assert services.resume_follower_restorations(now=timezone.now() + timezone.timedelta(minutes=5)) == 1

    monkeypatch.setattr(services.RestorationProgress, "advance", real_advance)
    with run_on_commit():
        services.run_follower_restorations(appeal_id=appeal.pk)
    writer.refresh_from_db()
    assert writer.follower_count == 2 and active_followers(writer) == {f.pk for f in purge.genuine}
    assert list(appeal.restorations.values_list("progress_done", flat=True)) == [1, 1]
    appeal.refresh_from_db()
    assert appeal.restored_summary["followers"]["restored"] == 2
    assert selectors.writer_status(appeal).restored == ["2 followers restored"]


def test_a_reversed_followers_purge_resumes_after_a_crash_with_the_same_result(
    writer, reviewer, run_on_commit, monkeypatch
):
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
    appeal = follower_appeal(writer)
    services.claim_next_appeal(user=reviewer)
    review = appeal.follower_reviews.get()
    with run_on_commit():
        services.decide_appeal(
            appeal=appeal,
            actor=reviewer,
            outcome=AppealStatus.OVERTURNED,
            statement="A real reader.",
            reverse_followers=[review.pk],
        )
    entry = OutboxEntry.objects.get(action=action, operation=OutboxOperation.REVERSE)
    assert entry.done_at is None and entry.progress_done < 5

    monkeypatch.setattr(OutboxProgress, "advance", real_advance)
    reverse_action(action_id=action.pk)
    entry.refresh_from_db()
    assert entry.done_at is not None
    # Exact across the crash: the reversal's count (all its runs) plus the appellant's own
    # edge, which the appeal's restoration may have brought back first, make the six lost.
    action.refresh_from_db()
    restoration = appeal.restorations.get()
    assert action.effect["reversal"]["restored_edges"] + restoration.progress_done == 6
    assert set(Follow.objects.filter(pk__in=lost, is_active=True).values_list("pk", flat=True)) == lost
    # No edge counted twice across the crash: every followee is back to its one follower.
    assert list(Account.objects.filter(follower_edges__pk__in=lost).values_list("follower_count", flat=True)) == [1] * 6


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
