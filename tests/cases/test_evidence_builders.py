"""Evidence builders run when a case opens and on demand; they store immutable evidence,
audited, and decide nothing. The review page shows the ring as a picture with its numbers
and links to every member's open cases."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.evidence.genuineness import profile
from cases.evidence.services import build_evidence
from cases.models import CaseStatus, EnforcementAction, Evidence, EvidenceKind
from moderation.models import Account, AuditEvent
from tests.cases.evidence_fixtures import LIGHT_EDIT, ORIGINAL, make_community, make_ring, outsiders
from tests.cases.intake_helpers import detector_signal, make_client, send
from tests.cases.review_factories import service_user
from tests.factories import (
    AccountFactory,
    CaseFactory,
    EnforcementActionFactory,
    QueueFactory,
    SignalFactory,
    StoryFactory,
    moderator,
    policy,
    supervisor,
)

pytestmark = pytest.mark.django_db


def ring_cases(members, queue=None):
    queue = queue or QueueFactory()
    pol = policy("engagement.ring")
    return [CaseFactory(account=m, policy_family="engagement", policy=pol, queue=queue) for m in members]


def test_a_ring_case_opened_by_a_detector_gets_engagement_and_genuineness_evidence(run_on_commit):
    ring = make_ring(12, outside_stories=outsiders(10))
    client, _ = make_client()

    with run_on_commit():
        result = send(client, detector_signal(ring[0], code="engagement.ring", detector_name="ring-detector"))

    kinds = set(Evidence.objects.filter(case_id=result.case_id).values_list("kind", flat=True))
    assert {EvidenceKind.ENGAGEMENT_GRAPH, EvidenceKind.GENUINENESS} <= kinds
    graph = Evidence.objects.get(case_id=result.case_id, kind=EvidenceKind.ENGAGEMENT_GRAPH)
    assert graph.data["is_ring"] is True and len(graph.data["members"]) == 11
    assert len(graph.content_hash) == 64 and graph.added_by is None
    builder_rows = AuditEvent.objects.filter(verb="evidence.added", case_ref=result.case_id, after__builder=True)
    assert builder_rows.count() == 2


def test_a_duplicate_case_gets_the_copy_side_by_side_with_the_original_marked(run_on_commit):
    original = StoryFactory(body=ORIGINAL, title="Fig", published_at=timezone.now() - timedelta(days=20))
    copier = AccountFactory()
    copy = StoryFactory(author=copier, body=LIGHT_EDIT, title="Fig")
    StoryFactory(body="An unrelated story about harbours and bridges in winter.")
    from cases.evidence.similarity import index_stories

    index_stories(story_ids=[original.pk])
    client, _ = make_client()

    with run_on_commit():
        result = send(client, detector_signal(copier, copy, code="spam.duplicate"))

    item = Evidence.objects.get(case_id=result.case_id, kind=EvidenceKind.SIMILAR_CONTENT)
    assert [m["other"]["id"] for m in item.data["matches"]] == [original.pk]
    assert item.data["likely_original"] == original.pk
    assert any(s["shared"] for s in item.data["matches"][0]["case_story_segments"])


def test_builders_change_nothing_and_propose_nothing():
    ring = make_ring(6, outside_stories=[])
    case = ring_cases(ring[:1])[0]
    before = list(Account.objects.order_by("pk").values_list("status", "partner_status"))

    build_evidence(case_id=case.pk, builders=["engagement", "genuineness"])

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.assignee_id is None
    assert not EnforcementAction.objects.filter(case=case).exists()
    assert list(Account.objects.order_by("pk").values_list("status", "partner_status")) == before


def test_evidence_is_frozen_and_a_rebuild_adds_a_new_item():
    ring = make_ring(6, outside_stories=[])
    case = ring_cases(ring[:1])[0]
    [first] = build_evidence(case_id=case.pk, builders=["engagement"])
    with pytest.raises(ValueError):
        first.save()
    with pytest.raises(ValueError):
        first.delete()

    [second] = build_evidence(case_id=case.pk, builders=["engagement"])

    assert second.pk != first.pk and second.content_hash == first.content_hash


def test_a_reviewer_rebuilds_evidence_from_the_case_page(client, run_on_commit):
    ring = make_ring(6, outside_stories=[])
    case = ring_cases(ring[:1])[0]
    user = moderator()
    client.force_login(user)
    url = reverse("review:request_evidence", args=[case.pk])

    with run_on_commit():
        response = client.post(url, {"builder": "engagement"})

    assert response.status_code == 302
    item = Evidence.objects.get(case=case, kind=EvidenceKind.ENGAGEMENT_GRAPH)
    assert item.added_by == user
    assert client.get(url).status_code == 405
    assert client.post(url, {"builder": "delete_everything"}).status_code == 400
    assert client.post(url, {"builder": "similar"}).status_code == 400  # an account case has no story


@pytest.mark.parametrize("who", ["supervisor", "service"])
def test_only_staff_with_review_rights_may_request_evidence(client, who):
    case = ring_cases([AccountFactory()])[0]
    client.force_login(supervisor() if who == "supervisor" else service_user())

    response = client.post(reverse("review:request_evidence", args=[case.pk]), {"builder": "engagement"})

    assert response.status_code in (302, 403)
    assert not Evidence.objects.filter(case=case).exists()


def test_the_review_page_shows_the_ring_picture_numbers_and_every_members_open_cases(client):
    ring = make_ring(8, outside_stories=outsiders(5))
    cases = ring_cases(ring)
    build_evidence(case_id=cases[0].pk, builders=["engagement"])
    client.force_login(moderator())

    html = client.get(reverse("review:case", args=[cases[0].pk])).content.decode()

    assert '<svg class="engagement-graph" role="img"' in html
    assert "<title id=" in html and "<desc id=" in html
    assert "Pattern: dense reciprocal group" in html
    for member, case in zip(ring[1:], cases[1:], strict=True):
        assert f"@{member.handle}" in html
        assert reverse("review:case", args=[case.pk]) in html
    bulk = reverse("review:bulk") + "?family=engagement&amp;" + "&amp;".join(f"case={c.pk}" for c in cases)
    assert bulk in html


def test_the_bulk_page_preselects_the_rings_cases(client):
    cases = ring_cases([AccountFactory() for _ in range(3)])
    client.force_login(moderator())

    html = client.get(reverse("review:bulk") + f"?family=engagement&case={cases[0].pk}&case={cases[1].pk}").content
    html = html.decode()

    assert f'value="{cases[0].pk}" checked' in html and f'value="{cases[2].pk}" checked' not in html


def test_the_case_admin_page_shows_the_same_evidence(admin_client):
    community = make_community(8, outside_stories=outsiders(25))
    case = ring_cases(community[:1])[0]
    build_evidence(case_id=case.pk, builders=["engagement", "genuineness"])

    html = admin_client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()

    assert "Pattern: no dense reciprocal group" in html
    assert "Genuineness profile of @" in html


def test_the_genuineness_profile_shows_each_part_and_says_no_data_without_hints():
    now = timezone.now()
    writer = AccountFactory(joined_at=now - timedelta(days=800), reads_last_30_days=40)
    for _ in range(6):
        StoryFactory(author=writer)
    fresh = AccountFactory(joined_at=now - timedelta(days=3), reads_last_30_days=0)

    good, bad = profile(writer), profile(fresh)

    parts = {p["key"]: p for p in good["parts"]}
    assert parts["age"]["points"] == 2 and parts["writing"]["points"] == 2 and parts["reading"]["points"] == 2
    assert parts["fakes"]["value"] == "no data" and parts["fakes"]["points"] is None
    assert "verdict" not in good and "not a verdict" in good["note"]
    assert good["score"] > bad["score"]
    assert {p["key"]: p["points"] for p in bad["parts"]}["age"] == 0


def test_a_device_shared_with_a_suspended_account_counts_against_genuineness():
    fake = AccountFactory()
    SignalFactory(account=fake, payload={"device_hash": "d-1"})
    EnforcementActionFactory(decision__case=CaseFactory(account=fake), outcome="account.suspend")
    sibling = AccountFactory()
    SignalFactory(account=sibling, payload={"hints": {"device_hash": "d-1"}})
    stranger = AccountFactory()
    SignalFactory(account=stranger, payload={"device_hash": "d-2"})

    shared = {p["key"]: p for p in profile(sibling)["parts"]}["fakes"]
    clean = {p["key"]: p for p in profile(stranger)["parts"]}["fakes"]

    assert shared["points"] == 0 and "1 suspended accounts share device_hash:d-1" in shared["value"]
    assert clean["points"] == 2


def test_the_review_page_shows_the_copy_side_by_side_with_shared_passages_marked(client, run_on_commit):
    original = StoryFactory(body=ORIGINAL, title="Fig", published_at=timezone.now() - timedelta(days=20))
    copier = AccountFactory()
    copy = StoryFactory(author=copier, body=LIGHT_EDIT, title="Fig")
    from cases.evidence.similarity import index_stories

    index_stories(story_ids=[original.pk])
    client_, _ = make_client()
    with run_on_commit():
        result = send(client_, detector_signal(copier, copy, code="spam.duplicate"))
    client.force_login(moderator())

    html = client.get(reverse("review:case", args=[result.case_id])).content.decode()

    assert html.count('<section class="sim-side"') == 2
    assert "<mark>" in html and "teased them apart with a" in html
    assert html.count("Likely original (earliest published)") == 1
    assert f'by @{original.author.handle} <span class="bo-badge">Likely original' in html
