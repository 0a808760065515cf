from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import ActionStatus, Case, EnforcementAction, Evidence, EvidenceKind, Signal
from cases.services.intake import IngestResult, SignalIn, create_api_client
from moderation.mirror.services import mirror_stories
from moderation.models import Account, AuditEvent, SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, StoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def detector():
    return make_client("ai-detector")[0]


@pytest.fixture
def platform():
    return make_client("platform", [SignalSource.READER_REPORT, SignalSource.SHOW_LESS, SignalSource.STAFF])[0]


def test_a_detector_hit_opens_an_automated_case_with_evidence_snapshot_and_proposal(detector):
    story = StoryFactory(is_paywalled=True, author=AccountFactory(partner=True))
    now = timezone.now()
    result = send(detector, detector_signal(story.author, story, proposed_outcomes=["paywall.remove"]), now=now)

    assert result.status == IngestResult.STORED
    case = Case.objects.get(pk=result.case_id)
    assert case.automated_origin is True
    assert case.queue.slug == "ai-content"
    assert case.sla_due_at == now + timedelta(hours=72)
    assert (case.signal_count, case.reporter_count, case.max_detector_score) == (1, 0, 0.9)
    kinds = list(case.evidence.values_list("kind", flat=True))
    assert sorted(kinds) == [EvidenceKind.SIGNAL, EvidenceKind.SNAPSHOT]
    proposal = EnforcementAction.objects.get(case=case)
    assert (proposal.status, proposal.outcome, proposal.decision) == (ActionStatus.PROPOSED, "paywall.remove", None)
    assert proposal.proposed_by_signal_id == result.signal_id
    verbs = list(AuditEvent.objects.filter(case_ref=case.pk).order_by("id").values_list("verb", flat=True))
    assert verbs == ["case.opened", "signals.received", "case.action_proposed"]
    received = AuditEvent.objects.get(verb="signals.received")
    assert [s["id"] for s in received.after["signals"]] == [result.signal_id]
    assert AuditEvent.objects.get(verb="case.opened").actor_label == "api-client:ai-detector"


def test_signals_on_the_same_subject_and_family_join_one_case_others_open_their_own(detector, platform):
    story = StoryFactory()
    first = send(detector, detector_signal(story.author, story))
    joined = send(detector, detector_signal(story.author, story, code="ai.undisclosed_generated", score=0.97))
    other_family = send(detector, detector_signal(story.author, story, code="spam.scraped"))
    other_story = send(detector, detector_signal(story.author, StoryFactory(author=story.author)))
    account_level = send(detector, detector_signal(story.author, None, code="ai.seo_affiliate"))

    assert joined.case_id == first.case_id
    case = Case.objects.get(pk=first.case_id)
    assert case.signal_count == 2 and case.max_detector_score == 0.97
    assert len({first.case_id, other_family.case_id, other_story.case_id, account_level.case_id}) == 4
    assert Case.objects.get(pk=other_family.case_id).queue.slug == "spam"


def test_a_closed_case_is_not_joined(detector):
    story = StoryFactory()
    first = send(detector, detector_signal(story.author, story))
    Case.objects.filter(pk=first.case_id).update(status="dismissed", decided_at=timezone.now())
    again = send(detector, detector_signal(story.author, story))
    assert again.case_id != first.case_id


def test_a_human_report_joining_an_automated_case_clears_automated_origin(detector, platform):
    story = StoryFactory(is_paywalled=True)
    first = send(detector, detector_signal(story.author, story))
    send(platform, reader_signal(story.author, story, reporter=AccountFactory()))
    case = Case.objects.get(pk=first.case_id)
    assert case.automated_origin is False
    assert case.reporter_count == 1
    event = AuditEvent.objects.filter(verb="signals.received").order_by("-id").first()
    assert event.before == {"automated_origin": True} and event.after["automated_origin"] is False
    assert event.after["signals"][0]["source"] == SignalSource.READER_REPORT


def test_a_reader_report_without_policy_is_a_paywalled_ai_report_and_routes_to_reader_reports(platform):
    story = StoryFactory(is_paywalled=True)
    result = send(platform, reader_signal(story.author, story, reporter=AccountFactory()))
    case = Case.objects.get(pk=result.case_id)
    assert case.policy.code == "ai.paywalled_generated"
    assert case.queue.slug == "reader-reports"
    assert case.automated_origin is False


