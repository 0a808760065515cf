"""Signed links: the notice's appeal link and the emailed magic link, valid, expired,
tampered; and the start page that never tells whether an account exists."""

import time

import pytest
from django.core import mail

from appeals.tokens import InvalidLink, make_magic_token, read_magic_token
from cases.notices import make_appeal_token

pytestmark = pytest.mark.django_db

SIX_MONTHS_AND_A_DAY = 184 * 24 * 3600


def _later(monkeypatch, seconds):
    real = time.time
    monkeypatch.setattr("django.core.signing.time.time", lambda: real() + seconds)


def test_notice_link_opens_the_form_for_that_action(client, paywall_notice):
    response = client.get(f"/appeal/notice/{make_appeal_token(paywall_notice)}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Appealing as <strong>@ada</strong>" in body
    assert "Story removed from the paywall: “Why I bake at night”" in body


def test_expired_notice_link_says_so(client, paywall_notice, monkeypatch):
    token = make_appeal_token(paywall_notice)
    _later(monkeypatch, SIX_MONTHS_AND_A_DAY)
    response = client.get(f"/appeal/notice/{token}/")
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), lambda t: "x" + t, lambda t: "nonsense"]
)
def test_tampered_notice_link_is_refused(client, paywall_notice, mangle):
    response = client.get(f"/appeal/notice/{mangle(make_appeal_token(paywall_notice))}/")
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()


def test_magic_token_round_trip_expiry_and_tampering(writer, monkeypatch):
    token = make_magic_token(writer)
    assert read_magic_token(token) == writer
    with pytest.raises(InvalidLink):
        read_magic_token(token[:-1] + ("a" if token[-1] != "a" else "b"))
    _later(monkeypatch, 25 * 3600)
    with pytest.raises(InvalidLink) as exc:
        read_magic_token(token)
    assert exc.value.expired


def test_magic_token_dies_when_the_email_on_file_changes(writer):
    token = make_magic_token(writer)
    writer.email = "new@example.com"
    writer.save()
    with pytest.raises(InvalidLink):
        read_magic_token(token)


def test_magic_link_flow_sends_a_link_only_for_a_matching_account(client, paywall_action, run_on_commit):
    with run_on_commit():
        hit = client.post("/appeal/", {"handle": "@Ada", "email": "ADA@example.com"})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/appeal/start/" in line).strip()
    assert mail.outbox[0].to == ["ada@example.com"]

    with run_on_commit():
        wrong_email = client.post("/appeal/", {"handle": "ada", "email": "someone@example.com"})
        no_account = client.post("/appeal/", {"handle": "nobody-here", "email": "ada@example.com"})
    assert len(mail.outbox) == 1
    # Same page, same words, whatever was typed: nobody can probe which accounts exist.
    assert hit.status_code == wrong_email.status_code == no_account.status_code == 200
    assert hit.content == wrong_email.content == no_account.content

    response = client.get(link.replace("http://localhost:8000", ""))
    assert response.status_code == 200
    assert "Story removed from the paywall" in response.content.decode()


def test_expired_magic_link_offers_a_new_one(client, writer, monkeypatch):
    token = make_magic_token(writer)
    _later(monkeypatch, 25 * 3600)
    response = client.get(f"/appeal/start/{token}/")
    assert response.status_code == 410
    assert 'href="/appeal/"' in response.content.decode()


def test_start_page_is_rate_limited_per_ip_and_per_handle(client):
    statuses = [client.post("/appeal/", {"handle": "ada", "email": "x@example.com"}).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    other = [
        client.post("/appeal/", {"handle": f"h{i}", "email": "x@example.com"}, REMOTE_ADDR="10.0.0.9").status_code
        for i in range(11)
    ]
    assert other[-1] == 429
    assert (
        "Too many attempts"
        in client.post("/appeal/", {"handle": "zed", "email": "a@b.co"}, REMOTE_ADDR="10.0.0.9").content.decode()
    )


def test_start_page_shows_field_errors(client):
    response = client.post("/appeal/", {"handle": "", "email": "not-an-email"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Please check the form" in body
    assert "Enter a valid email address." in body
