"""API scopes: `signals` for detectors and reader-facing clients, `platform` only for
the platform's own client; the command and the migration that gave old clients theirs."""

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from cases.services.intake import create_api_client
from moderation.models import ApiClient, AuditEvent

pytestmark = pytest.mark.django_db


def test_the_command_creates_a_platform_client_that_reaches_the_mirror_and_not_the_signals():
    out = StringIO()
    call_command("create_api_client", "platform-mirror", "--scopes", "platform", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "API client 'platform-mirror', scopes: platform."
    client = ApiClient.objects.get(name="platform-mirror")
    assert client.scopes == ["platform"] and client.allowed_sources == []
    assert AuditEvent.objects.get(verb="api_client.created").after["scopes"] == ["platform"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {lines[2]}")
    body = [{"platform_id": "p1", "sequence": 1, "handle": "someone"}]
    assert api.post("/api/v1/platform/accounts/", body, format="json").status_code == 201
    assert api.get("/api/v1/cases/").status_code == 403


def test_signal_clients_get_the_signals_scope_by_default():
    out = StringIO()
    call_command("create_api_client", "spam-detector", "--sources", "detector", stdout=out)
    assert ApiClient.objects.get(name="spam-detector").scopes == ["signals"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scopes": ["signals"]}, "allowed_sources"),
        ({"scopes": ["platform"], "allowed_sources": ["detector"]}, "allowed_sources"),
        ({"scopes": ["admin"], "allowed_sources": ["detector"]}, "scopes"),
        ({"scopes": [], "allowed_sources": ["detector"]}, "scopes"),
    ],
)
def test_grants_that_make_no_sense_are_refused(kwargs, field):
    with pytest.raises(ValidationError) as refused:
        create_api_client(name="odd", **kwargs)
    assert field in refused.value.message_dict
    assert not ApiClient.objects.filter(name="odd").exists()


def test_the_command_refuses_a_signals_client_without_sources():
    with pytest.raises(CommandError):
        call_command("create_api_client", "nothing", stdout=StringIO())


def test_clients_made_before_scopes_keep_sending_signals_and_only_that():
    old, _ = create_api_client(name="old-detector", allowed_sources=["detector"])
    ApiClient.objects.filter(pk=old.pk).update(scopes=[])
    migration = importlib.import_module("moderation.migrations.0004_mirror_engagement_and_unfollow")
    migration.signal_clients_keep_their_signals(apps, None)
    old.refresh_from_db()
    assert old.scopes == ["signals"]
