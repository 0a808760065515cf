"""Staff sign-in through the organisation's OpenID Connect provider, against a real
provider served from a thread (tests/oidc_provider.py): the browser's round trip is
driven by hand (the test client to us, requests to the provider). Existing active staff
only, linked by the provider's subject; anything the provider did not sign, or signed for
someone else, is refused; its second factor counts only when it asserts one."""

import os
import runpy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from axes.models import AccessAttempt
from django.urls import reverse

from moderation.models import AuditEvent, OIDCIdentity
from tests.factories import UserFactory, moderator
from tests.oidc_provider import configure, oidc_provider, oidc_provider_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.real_two_factor]
SETTINGS_FILE = Path(__file__).resolve().parents[2] / "moderation" / "settings.py"


@pytest.fixture
def provider(oidc_provider):  # noqa: F811
    return oidc_provider


def sign_in(client, provider, *, next_url="/admin/", state=None):
    """Click "Sign in with …", let the provider answer, follow it back to our callback."""
    start = client.get(f"/oidc/authenticate/?next={next_url}")
    assert start.status_code == 302 and start["Location"].startswith(f"{provider.issuer}/authorize?")
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert (back.netloc, back.path) == ("testserver", "/oidc/callback/")
    query = back.query if state is None else back.query.split("&state=")[0] + f"&state={state}"
    return client.get(f"{back.path}?{query}")


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def login_page_says(client, text: str) -> bool:
    return text in client.get(reverse("admin:login")).content.decode()


def test_off_unless_configured_no_urls_and_no_button(client, settings):
    assert not settings.OIDC_ENABLED
    for url in ("/oidc/authenticate/", "/oidc/callback/?code=x&state=y"):
        assert client.get(url).status_code == 404
    assert client.post("/oidc/logout/").status_code == 404
    assert not login_page_says(client, "Sign in with")


def test_the_login_page_offers_the_organisation_when_configured(client, provider):
    html = client.get(f"{reverse('admin:login')}?next=/admin/cases/").content.decode()
    assert 'href="/oidc/authenticate/?next=/admin/cases/"' in html
    assert ">Sign in with Example Org</a>" in html


def test_a_known_staff_member_signs_in_is_linked_and_still_enters_a_totp_code(client, provider):
    user = moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ADA@org.example", amr=["pwd"])

    response = sign_in(client, provider, next_url="/admin/cases/")
    assert response.status_code == 302 and response["Location"] == "/admin/cases/"
    assert signed_in_user_id(client) == str(user.pk)
    assert client.get("/admin/cases/")["Location"].startswith(reverse("two_factor"))  # TOTP still asked

    identity = OIDCIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (provider.issuer, "sub-ada")
    assert AuditEvent.objects.filter(verb="staff.oidc_linked", actor=user).count() == 1
    event = AuditEvent.objects.get(verb="staff.oidc_sign_in")
    assert event.actor == user and event.after["second_factor"] == "totp required"


@pytest.mark.parametrize(
    ("claims", "acr_setting"),
    [
        ({"amr": ["pwd", "mfa"]}, []),
        ({"amr": ["hwk"]}, []),
        ({"amr": ["pwd"], "acr": "urn:org:loa:mfa"}, ["urn:org:loa:mfa"]),
    ],
    ids=["amr-mfa", "amr-hwk", "acr"],
)
def test_the_providers_asserted_second_factor_counts_as_ours(client, provider, settings, claims, acr_setting):
    settings.OIDC_MFA_ACR = acr_setting
    user = moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example", **claims)

    assert sign_in(client, provider).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.get(verb="staff.oidc_sign_in", actor=user).after["second_factor"] == "provider"


def test_an_acr_not_listed_is_no_second_factor(client, provider):
    moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example", acr="urn:org:loa:mfa")
    sign_in(client, provider)
    assert client.get("/admin/").status_code == 302


def test_later_sign_ins_follow_the_subject_not_the_email(client, provider):
    user = moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example")
    sign_in(client, provider)
    client.logout()

    moderator(email="ada.lovelace@org.example")  # the address she now has belongs to someone else here
    provider.sign_in_as(sub="sub-ada", email="ada.lovelace@org.example")
    sign_in(client, provider)
    assert signed_in_user_id(client) == str(user.pk)
    assert OIDCIdentity.objects.count() == 1


