from datetime import timedelta

import pytest
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from cases.models import Case
from moderation.models import SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, CaseFactory, QueueFactory, StoryFactory, UserFactory, moderator

pytestmark = pytest.mark.django_db
URL = "/api/v1/cases/"


def keyed(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def staff_api(user=None):
    client = APIClient()
    client.force_authenticate(user or moderator())
    return client


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_a_client_reads_only_the_cases_its_signals_joined_and_only_its_own_signals():
    mine, my_key = make_client("mine")
    theirs, _ = make_client("theirs")
    platform, _ = make_client("platform", [SignalSource.READER_REPORT])
    story = StoryFactory()
    own = send(mine, detector_signal(story.author, story))
    send(platform, reader_signal(story.author, story, reporter=AccountFactory()))
    other = send(theirs, detector_signal(story.author, None))
    CaseFactory(assignee=None)

    assert ids(keyed(my_key).get(URL)) == [own.case_id]
    detail = keyed(my_key).get(f"{URL}{own.case_id}/").json()
    assert [s["source"] for s in detail["signals"]] == ["detector"]
    assert detail["assignee"] is None
    assert keyed(my_key).get(f"{URL}{other.case_id}/").status_code == 404


def test_staff_with_view_rights_read_every_case_and_others_nothing():
    CaseFactory.create_batch(3)
    assert len(ids(staff_api().get(URL))) == 3
    assert staff_api(UserFactory()).get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_a_service_client_cannot_change_anything_or_reach_the_admin():
    client, key = make_client("detector")
    story = StoryFactory()
    case_id = send(client, detector_signal(story.author, story)).case_id
    api = keyed(key)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(api, method)(f"{URL}{case_id}/", {"status": "dismissed"}, format="json")
        assert response.status_code in (403, 405), method
    assert api.post(URL, {"account": "x"}, format="json").status_code == 403
    assert api.get("/admin/cases/case/").status_code == 302  # to the login page: not staff
    assert api.get(f"/admin/cases/case/{case_id}/change/").status_code == 302
    assert Case.objects.get(pk=case_id).status == "open"


def test_cases_filter_by_the_listed_fields_and_order_by_priority_or_age():
    now = timezone.now()
    ai_queue, spam_queue = QueueFactory(slug="ai-q"), QueueFactory(slug="spam-q")
    reviewer = moderator(username="rina")
    old = CaseFactory(queue=ai_queue, priority=10, opened_at=now - timedelta(days=3), automated_origin=True)
    high = CaseFactory(queue=ai_queue, priority=500, opened_at=now - timedelta(hours=1))
    spam = CaseFactory(
        queue=spam_queue,
        policy_family="spam",
        priority=50,
        status="in_review",
        assignee=reviewer,
        claim_expires_at=now + timedelta(minutes=10),
        story=StoryFactory(),
    )
    api = staff_api()

    assert ids(api.get(URL)) == [high.pk, spam.pk, old.pk]
    assert ids(api.get(URL, {"ordering": "opened_at"})) == [old.pk, high.pk, spam.pk]
    assert ids(api.get(URL, {"ordering": "priority"})) == [old.pk, spam.pk, high.pk]
    assert ids(api.get(URL, {"queue": "spam-q"})) == [spam.pk]
    assert ids(api.get(URL, {"status": ["open", "in_review"]})) == [high.pk, spam.pk, old.pk]
    assert ids(api.get(URL, {"status": "in_review"})) == [spam.pk]
    assert ids(api.get(URL, {"family": "spam"})) == [spam.pk]
    assert ids(api.get(URL, {"policy": old.policy.code})) == [high.pk, old.pk]
    assert ids(api.get(URL, {"account": old.account.handle})) == [old.pk]
    assert ids(api.get(URL, {"account": old.account.platform_id})) == [old.pk]
    assert ids(api.get(URL, {"story": spam.story.platform_id})) == [spam.pk]
    assert ids(api.get(URL, {"automated_origin": "true"})) == [old.pk]
    assert ids(api.get(URL, {"assignee": "rina"})) == [spam.pk]
    assert ids(api.get(URL, {"created_before": (now - timedelta(days=1)).isoformat()})) == [old.pk]
    assert ids(api.get(URL, {"due_before": now.isoformat()})) == [old.pk]
    assert ids(api.get(URL, {"sla_breached": "true"})) == [old.pk]
    assert api.get(URL, {"status": "bogus"}).status_code == 400
    assert api.get(URL, {"created_after": "not a date"}).status_code == 400
    detail = api.get(f"{URL}{spam.pk}/").json()
    assert detail["assignee"] == "rina" and detail["queue"] == "spam-q"


def test_the_case_list_is_paginated():
    CaseFactory.create_batch(3)
    response = staff_api().get(URL, {"page_size": 1})
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 3  # default page size 50
    assert "next" in body


def test_schema_for_the_cases_api_generates_without_warnings():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("cases.urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    assert "/api/v1/signals/" in schema["paths"] and "/api/v1/cases/{id}/" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/v1/cases/"]["get"]["parameters"]}
    assert {"status", "queue", "policy", "family", "account", "created_after", "due_before", "ordering"} <= params


def test_schema_and_docs_pages_are_served():
    api = staff_api()
    assert api.get("/api/schema/").status_code == 200
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    # The Swagger UI comes from our own static files, so the docs work offline.
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content
    assert b"cdn.jsdelivr.net" not in docs.content
