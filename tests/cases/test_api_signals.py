import pytest
from rest_framework.test import APIClient

from cases.models import Case, Signal
from moderation.apikeys import ApiClientRateThrottle
from moderation.models import ApiClientKey, SignalSource
from tests.cases.intake_helpers import detector_hit_body, make_client
from tests.factories import AccountFactory, StoryFactory, moderator

pytestmark = pytest.mark.django_db
URL = "/api/v1/signals/"


def api(key=None):
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def detector_key():
    return make_client("ai-detector")[1]


@pytest.fixture
def platform_key():
    return make_client("platform", [SignalSource.READER_REPORT, SignalSource.SHOW_LESS])[1]


@pytest.fixture
def story():
    return StoryFactory(is_paywalled=True)


def detector_hit(subject, key="hit-1", **extra):
    defaults = {"score": 0.91, "proposed_outcomes": ["paywall.remove"], "payload": {"perplexity": 11.2}}
    return detector_hit_body(subject, key, **{**defaults, **extra})


def test_one_signal_is_stored_and_acknowledged_with_its_case(detector_key, story):
    response = api(detector_key).post(URL, detector_hit(story), format="json")
    assert response.status_code == 201
    [result] = response.json()["results"]
    signal = Signal.objects.get(pk=result["id"])
    assert result == {"index": 0, "status": "stored", "id": signal.pk, "case": signal.case_id}
    assert signal.detector_name == "ai-text-classifier" and signal.payload == {"perplexity": 11.2}


def test_a_batch_reports_each_item_and_a_repeat_is_a_duplicate(detector_key, story):
    other = StoryFactory(author=story.author)
    batch = [detector_hit(story, "a"), detector_hit(story, "b"), detector_hit(other, "c")]
    first = api(detector_key).post(URL, batch, format="json").json()
    assert [r["status"] for r in first["results"]] == ["stored"] * 3
    assert first["results"][0]["case"] == first["results"][1]["case"] != first["results"][2]["case"]

    again = api(detector_key).post(URL, [*batch, detector_hit(story, "d")], format="json")
    assert again.status_code == 201
    body = again.json()
    assert [r["status"] for r in body["results"]] == ["duplicate", "duplicate", "duplicate", "stored"]
    assert (body["stored"], body["duplicates"]) == (1, 3)
    assert [r["id"] for r in body["results"][:3]] == [r["id"] for r in first["results"]]
    assert api(detector_key).post(URL, batch[:1], format="json").status_code == 200


