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
- On PostgreSQL, in autocommit (the hot path is never inside a transaction), a statement goes
  straight to libpq: prepared once per connection under its own name (PQprepare), then run with
  PQexecPrepared, which waits for the answer in C without holding the GIL. Parameters are dumped
  and rows loaded by psycopg's own adapters, so the values and types are exactly a psycopg
  cursor's. psycopg's cursor machinery (its generators and the wait loop around them) cost about
  twice the CPU of the round trip itself. Inside a transaction, or while queries are being logged
  (DEBUG, the tests' query capture), a reused psycopg cursor with prepare=True runs them instead,
  so psycopg issues BEGIN as usual and Django records the SQL.
- Either way one runner per connection is kept and reused (making and closing a cursor per
  statement cost about as much as running it), and it is replaced whenever Django opens a new
  connection.
- `execute_meanwhile` overlaps a write with work of this process: on the libpq path the statement
  is sent, the work runs while PostgreSQL executes it, and only then is the answer read. The token
  endpoint signs the token meanwhile, and its worker usually finds the answer waiting instead of
  sleeping on the socket until PostgreSQL is done (fewer context switches, lower latency).
"""

import itertools
import select
from collections.abc import Callable, Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.backends.utils import CursorWrapper

NEVER_AUTOMATICALLY = 1 << 62
_statement_numbers = itertools.count()


@cache
def _prepared_cursor_class() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        """Prepares every statement it runs (psycopg keeps them per connection, by SQL text)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparedCursor


def _psycopg():
    """psycopg, imported on PostgreSQL only."""
    import psycopg

    return psycopg


def _postgres_placeholders(sql: str) -> bytes:
    """`%s` -> `$1`, `$2`...; `%%` -> `%` (the hot path's SQL uses nothing else)."""
    parts = sql.split("%%")
    number = 0
    for index, part in enumerate(parts):
        pieces = part.split("%s")
        for position in range(1, len(pieces)):
            number += 1
            pieces[position] = f"${number}{pieces[position]}"
        parts[index] = "".join(pieces)
    return "%".join(parts).encode()


class _Libpq:
    """Runs statements on a psycopg connection through libpq directly (see the module docstring).

    Used as the raw cursor inside Django's CursorWrapper, which still checks for a broken
    transaction and turns psycopg's errors into Django's.
    """

    def __init__(self, psycopg_connection) -> None:
        from psycopg import pq
        from psycopg.adapt import PyFormat, Transformer

        self.psycopg_connection = psycopg_connection
        self.pgconn = psycopg_connection.pgconn
        self.transformer = Transformer(psycopg_connection)
        self.auto = PyFormat.AUTO
        self.ok = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
        self.tuples_ok = pq.ExecStatus.TUPLES_OK
        self.connection_ok = pq.ConnStatus.OK
        self.sqlstate = pq.DiagnosticField.SQLSTATE
        # (sql, parameter types) -> statement name, as psycopg keys its own prepared statements.
        self.prepared: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self.rows: list[tuple] = []
        self.rowcount = -1
        self.sent: tuple = ()  # what send() sent last, to send again if it must be prepared again

    def execute(self, sql: str, params: Sequence[object]) -> None:
        name, values, formats = self._bind(sql, params)
        self._keep(self.pgconn.exec_prepared(name, values, formats))

    def send(self, sql: str, params: Sequence[object]) -> None:
        """Send the statement without waiting for its answer (`receive` reads it)."""
        name, values, formats = self._bind(sql, params)
        pgconn = self.pgconn
        pgconn.send_query_prepared(name, values, formats)
        while pgconn.flush():  # the socket's buffer is full (a nonblocking connection)
            select.select([], [pgconn.socket], [])

    def receive(self) -> None:
        """Wait for the answer of the statement sent, and keep its rows or row count."""
        result = self._next_result()
        # libpq ends each answer with a null result: read up to it, leaving the connection idle.
        while self._next_result() is not None:
            pass
        if result is None:
            raise _psycopg().OperationalError("the connection is lost")
        self._keep(result)

    def _next_result(self):
        # PQgetResult would wait holding the GIL (other threads of a gthread worker would
        # stop): wait in select(), which releases it, until libpq has what it needs.
        pgconn = self.pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        return pgconn.get_result()

    def _bind(
        self, sql: str, params: Sequence[object]
    ) -> tuple[bytes, Sequence[bytes | None], Sequence[int]]:
        """The prepared statement's name and the parameters, dumped as psycopg would."""
        transformer = self.transformer
        values = transformer.dump_sequence(params, [self.auto] * len(params))
        types = tuple(transformer.types or ())
        formats = transformer.formats
        self.sent = (sql, types, values, formats)
        name = self.prepared.get((sql, types)) or self._prepare(sql, types)
        return name, values, formats

    def _keep(self, result) -> None:
        """Check the statement's result and keep its rows or row count."""
        if result.error_field(self.sqlstate) == b"26000":
            # The statement was deallocated behind our back (psycopg runs DEALLOCATE ALL after a
            # rollback when it has prepared statements of its own): prepare it again, once.
            sql, types, values, formats = self.sent
            self.prepared.clear()
            name = self._prepare(sql, types)
            result = self.pgconn.exec_prepared(name, values, formats)
        self._check(result)
        if result.status == self.tuples_ok:
            self.transformer.set_pgresult(result)
            self.rows = self.transformer.load_rows(0, result.ntuples, tuple)
        else:
            self.rows = []
        tuples = result.command_tuples
        self.rowcount = -1 if tuples is None else tuples

    def _prepare(self, sql: str, types: tuple[int, ...]) -> bytes:
        # A new name every time, never reused in this process: after a failed statement (say, a
        # plan that a migration made stale) the next runner prepares afresh instead of finding
        # the old statement under the same name.
        name = f"console_hot_{next(_statement_numbers)}".encode()
        self._check(self.pgconn.prepare(name, _postgres_placeholders(sql), types))
        self.prepared[(sql, types)] = name
        return name

    def _check(self, result) -> None:
        if result.status in self.ok:
            return
        from psycopg import errors

        if self.pgconn.status != self.connection_ok:
            message = self.pgconn.error_message.decode("utf-8", "replace").strip()
            raise _psycopg().OperationalError(f"the connection is lost: {message}")
        raise errors.error_from_result(
            result, encoding=self.psycopg_connection.info.encoding
        )

    def fetchall(self) -> list[tuple]:
        return self.rows

    def close(self) -> None:
        self.rows = []


class _Runners:
    """A connection's reused ways of running the hot path's statements."""

    def __init__(self, connection) -> None:
        psycopg_connection = connection.connection
        from psycopg import pq

        self.psycopg_connection = psycopg_connection
        self.pgconn = psycopg_connection.pgconn
        self.idle = pq.TransactionStatus.IDLE
        self.libpq = connection.make_cursor(_Libpq(psycopg_connection))
        if psycopg_connection.prepare_threshold is None:
            # Django turns psycopg's prepared statements off (prepare_threshold=None), which also
            # ignores prepare=True. Never prepare automatically, so only these statements are.
            psycopg_connection.prepare_threshold = NEVER_AUTOMATICALLY
        with connection.wrap_database_errors:
            self.raw_cursor = _prepared_cursor_class()(psycopg_connection)
        self.cursor = connection.make_cursor(self.raw_cursor)


def _cursor(connection) -> CursorWrapper:
    """The connection's reused hot-path runner (PostgreSQL only): libpq in autocommit, else the
    psycopg cursor, in a debug wrapper while queries are being logged."""
    connection.ensure_connection()
    connection.validate_thread_sharing()
    runners = getattr(connection, "_hot_path_runners", None)
    if runners is None or runners.psycopg_connection is not connection.connection:
        runners = connection._hot_path_runners = _Runners(connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(runners.raw_cursor)
    if (
        runners.psycopg_connection.autocommit
        and runners.pgconn.transaction_status == runners.idle
    ):
        return runners.libpq  # no transaction, so no BEGIN that psycopg would have sent
    return runners.cursor


def _forget_cursor(connection) -> None:
    # After an error, the next statement starts from new runners.
    connection._hot_path_runners = None


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

    Never retried: had it reached the server before the connection broke, running it again
    would write twice. The caller decides (the token fast path falls back to the general path)."""
    return _run(connections[DEFAULT_DB_ALIAS], sql, params, fetch=False)  # type: ignore[return-value]


def execute_meanwhile[T](
    sql: str, params: Sequence[object], meanwhile: Callable[[], T]
) -> tuple[int, T]:
    """Run a write as `execute` does, and `meanwhile()` while PostgreSQL executes it: (the row
    count, what `meanwhile` returned). `meanwhile` must not use the database.

    On the libpq path (PostgreSQL, outside a transaction, queries not logged) the statement is
    sent first and its answer read after `meanwhile` returns, or raises. Elsewhere the statement
    runs first, then `meanwhile`."""
    connection = connections[DEFAULT_DB_ALIAS]
    libpq = _cursor(connection).cursor if connection.vendor == "postgresql" else None
    if not isinstance(libpq, _Libpq):
        return execute(sql, params), meanwhile()
    try:
        # What CursorWrapper.execute does around a statement, in two halves.
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            libpq.send(sql, params)
        try:
            result = meanwhile()
        finally:  # the answer is read either way: the connection must be left idle
            with connection.wrap_database_errors:
                libpq.receive()
    except BaseException:
        _forget_cursor(connection)
        raise
    return libpq.rowcount, result
