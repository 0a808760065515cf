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


def status_moves(*, table: str, pairs: Sequence[tuple[str, str]], column: str = "status") -> tuple[str, list[str]]:
    """SQL for both vendors refusing any UPDATE of `column` that is not one of `pairs`
    (from, to): the database's copy of a transition table (moderation.transitions), so a
    raw UPDATE or a service that skipped `transition` cannot make a move the table
    forbids. The allowed moves are tested in the trigger's WHEN clause (no function call
    for an allowed move); a refusal is a check_violation naming the move."""
    moves = ", ".join(f"'{source}>{target}'" for source, target in sorted(pairs))
    name = f"{table}_{column}_moves"
    changed = f"OLD.{column} <> NEW.{column} AND (OLD.{column} || '>' || NEW.{column})"
    postgresql = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'check_violation',
        MESSAGE = format('status moves: %s may not go from %s to %s', TG_TABLE_NAME, OLD.{column}, NEW.{column});
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE TRIGGER {name} BEFORE UPDATE OF {column} ON {table} FOR EACH ROW
    WHEN ({changed} NOT IN ({moves})) EXECUTE FUNCTION {name}();
"""
    sqlite = [
        f"DROP TRIGGER IF EXISTS {name};",
        f"CREATE TRIGGER {name} BEFORE UPDATE OF {column} ON {table} WHEN {changed} NOT IN ({moves}) "
        f"BEGIN SELECT RAISE(ABORT, 'status moves: {table} may not make this move'); END;",
    ]
    return postgresql, sqlite


def drop_status_moves(*, table: str, column: str = "status") -> tuple[str, list[str]]:
    name = f"{table}_{column}_moves"
    return f"DROP TRIGGER IF EXISTS {name} ON {table}; DROP FUNCTION IF EXISTS {name}();", [
        f"DROP TRIGGER IF EXISTS {name};"
    ]
