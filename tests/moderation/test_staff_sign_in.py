"""Staff sign-in under production settings: a second factor is required (enrolment on
first sign-in, single-use backup codes), and repeated failures lock the account and
the address out until a supervisor lifts it (audited)."""

import time

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from moderation.models import AuditEvent
from tests.factories import moderator, supervisor

pytestmark = [pytest.mark.django_db, pytest.mark.real_two_factor]
PASSWORD = "pw-for-tests-1"
STAFF_PAGES = ["/admin/", "/admin/cases/case/", "/admin/review/bulk/", "/admin/appeals/appeal/", "/admin/auth/user/"]


def _code(user) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _enrol(client, user) -> list[str]:
    client.get(reverse("two_factor"))
    response = client.post(reverse("two_factor"), {"code": _code(user), "next": "/admin/"})
    assert response.status_code == 200
    return response.context["codes"]


def test_an_unverified_staff_session_reaches_only_the_second_factor_page(client, settings):
    assert settings.OTP_REQUIRED and not settings.DEBUG
    client.force_login(supervisor())
    for url in [*STAFF_PAGES, "/admin/supervision/", "/admin/lockouts/", "/admin/django-rq/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("two_factor")), url
    api = client.get("/api/v1/cases/")
    assert api.status_code == 403 and "Second factor" in api.json()["detail"]


def test_first_sign_in_enrols_a_totp_app_with_a_qr_code_and_then_opens_the_admin(client):
    user = moderator()
    client.force_login(user)
    page = client.get(reverse("two_factor"))
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html and page.context["secret"] in html
    wrong = client.post(reverse("two_factor"), {"code": "000000"})
    assert "not valid" in wrong.content.decode() and client.get("/admin/").status_code == 302
    time.sleep(1.1)  # django-otp throttles a device for a second after one wrong code

    codes = _enrol(client, user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=user).confirmed
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(verb="staff.two_factor_enrolled", actor=user).count() == 1


def test_a_later_sign_in_asks_for_a_code_and_a_backup_code_works_once(client):
    user = moderator()
    client.force_login(user)
    codes = _enrol(client, user)

    client.logout()
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    verify = client.get(reverse("two_factor"))
    assert 'id="totp-secret"' not in verify.content.decode()  # enrolled: no new secret shown
    assert client.post(reverse("two_factor"), {"code": codes[0]}).status_code == 302
    assert client.get("/admin/").status_code == 200

    client.logout()
    client.force_login(user)
    again = client.post(reverse("two_factor"), {"code": codes[0]})
    assert again.status_code == 200 and "not valid" in again.content.decode()
    assert client.get("/admin/").status_code == 302
    time.sleep(1.1)
    assert client.post(reverse("two_factor"), {"code": codes[1]}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_next_parameter_cannot_send_anyone_off_site(client):
    user = moderator()
    client.force_login(user)
    client.get(reverse("two_factor"))
    response = client.post(reverse("two_factor"), {"code": _code(user), "next": "//evil.example/"})
    assert response.context["next"] == "/admin/"


def _sign_in(client, username, password, ip="10.0.0.1"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_sign_ins_lock_the_account_until_a_supervisor_lifts_it(client, settings):
    user = moderator(username="mo")
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, "mo", f"wrong-{attempt}").status_code == 200
    assert _sign_in(client, "mo", "wrong-again").status_code == 429  # the Nth failure locks
    locked = _sign_in(client, "mo", PASSWORD, ip="10.0.0.99")  # the right password, from elsewhere
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session

    boss = supervisor()
    client.force_login(boss)
    client.get(reverse("two_factor"))
    client.post(reverse("two_factor"), {"code": _code(boss)})
    page = client.get(reverse("lockouts"))
    assert page.status_code == 200 and "mo" in page.content.decode()
    attempt = AccessAttempt.objects.filter(username="mo").first()
    client.post(reverse("lockouts"), {"attempt": attempt.pk, "reason": "Rang the help desk, verified by video."})
    assert not AccessAttempt.objects.filter(username="mo").exists()
    event = AuditEvent.objects.get(verb="staff.lockout_lifted")
    assert event.actor == boss and "help desk" in event.reason

    client.logout()
    assert _sign_in(client, "mo", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_failed_sign_ins_lock_the_address_whatever_account_it_tries(client, settings):
    moderator(username="victim")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, f"guess-{attempt}", "wrong", ip="10.6.6.6")
    assert _sign_in(client, "victim", PASSWORD, ip="10.6.6.6").status_code == 429
    assert _sign_in(client, "victim", PASSWORD, ip="10.0.0.2").status_code == 302


def test_only_supervisors_see_and_lift_lockouts(client):
    user = moderator()
    client.force_login(user)
    _enrol(client, user)
    assert client.get(reverse("lockouts")).status_code == 403
    assert client.post(reverse("lockouts"), {"attempt": 1, "reason": "x"}).status_code == 403
