"""A cursor for the statements every order runs, planned by PostgreSQL once per connection.

Django binds parameters on the client and sends each statement as text, so PostgreSQL parses and
plans it anew every time; for a status move, planning took as long as running it. The few
statements that every order runs go through this cursor instead: it binds on the server, so psycopg
prepares each statement on its first run on a connection (DATABASES OPTIONS prepare_threshold) and
then only executes it. Django's own queries keep its client-side binding and are never prepared.
"""

from collections.abc import Sequence

import psycopg
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model, sql
from django.db.models.query import RawQuerySet


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


class _PreparedRawQuery(sql.RawQuery):
    def _execute_query(self) -> None:
        # The parameters come ready for the database, so Django's guessing adaptation of raw ones is not needed.
        self.cursor = prepared_cursor()
        self.cursor.execute(self.sql, self.params)


def prepared_raw(model: type[Model], statement: str, params: list) -> RawQuerySet:
    """model.objects.raw(statement, params), run on the prepared cursor.

    The statement should name its columns: a prepared `*` fails once the table gains a column.
    """
    query = _PreparedRawQuery(statement, using=connection.alias, params=tuple(params))
    return RawQuerySet(statement, model=model, query=query, params=params, using=connection.alias)


def columns(model: type[Model], *, of: str | None = None) -> str:
    """The model's columns, quoted and in field order, as a statement names them (`of`: a table alias)."""
    quote = connection.ops.quote_name
    prefix = f"{of}." if of else ""
    return ", ".join(prefix + quote(field.column) for field in model._meta.concrete_fields)


def instance(model: type[Model], values: Sequence) -> Model:
    """An instance of `model` from a row of its columns in field order, as the ORM builds one it read."""
    return model.from_db(connection.alias, [field.attname for field in model._meta.concrete_fields], values)
