"""Reads that may lag a little go to the `replica` alias (a streaming replica named by
DATABASE_REPLICA_URL); everything else, and every write, to `default`.

Code opts in with `with reading_reports():` (the supervisor's measures and the
transparency report). Without a replica configured (or `REPORTS_ON_REPLICA` off),
reads stay on `default`, so a single machine behaves as before. Tests point the alias
at the same database (`TEST: {"MIRROR": "default"}`, moderation/settings_test.py)."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

REPLICA = "replica"
_reports: ContextVar[bool] = ContextVar("reading_reports", default=False)


def reporting() -> str:
    """The alias report queries read from."""
    if getattr(settings, "REPORTS_ON_REPLICA", False) and REPLICA in settings.DATABASES:
        return REPLICA
    return "default"


@contextmanager
def reading_reports():
    """Every read inside goes to the replica (writes still go to the primary)."""
    token = _reports.set(True)
    try:
        yield reporting()
    finally:
        _reports.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return reporting() if _reports.get() else None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {"default", REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
