"""Blind QA is blind: the second reviewer sees the case as it was decided (the frozen
snapshot and the signals, never today's account or story), and while they hold the
sample the case page, its review and action pages, its records in the admin and its
API record answer 403 with the reason."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import EnforcementAction, Notice
from cases.services.intake import create_snapshot
from moderation.models import Story
from supervision import services
from supervision.models import QAStatus
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    EnforcementActionFactory,
    SignalFactory,
    StoryFactory,
    moderator,
    policy,
)
from tests.supervision.factories import QASampleFactory

pytestmark = pytest.mark.django_db

REASON = "Until you record your answer it is closed to you"


@pytest.fixture
def blind():
    """A paywalled story flagged, snapshotted, decided "remove from the paywall" and
    applied (the story is now off the paywall and retitled); its decision is sampled
    and the second reviewer holds the sample."""
    writer = AccountFactory(handle="calmwriter", display_name="Calm Writer")
    story = StoryFactory(author=writer, title="Ten habits of calm writers", body="My own words.", is_paywalled=True)
    case = CaseFactory(account=writer, story=story, policy=policy("ai.paywalled_generated"))
    SignalFactory(detector=True, account=writer, story=story, case=case)
    create_snapshot(case=case)
    decision = DecisionFactory(case=case, outcomes=["paywall.remove"])
    action = EnforcementActionFactory(
        decision=decision, outcome="paywall.remove", status="applied", applied_at=decision.decided_at
    )
    Notice.objects.create(
        case=decision.case,
        decision=decision,
        recipient_kind=Notice.Recipient.WRITER,
        account=writer,
        subject="Your story left the paywall",
        body="OUTCOME-NOTICE",
        sent_at=decision.decided_at,
    )
    Story.objects.filter(pk=story.pk).update(
        is_paywalled=False, distribution="network_only", title="EDITED TODAY", body="CURRENT BODY"
    )
    QASampleFactory(decision=decision)
    reviewer = moderator(username="second")
    sample = services.claim_next_qa_sample(user=reviewer)
    return {"sample": sample, "decision": decision, "case": decision.case, "action": action, "reviewer": reviewer}


def test_the_sample_page_shows_the_frozen_snapshot_never_the_story_today(client, blind):
    client.force_login(blind["reviewer"])
    html = client.get(reverse("supervision:qa_review", args=[blind["sample"].pk])).content.decode()
    snapshot = html.split('id="qa-snapshot"')[1].split("</div>")[0]
    assert "Ten habits of calm writers" in snapshot and "My own words." in snapshot
    assert "paywalled yes" in snapshot and "distribution general" in snapshot
    for today in ("EDITED TODAY", "CURRENT BODY", "distribution network_only", "paywalled no", "platform.example"):
        assert today not in html
    assert "ai-text-classifier" in html  # the signals are there


def test_without_a_snapshot_the_page_says_so_and_shows_nothing_current(client):
    story = StoryFactory(title="LIVE TITLE", body="LIVE BODY", is_paywalled=False)
    decision = DecisionFactory(case__account=story.author, case__story=story)
    QASampleFactory(decision=decision)
    reviewer = moderator(username="third")
    sample = services.claim_next_qa_sample(user=reviewer)
    client.force_login(reviewer)
    html = client.get(reverse("supervision:qa_review", args=[sample.pk])).content.decode()
    assert "No content snapshot was frozen for this case" in html
    assert "LIVE TITLE" not in html and "LIVE BODY" not in html and story.author.handle not in html


def _pages(blind):
    case, decision, action = blind["case"], blind["decision"], blind["action"]
    notice = Notice.objects.get(case=case)
    return {
        "case admin": ("get", reverse("admin:cases_case_change", args=[case.pk])),
        "review page": ("get", reverse("review:case", args=[case.pk])),
        "claim": ("post", reverse("review:claim", args=[case.pk])),
        "assign": ("post", reverse("review:assign", args=[case.pk])),
        "add evidence": ("post", reverse("admin:cases_case_add_evidence", args=[case.pk])),
        "decision admin": ("get", reverse("admin:cases_decision_change", args=[decision.pk])),
        "action admin": ("get", reverse("admin:cases_enforcementaction_change", args=[action.pk])),
        "notice admin": ("get", reverse("admin:cases_notice_change", args=[notice.pk])),
        "approve": ("post", reverse("review:approve", args=[decision.pk])),
        "account today": ("get", reverse("admin:moderation_account_change", args=[case.account_id])),
        "story today": ("get", reverse("admin:moderation_story_change", args=[case.story_id])),
    }


def test_the_holder_gets_403_with_the_reason_everywhere_the_case_shows(client, blind):
    client.force_login(blind["reviewer"])
    for name, (method, url) in _pages(blind).items():
        response = getattr(client, method)(url)
        assert response.status_code == 403, name
        assert REASON in response.content.decode(), name
        assert f"QA sample #{blind['sample'].pk}" in response.content.decode(), name

    api = APIClient()
    api.force_authenticate(blind["reviewer"])
    response = api.get(f"/api/v1/cases/{blind['case'].pk}/")
    assert response.status_code == 403
    assert REASON in response.json()["detail"]
    listed = [c["id"] for c in api.get("/api/v1/cases/").json()["results"]]
    assert blind["case"].pk not in listed


def test_the_holder_cannot_find_the_case_in_admin_lists(client, blind):
    client.force_login(blind["reviewer"])
    for model in ("cases_case", "cases_decision", "cases_enforcementaction", "cases_notice", "cases_evidence"):
        html = client.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert "calmwriter" not in html and "OUTCOME-NOTICE" not in html, model
        assert "Ten habits" not in html, model
    for model in ("moderation_account", "moderation_story"):
        html = client.get(reverse(f"admin:{model}_changelist"), {"q": "calm"}).content.decode()
        assert "calmwriter" not in html and "EDITED TODAY" not in html, model


def test_everyone_else_still_opens_the_case(client, blind):
    other = moderator(username="colleague")
    client.force_login(other)
    for name, (method, url) in _pages(blind).items():
        if method == "get":
            assert client.get(url).status_code == 200, name
    api = APIClient()
    api.force_authenticate(other)
    assert api.get(f"/api/v1/cases/{blind['case'].pk}/").status_code == 200


def test_the_case_opens_again_once_the_second_decision_is_recorded(client, blind):
    answered = services.submit_qa_review(
        sample=blind["sample"], user=blind["reviewer"], is_violation=False, policy=None, outcomes=[]
    )
    assert answered.status == QAStatus.DISAGREED
    client.force_login(blind["reviewer"])
    assert client.get(reverse("admin:cases_case_change", args=[blind["case"].pk])).status_code == 200
    assert client.get(reverse("admin:cases_enforcementaction_change", args=[blind["action"].pk])).status_code == 200
    assert EnforcementAction.objects.filter(pk=blind["action"].pk).exists()
