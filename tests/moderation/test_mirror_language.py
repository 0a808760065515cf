"""The platform reports each writer's language through the mirror API; it is a fact
like the others (audited, ordered by sequence), limited to the languages we translate."""

import pytest
from rest_framework.test import APIClient

from cases.services.intake import create_api_client
from moderation.audit import verify_chain
from moderation.models import Account, AuditEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/platform/accounts/"


@pytest.fixture
def platform():
    _, key = create_api_client(name="platform-mirror", scopes=["platform"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_the_platform_sets_a_writers_language_and_the_change_is_audited(platform):
    writer = AccountFactory(platform_id="w-1", handle="ada")
    response = platform.post(ACCOUNTS, [{"platform_id": "w-1", "sequence": 5, "language": "ja"}], format="json")
    assert response.status_code == 201, response.json()
    writer.refresh_from_db()
    assert writer.language == "ja"
    event = AuditEvent.objects.get(verb="account.facts_changed", target_id=str(writer.pk))
    assert event.before == {"language": ""} and event.after == {"language": "ja", "sequence": 5}
    stale = platform.post(ACCOUNTS, [{"platform_id": "w-1", "sequence": 4, "language": "es"}], format="json")
    assert stale.json()["results"][0]["status"] == "stale"
    cleared = platform.post(ACCOUNTS, [{"platform_id": "w-1", "sequence": 6, "language": ""}], format="json")
    assert cleared.status_code == 201
    writer.refresh_from_db()
    assert writer.language == ""
    assert verify_chain().ok


def test_a_new_account_arrives_with_its_language(platform):
    body = [{"platform_id": "w-2", "sequence": 1, "handle": "beatriz", "language": "es"}]
    assert platform.post(ACCOUNTS, body, format="json").status_code == 201
    assert Account.objects.get(platform_id="w-2").language == "es"


@pytest.mark.parametrize("code", ["fr", "EN", "es-MX", "klingon", 7])
def test_a_language_we_do_not_translate_into_is_a_field_error(platform, code):
    AccountFactory(platform_id="w-1", handle="ada")
    response = platform.post(ACCOUNTS, [{"platform_id": "w-1", "sequence": 5, "language": code}], format="json")
    assert response.status_code == 400
    assert "not a valid choice" in response.json()["0"]["language"][0]
    assert not AuditEvent.objects.filter(verb="account.facts_changed").exists()


def test_the_schema_lists_the_languages():
    schema = APIClient().get("/api/schema/?format=json").json()
    [name] = [n for n, s in schema["components"]["schemas"].items() if "language" in s.get("properties", {})]
    language = schema["components"]["schemas"][name]["properties"]["language"]
    enum = language.get("enum") or schema["components"]["schemas"][language["oneOf"][0]["$ref"].split("/")[-1]]["enum"]
    assert set(enum) >= {"en", "es", "ja"}
