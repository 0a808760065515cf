import pytest
from django.core.cache import cache

from tests.db_support import (
    empty_tables,
    lift_audit_triggers_while_flushing,
    restore_migrated_rows,
    snapshot_migrated_rows,
)

lift_audit_triggers_while_flushing()


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_audit_heads():
    """Signed audit heads live outside the database: each test starts with none."""
    from moderation.audit_heads import MemoryHeadSink

    MemoryHeadSink.clear()
    yield
    MemoryHeadSink.clear()


@pytest.fixture(scope="session")
def migrated_rows(django_db_setup, django_db_blocker) -> str:
    with django_db_blocker.unblock():
        return snapshot_migrated_rows()


@pytest.fixture(autouse=True, scope="session")
def _snapshot_migrated_rows_early(request):
    """Take the snapshot before any transactional test flushes the database."""
    request.getfixturevalue("migrated_rows")


@pytest.fixture
def audit_rows_flushable(migrated_rows, transactional_db):
    restore_migrated_rows(migrated_rows)
    yield
    from django.db import connection

    if connection.vendor == "sqlite":
        empty_tables()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """`@pytest.mark.postgres`: the test proves a PostgreSQL path (row locks, triggers
    only PostgreSQL has); on SQLite (`make test` without DATABASE_URL) it is skipped."""
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL")


@pytest.fixture(autouse=True)
def _migrated_rows_in_transactional_tests(request):
    """Every transactional test starts with the migrated rows and leaves SQLite flushable."""
    if _is_transactional(request):
        request.getfixturevalue("audit_rows_flushable")
    yield


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what services defer to after commit (jobs, emails) as a real commit would."""

    def runner():
        return django_capture_on_commit_callbacks(execute=True)

    return runner


@pytest.fixture(autouse=True)
def _staff_sign_ins_pass_the_second_factor(request):
    """Every sign-in the suite makes (client.force_login, the admin login form in
    browser tests) also passes the second factor, as a staff member entering their
    TOTP code would, so tests need no 2FA steps. Tests of 2FA itself opt out with
    @pytest.mark.real_two_factor."""
    if request.node.get_closest_marker("real_two_factor"):
        yield
        return
    from django.contrib.auth.signals import user_logged_in
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    def verify(sender, request, user, **kwargs):
        if user.is_staff:
            device, _ = StaticDevice.objects.get_or_create(user=user, name="test-suite sign-in")
            request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id

    user_logged_in.connect(verify, dispatch_uid="tests.two_factor")
    yield
    user_logged_in.disconnect(dispatch_uid="tests.two_factor")
