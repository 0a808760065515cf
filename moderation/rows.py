"""Model instances from hand-written SQL, for the few reads on every request whose ORM
query costs more CPU to compile than to run (a request's user; the queue "Review next"
works): the statement is written once from the model's metadata, the row converted
as the ORM would convert it."""

from __future__ import annotations

from django.db import connection


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
