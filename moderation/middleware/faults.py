"""A lost database connection answers 503 with Retry-After, never a bare 500.

PostgreSQL restarting, a failover, `pg_terminate_backend` or an exhausted pool surface
as `OperationalError`/`InterfaceError` (psycopg's connection errors). The request's
transaction was rolled back with the connection, so the client may simply send it
again: the API's batches are idempotent, forms are re-posted. Django drops the broken
connection at the end of the request; the next one opens (or checks out) a fresh one
(`CONN_HEALTH_CHECKS`, the pool's check).

Other operational errors (a deadlock, a serialization failure, a statement timeout)
are not connection loss and stay what they are; the writers that race others retry
them inside the server, and one that lost every attempt (StillRacing, rolled back
whole) answers the same 503, so a valid batch is never answered 500.
"""

from __future__ import annotations

import logging
import sys
from contextlib import suppress

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template import loader

from moderation.mirror.concurrency import StillRacing

logger = logging.getLogger(__name__)
CONTENDED = "Other writers kept changing the same rows; what was stored is kept, and resending stores the rest once"

# psycopg's SQLSTATE classes for connection loss: 08 connection exception, 57P01-57P03
# admin shutdown / crash shutdown / cannot connect now.
CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def is_connection_loss(exc: BaseException | None) -> bool:
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(CONNECTION_SQLSTATES)
    try:
        from psycopg import OperationalError as PgOperationalError
        from psycopg_pool import PoolTimeout
    except ImportError:  # pragma: no cover
        return False
    if isinstance(cause, PoolTimeout):
        return True
    # psycopg raises a bare OperationalError (no SQLSTATE) when the socket is gone.
    if isinstance(cause, PgOperationalError):
        return True
    return any(c.connection is None or c.connection.closed for c in _open_connections())


def _open_connections():
    return [c for c in connections.all(initialized_only=True) if c.connection is not None]


def unavailable_response(request, *, detail: str = "The database is unavailable for a moment") -> HttpResponse:
    retry_after = str(settings.DB_UNAVAILABLE_RETRY_AFTER)
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": f"{detail}; send the request again."}, status=503)
    else:
        # Rendered without the request: no context processor may touch the database.
        response = HttpResponse(loader.get_template("503.html").render({}), status=503)
    response["Retry-After"] = retry_after
    response["Cache-Control"] = "no-store"
    return response


def _drop_broken_connections() -> None:
    """A connection that failed is closed now, not handed to the next request."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        try:
            usable = conn.is_usable()
        except Exception:
            usable = False
        if not usable:
            with suppress(Exception):
                conn.close()


class DatabaseUnavailableMiddleware:
    """Turns connection loss raised by a view into 503 + Retry-After (put it last in
    MIDDLEWARE so its `process_exception` runs first). Errors raised by other middleware
    reach `server_error`, the 500 handler, which does the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, StillRacing):
            logger.warning("%s %s lost every retry to concurrent writers: %s", request.method, request.path, exception)
            return unavailable_response(request, detail=CONTENDED)
        if not is_connection_loss(exception):
            return None
        logger.warning("database connection lost during %s %s: %s", request.method, request.path, exception)
        _drop_broken_connections()
        return unavailable_response(request)


def server_error(request, *args, **kwargs):
    """handler500: a connection loss raised outside a view still answers 503."""
    exc = sys.exc_info()[1]
    if isinstance(exc, StillRacing):
        return unavailable_response(request, detail=CONTENDED)
    if is_connection_loss(exc):
        _drop_broken_connections()
        return unavailable_response(request)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request, *args, **kwargs)