def test_a_batch_is_all_or_nothing_when_one_item_is_malformed(detector_key, story):
    batch = [detector_hit(story, "ok-1"), detector_hit(story, "bad", score=1.5), detector_hit(story, "ok-2")]
    response = api(detector_key).post(URL, batch, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["1"]  # errors keyed by the index of the bad item
    assert errors["1"] == {"score": ["Ensure this value is less than or equal to 1."]}
    assert Signal.objects.count() == 0


def test_batch_limit_is_1000_items(detector_key, story):
    too_many = [detector_hit(story, f"k{i}") for i in range(1001)]
    response = api(detector_key).post(URL, too_many, format="json")
    assert response.status_code == 400
    assert "no more than 1000" in str(response.json())
    assert api(detector_key).post(URL, [], format="json").status_code == 400
    assert api(detector_key).post(URL, "not a signal", format="json").status_code == 400
    assert Signal.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"score": "high"}, "score", "valid number"),
        ({"score": 1.5}, "score", "less than or equal to 1"),
        ({"score": -0.1}, "score", "greater than or equal to 0"),
        ({"account": {"id": 1}}, "account", "valid string"),
        ({"idempotency_key": None}, "idempotency_key", "may not be null"),
        ({"idempotency_key": "k" * 129}, "idempotency_key", "no more than 128"),
        ({"source": "rumour"}, "source", "not a valid choice"),
        ({"policy": "ai.made_up"}, "policy", 'Unknown policy code "ai.made_up"'),
        ({"policy": None}, "policy", "Required for detector signals"),
        ({"detector": None}, "detector", "Required for detector signals"),
        ({"detector": {"name": "x"}}, "detector", "required"),
        ({"payload": {"blob": "x" * 70_000}}, "payload", "the limit is 65536"),
        ({"payload": [1, 2]}, "payload", "JSON object"),
        ({"proposed_outcomes": ["account.suspend"]}, "proposed_outcomes", "Not allowed under ai.paywalled_generated"),
        ({"proposed_outcomes": "paywall.remove"}, "proposed_outcomes", "list"),
        ({"observed_at": "yesterday"}, "observed_at", "Datetime has wrong format"),
        ({"reason": "x" * 2001}, "reason", "no more than 2000"),
        ({"account": "nobody-knows"}, "account", "Unknown account"),
        ({"story": "nope"}, "story", "Unknown story"),
        ({"story_data": {"paywalled": "maybe"}}, "story_data", "valid boolean"),
        ({"account_data": {"follower_count": -3}}, "account_data", "greater than or equal to 0"),
    ],
)
def test_malformed_fields_get_field_errors(detector_key, story, change, field, message):
    response = api(detector_key).post(URL, detector_hit(story, **change), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert message in str(errors[field])
    assert Signal.objects.count() == 0


def test_reader_signals_need_a_reporter_and_a_client_sends_only_its_sources(platform_key, detector_key, story):
    report = {"idempotency_key": "r1", "source": "reader_report", "account": story.author.platform_id}
    response = api(platform_key).post(URL, report, format="json")
    assert response.json() == {"reporter": ["Required for reader_report and show_less signals."]}
    show_less = {**report, "source": "show_less", "reporter": "reader-1"}
    assert api(platform_key).post(URL, show_less, format="json").status_code == 201
    assert api(detector_key).post(URL, show_less, format="json").json() == {
        "source": ["This client may not send show_less signals."]
    }
    staff = {**report, "source": "staff", "policy": "spam.scraped"}
    assert "source" in api(platform_key).post(URL, staff, format="json").json()


def test_a_story_of_another_account_and_a_borrowed_handle_are_refused(detector_key, story):
    other = AccountFactory(handle="taken")
    response = api(detector_key).post(URL, detector_hit(story, account=other.platform_id), format="json")
    assert response.json()["story"] == ["This story belongs to another account."]
    new = detector_hit(story, account="p-new", story=None, account_data={"handle": "taken"})
    assert api(detector_key).post(URL, new, format="json").json()["account_data"] == {
        "handle": ["Another account already uses this handle."]
    }


def test_unknown_subjects_are_created_from_account_and_story_data(detector_key):
    item = {
        "idempotency_key": "new",
        "source": "detector",
        "account": "p-9",
        "account_data": {"handle": "freshwriter", "partner_status": "active", "follower_count": 40},
        "story": "s-9",
        "story_data": {"title": "Ten AI tools", "body": "Delve.", "paywalled": True, "url": "https://x.example/s-9"},
        "policy": "ai.seo_affiliate",
        "detector": {"name": "ai-text-classifier", "version": "2.3.0"},
        "score": 0.8,
    }
    response = api(detector_key).post(URL, item, format="json")
    assert response.status_code == 201, response.json()
    case = Case.objects.get(pk=response.json()["results"][0]["case"])
    assert case.account.handle == "freshwriter" and case.story.title == "Ten AI tools" and case.story.is_paywalled


def test_authentication_is_by_api_key_and_staff_sessions_cannot_send(detector_key, story):
    assert api().post(URL, detector_hit(story), format="json").status_code in (401, 403)
    assert api("not-a-key").post(URL, detector_hit(story), format="json").status_code == 401
    staff = APIClient()
    staff.force_authenticate(moderator())
    assert staff.post(URL, detector_hit(story), format="json").status_code == 403
    ApiClientKey.objects.update(revoked=True)
    assert api(detector_key).post(URL, detector_hit(story), format="json").status_code == 401
    assert Signal.objects.count() == 0


def test_an_inactive_client_is_refused(story):
    client, key = make_client("retired")
    client.is_active = False
    client.save()
    assert api(key).post(URL, detector_hit(story), format="json").status_code == 401


def test_each_client_is_throttled_on_its_own(monkeypatch, story):
    monkeypatch.setattr(ApiClientRateThrottle, "THROTTLE_RATES", {"api_client": "2/min", "user": "600/min"})
    _, noisy = make_client("noisy")
    _, quiet = make_client("quiet")
    codes = [api(noisy).post(URL, detector_hit(story, f"n{i}"), format="json").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert api(quiet).post(URL, detector_hit(story, "q1"), format="json").status_code == 201
