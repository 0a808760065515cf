"""Signals never change platform facts: a client allowed only detector signals tried to
rewrite a Partner Program writer's email, partner status and follower count, then to
get the writer's appeal link mailed to itself. Only the platform mirror changes facts,
and a change it makes while a case or appeal is open is shown on both pages."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from appeals import services as appeals
from cases.models import Notice
from cases.services import review
from cases.services.intake import create_api_client
from moderation.models import Account, AuditEvent, SignalSource, Story
from moderation.personal_data import reveal
from tests.appeals.factories import applied_action
from tests.cases.intake_helpers import make_client
from tests.cases.review_factories import detector_signal as case_signal
from tests.cases.review_factories import story_case
from tests.cases.test_notices import decide
from tests.factories import (
    AccountFactory,
    CaseFactory,
    StoryFactory,
    appeals_reviewer,
    moderator,
    senior_moderator,
)

pytestmark = pytest.mark.django_db

IGNORED = "ignored: platform facts come only from the platform"
ATTACK = {"email": "attacker@evil.example", "partner_status": "not_enrolled", "follower_count": 0}


def api(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def writer():
    return AccountFactory(platform_id="w-1", handle="ada", email="ada@example.com", partner=True, follower_count=48000)


@pytest.fixture
def detector_key():
    return make_client("ai-detector", [SignalSource.DETECTOR])[1]


@pytest.fixture
def mirror():
    return api(create_api_client(name="platform-mirror", scopes=["platform"])[1])


def detector_hit(account, key="hit-1", **extra):
    return {
        "idempotency_key": key,
        "source": "detector",
        "account": account.platform_id,
        "policy": "ai.paywalled_generated",
        "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
        "score": 0.9,
        **extra,
    }


def test_a_detector_cannot_rewrite_a_partner_writers_facts_and_the_attempt_is_audited(writer, detector_key):
    response = api(detector_key).post("/api/v1/signals/", detector_hit(writer, account_data=ATTACK), format="json")

    assert response.status_code == 201
    [result] = response.json()["results"]
    assert result["status"] == "stored" and result["case"] is not None
    assert result["warnings"] == {
        "account_data.email": IGNORED,
        "account_data.partner_status": IGNORED,
        "account_data.follower_count": IGNORED,
    }
    writer.refresh_from_db()
    assert writer.email == "ada@example.com" and writer.is_partner and writer.follower_count == 48000
    assert not writer.facts_pending
    event = AuditEvent.objects.get(verb="account.facts_ignored")
    assert event.target_id == str(writer.pk) and event.actor_label == "api-client:ai-detector"
    assert event.after["fields"] == sorted(f"account_data.{name}" for name in ATTACK)
    assert reveal(event.after["attempts"][0]["ignored"]["account_data.email"]) == "attacker@evil.example"


def test_after_the_attack_a_magic_link_request_with_the_attackers_address_mails_nothing(
    client, writer, detector_key, run_on_commit
):
    applied_action("paywall.remove", story=StoryFactory(author=writer, is_paywalled=True))
    api(detector_key).post("/api/v1/signals/", detector_hit(writer, account_data=ATTACK), format="json")

    with run_on_commit():
        attacker = client.post("/appeal/", {"handle": "ada", "email": "attacker@evil.example"})
    assert attacker.status_code == 200 and mail.outbox == []

    with run_on_commit():
        client.post("/appeal/", {"handle": "ada", "email": "ada@example.com"})
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


def test_story_data_never_changes_a_known_story(writer, detector_key):
    story = StoryFactory(platform_id="s-1", author=writer, is_paywalled=True, title="Night baking")
    body = detector_hit(writer, story="s-1", story_data={"paywalled": False, "title": "Changed", "kind": "story"})
    [result] = api(detector_key).post("/api/v1/signals/", body, format="json").json()["results"]
    assert result["warnings"] == {"story_data.paywalled": IGNORED, "story_data.title": IGNORED}
    story.refresh_from_db()
    assert story.is_paywalled and story.title == "Night baking"


def test_a_signal_creates_an_unknown_account_with_facts_pending_and_no_link_goes_to_its_email(
    client, detector_key, mirror, run_on_commit
):
    body = detector_hit(
        Account(platform_id="w-new"),
        account_data={"handle": "newbie", "email": "claimed@evil.example", "partner_status": "active"},
        story="s-new",
        story_data={"title": "Fresh", "paywalled": True},
    )
    [result] = api(detector_key).post("/api/v1/signals/", body, format="json").json()["results"]
    assert "warnings" not in result
    account = Account.objects.get(platform_id="w-new")
    assert account.facts_pending and account.email == "claimed@evil.example"
    assert Story.objects.get(platform_id="s-new").facts_pending

    with run_on_commit():
        client.post("/appeal/", {"handle": "newbie", "email": "claimed@evil.example"})
    assert mail.outbox == []

    mirror.post(
        "/api/v1/platform/accounts/",
        [{"platform_id": "w-new", "sequence": 1, "email": "newbie@example.com"}],
        format="json",
    )
    account.refresh_from_db()
    assert not account.facts_pending and account.email == "newbie@example.com"
    with run_on_commit():
        client.post("/appeal/", {"handle": "newbie", "email": "claimed@evil.example"})
        client.post("/appeal/", {"handle": "newbie", "email": "newbie@example.com"})
    assert [m.to for m in mail.outbox] == [["newbie@example.com"]]


def test_a_platform_change_of_email_or_partner_status_shows_on_the_open_case_and_appeal(client, writer, mirror):
    case = CaseFactory(account=writer)
    appeal = appeals.file_appeal(
        account=writer,
        action=applied_action("paywall.remove", story=StoryFactory(author=writer, is_paywalled=True)),
        writer_statement="I wrote every word of it myself, drafts available.",
        contact_email="ada@example.com",
    )
    client.force_login(moderator())
    assert "changed by the platform" not in client.get(f"/admin/review/case/{case.pk}/").content.decode()

    mirror.post(
        "/api/v1/platform/accounts/",
        [{"platform_id": "w-1", "sequence": 3, "email": "ada@new.example", "partner_status": "revoked"}],
        format="json",
    )
    for url in (f"/admin/review/case/{case.pk}/", f"/admin/cases/case/{case.pk}/change/"):
        page = client.get(url).content.decode()
        assert "Email changed by the platform on" in page
        assert "Partner Program status changed by the platform on" in page
    client.force_login(appeals_reviewer())
    page = client.get(f"/admin/appeals/appeal/{appeal.pk}/change/").content.decode()
    assert "Email changed by the platform on" in page


def test_a_follower_count_change_alone_is_not_announced(client, writer, mirror):
    case = CaseFactory(account=writer)
    mirror.post(
        "/api/v1/platform/accounts/", [{"platform_id": "w-1", "sequence": 3, "follower_count": 1}], format="json"
    )
    client.force_login(moderator())
    assert "changed by the platform" not in client.get(f"/admin/review/case/{case.pk}/").content.decode()


def test_a_decision_notice_with_its_appeal_link_is_not_mailed_to_an_unconfirmed_email(run_on_commit):
    case = story_case(code="ai.undisclosed_generated")
    Account.objects.filter(pk=case.account_id).update(facts_pending=True, email="claimed@evil.example")
    case.account.refresh_from_db()
    case_signal(case)
    with run_on_commit():
        decision = decide(case)
    # Unconfirmed facts are the most protected case: a second person approves first.
    assert decision.needs_approval
    with run_on_commit():
        review.approve_decision(decision=decision, approver=senior_moderator())
    notice = Notice.objects.get(decision=decision, recipient_kind="writer")
    assert notice.email == "" and all("claimed@evil.example" not in m.to for m in mail.outbox)
