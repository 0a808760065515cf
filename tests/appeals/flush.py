"""Kept for the test modules that import these fixtures by name; see tests/db_support.py."""

from tests.conftest import audit_rows_flushable, migrated_rows

__all__ = ["audit_rows_flushable", "migrated_rows"]
