"""Writes that race other transactions (signal chunks, mirror batches, posted at once).

Three rules keep concurrent writers from answering 500:

- rows another transaction may insert at the same moment are inserted with
  `INSERT … ON CONFLICT DO NOTHING … RETURNING` and the ones it won are read back;
- every writer inserts and locks rows in one global order (sorted by their natural key),
  so two writers wait on each other at most one way round and never deadlock;
- what the database still breaks (a deadlock with a writer outside these rules, a
  unique race the caller resolves by starting over) is retried here, a bounded number
  of times with jittered backoff, never handed back to the client as a 500: a request
  that lost every attempt answers 503 with Retry-After (StillRacing).
"""

from __future__ import annotations

import functools
import random
import time
import zlib

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from moderation import setwise
from moderation.rows import prepared_cursor

RACE_SQLSTATES = {
    "40P01",  # deadlock detected
    "40001",  # serialization failure
    "23505",  # unique violation: another transaction inserted the same key first
}
ATTEMPTS = 10
BACKOFF_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 1.0  # a loaded box: racers that keep colliding spread out, within seconds


def is_race(exc: Exception) -> bool:
    """A failure that running the same transaction again can cure."""
    if not isinstance(exc, IntegrityError | OperationalError):
        return False
    return getattr(exc.__cause__, "sqlstate", None) in RACE_SQLSTATES


def backoff(attempt: int) -> None:
    """Full jitter (AWS architecture blog): racers that collided do not collide again."""
    time.sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2**attempt)))


class StillRacing(Exception):
    """Every attempt of one transaction lost a race, and each was rolled back whole (what
    committed before it, e.g. a batch's earlier chunks, stays). Not a fault to report as
    one (a 500): the middleware answers 503 with Retry-After, and sending the same request
    again is safe (signals and mirror items are idempotent)."""


class Overtaken(Exception):
    """Another writer committed a row this transaction was about to create. Nothing
    to wait for: the row is there now, so the transaction runs again at once."""


def retried(service):
    """Run `service` again (whole transaction) after a race, up to ATTEMPTS times.

    Inside an outer transaction a retry cannot help (the outer one is broken), so the
    error goes up to whoever owns the transaction."""

    @functools.wraps(service)
    def run(*args, **kwargs):
        for attempt in range(ATTEMPTS):
            try:
                return service(*args, **kwargs)
            except Overtaken as exc:
                if connection.in_atomic_block:
                    raise
                if attempt == ATTEMPTS - 1:
                    raise StillRacing(f"{service.__name__}: overtaken {ATTEMPTS} times") from exc
            except (IntegrityError, OperationalError) as exc:
                if connection.in_atomic_block or not is_race(exc):
                    raise
                if attempt == ATTEMPTS - 1:
                    raise StillRacing(f"{service.__name__}: lost {ATTEMPTS} races") from exc
                backoff(attempt)
        raise AssertionError("unreachable")

    return run


def insert_missing(model, rows: list, *, key: str = "platform_id") -> dict:
    """Insert rows (sorted by `key`, the global lock order) in one statement, skipping
    any another transaction inserted first; returns those other rows by key.

    The rows this call inserted get their primary key set, as bulk_create does."""
    if not rows:
        return {}
    rows = sorted(rows, key=lambda row: getattr(row, key))
    meta, quote = model._meta, connection.ops.quote_name
    key_column = meta.get_field(key).column
    conflict = f"ON CONFLICT ({quote(key_column)}) DO NOTHING"
    if setwise.available():  # one JSON document, one prepared statement
        inserted = setwise.insert_rows(
            model, rows, now=timezone.now(), conflict=conflict, returning=(meta.pk.column, key_column)
        )
    else:
        inserted = _insert_values(model, rows, conflict=conflict, returning=(meta.pk.column, key_column))
    mine = {k: pk for pk, k in inserted}
    theirs_keys = []
    for row in rows:
        k = getattr(row, key)
        if k in mine:
            row.pk = mine[k]
            row._state.adding, row._state.db = False, connection.alias
        else:
            theirs_keys.append(k)
    if not theirs_keys:
        return {}
    return {getattr(row, key): row for row in setwise.read_any(model, key, theirs_keys)}


def _insert_values(model, rows: list, *, conflict: str, returning: tuple[str, str]) -> list[tuple]:
    """The rows as one multi-row INSERT … VALUES, a parameter per column per row (SQLite)."""
    meta, quote = model._meta, connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values, params = [], []
    for row in rows:
        row._prepare_related_fields_for_save(operation_name="insert_missing")
        values.append("(" + ", ".join(["%s"] * len(fields)) + ")")
        params.extend(f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields)
    # Only quoted identifiers from the model's meta go into the text; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join(values)} {conflict} RETURNING {', '.join(quote(c) for c in returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


ADVISORY_NAMESPACE = 160_001  # first half of pg_advisory_xact_lock(int, int): signal keys


def _hashed(key: str) -> int:
    return zlib.crc32(key.encode()) - 2**31


def try_lock_keys(namespace: int, keys: list[str]) -> set[str]:
    """lock_keys without waiting: takes the keys' locks that are free (in sorted order)
    and returns the keys whose lock another transaction holds. PostgreSQL only (on
    SQLite every key is free: one writer at a time)."""
    if connection.vendor != "postgresql" or not keys:
        return set()
    assert transaction.get_connection().in_atomic_block, "advisory xact locks need a transaction"
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::int[]) AS k WHERE NOT pg_try_advisory_xact_lock(%s, k)",
            [sorted({_hashed(k) for k in keys}), namespace],
        )
        busy = {row[0] for row in cursor.fetchall()}
    return {k for k in keys if _hashed(k) in busy} if busy else set()


def lock_keys(namespace: int, keys: list[str]) -> None:
    """Transaction-scoped advisory locks on the given keys, taken in sorted order.

    PostgreSQL only; SQLite lets one writer in at a time, which already serialises."""
    if connection.vendor != "postgresql" or not keys:
        return
    hashed = sorted({_hashed(k) for k in keys})
    assert transaction.get_connection().in_atomic_block, "advisory xact locks need a transaction"
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS k",
            [namespace, hashed],
        )