REFUSED = "does not match an active staff account here"


@pytest.mark.parametrize(
    ("who", "why"),
    [
        ({"email": "stranger@org.example"}, "no staff account has this email"),
        ({"email": "ada@org.example", "email_verified": False}, "no verified email and no linked account"),
        ({"email": "writer@org.example"}, "no staff account has this email"),
    ],
    ids=["unknown-email", "unverified-email", "not-staff"],
)
def test_people_without_a_staff_account_are_refused_and_nobody_is_created(client, provider, who, why):
    moderator(email="ada@org.example")
    UserFactory(username="a-writer", email="writer@org.example", is_staff=False)
    users_before = UserFactory._meta.model.objects.count()
    provider.sign_in_as(sub="sub-x", **who)

    response = sign_in(client, provider)
    assert response.status_code == 302 and response["Location"] == reverse("admin:login")
    assert signed_in_user_id(client) is None
    assert login_page_says(client, REFUSED)
    assert UserFactory._meta.model.objects.count() == users_before and not OIDCIdentity.objects.exists()
    event = AuditEvent.objects.get(verb="staff.oidc_refused")
    assert event.reason == why and event.after["subject"] == "sub-x" and event.actor is None


def test_an_inactive_account_is_refused_even_when_linked(client, provider):
    user = moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example")
    sign_in(client, provider)
    client.logout()
    user.is_active = False
    user.save(update_fields=["is_active"])

    sign_in(client, provider)
    assert signed_in_user_id(client) is None and login_page_says(client, REFUSED)
    event = AuditEvent.objects.get(verb="staff.oidc_refused")
    assert event.reason == "the account is inactive" and event.target_id == str(user.pk)


def test_an_account_locked_out_by_failed_passwords_stays_locked_out(client, provider, settings):
    user = moderator(username="ada", email="ada@org.example")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/admin/login/", {"username": "ada", "password": f"wrong-{attempt}"}, REMOTE_ADDR=f"10.1.0.{attempt}"
        )
    assert AccessAttempt.objects.filter(username="ada").exists()
    provider.sign_in_as(sub="sub-ada", email="ada@org.example", amr=["mfa"])

    sign_in(client, provider)
    assert signed_in_user_id(client) is None
    event = AuditEvent.objects.get(verb="staff.oidc_refused")
    assert event.reason == "the account is locked out after failed sign-ins" and event.target_id == str(user.pk)


@pytest.mark.parametrize(
    "fault",
    ["tampered", "foreign_key", "nonce", "audience", "issuer", "expired", "no_id_token", "userinfo_for_another"],
)
def test_an_id_token_the_provider_did_not_sign_for_this_sign_in_is_refused(client, provider, fault):
    moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example", amr=["mfa"])
    provider.misbehave = fault

    response = sign_in(client, provider)
    assert response.status_code == 302 and response["Location"] == reverse("admin:login")
    assert signed_in_user_id(client) is None
    assert login_page_says(client, "could not be verified")
    assert not OIDCIdentity.objects.exists() and not AuditEvent.objects.filter(verb__startswith="staff.oidc").exists()


def test_a_state_this_browser_did_not_start_is_refused_before_the_provider_is_asked(client, provider):
    moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example")
    response = sign_in(client, provider, state="forged-state")
    assert response.status_code == 302 and signed_in_user_id(client) is None
    assert provider.token_requests == 0 and login_page_says(client, "could not be verified")


def test_a_callback_replayed_after_sign_in_is_refused(client, provider):
    moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example")
    start = client.get("/oidc/authenticate/")
    callback = urlsplit(requests.get(start["Location"], allow_redirects=False, timeout=5).headers["Location"])
    assert client.get(f"{callback.path}?{callback.query}").status_code == 302
    assert signed_in_user_id(client) is not None
    client.logout()
    client.get(f"{callback.path}?{callback.query}")
    assert signed_in_user_id(client) is None


def test_configured_by_endpoints_without_discovery(client, provider, settings):
    configure(settings, provider.issuer, discovery=False)
    user = moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example")
    sign_in(client, provider)
    assert signed_in_user_id(client) == str(user.pk)


