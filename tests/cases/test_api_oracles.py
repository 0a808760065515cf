"""No oracles in the API: a client learns nothing about other clients' signals or the
reviewers through filters, counts or proposals."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import ActionStatus, Case, EnforcementAction
from moderation.models import SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, StoryFactory, moderator

pytestmark = pytest.mark.django_db
URL = "/api/v1/cases/"


def keyed(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_a_client_cannot_filter_by_assignee_but_staff_can():
    client, key = make_client("mine")
    story, other = StoryFactory(), StoryFactory()
    case_id = send(client, detector_signal(story.author, story)).case_id
    other_id = send(client, detector_signal(other.author, other)).case_id
    reviewer = moderator(username="rosa")
    Case.objects.filter(pk=case_id).update(assignee=reviewer, claim_expires_at=timezone.now() + timedelta(minutes=15))

    everything = sorted([case_id, other_id])
    for name in ("rosa", "nobody"):
        response = keyed(key).get(f"{URL}?assignee={name}")
        assert response.status_code == 200, name
        # The same answer for a real and a made-up name: the filter is ignored for clients.
        assert sorted(c["id"] for c in response.json()["results"]) == everything, name
    staff = APIClient()
    staff.force_authenticate(moderator())
    assert [c["id"] for c in staff.get(f"{URL}?assignee=rosa").json()["results"]] == [case_id]
    assert staff.get(f"{URL}?assignee=nobody").json()["results"] == []


def test_a_client_sees_only_its_own_signals_proposals_and_counts():
    mine, my_key = make_client("mine")
    theirs, their_key = make_client("theirs")
    platform, _ = make_client("platform", [SignalSource.READER_REPORT])
    story = StoryFactory(is_paywalled=True)
    case_id = send(mine, detector_signal(story.author, story, score=0.4, proposed_outcomes=["paywall.remove"])).case_id
    send(theirs, detector_signal(story.author, story, score=0.97, proposed_outcomes=["story.remove"]))
    send(theirs, detector_signal(story.author, story, score=0.9))
    for _ in range(3):
        send(platform, reader_signal(story.author, story, reporter=AccountFactory()))
    assert EnforcementAction.objects.filter(case_id=case_id, status=ActionStatus.PROPOSED).count() == 2

    detail = keyed(my_key).get(f"{URL}{case_id}/").json()
    assert [p["outcome"] for p in detail["proposals"]] == ["paywall.remove"]
    assert (detail["signal_count"], detail["reporter_count"], detail["max_detector_score"]) == (1, 0, 0.4)
    listed = keyed(my_key).get(URL).json()["results"][0]
    assert (listed["signal_count"], listed["max_detector_score"]) == (1, 0.4)

    theirs_detail = keyed(their_key).get(f"{URL}{case_id}/").json()
    assert [p["outcome"] for p in theirs_detail["proposals"]] == ["story.remove"]
    assert (theirs_detail["signal_count"], theirs_detail["max_detector_score"]) == (2, 0.97)

    staff = APIClient()
    staff.force_authenticate(moderator())
    full = staff.get(f"{URL}{case_id}/").json()
    assert (full["signal_count"], full["reporter_count"], full["max_detector_score"]) == (6, 3, 0.97)
    assert sorted(p["outcome"] for p in full["proposals"]) == ["paywall.remove", "story.remove"]
