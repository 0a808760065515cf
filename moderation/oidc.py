"""Staff sign-in through the organisation's OpenID Connect provider (mozilla-django-oidc).

Off unless configured (settings.OIDC_ENABLED): the URLs answer 404 and the login page
shows no button. On, it signs in existing, active staff accounts only, never creates
one and never grants a role from a claim. An account is found by its link to the
provider's (issuer, subject), made once from a verified email matching exactly one
staff account (OIDCIdentity says why). The sign-in counts as the second factor only
when the provider asserts one (`amr`/`acr` in settings.OIDC_MFA_AMR/_ACR); otherwise
the TOTP step follows as after a password. Accounts locked out by django-axes stay out.

mozilla-django-oidc checks state, nonce (one use each), PKCE and the id_token's
signature against the provider's JWKS; it does not check the issuer or the audience,
so StaffOIDCBackend.verify_token does."""

from __future__ import annotations

import logging

import jwt
import requests
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect, resolve_url
from django.urls import path
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView, OIDCLogoutView

from moderation.audit import record_event, register_verb
from moderation.auth_backends import signed_in_user
from moderation.models import OIDCIdentity
from moderation.staff_security import PROVIDER_MFA_SESSION_KEY
from moderation.validation import is_clean_identifier

logger = logging.getLogger("moderation.oidc")

register_verb("staff.oidc_linked", "{actor} linked their account to {target}")
register_verb("staff.oidc_sign_in", "{actor} signed in through the organisation's provider")
register_verb("staff.oidc_refused", "Sign-in through the organisation's provider refused for {target}: {reason}")

