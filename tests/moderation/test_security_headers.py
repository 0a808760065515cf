"""Every page carries the security headers, and staff sessions end after idle time."""

import pytest

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


def test_staff_sessions_expire_after_the_idle_time_and_each_request_extends_it(client, settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60 and settings.SESSION_SAVE_EVERY_REQUEST
    client.force_login(moderator())
    client.get("/admin/")
    session = client.session
    assert 29 * 60 < session.get_expiry_age() <= 30 * 60
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now())
    response = client.get("/admin/")
    assert response.status_code == 302 and settings.LOGIN_URL.split(":")[-1] in response["Location"]
