import json
import os
import subprocess
import sys
from pathlib import Path

# The test settings export these into os.environ; a fresh process must not inherit them.
STRIP = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}
ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'name': str(settings.DATABASES['default']['NAME']), 'inline': settings.JOBS_RUN_INLINE, "
    "'debug': settings.DEBUG, 'ssl': getattr(settings, 'SECURE_SSL_REDIRECT', False)}))"
)


def _settings_with(**env):
    clean = {k: v for k, v in os.environ.items() if k not in STRIP}
    clean.update(env, DJANGO_SETTINGS_MODULE="moderation.settings")
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_sqlite_and_inline_jobs_without_environment():
    found = _settings_with(DEBUG="1")
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"].endswith("db.sqlite3")
    assert found["inline"] is True


def test_postgresql_and_redis_queues_from_environment():
    found = _settings_with(
        DEBUG="1", DATABASE_URL="postgres://postgres@127.0.0.1:5432/somedb", REDIS_URL="redis://127.0.0.1:6379/3"
    )
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["name"] == "somedb"
    assert found["inline"] is False


def test_debug_off_needs_a_secret_key_and_redirects_to_https():
    clean = {k: v for k, v in os.environ.items() if k not in STRIP}
    failed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "moderation.settings"},
        capture_output=True,
        text=True,
    )
    assert failed.returncode != 0 and "SECRET_KEY must be set" in failed.stderr
    found = _settings_with(SECRET_KEY="x" * 60)
    assert found["debug"] is False and found["ssl"] is True


def test_deploy_check_is_clean_apart_from_tls():
    clean = {k: v for k, v in os.environ.items() if k not in STRIP}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "moderation.settings",
        "SECRET_KEY": "k" * 64 + "!@#$%^&*()",
        "ALLOWED_HOSTS": "backoffice.example",
    }
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr + out.stdout
