"""Staff sign-in hardening: a TOTP second factor with single-use backup codes
(django-otp) required for every staff account when OTP_REQUIRED (default: DEBUG
off), enrolment on first sign-in; failed-login lock-out by account and by address
(django-axes), listed for supervisors, who lift it (audited)."""

from __future__ import annotations

import base64
import time

import qrcode
import qrcode.image.svg
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY, match_token, user_has_device
from django_otp import login as otp_login
from django_otp.middleware import OTPMiddleware
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from moderation.audit import record_event, register_verb

BACKUP_CODES = 10
register_verb("staff.two_factor_enrolled", "{actor} enrolled a second factor")
register_verb("staff.lockout_lifted", "{actor} lifted the sign-in lock-out on {target}: {reason}")

# Paths an unverified staff session may reach: the second-factor pages, sign-out, assets,
# and the sign-in through the organisation's provider (which may assert a second factor).
_OPEN_PREFIXES = ("/admin/2fa/", "/admin/logout/", "/admin/login/", "/static/", "/admin/jsi18n/", "/oidc/")
# Set by moderation.oidc when the provider asserted its own second factor for this user.
PROVIDER_MFA_SESSION_KEY = "_oidc_second_factor"


LAST_SEEN_KEY = "_last_seen"
SEEN_GRANULARITY_SECONDS = 60


class IdleSessionMiddleware:
    """Signed-in sessions end SESSION_COOKIE_AGE after the last request: each request
    pushes the expiry on, writing the session at most once a minute (not every time)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            mark_seen(request.session)
        return self.get_response(request)


def mark_seen(session) -> None:
    now = int(time.time())
    if now - session.get(LAST_SEEN_KEY, 0) >= SEEN_GRANULARITY_SECONDS:
        session[LAST_SEEN_KEY] = now  # a modified session is saved with a fresh expiry


@receiver(user_logged_in, dispatch_uid="moderation.staff_security.seen_at_login")
def _seen_at_login(sender, request, user, **kwargs):
    mark_seen(request.session)


class SessionOTPMiddleware(OTPMiddleware):
    """django-otp's middleware without its query per request: the session holds the
    device that passed the second factor (set by django_otp.login, which checked the
    device belongs to the user; a new sign-in flushes it), so being verified is read
    from the session and the device is loaded only if something asks for it. A sign-in
    through the organisation's provider that asserted a second factor verifies the
    session too (moderation.oidc), with no device of ours."""

    def _verify_user_sync(self, request, user):
        self._init_user_fields(user)
        if not user.is_authenticated:
            return user
        persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
        if persistent_id:
            user.otp_device = SimpleLazyObject(
                lambda: Device.from_persistent_id(self._normalize_persistent_id(persistent_id), for_verify=False)
            )
            user.is_verified = lambda: True
        elif (request.session.get(PROVIDER_MFA_SESSION_KEY) or {}).get("user_id") == user.pk:
            user.is_verified = lambda: True
        return user


class RequireTwoFactorMiddleware:
    """After django_otp's OTPMiddleware: a signed-in staff user whose session has not
    passed the second factor reaches nothing but the enrolment/verification page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.OTP_REQUIRED
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
            and not request.path.startswith(_OPEN_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Second factor required: sign in at /admin/."}, status=403)
            return redirect(f"{reverse('two_factor')}?next={request.get_full_path()}")
        return self.get_response(request)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=16, widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True})
    )


def _qr_data_uri(url: str) -> str:
    """The otpauth URL as an SVG QR code in a data: URI (an <img>, so nothing is marked safe)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/admin/"
    return target if target.startswith("/") and not target.startswith("//") else "/admin/"


@transaction.atomic
def enrol(*, user, device: TOTPDevice) -> list[str]:
    """Confirm the TOTP device and issue fresh single-use backup codes."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    backup, _ = StaticDevice.objects.get_or_create(user=user, name="backup codes")
    backup.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=backup, token=code) for code in codes)
    record_event(actor=user, verb="staff.two_factor_enrolled", target=user)
    return codes


@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Enrol (first sign-in: QR code and secret, then a code) or verify a code."""
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return redirect(settings.LOGIN_URL and reverse(settings.LOGIN_URL))
    form = CodeForm(request.POST or None)
    context = {**admin.site.each_context(request), "form": form, "next": _safe_next(request)}
    if user_has_device(user, confirmed=True):
        if request.method == "POST" and form.is_valid():
            device = match_token(user, form.cleaned_data["code"].replace(" ", ""))
            if device is not None:
                otp_login(request, device)
                return redirect(_safe_next(request))
            form.add_error("code", "That code is not valid.")
        return render(request, "staff/two_factor_verify.html", {**context, "title": "Second factor"})

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
        user=user, name="authenticator", confirmed=False
    )
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"].replace(" ", "")):
            codes = enrol(user=user, device=device)
            otp_login(request, device)
            return render(
                request,
                "staff/two_factor_backup_codes.html",
                {**context, "title": "Your backup codes", "codes": codes},
            )
        form.add_error("code", "That code is not valid. Check the time on your phone and try again.")
    context.update(
        title="Set up your second factor",
        qr=_qr_data_uri(device.config_url),
        secret=base64.b32encode(device.bin_key).decode(),
    )
    return render(request, "staff/two_factor_enrol.html", context)


def _can_manage_lockouts(user) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm("supervision.view_reports"))


class LiftForm(forms.Form):
    attempt = forms.IntegerField()
    reason = forms.CharField(max_length=500)


@require_http_methods(["GET", "POST"])
def lockouts(request):
    """Supervisors see who is locked out of signing in (by account or address) and lift it."""
    if not _can_manage_lockouts(request.user):
        raise PermissionDenied
    form = LiftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        attempt = AccessAttempt.objects.filter(pk=form.cleaned_data["attempt"]).first()
        if attempt is not None:
            lift_lockout(attempt=attempt, actor=request.user, reason=form.cleaned_data["reason"])
            messages.success(request, f"Lock-out lifted for {attempt.username or attempt.ip_address}.")
        return redirect("lockouts")
    locked = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT).order_by(
        "-attempt_time"
    )
    context = {**admin.site.each_context(request), "title": "Sign-in lock-outs", "locked": locked, "form": form}
    return render(request, "staff/lockouts.html", context)


@transaction.atomic
def lift_lockout(*, attempt: AccessAttempt, actor, reason: str) -> None:
    before = {"username": attempt.username, "ip_address": attempt.ip_address, "failures": attempt.failures_since_start}
    if attempt.username:
        axes_reset(username=attempt.username)
    if attempt.ip_address:
        axes_reset(ip=attempt.ip_address)
    AccessAttempt.objects.filter(pk=attempt.pk).delete()
    target = get_user_model().objects.filter(username=attempt.username).first() or actor
    record_event(actor=actor, verb="staff.lockout_lifted", target=target, before=before, reason=reason)
