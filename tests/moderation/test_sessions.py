"""Staff sessions read from the cache (production, with Redis: moderation/sessions.py)
keep what database sessions guarantee: signing out ends the session for every copy of
its cookie, the second factor is still asked for, and idle sessions still expire."""

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache, caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from tests.factories import moderator

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cached_sessions(settings):
    settings.SESSION_ENGINE = "moderation.sessions"


def _copy_of(client) -> Client:
    """Another browser holding the same session cookie (a stolen or shared copy)."""
    other = Client()
    other.cookies = client.cookies
    return other


def test_a_request_reads_its_session_from_the_cache_not_the_database(client):
    client.force_login(moderator())
    client.get("/admin/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/").status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"]]
    assert Session.objects.filter(session_key=client.session.session_key).exists()  # still the record


def test_a_signed_out_session_cannot_be_used_again(client):
    client.force_login(moderator())
    stolen = _copy_of(client)
    cookie = client.cookies["sessionid"].value
    assert stolen.get("/admin/").status_code == 200

    assert client.post(reverse("admin:logout")).status_code == 200
    assert not Session.objects.filter(session_key=cookie).exists()
    stolen.cookies["sessionid"] = cookie
    response = stolen.get("/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_session_deleted_in_the_database_ends_once_its_cached_copy_runs_out(client, settings):
    settings.SESSION_CACHE_SECONDS = 0
    client.force_login(moderator())
    assert client.get("/admin/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).delete()
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_cached_copy_lives_no_longer_than_session_cache_seconds(client, settings, monkeypatch):
    settings.SESSION_CACHE_SECONDS = 45
    timeouts = []
    real_set = cache.set

    def spy(key, value, timeout=None, version=None):
        timeouts.append(timeout)
        return real_set(key, value, timeout, version)

    monkeypatch.setattr(caches["default"], "set", spy)
    client.force_login(moderator())
    cache.clear()
    client.get("/admin/")
    assert timeouts and all(0 < t <= 45 for t in timeouts)


@pytest.mark.real_two_factor
def test_the_second_factor_is_still_required_and_remembered(client):
    user = moderator()
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor"))

    device = StaticDevice.objects.create(user=user, name="backup codes")
    device.token_set.create(token="a1b2c3d4")
    assert client.post(reverse("two_factor"), {"code": "a1b2c3d4"}).status_code == 302
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert _copy_of(client).get("/admin/").status_code == 200