def test_with_the_provider_down_passwords_still_work_and_the_button_says_so(client, provider, settings):
    settings.OIDC_OP_DISCOVERY_URL = "http://127.0.0.1:9/.well-known/openid-configuration"
    settings.OIDC_TIMEOUT = 2
    response = client.get("/oidc/authenticate/")
    assert response["Location"] == reverse("admin:login")
    assert login_page_says(client, "not available right now")

    user = moderator(username="ada")
    signed = client.post("/admin/login/?next=/admin/", {"username": "ada", "password": "pw-for-tests-1"})
    assert signed.status_code == 302 and signed_in_user_id(client) == str(user.pk)


def test_failed_provider_answers_count_against_the_address_like_failed_passwords(client, provider, settings):
    moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example", amr=["mfa"])
    provider.misbehave = "tampered"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, provider)
    assert AccessAttempt.objects.get(ip_address="127.0.0.1").failures_since_start == settings.AXES_FAILURE_LIMIT

    provider.misbehave = ""
    asked = provider.token_requests
    assert sign_in(client, provider).status_code == 429  # locked out: the provider's answer is not even read
    assert provider.token_requests == asked and signed_in_user_id(client) is None


def test_signing_out_through_the_oidc_url_ends_the_session(client, provider):
    moderator(email="ada@org.example")
    provider.sign_in_as(sub="sub-ada", email="ada@org.example", amr=["mfa"])
    sign_in(client, provider)
    assert client.get("/oidc/logout/").status_code == 405 and signed_in_user_id(client) is not None
    assert client.post("/oidc/logout/").status_code == 302
    assert signed_in_user_id(client) is None and client.get("/admin/").status_code == 302


def _settings_with(monkeypatch, **env) -> dict:
    """moderation/settings.py as it reads this environment (run afresh, in-process)."""
    for name in [name for name in os.environ if name.startswith("OIDC_")]:
        monkeypatch.delenv(name)
    for name, value in {**env, "DEBUG": "1"}.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_configured_from_the_environment_and_off_when_half_configured(monkeypatch):
    on = _settings_with(
        monkeypatch,
        OIDC_RP_CLIENT_ID="back-office",
        OIDC_RP_CLIENT_SECRET="s3cret",
        OIDC_OP_DISCOVERY_URL="https://login.org.example/.well-known/openid-configuration",
        OIDC_ORGANISATION="Org SSO",
        OIDC_MFA_AMR="mfa,hwk",
    )
    backends = on["AUTHENTICATION_BACKENDS"]
    assert on["OIDC_ENABLED"] and backends[-1] == "moderation.oidc.StaffOIDCBackend"
    assert backends[0] == "axes.backends.AxesStandaloneBackend"  # lock-outs are checked first
    assert (on["OIDC_MFA_AMR"], on["OIDC_ORGANISATION"]) == (["mfa", "hwk"], "Org SSO")
    half = _settings_with(
        monkeypatch, OIDC_RP_CLIENT_ID="back-office", OIDC_OP_TOKEN_ENDPOINT="https://login.org.example/t"
    )
    assert not half["OIDC_ENABLED"] and "moderation.oidc.StaffOIDCBackend" not in half["AUTHENTICATION_BACKENDS"]


@pytest.mark.parametrize(
    "who",
    [
        {"sub": "sub-\x00ada", "email": "ada@org.example"},
        {"sub": "s" * 256},
        {"sub": "sub-ada", "email": "ada\x00@org"},
    ],
    ids=["nul-in-subject", "long-subject", "nul-in-email"],
)
def test_claims_no_column_can_hold_are_refused_before_any_query(client, provider, who):
    moderator(email="ada@org.example")
    provider.sign_in_as(**who)
    response = sign_in(client, provider)
    assert response.status_code == 302 and signed_in_user_id(client) is None
    assert login_page_says(client, "could not be verified") and not OIDCIdentity.objects.exists()


def test_a_sign_in_cancelled_at_the_provider_comes_back_to_the_login_page(client, provider):
    start = client.get("/oidc/authenticate/")
    state = dict(pair.split("=", 1) for pair in urlsplit(start["Location"]).query.split("&"))["state"]
    response = client.get(f"/oidc/callback/?error=access_denied&state={state}")
    assert response["Location"] == reverse("admin:login") and login_page_says(client, "did not complete")
    assert state not in client.session["oidc_states"]  # the state cannot be used afterwards