def test_same_idempotency_key_from_the_same_client_stores_once(detector):
    story = StoryFactory()
    item = detector_signal(story.author, story, idempotency_key="hit-1")
    first = send(detector, item)
    second = send(detector, item)
    assert (first.status, second.status) == ("stored", "duplicate")
    assert (second.signal_id, second.case_id) == (first.signal_id, first.case_id)
    other_client = make_client("second-detector")[0]
    assert send(other_client, item).status == "stored"
    assert Signal.objects.filter(idempotency_key="hit-1").count() == 2


def test_show_less_opens_a_case_only_after_enough_distinct_readers(platform, settings):
    settings.MODERATION = {**settings.MODERATION, "SHOW_LESS_THRESHOLD": 3}
    story = StoryFactory()
    alice, bob, carol = AccountFactory.create_batch(3)

    def show_less(reader):
        return send(platform, reader_signal(story.author, story, reporter=reader, source=SignalSource.SHOW_LESS))

    assert show_less(alice).case_id is None
    assert show_less(alice).case_id is None  # the same reader counts once
    assert show_less(bob).case_id is None
    opened = show_less(carol)

    case = Case.objects.get(pk=opened.case_id)
    assert case.policy_family == "reader" and case.policy is None
    assert case.queue.slug == "reader-reports"
    assert case.signal_count == 4 and case.reporter_count == 3
    assert Signal.objects.filter(story=story, case__isnull=True).count() == 0
    assert case.evidence.filter(kind=EvidenceKind.SIGNAL).count() == 4


def test_show_less_joins_an_open_case_on_the_same_story(detector, platform):
    story = StoryFactory()
    first = send(detector, detector_signal(story.author, story))
    result = send(platform, reader_signal(story.author, story, reporter=AccountFactory(), source="show_less"))
    assert result.case_id == first.case_id


def test_snapshot_keeps_what_was_reported_when_the_platform_copy_changes(platform):
    story = StoryFactory(is_paywalled=True, body="As reported: delve into it.")
    first = send(platform, reader_signal(story.author, story, reporter=AccountFactory()))
    snapshot = Evidence.objects.get(case_id=first.case_id, kind=EvidenceKind.SNAPSHOT)
    hash_before = snapshot.content_hash
    assert snapshot.body == "As reported: delve into it."

    mirror_client, _ = create_api_client(name="platform-mirror", scopes=["platform"])
    changed = {"body": "Edited after the report.", "title": "New title", "is_paywalled": False}
    mirror_stories(client=mirror_client, items=[{"platform_id": story.platform_id, "sequence": 5, **changed}])
    send(platform, reader_signal(story.author, story, reporter=AccountFactory()))
    story.refresh_from_db()
    assert story.body == "Edited after the report." and story.is_paywalled is False
    snapshots = Evidence.objects.filter(case_id=first.case_id, kind=EvidenceKind.SNAPSHOT)
    assert [(s.content_hash, s.body) for s in snapshots] == [(hash_before, "As reported: delve into it.")]
    assert len(hash_before) == 64


def test_account_data_creates_an_unknown_account_with_facts_pending_and_never_changes_it(detector, platform):
    item = SignalIn(
        idempotency_key="new-1",
        source=SignalSource.READER_REPORT,
        account="p-777",
        reporter="reader-42",
        account_data={"handle": "newwriter", "email": "n@example.com", "partner_status": "active"},
    )
    result = send(platform, item)
    account = Account.objects.get(platform_id="p-777")
    assert account.handle == "newwriter" and account.is_partner and account.partner_enrolled_at is not None
    assert account.facts_pending
    reader = Account.objects.get(platform_id="reader-42")
    assert reader.handle == "reader-reader-42" and reader.facts_pending
    assert result.case_id is not None and result.warnings == {}

    item.idempotency_key = "new-2"
    item.account_data = {"follower_count": 12000, "email": "n@example.com"}
    second = send(platform, item)
    account.refresh_from_db()
    assert account.follower_count == 0
    assert second.warnings == {"account_data.follower_count": "ignored: platform facts come only from the platform"}
    ignored = AuditEvent.objects.get(verb="account.facts_ignored")
    assert ignored.target_id == str(account.pk) and ignored.after["fields"] == ["account_data.follower_count"]
    assert ignored.after["attempts"][0]["ignored"] == {"account_data.follower_count": 12000}


def test_proposals_are_not_duplicated_for_the_same_outcome(detector):
    story = StoryFactory()
    send(detector, detector_signal(story.author, story, proposed_outcomes=["paywall.remove"]))
    result = send(detector, detector_signal(story.author, story, proposed_outcomes=["paywall.remove", "warning"]))
    outcomes = sorted(EnforcementAction.objects.filter(case_id=result.case_id).values_list("outcome", flat=True))
    assert outcomes == ["paywall.remove", "warning"]
