"""Malformed input is a 400 with a field message, never a 500: each test here was a
500 once (issue 12). They run on PostgreSQL in CI, where NUL bytes and impossible
UTC offsets reach the database as errors if validation lets them through."""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import Case, CaseStatus, Signal
from moderation.models import Account, SignalSource
from tests.cases.intake_helpers import detector_hit_body as hit
from tests.cases.intake_helpers import make_client
from tests.cases.review_factories import account_case
from tests.factories import CaseFactory, QueueFactory, StoryFactory, moderator, policy

pytestmark = pytest.mark.django_db
SIGNALS = "/api/v1/signals/"
CASES = "/api/v1/cases/"


@pytest.fixture
def detector():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_client('detector')[1]}")
    return client


@pytest.fixture
def platform():
    client = APIClient()
    key = make_client("platform", [SignalSource.READER_REPORT, SignalSource.SHOW_LESS])[1]
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def post_raw(client, body: str):
    return client.post(SIGNALS, body, content_type="application/json")


def test_a_body_nested_a_thousand_levels_is_refused_not_a_recursion_error(detector):
    response = post_raw(detector, "[" * 1000 + "]" * 1000)
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_a_payload_nested_past_the_depth_limit_is_refused(detector, settings):
    story = StoryFactory()
    deep = {}
    for _ in range(settings.MODERATION["API_JSON_MAX_DEPTH"]):
        deep = {"x": deep}
    response = detector.post(SIGNALS, hit(story, payload=deep), format="json")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]
    assert not Signal.objects.exists()


def test_a_body_over_the_size_limit_is_refused(detector, settings):
    settings.MODERATION = {**settings.MODERATION, "API_JSON_MAX_BYTES": 1000}
    response = detector.post(SIGNALS, hit(StoryFactory(), payload={"pad": "x" * 2000}), format="json")
    assert response.status_code == 400 and "larger than 1000 bytes" in response.json()["detail"]


def test_nan_and_infinity_are_not_json(detector):
    story = StoryFactory()
    body = json.dumps(hit(story)).replace("0.9", "NaN")
    assert post_raw(detector, body).status_code == 400


@pytest.mark.parametrize("value", ["x\u0000", "x\u0007y", "line\nbreak", "\ud800"])
def test_control_characters_in_an_identifier_are_a_field_error(detector, value):
    story = StoryFactory()
    response = post_raw(detector, json.dumps(hit(story, account=value)))  # escaped: a lone surrogate travels
    assert response.status_code == 400
    assert "account" in response.json()
    assert not Signal.objects.exists()


def test_a_nul_in_any_text_field_is_a_field_error(platform):
    story = StoryFactory()
    for field, value in [
        ("idempotency_key", "k\u0000"),
        ("reporter", "r\u0000"),
        ("reason", "bad\u0000reason"),
        ("story", "s\u0000"),
    ]:
        item = {
            "idempotency_key": "k",
            "source": "reader_report",
            "account": story.author.platform_id,
            "reporter": "reader-1",
            field: value,
        }
        response = platform.post(SIGNALS, item, format="json")
        assert response.status_code == 400, field
        assert field in response.json(), field


def test_free_text_keeps_its_line_breaks(platform):
    story = StoryFactory()
    item = {
        "idempotency_key": "k",
        "source": "reader_report",
        "account": story.author.platform_id,
        "story": story.platform_id,
        "reporter": "reader-1",
        "reason": "First line.\nSecond line.\tTabbed.",
    }
    assert platform.post(SIGNALS, item, format="json").status_code == 201


@pytest.mark.parametrize("payload", [{"note": "a\u0000b"}, {"a\u0000": 1}, {"deep": [{"x": "\u0000"}]}])
def test_a_nul_anywhere_in_the_payload_is_a_field_error(detector, payload):
    response = detector.post(SIGNALS, hit(StoryFactory(), payload=payload), format="json")
    assert response.status_code == 400
    assert "payload" in response.json()


