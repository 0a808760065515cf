"""QA sampling, blind second review, settlement, golden cases."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseStatus
from cases.services.intake import create_snapshot
from moderation.models import AuditEvent
from supervision import selectors, services
from supervision.models import QAKind, QASample, QAStatus, Settlement
from tests.factories import DecisionFactory, QueueFactory, StoryFactory, moderator, policy, senior_moderator, supervisor
from tests.supervision.factories import GoldenCaseFactory, QASampleFactory, QASamplingRuleFactory

pytestmark = pytest.mark.django_db


def _decisions(n, **kwargs):
    return [DecisionFactory(**kwargs) for _ in range(n)]


def test_sampling_draws_the_configured_share_once_per_decision():
    queue = QueueFactory()
    decisions = _decisions(40, case__queue=queue)
    QASamplingRuleFactory(queue=queue, share_percent=25)
    since = timezone.now() - timedelta(hours=1)
    first = services.sample_recent_decisions(since=since)
    expected = {d.pk for d in decisions if services.draw(d.pk) < 25}
    assert {s.decision_id for s in first} == expected
    assert 0 < len(expected) < 40
    assert services.sample_recent_decisions(since=since) == []  # a re-run adds nothing
    assert AuditEvent.objects.filter(verb="qa.sampled").count() == len(expected)


def test_sampling_uses_the_highest_matching_share_and_skips_unfinished_decisions():
    queue = QueueFactory()
    QASamplingRuleFactory(queue=queue, share_percent=0)
    QASamplingRuleFactory(policy_code="ai.paywalled_generated", share_percent=100)
    sampled = DecisionFactory(case__queue=queue, policy=policy("ai.paywalled_generated"))
    other_policy = DecisionFactory(case__queue=queue, policy=policy("spam.scraped"))
    awaiting = DecisionFactory(
        case__queue=queue, policy=policy("ai.paywalled_generated"), needs_approval=True, approved_by=None
    )
    assert services.maybe_sample_for_qa(decision=sampled) is not None
    assert services.maybe_sample_for_qa(decision=other_policy) is None
    assert services.maybe_sample_for_qa(decision=awaiting) is None


def test_sample_for_qa_command_mixes_in_golden_cases(settings):
    settings.MODERATION = {**settings.MODERATION, "QA_GOLDEN_EVERY": 2}
    GoldenCaseFactory()
    _decisions(4)
    QASamplingRuleFactory(share_percent=100)
    call_command("sample_for_qa", "--since-hours", "1")
    assert QASample.objects.filter(kind=QAKind.SAMPLED).count() == 5  # four + the golden case's own decision
    assert QASample.objects.filter(kind=QAKind.GOLDEN).count() == 2  # one per two samples
    call_command("sample_for_qa", "--since-hours", "1")
    assert QASample.objects.count() == 7


def _claimed_sample(reviewer, **kwargs):
    story = StoryFactory(title="Ten habits of calm writers", body="Para one.\n\nPara two.")
    decision = DecisionFactory(
        case__story=story,
        case__account=story.author,
        rationale="SECRET-RATIONALE: matches the model output",
        statement="SECRET-STATEMENT to the writer",
        decided_by=moderator(username="first-reviewer", first_name="Firstname"),
        **kwargs,
    )
    create_snapshot(case=decision.case)
    QASampleFactory(decision=decision)
    sample = services.claim_next_qa_sample(user=reviewer)
    assert sample is not None
    return sample, decision


def test_the_qa_page_never_shows_the_first_decision(client):
    reviewer = moderator(username="second")
    sample, decision = _claimed_sample(reviewer)
    client.force_login(reviewer)
    response = client.get(reverse("supervision:qa_review", args=[sample.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ten habits of calm writers" in html  # the content is there
    for secret in ("SECRET-RATIONALE", "SECRET-STATEMENT", "first-reviewer", "Firstname", "Decided", "Paywall removed"):
        assert secret not in html
    assert "checked" not in html.split('id="qa-form"')[1]  # no outcome or verdict prefilled
    assert "selected" not in html.split('id="qa-form"')[1].replace('value="" selected', "")


def test_the_first_reviewer_never_gets_their_own_decision():
    first = moderator()
    QASampleFactory(decision=DecisionFactory(decided_by=first))
    assert services.claim_next_qa_sample(user=first) is None
    assert selectors.qa_queue_for(first).count() == 0


def test_agreement_closes_the_sample_and_counts_for_the_reviewer(client):
    reviewer = moderator()
    sample, decision = _claimed_sample(reviewer)
    client.force_login(reviewer)
    response = client.post(
        reverse("supervision:qa_review", args=[sample.pk]),
        {"is_violation": "yes", "policy": decision.policy.pk, "outcomes": ["distribution.network_only"]},
    )
    assert response.status_code == 302
    sample.refresh_from_db()
    assert (sample.status, sample.agrees, sample.qa_reviewer, sample.assignee) == (
        QAStatus.AGREED,
        True,
        reviewer,
        None,
    )
    event = AuditEvent.objects.filter(verb="qa.reviewed").get()
    assert (event.case_ref, event.after["status"]) == (decision.case_id, "agreed")


def test_a_missing_policy_is_a_form_error(client):
    reviewer = moderator()
    sample, _ = _claimed_sample(reviewer)
    client.force_login(reviewer)
    response = client.post(reverse("supervision:qa_review", args=[sample.pk]), {"is_violation": "yes"})
    assert response.status_code == 200
    assert "Name the policy that was broken." in response.content.decode()
    assert QASample.objects.get(pk=sample.pk).status == QAStatus.PENDING


def test_disagreement_goes_to_a_supervisor_who_settles_and_can_requeue(client):
    reviewer = moderator()
    sample, decision = _claimed_sample(reviewer)
    decision.case.status, decision.case.decided_at = CaseStatus.DECIDED, timezone.now()
    decision.case.save()
    services.submit_qa_review(sample=sample, user=reviewer, is_violation=False, policy=None, outcomes=[])
    sample.refresh_from_db()
    assert (sample.status, sample.agrees) == (QAStatus.DISAGREED, False)

    boss = supervisor()
    client.force_login(boss)
    overview = client.get(reverse("supervision:qa")).content.decode()
    assert reverse("supervision:qa_settle", args=[sample.pk]) in overview
    settle_page = client.get(reverse("supervision:qa_settle", args=[sample.pk])).content.decode()
    assert "SECRET-RATIONALE" in settle_page  # the supervisor sees both sides
    response = client.post(
        reverse("supervision:qa_settle", args=[sample.pk]),
        {"settlement": Settlement.SECOND_RIGHT, "note": "The story is the writer's own.", "requeue": "on"},
    )
    assert response.status_code == 302
    sample.refresh_from_db()
    decision.case.refresh_from_db()
    assert (sample.status, sample.settlement, sample.settled_by) == (QAStatus.SETTLED, "second_right", boss)
    assert (decision.case.status, decision.case.assignee, decision.case.decided_at) == (CaseStatus.OPEN, None, None)
    assert list(AuditEvent.objects.filter(case_ref=decision.case_id).order_by("id").values_list("verb", flat=True))[
        -2:
    ] == ["qa.settled", "case.requeued_for_review"]


def test_settling_needs_a_reason_and_a_supervisor():
    sample = QASampleFactory(
        status=QAStatus.DISAGREED, qa_reviewer=moderator(), qa_decided_at=timezone.now(), agrees=False
    )
    with pytest.raises(ValidationError):
        services.settle_qa_disagreement(sample=sample, actor=supervisor(), settlement="first_right", note=" ")
    with pytest.raises(PermissionDenied):
        services.settle_qa_disagreement(sample=sample, actor=senior_moderator(), settlement="first_right", note="x")


def test_golden_answers_are_compared_with_the_known_answer():
    golden = GoldenCaseFactory()
    sample = services.mix_in_golden_case(golden=golden, actor=supervisor())
    reviewer = moderator()
    assert services.claim_next_qa_sample(user=reviewer) == sample
    services.submit_qa_review(
        sample=sample,
        user=reviewer,
        is_violation=True,
        policy=golden.expected_policy,
        outcomes=golden.expected_outcomes,
    )
    sample.refresh_from_db()
    assert (sample.status, sample.agrees) == (QAStatus.AGREED, True)


def test_a_decision_is_drawn_into_qa_as_soon_as_it_becomes_final(django_capture_on_commit_callbacks):
    from cases.services import review
    from tests.cases.review_factories import account_case, story_case

    QASamplingRuleFactory(share_percent=100)
    mira, sofia = moderator(), senior_moderator()
    plain = story_case()
    review.claim_case(user=mira, case=plain)
    pol = policy("spam.duplicate")
    data = review.DecisionInput(
        is_violation=True,
        policy=pol,
        outcomes=list(pol.default_outcomes),
        rationale="Same text.",
        statement="Your story duplicates one you posted before.",
        detector_marks={},
    )
    with django_capture_on_commit_callbacks(execute=True):
        decision = review.decide_case(case=plain, user=mira, data=data)
    assert QASample.objects.filter(decision=decision).exists()

    severe = account_case(code="spam.automation")
    review.claim_case(user=mira, case=severe)
    pol = policy("spam.automation")
    data = review.DecisionInput(
        is_violation=True,
        policy=pol,
        outcomes=["account.suspend"],
        rationale="Scripted posting.",
        statement="Your account posted programmatically.",
        detector_marks={},
    )
    with django_capture_on_commit_callbacks(execute=True):
        waiting = review.decide_case(case=severe, user=mira, data=data)
    assert waiting.needs_approval
    assert not QASample.objects.filter(decision=waiting).exists(), "not final until approved"
    with django_capture_on_commit_callbacks(execute=True):
        review.approve_decision(decision=waiting, approver=sofia)
    assert QASample.objects.filter(decision=waiting).count() == 1
