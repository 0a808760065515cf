"""Settings for the test suite: production defaults, minus what only TLS can give."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# A generated key file under test-artifacts/ (gitignored); production settings have no default.
os.environ.setdefault(
    "AUDIT_SIGNING_KEY_FILE", os.path.join(os.path.dirname(os.path.dirname(__file__)), "test-artifacts", "audit.key")
)
os.environ.setdefault("AUDIT_GENERATE_SIGNING_KEY", "1")


def _redis_url_for_this_worker(url: str, worker: str) -> str:
    """pytest-xdist runs the suite in several processes, each on its own test database
    (pytest-django suffixes it); each gets its own Redis database number too, so one
    process's queues never hold another's jobs. Set in the environment so the real
    rqworker an end-to-end test starts inherits it."""
    if not url or not worker.startswith("gw"):
        return url
    base, _, number = url.rpartition("/")
    start = int(number) if number.isdigit() else 0
    return f"{base}/{(start + int(worker[2:])) % 16}"


if os.environ.get("REDIS_URL") and not os.environ.get("TEST_REDIS_URL_PER_WORKER"):
    os.environ["REDIS_URL"] = _redis_url_for_this_worker(
        os.environ["REDIS_URL"], os.environ.get("PYTEST_XDIST_WORKER", "")
    )
    os.environ["TEST_REDIS_URL_PER_WORKER"] = "1"  # a child process (the e2e rqworker) keeps it

from moderation.settings import *  # noqa: E402, F403

ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = BASE_DIR / "test-artifacts" / "media"  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "private": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}

# Jobs run inline after commit unless a test opts into real RQ (tests/moderation/test_jobs.py).
JOBS_RUN_INLINE = True
# Rate-limit counters must not leak between tests: each test starts with a clean local cache.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A cache of this process alone cannot hold sessions other processes (a served test's
# server, the rqworker) also read: sessions stay in the database (tests/moderation/
# test_sessions.py runs the cached engine on its own).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Signed audit heads stay in the process (tests/conftest.py empties the sink per test);
# the audit sequencer runs after each commit, like the jobs.
AUDIT = {**AUDIT, "HEAD_SINK": "moderation.audit_heads.MemoryHeadSink", "SEQUENCER_INLINE": True}  # noqa: F405

# A `replica` alias on the same database (a test mirror): reports read through it only
# where a test turns REPORTS_ON_REPLICA on (tests/moderation/test_db_router.py).
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
REPORTS_ON_REPLICA = False