def test_nested_account_data_with_a_nul_is_a_field_error(detector):
    story = StoryFactory()
    response = detector.post(
        SIGNALS,
        hit(story, account="new-1", story=None, account_data={"handle": "new", "display_name": "N\u0000"}),
        format="json",
    )
    assert response.status_code == 400
    assert "display_name" in response.json()["account_data"]


def test_a_follower_count_beyond_the_column_is_a_field_error(detector):
    story = StoryFactory()
    response = detector.post(
        SIGNALS, hit(story, account_data={"handle": story.author.handle, "follower_count": 2**70}), format="json"
    )
    assert response.status_code == 400
    assert "follower_count" in response.json()["account_data"]
    assert Account.objects.get(pk=story.author.pk).follower_count != 2**70


def test_a_batch_with_one_bad_item_names_the_item(detector):
    story = StoryFactory()
    response = detector.post(SIGNALS, [hit(story), hit(story, idempotency_key="k-2", account="a\u0000")], format="json")
    assert response.status_code == 400
    assert "account" in response.json()["1"]


@pytest.mark.parametrize(
    "query",
    [
        "created_after=2026-01-01T00:00:00%2B24:00",
        "created_after=2026-01-01T25:00:00Z",
        "account=x%00",
        "assignee=%00",
        "due_before=",
        "sla_breached=",
        "status=",
        "queue=q%01",
        "sla_breached=maybe",
        "automated_origin=1",
        "page=0",
        "page=last",
        "page=%D9%A3",
        "page=99999999999999999999",
    ],
)
def test_malformed_case_filters_are_a_400(query):
    api = APIClient()
    api.force_authenticate(moderator())
    response = api.get(f"{CASES}?{query}")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("created_after=2026-01-01T12:00:00%2B17:26", True),  # PostgreSQL refuses this offset: sent as UTC
        ("created_after=2026-01-01T12:00:00-15:30", False),
        ("created_before=0001-01-01T00:00:00%2B01:00", False),  # before year 1 in UTC: clamped
        ("created_before=9999-12-31T23:59:59-01:00", True),
    ],
)
def test_any_rfc3339_offset_is_compared_in_utc(query, found):
    case = CaseFactory()
    Case.objects.filter(pk=case.pk).update(opened_at=datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    api = APIClient()
    api.force_authenticate(moderator())
    response = api.get(f"{CASES}?{query}")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == ([case.pk] if found else [])


def test_form_encoded_signals_are_refused(detector):
    response = detector.post(SIGNALS, {"idempotency_key": "k"}, format="multipart")
    assert response.status_code == 415


@pytest.mark.parametrize("statement", ["{handle.x}", "{handle[0]}", "{handle!r}", "{other}", "{handle", "{0}"])
def test_a_malformed_bulk_statement_is_a_form_error(client, statement):
    queue = QueueFactory()
    cases = [account_case(code="engagement.bulk_interactions", queue=queue) for _ in range(2)]
    client.force_login(moderator())
    response = client.post(
        reverse("review:bulk"),
        {
            "case": [c.pk for c in cases],
            "is_violation": "yes",
            "policy": policy("engagement.bulk_interactions").pk,
            "outcomes": ["warning"],
            "rationale": "Same follow bursts.",
            "statement": statement,
            "detectors_correct": "right",
            "hold_days": 30,
        },
    )
    assert response.status_code == 400
    assert (
        "placeholder" in response.context["form"].errors["statement"][0]
        or "braces" in (response.context["form"].errors["statement"][0])
    )
    assert {c.__class__.objects.get(pk=c.pk).status for c in cases} == {CaseStatus.OPEN}


def test_an_unknown_api_url_answers_json_and_other_pages_html(client):
    api = APIClient()
    api.force_authenticate(moderator())
    response = api.get("/api/v1/cases/0.5/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")
