"""Every page carries the security headers, and staff sessions end after idle time."""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from tests.factories import moderator

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/appeal/", "/admin/login/", "/api/docs/", "/api/schema/"])
def test_every_page_sends_a_strict_policy_and_the_other_headers(client, url):
    response = client.get(url)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_inline_style_on_the_api_docs_carries_the_nonce_of_the_policy(client):
    response = client.get("/api/docs/")
    nonce = response["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">' in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_staff_sessions_expire_after_the_idle_time_and_requests_extend_it(client, settings, monkeypatch):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    client.force_login(moderator())
    session = Session.objects.get(session_key=client.session.session_key)
    first_expiry = session.expire_date
    assert timedelta(minutes=29) < first_expiry - timezone.now() <= timedelta(minutes=30)

    later = time.time() + 10 * 60
    monkeypatch.setattr("moderation.staff_security.time.time", lambda: later)
    client.get("/admin/")
    assert Session.objects.get(pk=session.pk).expire_date > first_expiry  # activity pushed it on

    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now())
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]