DISCOVERY_CACHE_SECONDS = 3600
MAX_CLAIM_CHARS = 255  # OIDCIdentity's columns; the claims are checked before any query uses them
# Settings a discovery document can fill (OpenID Connect Discovery 1.0, section 3).
_DISCOVERED = {
    "OIDC_OP_ISSUER": "issuer",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
REFUSED = (
    "Your sign-in at {org} worked, but it does not match an active staff account here. "
    "Ask a supervisor to check your account, or sign in with your username and password."
)
UNVERIFIED = "The sign-in through {org} could not be verified. Please try again."
UNAVAILABLE = "Sign-in through {org} is not available right now. Sign in with your username and password."
CANCELLED = "The sign-in at {org} did not complete."


class ProviderUnavailable(Exception):
    """The discovery document could not be read or does not describe this issuer."""


def _say(template: str) -> str:
    return template.format(org=settings.OIDC_ORGANISATION)


def discovery() -> dict:
    """The provider's discovery document, read once an hour; its issuer must be the URL it
    came from (Discovery 1.0, section 4.3), so a document cannot speak for another issuer."""
    url = settings.OIDC_OP_DISCOVERY_URL
    key = f"oidc:discovery:{url}"
    document = cache.get(key)
    if document is None:
        try:
            response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(f"discovery document unreadable: {exc}") from exc
        issuer = str(document.get("issuer", "")).rstrip("/")
        if not issuer or url != f"{issuer}/.well-known/openid-configuration":
            raise ProviderUnavailable(f"discovery document at {url} names issuer {issuer!r}")
        cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def oidc_setting(attr: str, *default):
    """mozilla-django-oidc's settings lookup, with endpoints left unset taken from discovery."""
    value = getattr(settings, attr, "")
    if not value and attr in _DISCOVERED and settings.OIDC_OP_DISCOVERY_URL:
        value = discovery().get(_DISCOVERED[attr], "")
    if value in ("", None) and attr in _DISCOVERED:
        if default:
            return default[0]
        raise ImproperlyConfigured(f"{attr} is not set and the discovery document does not give it")
    return value if attr in _DISCOVERED else import_from_settings(attr, *default)


def provider_asserted_mfa(claims: dict) -> bool:
    """True when the id_token says the provider itself used a second factor."""
    amr = claims.get("amr") or []
    amr = [amr] if isinstance(amr, str) else amr
    if set(map(str, amr)) & set(settings.OIDC_MFA_AMR):
        return True
    return bool(settings.OIDC_MFA_ACR) and str(claims.get("acr", "")) in settings.OIDC_MFA_ACR


def _email_verified(claims: dict) -> bool:
    # Some providers send the boolean as a string.
    return claims.get("email_verified") in (True, "true", "True")


def _refuse(*, issuer: str, subject: str, email: str, reason: str, user=None) -> None:
    target = user if user is not None else OIDCIdentity(issuer=issuer, subject=subject)
    record_event(
        actor=None,
        verb="staff.oidc_refused",
        target=target,
        after={"issuer": issuer, "subject": subject, "email": email},
        reason=reason,
    )


@transaction.atomic
def staff_account_for(*, request, issuer: str, subject: str, claims: dict):
    """The staff account the provider's identity belongs to, linking it on first use, or
    None (audited, with why). Existing staff only: nobody is created, no role is given."""
    email = str(claims.get("email") or "")
    identity = OIDCIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        user = identity.user
    else:
        if not email or not _email_verified(claims):
            _refuse(issuer=issuer, subject=subject, email=email, reason="no verified email and no linked account")
            return None
        matches = list(get_user_model().objects.filter(email__iexact=email, is_staff=True)[:2])
        if len(matches) != 1:
            reason = "no staff account has this email" if not matches else "several staff accounts share this email"
            _refuse(issuer=issuer, subject=subject, email=email, reason=reason)
            return None
        user = matches[0]
        if OIDCIdentity.objects.filter(user=user, issuer=issuer).exists():
            reason = "the account is linked to another identity at this provider"
            _refuse(issuer=issuer, subject=subject, email=email, reason=reason, user=user)
            return None
    if not user.is_active or not user.is_staff:
        reason = "the account is inactive" if not user.is_active else "the account is not staff"
        _refuse(issuer=issuer, subject=subject, email=email, reason=reason, user=user)
        return None
    if AxesProxyHandler.is_locked(request, {"username": user.get_username()}):
        reason = "the account is locked out after failed sign-ins"
        _refuse(issuer=issuer, subject=subject, email=email, reason=reason, user=user)
        return None
    if identity is None:
        try:
            with transaction.atomic():
                identity = OIDCIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        except IntegrityError:  # another sign-in linked the account or the subject a moment ago
            reason = "the account or the identity was linked by another sign-in at the same moment"
            _refuse(issuer=issuer, subject=subject, email=email, reason=reason, user=user)
            return None
        record_event(actor=user, verb="staff.oidc_linked", target=identity, after={"email": email})
    return user


@transaction.atomic
def record_sign_in(*, user, claims: dict, provider_second_factor: bool) -> None:
    record_event(
        actor=user,
        verb="staff.oidc_sign_in",
        target=user,
        after={
            "issuer": claims.get("iss"),
            "subject": claims.get("sub"),
            "amr": claims.get("amr"),
            "acr": claims.get("acr"),
            "second_factor": "provider" if provider_second_factor else "totp required",
        },
    )


class StaffOIDCBackend(OIDCAuthenticationBackend):
    """The library's code flow, mapped onto existing staff accounts (staff_account_for)."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Django builds every backend for every sign-in, password ones too: the provider's
        # settings (perhaps its discovery document) are read only when this one is used.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        # Only the callback view (which passes the session's nonce) signs in here, never a password form.
        if request is None or "nonce" not in kwargs or {"username", "password"} & kwargs.keys():
            return None
        try:
            super().__init__()
            return super().authenticate(request, **kwargs)
        except (ProviderUnavailable, ImproperlyConfigured) as exc:
            logger.warning("OIDC provider unavailable: %s", exc)
            request.oidc_refusal = _say(UNAVAILABLE)
            return None
        except (
            SuspiciousOperation,
            jwt.PyJWTError,
            requests.RequestException,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,  # a token or userinfo answer of the wrong shape
        ) as exc:
            logger.warning("OIDC sign-in not verified: %s", exc)
            request.oidc_refusal = _say(UNVERIFIED)
            return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:  # the id_token (a signed userinfo answer has no nonce)
            self._check_id_token(payload)
        return payload

    def _check_id_token(self, payload: dict) -> None:
        """What the library leaves out of OIDC Core 3.1.3.7: issuer, audience, azp, exp, sub."""
        if payload.get("iss") != oidc_setting("OIDC_OP_ISSUER"):
            raise SuspiciousOperation("id_token issuer is not the configured provider")
        audience = payload.get("aud")
        audience = [audience] if isinstance(audience, str) else list(audience or [])
        if self.OIDC_RP_CLIENT_ID not in audience:
            raise SuspiciousOperation("id_token is not meant for this client")
        if len(audience) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("id_token for several audiences without this client as azp")
        if "exp" not in payload or not isinstance(payload.get("sub"), str) or not payload["sub"]:
            raise SuspiciousOperation("id_token without exp or sub")

    def get_user(self, user_id):
        user = signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("userinfo answers for another subject than the id_token")
        email = userinfo.get("email", payload.get("email", ""))
        if not (is_clean_identifier(payload["sub"]) and len(payload["sub"]) <= MAX_CLAIM_CHARS):
            raise SuspiciousOperation("the subject is not a clean identifier")
        if email and not (is_clean_identifier(email) and len(email) <= MAX_CLAIM_CHARS):
            raise SuspiciousOperation("the email is not a clean address")
        user = staff_account_for(
            request=self.request, issuer=payload["iss"], subject=payload["sub"], claims={**payload, **userinfo}
        )
        if user is None:
            self.request.oidc_refusal = _say(REFUSED)
            return None
        self.request.oidc_id_claims = payload
        return user


def _require_enabled(request) -> None:
    if not settings.OIDC_ENABLED:
        raise Http404("Sign-in through an OpenID provider is not configured.")


def _back_to_login(request, message: str):
    messages.error(request, message)
    return redirect("admin:login")


class AuthenticateView(OIDCAuthenticationRequestView):
    """Send the browser to the provider (state, nonce and PKCE kept in the session)."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the endpoints are read per request: discovery may be down

    def get(self, request):
        _require_enabled(request)
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except (ProviderUnavailable, ImproperlyConfigured) as exc:
            logger.warning("OIDC provider unavailable: %s", exc)
            return _back_to_login(request, _say(UNAVAILABLE))
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer: a signed-in staff member, or the login page saying why not."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        _require_enabled(request)
        try:
            return super().get(request)
        except SuspiciousOperation as exc:  # a state this session did not start
            logger.warning("OIDC callback refused: %s", exc)
            request.oidc_refusal = _say(UNVERIFIED)
            return self.login_failure()

    @property
    def success_url(self):
        return self.request.session.get("oidc_login_next") or resolve_url("admin:index")

    def login_failure(self):
        default = CANCELLED if self.request.GET.get("error") else UNVERIFIED
        return _back_to_login(self.request, getattr(self.request, "oidc_refusal", _say(default)))

    def login_success(self):
        response = super().login_success()
        claims = getattr(self.request, "oidc_id_claims", {})
        second_factor = provider_asserted_mfa(claims)
        if second_factor:
            self.request.session[PROVIDER_MFA_SESSION_KEY] = {
                "user_id": self.user.pk,
                "amr": claims.get("amr"),
                "acr": claims.get("acr"),
            }
        record_sign_in(user=self.user, claims=claims, provider_second_factor=second_factor)
        return response


class LogoutView(OIDCLogoutView):
    """Sign out here (POST), then home; the provider's own session is its business."""

    @property
    def redirect_url(self):
        return resolve_url(settings.LOGOUT_REDIRECT_URL or "home")

    get_settings = staticmethod(oidc_setting)

    def dispatch(self, request, *args, **kwargs):
        _require_enabled(request)
        return super().dispatch(request, *args, **kwargs)


urlpatterns = [
    path("authenticate/", AuthenticateView.as_view(), name="oidc_authentication_init"),
    path("callback/", CallbackView.as_view(), name="oidc_authentication_callback"),
    path("logout/", LogoutView.as_view(), name="oidc_logout"),
]
