"""Transactional tests (browser tests, concurrency tests) end with a flush.

On SQLite a flush is a DELETE, which the audit log's append-only triggers refuse, so
`empty_tables` lifts them for that moment only. A flush also wipes the rows data
migrations made (policy catalogue, role groups, queues); pytest-django's serialized
rollback cannot bring them back under Playwright (its greenlet sees another connection
object), so they are restored from a snapshot taken once, right after migrating.
"""

import importlib

from django.core.management import call_command
from django.db import connection

guard = importlib.import_module("moderation.migrations.0002_catalogue_roles_audit_guard")

_snapshot: dict[str, str] = {}


def snapshot_migrated_rows() -> str:
    if "rows" not in _snapshot:
        _snapshot["rows"] = connection.creation.serialize_db_to_string()
    return _snapshot["rows"]


def empty_tables() -> None:
    """Flush with the audit triggers lifted (only SQLite needs it) and no post_migrate."""
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


def restore_migrated_rows(rows: str) -> None:
    from moderation.models import Policy

    if not Policy.objects.exists():
        empty_tables()
        connection.creation.deserialize_db_from_string(rows)
