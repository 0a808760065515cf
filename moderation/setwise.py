"""Set-based writes on PostgreSQL (a chunk of signals, the mirror's new accounts and
stories): all the rows travel as one JSON document, unpacked by `jsonb_array_elements`
in a single prepared INSERT.

Django's bulk_create (and a hand-written multi-row VALUES) sends one parameter per
column per row, each adapted in Python; a profile of a 1,000-signal batch spent more
time there than in PostgreSQL. One encoding of the rows is C code (orjson; the
standard library with Django's encoder for what orjson does not write), and one
parameter. SQLite keeps the ORM's bulk_create (callers check `available()`).
"""

from __future__ import annotations

import datetime
import json

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import FileField, JSONField

from moderation.rows import prepared_cursor, select


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, but times keep their microseconds (it cuts them to ms)."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


_ENCODER = _Encoder()


def document(rows: list) -> str:
    """The rows as one JSON text. orjson writes str, int, float, bool, None, lists,
    dicts, times (ISO 8601, microseconds kept, as _Encoder) and UUIDs; other values
    (Decimal, durations, lazy text) go through _Encoder; an integer past 64 bits sends
    the whole document through the standard library."""
    try:
        return orjson.dumps(rows, default=_ENCODER.default).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, cls=_Encoder)


def available() -> bool:
    return connection.vendor == "postgresql"


def any_of(queryset, field: str, values):
    """`queryset.filter(<field>__in=values)`, on PostgreSQL as `= ANY(%s)` with one array
    parameter: Django compiles and adapts an IN list value by value (3 ms of Python for
    1,000 idempotency keys, several times a batch)."""
    values = list(values)
    if not available():
        return queryset.filter(**{f"{field}__in": values})
    meta, quote = queryset.model._meta, connection.ops.quote_name
    column = f"{quote(meta.db_table)}.{quote(meta.get_field(field).column)}"
    return queryset.extra(where=[f"{column} = ANY(%s)"], params=[values])  # noqa: S610 (identifiers from meta, values bound)


def read_any(model, field: str, values) -> list:
    """The rows of `model` whose `field` is one of `values`, as instances; on PostgreSQL
    read by one prepared statement (rows.select)."""
    if not available():
        return list(model._default_manager.filter(**{f"{field}__in": list(values)}))
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    return select(model, where=f"{column} = ANY(%s)", params=[list(values)])


def insert_rows(model, objs: list, *, now, conflict: str = "", returning: tuple[str, ...] = ()) -> list[tuple]:
    """INSERT the in-memory `objs` (every concrete column but the primary key) in one
    statement; `conflict` is an ON CONFLICT clause, `returning` the columns to read back
    (rows in no particular order). auto_now/auto_now_add columns are set to `now`."""
    if not objs:
        return []
    fields = _columns(model)
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_rows")  # FKs to rows saved since
        for f in fields:
            if _automatic(f):
                setattr(obj, f.attname, now)
    text = document([[_value(f, obj) for f in fields] for obj in objs])
    return _insert(model, fields, text, conflict=conflict, returning=returning)


def insert_values(model, rows: list[dict], *, now, conflict: str = "", returning: tuple[str, ...] = ()) -> list[tuple]:
    """insert_rows for rows given as {attname: value} (no model instances: building one
    costs more than its row's share of the statement). A column a row leaves out takes
    the field's default; auto_now/auto_now_add columns take `now`."""
    if not rows:
        return []
    fields = _columns(model)
    defaults = [(f.attname, now if _automatic(f) else _default(f), _automatic(f)) for f in fields]
    text = document([[default if auto else row.get(name, default) for name, default, auto in defaults] for row in rows])
    return _insert(model, fields, text, conflict=conflict, returning=returning)


def values_of(obj) -> dict:
    """An unsaved instance as {attname: value} for insert_values (FKs to rows saved since)."""
    obj._prepare_related_fields_for_save(operation_name="insert_values")
    return {f.attname: _value(f, obj) for f in _columns(type(obj))}


def _columns(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _automatic(field) -> bool:
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


def _default(field):
    if isinstance(field, FileField):
        return ""
    return field.get_default()


def _insert(model, fields: list, text: str, *, conflict: str, returning: tuple[str, ...]) -> list[tuple]:
    meta, quote = model._meta, connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    # Each element is an array of the row's values in column order: unpacked by position,
    # in the document's order, so ids follow the order of the rows given.
    selected = ", ".join(_extract(f, n) for n, f in enumerate(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 (identifiers from the model's meta)
        f"SELECT {selected} FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(v, n) ORDER BY r.n {conflict}"
    )
    if returning:
        sql += " RETURNING " + ", ".join(quote(c) for c in returning)
    with prepared_cursor() as cursor:
        cursor.execute(sql, [text])
        return cursor.fetchall() if returning else []


def _value(field, obj):
    value = getattr(obj, field.attname)
    if isinstance(field, FileField):
        return value.name or ""
    return value


def _extract(field, n: int) -> str:
    if isinstance(field, JSONField):
        return f"NULLIF(r.v->{n}, 'null'::jsonb)" if field.null else f"r.v->{n}"
    return f"(r.v->>{n})::{field.db_type(connection)}"


def update_rows(model, objs: list, fields: list[str]) -> None:
    """UPDATE `fields` of each of `objs` (as held in memory) by primary key, in one
    statement fed by one JSON document, rows visited in the order given (callers pass
    them sorted by id, the order every writer locks them in)."""
    if not objs:
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    table = quote(meta.db_table)
    text = document([[obj.pk, *(_value(f, obj) for f in columns)] for obj in objs])
    sets = ", ".join(f"{quote(f.column)} = {_extract(f, n)}" for n, f in enumerate(columns, start=1))
    sql = (
        f"UPDATE {table} SET {sets} FROM jsonb_array_elements(%s::jsonb) AS r(v) "  # noqa: S608 (identifiers from meta)
        f"WHERE {table}.{quote(meta.pk.column)} = (r.v->>0)::{meta.pk.rel_db_type(connection)}"
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, [text])
