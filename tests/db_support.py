"""Transactional tests (browser tests, concurrency tests) end with a flush.

A flush is a TRUNCATE on PostgreSQL and a DELETE on SQLite, both of which the audit log's
triggers refuse (statement-level TRUNCATE/DELETE triggers, row-level DELETE), so
`empty_tables` lifts them for that moment only. A flush also wipes the rows data
migrations made (policy catalogue, role groups, queues); pytest-django's serialized
rollback cannot bring them back under Playwright (its greenlet sees another connection
object), so they are restored from a snapshot taken once, right after migrating.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection

AUDIT_TABLES = ("moderation_auditevent", "moderation_auditchainentry")

_snapshot: dict[str, str] = {}


def snapshot_migrated_rows() -> str:
    if "rows" not in _snapshot:
        _snapshot["rows"] = connection.creation.serialize_db_to_string()
    return _snapshot["rows"]


@contextmanager
def audit_triggers_lifted() -> Iterator[None]:
    """Lift every trigger on the audit tables (events, chain entries), whatever migration
    made it, and put them back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            try:
                yield
            finally:
                for table in AUDIT_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)", list(AUDIT_TABLES)
        )
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            yield
        finally:
            for _, sql in triggers:
                cursor.execute(sql)


def lift_audit_triggers_while_flushing() -> None:
    """Every flush in the test run (ours and pytest-django's after each transactional
    test) runs with the audit triggers lifted, and only for that statement."""
    from django.core.management.commands import flush

    if getattr(flush.Command.handle, "lifts_audit_triggers", False):
        return
    original = flush.Command.handle

    def handle(self, *args, **options):
        with audit_triggers_lifted():
            return original(self, *args, **options)

    handle.lifts_audit_triggers = True
    flush.Command.handle = handle


def empty_tables() -> None:
    """Flush with no post_migrate (the audit triggers lifted, as for every test flush)."""
    lift_audit_triggers_while_flushing()
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True, reset_sequences=False)


def restore_migrated_rows(rows: str) -> None:
    from moderation.models import Policy

    if not Policy.objects.exists():
        empty_tables()
        connection.creation.deserialize_db_from_string(rows)
