"""Settings come from the environment; the defaults run on a bare machine.

SQLite and in-process jobs unless DATABASE_URL / REDIS_URL say otherwise.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Links in notices and emails. Unless SITE_URL is set, they follow the host and port
# `make run` serves on (it exports SITE_HOST and PORT), so a demo on another port works.
SITE_URL = (
    os.environ.get("SITE_URL")
    or f"http://{os.environ.get('SITE_HOST') or 'localhost'}:{os.environ.get('PORT') or '8000'}"
).rstrip("/")

INSTALLED_APPS = [
    "moderation.admin_site.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "moderation",
    "cases",
    "appeals",
    "supervision",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "moderation.i18n.WriterLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "moderation.staff_security.SessionOTPMiddleware",
    "moderation.staff_security.IdleSessionMiddleware",
    "moderation.staff_security.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "moderation.middleware.faults.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "moderation.urls"
WSGI_APPLICATION = "moderation.wsgi.application"
ASGI_APPLICATION = "moderation.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# PostgreSQL connections: a psycopg pool per process when DB_POOL_MAX_SIZE is set (then
# CONN_MAX_AGE must be 0: the pool keeps them), otherwise persistent connections with a
# health check before reuse, so a connection the server dropped is replaced, not used.
# Size: gunicorn workers × DB_POOL_MAX_SIZE (+ rq workers) stays under max_connections
# (README, "Production serving").
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# Supervisor reports read from a replica when DATABASE_REPLICA_URL is set
# (moderation.db_router); without one the alias is the primary itself.
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["moderation.db_router.ReplicaRouter"]
REPORTS_ON_REPLICA = env_bool("REPORTS_ON_REPLICA", "replica" in DATABASES)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
elif os.environ.get("DB_POOL_MAX_SIZE"):
    # With CONN_HEALTH_CHECKS on, Django hands the pool psycopg's check: a connection
    # the server closed is found and replaced when it is checked out.
    for _alias in DATABASES:
        DATABASES[_alias]["CONN_MAX_AGE"] = 0
        DATABASES[_alias].setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
            "max_size": int(os.environ["DB_POOL_MAX_SIZE"]),
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
        }
# A lost database connection answers 503 with Retry-After (moderation.middleware.faults).
DB_UNAVAILABLE_RETRY_AFTER = int(os.environ.get("DB_UNAVAILABLE_RETRY_AFTER", "5"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The languages writer-facing pages, notices and emails are translated into (locale/);
# the back-office itself stays in English.
LANGUAGES = [("en", "English"), ("es", "Español"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Appeal files and evidence: a storage no URL serves (moderation/private_files.py).
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", BASE_DIR / "private-media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": "/private-files-are-not-served/"},
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGIN_URL = "admin:login"

# Staff sign-in (moderation/staff_security.py). django-axes locks an account, and
# separately an address, after AXES_FAILURE_LIMIT failed sign-ins, until the
# cool-off passes or a supervisor lifts it (/admin/lockouts/).
# StaffModelBackend: Django's ModelBackend reading a request's user, roles and permissions
# in one query (moderation/auth_backends.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "moderation.auth_backends.StaffModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "1"))
AXES_RESET_ON_SUCCESS = True
# Lock-outs are read and lifted on /admin/lockouts/ (audited), not in axes' own admin pages.
AXES_ENABLE_ADMIN = False
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("AXES_PROXY_COUNT", "0")) or None
# django-otp: a TOTP app plus single-use backup codes, required for staff unless DEBUG.
OTP_REQUIRED = env_bool("OTP_REQUIRED", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Trust & Safety back-office")

# Sign-in through the organisation's OpenID Connect provider (moderation/oidc.py,
# mozilla-django-oidc): on when a client id, its secret and either the discovery URL or
# the issuer and every endpoint are set. It only signs in existing staff accounts; it
# counts as the second factor only when the provider asserts one (OIDC_MFA_AMR/_ACR).
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_DISCOVERY_URL = os.environ.get("OIDC_OP_DISCOVERY_URL", "")
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = "openid email"
OIDC_USE_PKCE = True
OIDC_CREATE_USER = False  # never: unknown people are refused (moderation.oidc.StaffOIDCBackend)
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT_SECONDS", "10"))
OIDC_ORGANISATION = os.environ.get("OIDC_ORGANISATION", "your organisation")
# Authentication-method (RFC 8176) and context values that count as the provider's second factor.
OIDC_MFA_AMR = env_list("OIDC_MFA_AMR", "mfa,otp,hwk")
OIDC_MFA_ACR = env_list("OIDC_MFA_ACR", "")
OIDC_ENABLED = bool(
    OIDC_RP_CLIENT_ID
    and OIDC_RP_CLIENT_SECRET
    and (
        OIDC_OP_DISCOVERY_URL
        or all(
            (
                OIDC_OP_ISSUER,
                OIDC_OP_AUTHORIZATION_ENDPOINT,
                OIDC_OP_TOKEN_ENDPOINT,
                OIDC_OP_USER_ENDPOINT,
                OIDC_OP_JWKS_ENDPOINT,
            )
        )
    )
)
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("moderation.oidc.StaffOIDCBackend")

# Jobs: with REDIS_URL, real RQ queues served by `manage.py rqworker`; without,
# moderation.jobs.enqueue runs the job inline after commit and nothing touches Redis.
REDIS_URL = os.environ.get("REDIS_URL", "")
# `make worker` serves them in priority order (moderation.jobs.QUEUE_PRIORITY): audit,
# enforcement, restoration, default, email. A refused hand-over (Redis down) loses
# nothing: the outbox keeps the job and the drain sends it when Redis is back. Add
# `?socket_connect_timeout=2` to REDIS_URL where Redis may vanish without refusing.
RQ_QUEUES = {
    name: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600}
    for name in ("default", "enforcement", "restoration", "audit", "email")
}
# The outbox of background jobs (moderation.outbox).
BACKGROUND_JOBS = {
    "LEASE_SECONDS": float(os.environ.get("JOB_LEASE_SECONDS", "60")),
    "MAX_ATTEMPTS": int(os.environ.get("JOB_MAX_ATTEMPTS", "8")),
    "RETRY_BACKOFF_SECONDS": float(os.environ.get("JOB_RETRY_BACKOFF_SECONDS", "15")),
    "HANDOVER_GRACE_SECONDS": 30,
    "REQUEUE_AFTER_SECONDS": 15 * 60,
}
# The dashboard is served only by moderation.rq_console (role-locked), not as an admin model.
RQ_SHOW_ADMIN_LINK = False
JOBS_RUN_INLINE = env_bool("JOBS_RUN_INLINE", not REDIS_URL)

if REDIS_URL:
    CACHES = {
        "default": {
            # A Redis outage reads as an empty cache, never as a 500 (moderation.cache).
            "BACKEND": "moderation.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# In DEBUG mail is also saved for the staff page /admin/demo/mail/ (moderation.demo_mail).
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "moderation.demo_mail.SavedMailBackend" if DEBUG else "django.core.mail.backends.console.EmailBackend",
)
DEMO_MAIL_DIR = Path(os.environ.get("DEMO_MAIL_DIR", BASE_DIR / "var" / "demo-mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Trust & Safety <trust@localhost>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "moderation.apikeys.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON only, with size and depth limits; page numbers checked against the schema.
    "DEFAULT_PARSER_CLASSES": ["moderation.validation.LimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "moderation.validation.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "moderation.api_schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_THROTTLE_USER", "600/min"),
        "api_client": os.environ.get("API_THROTTLE_CLIENT", "120/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Moderation back-office API",
    "DESCRIPTION": "Signals in from the platform and its detectors; cases out; the platform's facts mirrored in.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: the docs work without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets sharing a field name with another (status, kind) get their own names.
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "moderation.models.AccountStatus",
        "EngagementKindEnum": "moderation.models.EngagementKind",
        "StoryKindEnum": "moderation.models.StoryKind",
        "CaseStatusEnum": "cases.models.CaseStatus",
    },
}

RATELIMIT_VIEW = "moderation.views.ratelimited"

# Security defaults that hold whenever DEBUG is off; TLS itself is the proxy's job.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is the operator's call, not a code default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Content-Security-Policy (django-csp): scripts and styles only from our origin or
# with the request's nonce; nothing may frame us, no plugins, forms post only to us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Permissions-Policy (django-permissions-policy): no page needs these browser features.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "fullscreen",
    )
}
# Staff sessions end after SESSION_IDLE_MINUTES without a request (the expiry slides).
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_MINUTES", "30")) * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# With Redis, a request reads its session from the cache, not the database, which stays
# the record (moderation/sessions.py); a cached copy lives at most SESSION_CACHE_SECONDS.
SESSION_ENGINE = "moderation.sessions" if REDIS_URL else "django.contrib.sessions.backends.db"
SESSION_CACHE_SECONDS = int(os.environ.get("SESSION_CACHE_SECONDS", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A traceback may hold a writer's email address: every line is blanked on its way out.
    "filters": {"no_email_addresses": {"()": "moderation.log_privacy.BlankEmailAddresses"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_email_addresses"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# The audit log as a transparency log (moderation/audit*.py). The signing key never goes in
# the database; with DEBUG on a key file is generated under var/ (gitignored).
AUDIT = {
    "MAX_INTEGRATION_DELAY_SECONDS": float(os.environ.get("AUDIT_MAX_INTEGRATION_DELAY", "5")),
    "SEQUENCER_INTERVAL_SECONDS": int(os.environ.get("AUDIT_SEQUENCER_INTERVAL", "2")),
    "SEQUENCER_BATCH_SIZE": int(os.environ.get("AUDIT_SEQUENCER_BATCH_SIZE", "5000")),
    # Connections that fetch blocks of the chain in parallel while verifying (PostgreSQL).
    "VERIFY_CONNECTIONS": int(os.environ.get("AUDIT_VERIFY_CONNECTIONS", "4")),
    # None: integrate after each commit exactly when jobs run inline (JOBS_RUN_INLINE).
    "SEQUENCER_INLINE": env_bool("AUDIT_SEQUENCER_INLINE", False) if "AUDIT_SEQUENCER_INLINE" in os.environ else None,
    "SIGNING_KEY": os.environ.get("AUDIT_SIGNING_KEY", ""),
    "SIGNING_KEY_FILE": os.environ.get(
        "AUDIT_SIGNING_KEY_FILE", str(BASE_DIR / "var" / "audit-signing.key") if DEBUG else ""
    ),
    "GENERATE_SIGNING_KEY": env_bool("AUDIT_GENERATE_SIGNING_KEY", DEBUG),
    "TRUSTED_PUBLIC_KEYS": env_list("AUDIT_TRUSTED_PUBLIC_KEYS", ""),
    "HEAD_SINK": os.environ.get("AUDIT_HEAD_SINK", "moderation.audit_heads.FileHeadSink"),
    "HEADS_PATH": os.environ.get("AUDIT_HEADS_PATH", str(BASE_DIR / "var" / "audit-heads.jsonl")),
}
if not (AUDIT["SIGNING_KEY"] or AUDIT["SIGNING_KEY_FILE"]):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE must be set when DEBUG is off: the audit log's heads "
        "are signed with an Ed25519 key kept outside the database."
    )

# Product settings, overridable per deployment.
MODERATION = {
    "CLAIM_LEASE_MINUTES": int(os.environ.get("CLAIM_LEASE_MINUTES", "15")),
    "SHOW_LESS_THRESHOLD": int(os.environ.get("SHOW_LESS_THRESHOLD", "5")),
    "FOUR_EYES_FOLLOWER_THRESHOLD": int(os.environ.get("FOUR_EYES_FOLLOWER_THRESHOLD", "10000")),
    "APPEAL_WINDOW_DAYS": int(os.environ.get("APPEAL_WINDOW_DAYS", "183")),
    # Writers a wave of purges lowered are told this long after its last purge (0 when jobs run inline).
    "PURGE_NOTICE_SETTLE_SECONDS": int(os.environ.get("PURGE_NOTICE_SETTLE_SECONDS", "120")),
    "SIGNAL_BATCH_LIMIT": 1000,
    "SIGNAL_PAYLOAD_MAX_BYTES": 64 * 1024,
    "REASON_MAX_CHARS": 2000,
    "API_JSON_MAX_BYTES": int(os.environ.get("API_JSON_MAX_BYTES", str(10 * 1024 * 1024))),
    "API_JSON_MAX_DEPTH": int(os.environ.get("API_JSON_MAX_DEPTH", "32")),
    "PLATFORM_ADAPTER": os.environ.get("PLATFORM_ADAPTER", "moderation.platform.LocalPlatformAdapter"),
    "PLATFORM_URL": os.environ.get("PLATFORM_URL", ""),
}
