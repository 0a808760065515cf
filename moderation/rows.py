"""Model instances from hand-written SQL, for the few reads on every request whose ORM
query costs more CPU to compile than to run (a request's user; the queue "Review next"
works; the claim itself): the statement is written once from the model's metadata, run
prepared on PostgreSQL (prepared_cursor), the row converted as the ORM would convert it."""

from __future__ import annotations

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections


def columns(model, alias: str) -> str:
    """The model's columns in field order, qualified by the table alias, quoted."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def instance(model, values):
    """An instance from the model's columns as `columns` selects them (JSON text to
    Python values and the like), as if the ORM had read it."""
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        for convert in field.get_db_converters(connection):
            value = convert(value, field, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def select(model, *, where: str, params: list, only: tuple[str, ...] = ()) -> list:
    """The instances of `model` whose rows match `where` (SQL over the table's own
    columns, values as %s parameters), read by one prepared statement: for reads a busy
    writer makes on every chunk, where the ORM spent more Python compiling the query and
    adapting its arrays than PostgreSQL spent running it. With `only` (attnames), just
    those columns are read and the rest deferred, as QuerySet.only() leaves them.
    PostgreSQL only."""
    sql, attnames, converting = _select_statement(model, where, only)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if converting:  # JSON text to Python values and the like, as the ORM converts them
        found = [list(values) for values in found]
        for values in found:
            for n, field, functions in converting:
                for function in functions:
                    values[n] = function(values[n], field, connection)
    alias = connection.alias
    return [model.from_db(alias, attnames, values) for values in found]


@cache
def _select_statement(model, where: str, only: tuple[str, ...]) -> tuple[str, list[str], list]:
    fields = [f for f in model._meta.concrete_fields if not only or f.attname in only]
    quote = connection.ops.quote_name
    sql = f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(model._meta.db_table)} WHERE {where}"  # noqa: S608 (identifiers from meta, the caller's SQL)
    converting = [(n, f, found) for n, f in enumerate(fields) if (found := f.get_db_converters(connection))]
    return sql, [f.attname for f in fields], converting


# psycopg prepares a query after this many runs on a connection; Django turns that off
# (None) unless OPTIONS["prepare_threshold"] says otherwise. These statements ask for it
# by name (prepare=True), which psycopg only honours with a threshold set: this one keeps
# every other query unprepared.
_ONLY_WHEN_ASKED = 2**31 - 1


@cache
def _preparing_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

        def _send_query_prepared(self, name, pgq, *, binary=None):
            # Django's query log reads the last query from _query, which psycopg keeps
            # only for unprepared runs: without it a prepared claim is logged as None.
            self._query = pgq
            return super()._send_query_prepared(name, pgq, binary=binary)

    return PreparingCursor


def prepared_cursor():
    """A cursor that binds parameters on the server and has each statement prepared once
    per connection, so PostgreSQL stops parsing and planning it for every request (for
    the claim, about as much of a busy server's time as running it; Django's cursors
    bind on the client and never prepare). Elsewhere (SQLite), Django's own cursor: there
    is nothing to prepare, so callers need not ask. Prepared statements live in
    the connection's session: fine with persistent or psycopg-pooled connections and
    PgBouncer 1.21+ (max_prepared_statements); OPTIONS["prepare_threshold"] = None turns
    it off. Checked and wrapped as Django does its own cursors (health check, query
    logging, execute wrappers, database errors)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local lookup
    if db.vendor != "postgresql":
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    conn = db.connection
    if conn.prepare_threshold is None and "prepare_threshold" not in db.settings_dict["OPTIONS"]:
        conn.prepare_threshold = _ONLY_WHEN_ASKED
    with db.wrap_database_errors:
        cursor = _preparing_cursor_class()(conn)
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)
