"""Database triggers that back rules the ORM alone cannot hold (append-only audit,
the human gate). Migrations declare the SQL per vendor; this runs the right part."""

from __future__ import annotations

from collections.abc import Sequence


def execute_for_vendor(schema_editor, *, postgresql: str, sqlite: Sequence[str]) -> None:
    """PostgreSQL takes one script (params=None: its PL/pgSQL uses % literally);
    SQLite takes one statement at a time. Other vendors get no triggers."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(postgresql, params=None)
    elif vendor == "sqlite":
        for statement in sqlite:
            schema_editor.execute(statement)
