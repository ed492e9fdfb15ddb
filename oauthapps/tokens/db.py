"""How the hot path (token endpoint, API token check) runs its statements.

- One round trip per statement and nothing else: Django's per-request connection health check
  (`conn_health_checks`, a `SELECT 1` before the first query of every request) is skipped here.
  Instead, a read that fails because the connection was broken while idle (PostgreSQL restarted,
  a proxy dropped it) is retried once on a new connection, so a restart costs no failed request.
  The rest of the console keeps the health check.
- On PostgreSQL, the statements are prepared once per connection and their parameters bound by
  the server: PostgreSQL then skips parsing and planning, which cost it more than running these
  statements (about 0.4-0.6 ms of planning against 0.05 ms of execution here), and psycopg skips
  quoting the parameters into the SQL text. (Behind PgBouncer in transaction mode this needs
  PgBouncer >= 1.21 with `max_prepared_statements` set.) The statements still go through Django's
  cursor wrapper: they show in `connection.queries` and in the tests' query counts, and database
  errors are Django's.
- On PostgreSQL, one cursor (and its Django wrapper) per connection is kept and reused by every
  statement here: making and closing a cursor per statement cost about as much CPU as running it
  through psycopg. It is replaced whenever Django opens a new connection.
"""

from collections.abc import Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.backends.utils import CursorWrapper

NEVER_AUTOMATICALLY = 1 << 62


@cache
def _prepared_cursor_class() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        """Prepares every statement it runs (psycopg keeps them per connection, by SQL text)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparedCursor


def _cursor(connection) -> CursorWrapper:
    """The connection's reused hot-path cursor (PostgreSQL only), in a debug wrapper while queries
    are being logged (DEBUG, the tests' query capture)."""
    connection.ensure_connection()
    connection.validate_thread_sharing()
    psycopg_connection = connection.connection
    reused = getattr(connection, "_hot_path_cursor", None)
    if reused is None or reused[0] is not psycopg_connection:
        if psycopg_connection.prepare_threshold is None:
            # Django turns psycopg's prepared statements off (prepare_threshold=None), which also
            # ignores prepare=True. Never prepare automatically, so only these statements are.
            psycopg_connection.prepare_threshold = NEVER_AUTOMATICALLY
        with connection.wrap_database_errors:
            raw = _prepared_cursor_class()(psycopg_connection)
        reused = (psycopg_connection, raw, connection.make_cursor(raw))
        connection._hot_path_cursor = reused
    if connection.queries_logged:
        return connection.make_debug_cursor(reused[1])
    return reused[2]


def _forget_cursor(connection) -> None:
    # After an error, the next statement starts from a new cursor.
    connection._hot_path_cursor = None


def _run(connection, sql: str, params: Sequence[object], fetch: bool) -> object:
    """Execute on the connection; the rows (fetch) or the row count."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if fetch else cursor.rowcount
    cursor = _cursor(connection)
    try:
        cursor.execute(sql, params)
        if not fetch:
            return cursor.cursor.rowcount
        with connection.wrap_database_errors:
            return cursor.cursor.fetchall()
    except BaseException:
        _forget_cursor(connection)
        raise


def fetch_all(sql: str, params: Sequence[object]) -> list[tuple]:
    """Run a read and return its rows; retried once if the pooled connection turned out broken."""
    connection = connections[DEFAULT_DB_ALIAS]
    for attempt in (1, 2):
        new_connection = connection.connection is None
        # The retry below does the health check's job, without a round trip on every request.
        connection.health_check_done = True
        try:
            return _run(connection, sql, params, fetch=True)  # type: ignore[return-value]
        except (OperationalError, InterfaceError):
            if (
                attempt == 2
                or new_connection
                or connection.in_atomic_block
                or connection.is_usable()
            ):
                raise
            connection.close()
    raise AssertionError("unreachable")


def execute(sql: str, params: Sequence[object]) -> int:
    """Run a write (autocommit: the statement is its own transaction); returns the row count.

    Never retried: it follows a read on the same connection in the same request."""
    return _run(connections[DEFAULT_DB_ALIAS], sql, params, fetch=False)  # type: ignore[return-value]
