"""A small OpenID Connect provider for the tests, served over HTTP from a thread on a
local port: discovery, JWKS, authorize (answers at once with a code for the person the
test says is signed in there), token (an RS256 id_token signed with its own key, PKCE
checked), userinfo. Tests can make it misbehave (a forged signature, another nonce, an
id_token for another client) to prove the back-office refuses."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "moderation-back-office"
CLIENT_SECRET = "test-client-secret"
KID = "test-key-1"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@dataclass
class OpenIDProvider:
    """The provider's state. `person` is whoever is signed in at the provider: the claims
    it vouches for. `misbehave` names one fault to put in the next id_token."""

    issuer: str = ""
    person: dict = field(default_factory=dict)
    misbehave: str = ""
    codes: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    token_requests: int = 0

    def __post_init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def reset(self):
        self.person, self.misbehave, self.codes, self.tokens, self.token_requests = {}, "", {}, {}, 0

    def sign_in_as(self, *, sub: str, email: str = "", email_verified: bool = True, **claims) -> None:
        self.person = {"sub": sub, "email": email, "email_verified": email_verified, **claims}

    # WSGI
    def __call__(self, environ, start_response):
        route = {
            "/.well-known/openid-configuration": self.discovery,
            "/jwks": self.jwks,
            "/authorize": self.authorize,
            "/token": self.token,
            "/userinfo": self.userinfo,
        }.get(environ["PATH_INFO"])
        if route is None:
            return self._json(start_response, {"error": "not_found"}, "404 Not Found")
        return route(environ, start_response)

    def _json(self, start_response, body, status="200 OK"):
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def discovery(self, environ, start_response):
        return self._json(
            start_response,
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            },
        )

    def jwks(self, environ, start_response):
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return self._json(start_response, {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]})

    def authorize(self, environ, start_response):
        query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code" or not self.person:
            return self._json(start_response, {"error": "invalid_request"}, "400 Bad Request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "person": dict(self.person),
            "nonce": query.get("nonce"),
            "redirect_uri": query["redirect_uri"],
            "challenge": query.get("code_challenge"),
        }
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        start_response("302 Found", [("Location", location), ("Content-Length", "0")])
        return [b""]

    def token(self, environ, start_response):
        self.token_requests += 1
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
        grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            grant is None
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant["redirect_uri"]
            or challenge != grant["challenge"]
        ):
            return self._json(start_response, {"error": "invalid_grant"}, "400 Bad Request")
        access_token = secrets.token_urlsafe(16)
        self.tokens[access_token] = grant["person"]
        answer = {"access_token": access_token, "token_type": "Bearer", "expires_in": 300}
        if self.misbehave != "no_id_token":
            answer["id_token"] = self.id_token(grant["person"], grant["nonce"])
        return self._json(start_response, answer)

    def id_token(self, person: dict, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": person["sub"],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **{k: v for k, v in person.items() if k in ("amr", "acr", "auth_time")},
        }
        key = self.key
        if self.misbehave == "nonce":
            claims["nonce"] = "a-nonce-this-browser-never-sent"
        elif self.misbehave == "audience":
            claims["aud"] = "another-client"
        elif self.misbehave == "issuer":
            claims["iss"] = "https://impostor.example"
        elif self.misbehave == "expired":
            claims["iat"], claims["exp"] = now - 600, now - 300
        elif self.misbehave == "foreign_key":
            # Signed by a key the JWKS does not hold, under our kid.
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})
        if self.misbehave == "tampered":
            header, payload, signature = token.split(".")
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            body["sub"] = "someone-else"
            payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
            token = f"{header}.{payload}.{signature}"
        return token

    def userinfo(self, environ, start_response):
        bearer = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        person = self.tokens.get(bearer)
        if person is None:
            return self._json(start_response, {"error": "invalid_token"}, "401 Unauthorized")
        claims = {k: v for k, v in person.items() if k not in ("amr", "acr")}
        if self.misbehave == "userinfo_for_another":
            claims["sub"] = "someone-else"
        return self._json(start_response, claims)


def start_provider() -> tuple[OpenIDProvider, WSGIServer]:
    provider = OpenIDProvider()
    server = make_server("127.0.0.1", 0, provider, handler_class=_QuietHandler)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True, name="test-openid-provider").start()
    return provider, server


def configure(settings, issuer: str, *, discovery: bool = True) -> None:
    """Point the back-office at a provider (pytest-django's `settings` fixture)."""
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_ORGANISATION = "Example Org"
    endpoints = {
        "OIDC_OP_ISSUER": issuer,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{issuer}/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{issuer}/token",
        "OIDC_OP_USER_ENDPOINT": f"{issuer}/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": f"{issuer}/jwks",
    }
    settings.OIDC_OP_DISCOVERY_URL = f"{issuer}/.well-known/openid-configuration" if discovery else ""
    for name, value in endpoints.items():
        setattr(settings, name, "" if discovery else value)
    settings.OIDC_ENABLED = True
    if "moderation.oidc.StaffOIDCBackend" not in settings.AUTHENTICATION_BACKENDS:
        settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "moderation.oidc.StaffOIDCBackend"]


@pytest.fixture(scope="module")
def oidc_provider_server():
    provider, server = start_provider()
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture
def oidc_provider(oidc_provider_server, settings):
    """A running provider, fresh for the test, that the back-office is configured to use."""
    oidc_provider_server.reset()
    configure(settings, oidc_provider_server.issuer)
    return oidc_provider_server
