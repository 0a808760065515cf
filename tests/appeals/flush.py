"""Support for transactional (browser) tests.

Such tests end with a flush. On SQLite that is a DELETE, which trips the audit log's
append-only triggers, so `audit_rows_flushable` empties the tables itself with the
triggers lifted for that moment only, then puts them back (PostgreSQL truncates, which
fires no row triggers). A flush also wipes the rows data migrations made (policies,
role groups, queues); pytest-django's serialized rollback cannot bring them back here
because Playwright's greenlet sees its own connection object, so the fixture restores
them from a snapshot taken once, right after the test database was migrated.
"""

import importlib

import pytest
from django.core.management import call_command
from django.db import connection

guard = importlib.import_module("moderation.migrations.0002_catalogue_roles_audit_guard")


_snapshot: dict[str, str] = {}


@pytest.fixture(scope="session")
def migrated_rows(django_db_setup, django_db_blocker) -> str:
    # Modules that import this fixture each get their own definition: keep one snapshot.
    if "rows" not in _snapshot:
        with django_db_blocker.unblock():
            _snapshot["rows"] = connection.creation.serialize_db_to_string()
    return _snapshot["rows"]


def _empty_tables() -> None:
    """Flush with the audit triggers lifted (SQLite only needs it) and no post_migrate."""
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        with connection.cursor() as cursor:
            for statement in guard.SQLITE_UNGUARD:
                cursor.execute(statement)
    try:
        call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True, reset_sequences=False)
    finally:
        if sqlite:
            with connection.cursor() as cursor:
                for statement in guard.SQLITE_GUARD:
                    cursor.execute(statement)


@pytest.fixture
def audit_rows_flushable(migrated_rows, transactional_db):
    from moderation.models import Policy

    if not Policy.objects.exists():
        _empty_tables()
        connection.creation.deserialize_db_from_string(migrated_rows)
    yield
    if connection.vendor == "sqlite":
        _empty_tables()
