"""A cursor for the statements every order and every request runs, planned by PostgreSQL once per
connection.

Django binds parameters on the client and sends each statement as text, so PostgreSQL parses and
plans it anew every time; for a status move, planning took as long as running it. The few
statements that every order and every request runs go through this cursor instead: it binds on the
server, so psycopg prepares each statement on its first run on a connection (DATABASES OPTIONS
prepare_threshold) and then only executes it. They are written once, where the ORM compiles its
queries anew for every call. Django's own queries keep its client-side binding and are never prepared.
"""

from collections.abc import Sequence
from functools import cache

import psycopg
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model
from django.db.models.expressions import Col


class _DebugCursor(CursorDebugWrapper):
    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        # psycopg keeps no text of a statement it ran prepared, where Django reads one back: the statement
        # is logged with its parameters bound, as Django's own server-side binding mode logs it.
        if use_last_executed_query and not many:
            sql, use_last_executed_query = connection.ops.compose_sql(sql, params), False
        return super().debug_sql(sql, params, use_last_executed_query, many)


def prepared_cursor() -> CursorWrapper:
    """connection.cursor(), binding its parameters on the server; a context manager like it."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(connection.connection)
    # As Django wraps its own cursors: errors translated, and queries logged when they are (DEBUG, tests).
    connection.validate_thread_sharing()
    return (_DebugCursor if connection.queries_logged else CursorWrapper)(cursor, connection)


def columns(model: type[Model], *, of: str | None = None) -> str:
    """The model's columns, quoted and in field order, as a statement names them (`of`: a table alias).

    A statement names its columns: a prepared `*` fails once the table gains a column.
    """
    quote = connection.ops.quote_name
    prefix = f"{of}." if of else ""
    return ", ".join(prefix + quote(field.column) for field in model._meta.concrete_fields)


@cache
def _reader(model: type[Model]) -> tuple[list[str], list[tuple[int, list, Col]]]:
    """The attribute names of the model's columns, and the converters the ORM applies to each column it reads
    (a JSONField's decoding, say), worked out once: RawQuerySet works them out again for every query."""
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        col = field.get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if functions:
            converters.append((index, functions, col))
    return [field.attname for field in fields], converters


def instance(model: type[Model], values: Sequence) -> Model:
    """An instance of `model` from a row of its columns in field order, as the ORM builds one it read."""
    attnames, converters = _reader(model)
    if converters:
        values = list(values)
        for index, functions, col in converters:
            for function in functions:
                values[index] = function(values[index], col, connection)
    return model.from_db(connection.alias, attnames, values)


def prepared_instances(model: type[Model], statement: str, params: Sequence) -> list[Model]:
    """The instances of `model` a statement selecting `columns(model)` reads, run on the prepared cursor."""
    with prepared_cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return [instance(model, row) for row in rows]
