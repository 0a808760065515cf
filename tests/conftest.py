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
